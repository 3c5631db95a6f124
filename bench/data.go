package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
)

// dataParams returns the Params of the data every case of one size moves,
// under dir (on /dev/shm, so it is in memory before any case runs): a sealed
// arrayx array "x" of nbytes/8 float64 elements where element i is i, the
// same data as a .npy file and as an Arrow IPC file.
func dataParams(dir string, nbytes int64) (Params, error) {
	if nbytes <= 0 || nbytes%8 != 0 {
		return Params{}, fmt.Errorf("bench: size %d is not a positive multiple of 8", nbytes)
	}
	return Params{
		N:         nbytes / 8,
		NBytes:    nbytes,
		SrcStore:  filepath.Join(dir, "store"),
		ArxPath:   filepath.Join(dir, "store", "x"+mmapstore.Ext),
		NpyPath:   filepath.Join(dir, "x.npy"),
		ArrowPath: filepath.Join(dir, "x.arrow"),
	}, nil
}

// prepare writes the data of one size in a child process (the "prepare"
// role), so that the harness itself never maps it: on Linux a child's
// ru_maxrss starts from its parent's peak, which would inflate every
// process's figures. It returns the Params with the data offset filled in.
func (r *runner) prepare(ctx context.Context, dir string, nbytes int64) (Params, error) {
	p, err := dataParams(dir, nbytes)
	if err != nil {
		return p, err
	}
	if err := r.runRole(ctx, "prepare", p); err != nil {
		return p, err
	}
	a, err := mmapstore.Open(p.ArxPath, nil) // reads the header only
	if err != nil {
		return p, err
	}
	defer a.Close()
	p.DataOffset = a.Header().DataOffset
	return p, nil
}

// prepareData is the "prepare" role: it writes the array, the .npy and the
// Arrow file that c.Params names.
func prepareData(c *child) error {
	c.begin()
	defer c.end()
	st, err := mmapstore.OpenStore(c.SrcStore, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	if path, err := st.Path("x"); err != nil || path != c.ArxPath {
		return fmt.Errorf("bench: the store puts x at %q (%v), not %q", path, err, c.ArxPath)
	}
	a, err := sealFloat64(st, "x", arrayx.Shape{c.N}, fillArange)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := writeNpy(c.NpyPath, a.Bytes(), c.N); err != nil {
		return err
	}
	if err := writeArrowFile(c.ArrowPath, a.Bytes()); err != nil {
		return err
	}
	c.rep.Verified = "written"
	return nil
}

// npyHeader is the .npy (format 1.0) header of a little-endian float64
// vector of n elements: magic, version, header length, then the header dict
// padded with spaces and ended by a newline so the data starts at a
// multiple of 64 bytes.
func npyHeader(n int64) []byte {
	dict := fmt.Sprintf("{'descr': '<f8', 'fortran_order': False, 'shape': (%d,), }", n)
	pad := (64 - (10+len(dict)+1)%64) % 64
	h := make([]byte, 0, 10+len(dict)+pad+1)
	h = append(h, "\x93NUMPY\x01\x00"...)
	h = binary.LittleEndian.AppendUint16(h, uint16(len(dict)+pad+1))
	h = append(h, dict...)
	for range pad {
		h = append(h, ' ')
	}
	return append(h, '\n')
}

// writeNpy writes data, n float64 elements, as a .npy file.
func writeNpy(path string, data []byte, n int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(npyHeader(n)); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// sealFloat64 creates, fills and seals a float64 array in st.
func sealFloat64(st *mmapstore.Store, name string, shape arrayx.Shape, fill func([]float64)) (*mmapstore.Array, error) {
	w, err := st.Create(name, arrayx.Float64, shape, arrayx.OrderC, nil)
	if err != nil {
		return nil, err
	}
	defer w.Abort() // no-op once sealed
	x, err := arrayx.Data[float64](w)
	if err != nil {
		return nil, err
	}
	fill(x)
	return w.Seal()
}

// fillArange makes element i hold i, the data every case verifies.
func fillArange(x []float64) {
	for i := range x {
		x[i] = float64(i)
	}
}
