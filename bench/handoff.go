package main

import (
	"fmt"
	"os"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
)

// The local handoff: one consumer process takes the array another process
// left on /dev/shm (already in memory) and uses it. Its window runs from
// before opening the file to having the result; closing (unmapping,
// freeing) is not measured for any reader.

// arrayxFirst opens the array and reads its first element: what a consumer
// pays before it can start using an array of any size.
func arrayxFirst(c *child) error {
	c.begin()
	a, err := mmapstore.Open(c.ArxPath, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	x, err := arrayx.Data[float64](a)
	if err != nil {
		return err
	}
	c.phase("open")
	first := x[0]
	c.end()
	if want := float64(c.Shift); first != want {
		return fmt.Errorf("bench: first element is %v, want %v", first, want)
	}
	k := newChecker(c.Params)
	if err := k.sample(x, maxSamples); err != nil {
		return err
	}
	c.rep.Verified = fmt.Sprintf("first element and %d sampled elements exact", k.samples)
	return nil
}

// arrayxSum opens the array and sums it through the mapping.
func arrayxSum(c *child) error {
	c.begin()
	a, err := mmapstore.Open(c.ArxPath, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	x, err := arrayx.Data[float64](a)
	if err != nil {
		return err
	}
	c.phase("open")
	s := sum4(x)
	c.end()
	return c.verifySum(x, s)
}

// readFileSum is the copying baseline: os.ReadFile of the same file, then
// the sum over the copy.
func readFileSum(c *child) error {
	c.begin()
	b, err := os.ReadFile(c.ArxPath)
	if err != nil {
		return err
	}
	c.phase("read")
	if int64(len(b)) != c.DataOffset+c.NBytes {
		return fmt.Errorf("bench: read %d bytes, want %d", len(b), c.DataOffset+c.NBytes)
	}
	x, err := arrayx.Cast[float64](b[c.DataOffset:])
	if err != nil {
		return err
	}
	s := sum4(x)
	c.end()
	return c.verifySum(x, s)
}

// verifySum checks a sum computed in the window, and samples of x.
func (c *child) verifySum(x []float64, s float64) error {
	if int64(len(x)) != c.N {
		return fmt.Errorf("bench: %d elements, want %d", len(x), c.N)
	}
	if err := checkSum(s, c.N, c.Shift); err != nil {
		return err
	}
	k := newChecker(c.Params)
	if err := k.sample(x, maxSamples); err != nil {
		return err
	}
	c.rep.Verified = fmt.Sprintf("sum of all %d elements and %d sampled elements exact", c.N, k.samples)
	return nil
}
