package main

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// arrowSchema is the one-column table every Arrow case moves.
var arrowSchema = arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Float64}}, nil)

// arrowBatches wraps little-endian float64 bytes (an arrayx mapping) as
// record batches of at most rows rows each, without copying: the Arrow
// buffer is the mapping and the batches are slices of it. Release them when
// done; data must outlive them.
func arrowBatches(data []byte, rows int64) ([]arrow.RecordBatch, error) {
	if len(data)%8 != 0 || rows <= 0 {
		return nil, fmt.Errorf("bench: %d bytes in batches of %d rows", len(data), rows)
	}
	n := int64(len(data) / 8)
	whole := array.NewFloat64Data(array.NewData(arrow.PrimitiveTypes.Float64, int(n),
		[]*memory.Buffer{nil, memory.NewBufferBytes(data)}, nil, 0, 0))
	defer whole.Release()
	var out []arrow.RecordBatch
	for off := int64(0); off < n; off += rows {
		col := array.NewSlice(whole, off, min(off+rows, n))
		out = append(out, array.NewRecordBatch(arrowSchema, []arrow.Array{col}, int64(col.Len())))
		col.Release()
	}
	return out, nil
}

// writeArrowFile writes data (float64 bytes) as an Arrow IPC file holding one
// record batch: the layout most favourable to a memory-mapped reader.
func writeArrowFile(path string, data []byte) error {
	recs, err := arrowBatches(data, int64(len(data)/8))
	if err != nil {
		return err
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(arrowSchema))
	if err != nil {
		f.Close()
		return err
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// arrowIPCSum maps the Arrow IPC file and reads it with arrow-go's
// memory-mapped reader (ipc.NewMappedFileReader: column buffers are slices of
// the mapping, the allocator is not used for them), then sums the column.
func arrowIPCSum(c *child) error {
	c.begin()
	f, err := os.Open(c.ArrowPath)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("bench: mmap %s: %w", c.ArrowPath, err)
	}
	defer syscall.Munmap(m)
	// The reader refuses message bodies over 256 MiB unless told otherwise.
	r, err := ipc.NewMappedFileReader(m, ipc.WithBodySizeLimit(fi.Size()))
	if err != nil {
		return err
	}
	defer r.Close()
	var cols [][]float64
	for i := range r.NumRecords() {
		rec, err := r.RecordBatch(i)
		if err != nil {
			return err
		}
		col, ok := rec.Column(0).(*array.Float64)
		if !ok {
			return fmt.Errorf("bench: column is %s, want float64", rec.Column(0).DataType())
		}
		cols = append(cols, col.Float64Values())
	}
	c.phase("open")
	var s float64
	for _, x := range cols {
		s += sum4(x)
	}
	c.end()

	k := newChecker(c.Params)
	for _, x := range cols {
		if !within(x, m) {
			return fmt.Errorf("bench: the Arrow reader copied the column out of the mapping")
		}
		if err := k.add(x); err != nil {
			return err
		}
	}
	if err := checkSum(s, c.N, c.Shift); err != nil {
		return err
	}
	v, err := k.done()
	c.rep.Verified = v + "; column buffers inside the mapping (no copy)"
	return err
}

// within reports whether x's memory lies inside m.
func within(x []float64, m []byte) bool {
	if len(x) == 0 {
		return true
	}
	lo, hi := uintptr(unsafe.Pointer(unsafe.SliceData(m))), uintptr(unsafe.Pointer(unsafe.SliceData(m)))+uintptr(len(m))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(x)))
	return p >= lo && p+uintptr(len(x))*8 <= hi
}
