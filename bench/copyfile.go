package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
	mmap "github.com/edsrzf/mmap-go"
)

// File copies: the array's whole file copied to a new file beside it (on
// the data directory, /dev/shm by default), by arrayx, by cp(1), and by a
// plain read/write loop. Each window runs from the start of the copy to the
// copy being complete at its final name; arrayx's also includes checking
// every block's CRC of the copy, which the others do not do.

// copyDst is where every copy case writes.
func copyDst(p Params) string { return filepath.Join(p.Scratch, "copy"+mmapstore.Ext) }

// arrayxCopy copies with mmapstore.CopyTo: reflink, copy_file_range or
// sendfile in the kernel, then verification and an atomic rename.
func arrayxCopy(c *child) error {
	a, err := mmapstore.Open(c.ArxPath, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	c.begin()
	b, st, err := mmapstore.CopyTo(a, copyDst(c.Params), nil)
	if err != nil {
		return err
	}
	c.end()
	b.Close()
	c.rep.Method = st.Method + " + CRC check"
	return nil
}

// rwCopy is the plain loop: read(2) 1 MiB, write(2) it, into a new file.
func rwCopy(c *child) error {
	src, err := os.Open(c.ArxPath)
	if err != nil {
		return err
	}
	defer src.Close()
	c.begin()
	dst, err := os.Create(copyDst(c.Params))
	if err != nil {
		return err
	}
	defer dst.Close()
	buf := make([]byte, bufSize)
	if _, err := io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, buf); err != nil {
		return err
	}
	c.end()
	c.rep.Method = "read+write"
	return nil
}

// sameAsSource checks a copy case's result: the copy equals the source file
// byte for byte, and its data holds the expected values.
func sameAsSource(p Params) error {
	a, err := mapFile(p.ArxPath)
	if err != nil {
		return err
	}
	defer a.Unmap()
	b, err := mapFile(copyDst(p))
	if err != nil {
		return err
	}
	defer b.Unmap()
	if !bytes.Equal(a, b) {
		return fmt.Errorf("bench: the copy %s differs from %s", copyDst(p), p.ArxPath)
	}
	x, err := arrayx.Cast[float64](b[p.DataOffset : p.DataOffset+p.NBytes])
	if err != nil {
		return err
	}
	return newChecker(p).sample(x, maxSamples)
}

func mapFile(path string) (mmap.MMap, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return mmap.Map(f, mmap.RDONLY, 0)
}
