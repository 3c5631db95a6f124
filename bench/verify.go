package main

import (
	"fmt"
	"math"
)

// Every case moves the same data: float64 element i holds the value i. A
// checker verifies received data against that, in one piece or in order in
// pieces: it compares sampled elements exactly and the sum of all of them
// with its closed form n(n-1)/2. Sums of integers stay exact in float64
// while every partial sum is below 2^53 (arrays up to 1 GiB); beyond that the
// sum is compared to a relative 1e-9.
type checker struct {
	n       int64 // elements expected in all
	shift   int64 // element i must read i+shift
	next    int64 // index of the next element expected
	sum     float64
	samples int
}

func newChecker(p Params) *checker { return &checker{n: p.N, shift: p.Shift} }

// maxSamples bounds the elements compared exactly per piece.
const maxSamples = 1025

// add checks the next len(x) elements: up to maxSamples of them (evenly
// spaced, always the first and last) exactly, all of them in the sum.
func (k *checker) add(x []float64) error {
	if int64(len(x)) > k.n-k.next {
		return fmt.Errorf("bench: %d elements more than the %d expected", int64(len(x))-(k.n-k.next), k.n)
	}
	if err := k.sample(x, maxSamples); err != nil {
		return err
	}
	k.sum += sum4(x)
	k.next += int64(len(x))
	return nil
}

// sample compares up to m evenly spaced elements of x (the next elements of
// the data) exactly, without summing or advancing.
func (k *checker) sample(x []float64, m int) error {
	if len(x) == 0 {
		return nil
	}
	m = min(m, len(x))
	for s := range m {
		j := 0
		if m > 1 {
			j = int(int64(s) * int64(len(x)-1) / int64(m-1))
		}
		i := k.next + int64(j)
		if want := float64(i + k.shift); x[j] != want {
			return fmt.Errorf("bench: element %d is %v, want %v", i, x[j], want)
		}
		k.samples++
	}
	return nil
}

// done checks that every element arrived and that their sum is right, and
// describes what was verified.
func (k *checker) done() (string, error) {
	if k.next != k.n {
		return "", fmt.Errorf("bench: received %d elements, want %d", k.next, k.n)
	}
	if err := checkSum(k.sum, k.n, k.shift); err != nil {
		return "", err
	}
	return fmt.Sprintf("sum of all %d elements and %d sampled elements exact", k.n, k.samples), nil
}

// checkSum compares s with the sum of i+shift for i in [0, n).
func checkSum(s float64, n, shift int64) error {
	want := expectedSum(n, shift)
	if want < 1<<53 {
		if s != want {
			return fmt.Errorf("bench: sum is %v, want %v", s, want)
		}
		return nil
	}
	if math.Abs(s-want) > 1e-9*want {
		return fmt.Errorf("bench: sum is %v, want %v (to 1e-9)", s, want)
	}
	return nil
}

// expectedSum is n(n-1)/2 + shift n, computed in integers while they fit.
func expectedSum(n, shift int64) float64 {
	if n < 1<<31 {
		return float64(uint64(n)*uint64(n-1)/2 + uint64(shift)*uint64(n))
	}
	return float64(n)*float64(n-1)/2 + float64(shift)*float64(n)
}

// sum4 adds x with four accumulators (numpy's sum uses eight, pairwise), so
// that the Go readers are limited by memory rather than by the latency of one
// chain of additions.
func sum4(x []float64) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i]
		s1 += x[i+1]
		s2 += x[i+2]
		s3 += x[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i]
	}
	return (s0 + s1) + (s2 + s3)
}
