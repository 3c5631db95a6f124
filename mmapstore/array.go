package mmapstore

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"sync"

	"github.com/arrayx/arrayx/arrayx"
	mmap "github.com/edsrzf/mmap-go"
)

// OpenOptions tunes Open. The zero value (or nil) means the defaults.
type OpenOptions struct {
	// Limits bounds the header a reader accepts (default: 1 MiB header).
	Limits arrayx.Limits
}

// Array is a sealed array mapped read-only. Its methods are safe for
// concurrent use; views of its data are valid until Close.
type Array struct {
	path string
	h    *arrayx.Header

	mu   sync.Mutex
	f    *os.File  // kept open: the network sender uses it for sendfile
	mm   mmap.MMap // the whole file, read-only
	data []byte    // mm[DataOffset:]
}

// Open maps the sealed array at path read-only. It reads only the prefix and
// the header, validates every field and the file size, and never touches the
// data, so it costs the same for any array size.
func Open(path string, opts *OpenOptions) (*Array, error) {
	return openIn(osFS{}, path, path, opts)
}

func openIn(fsys dirFS, name, display string, opts *OpenOptions) (*Array, error) {
	if opts == nil {
		opts = &OpenOptions{}
	}
	f, err := fsys.OpenFile(name, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return nil, fmt.Errorf("mmapstore: open %s: %w", display, err)
	}
	a, err := mapSealed(f, display, opts.Limits)
	if err != nil {
		f.Close()
		return nil, err
	}
	return a, nil
}

// readHeader reads and validates the header of an open file.
func readHeader(f *os.File, display string, lim arrayx.Limits) (*arrayx.Header, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("mmapstore: stat %s: %w", display, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is %v", ErrNotRegular, display, fi.Mode().Type())
	}
	h, err := arrayx.ReadHeader(f, fi.Size(), lim)
	if err != nil {
		return nil, fmt.Errorf("mmapstore: %s: %w", display, err)
	}
	if !h.Sealed {
		return nil, fmt.Errorf("mmapstore: %s: %w", display, arrayx.ErrNotSealed)
	}
	return h, nil
}

func mapSealed(f *os.File, display string, lim arrayx.Limits) (*Array, error) {
	h, err := readHeader(f, display, lim)
	if err != nil {
		return nil, err
	}
	size := h.FileSize()
	if size > math.MaxInt {
		return nil, fmt.Errorf("mmapstore: %s: %w: %d bytes cannot be mapped on this platform", display, arrayx.ErrTooLarge, size)
	}
	mm, err := mmap.MapRegion(f, int(size), mmap.RDONLY, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("mmapstore: mmap %s: %w", display, err)
	}
	return &Array{path: display, h: h, f: f, mm: mm, data: mm[h.DataOffset:]}, nil
}

// Header returns the array's header. It is shared: do not modify it.
func (a *Array) Header() *arrayx.Header { return a.h }

// Bytes returns the data region (NBytes bytes) of the read-only mapping, or
// nil once the array is closed. Writing to it faults.
func (a *Array) Bytes() []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.data
}

// RawHeader returns a copy of the file's first 16+H bytes, the prefix and
// msgpack header exactly as stored (what a network sender transmits), or nil
// once the array is closed or if the file was truncated behind its back (the
// read faults; Bytes is then still non-nil).
func (a *Array) RawHeader() (raw []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mm == nil {
		return nil
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			raw = nil
		}
	}()
	// H as stored, bounded by the validated header (the file could have been
	// modified in place by something outside arrayx since Open).
	h := min(int64(binary.LittleEndian.Uint32(a.mm[12:])), a.h.DataOffset-arrayx.PrefixSize)
	return append([]byte(nil), a.mm[:arrayx.PrefixSize+h]...)
}

// Path returns the file the array was opened from (for arrays returned by
// Seal, the published name).
func (a *Array) Path() string { return a.path }

// File returns the open file backing the array, for zero-copy senders
// (sendfile at explicit offsets). Do not close it or rely on its offset; for
// an array returned by Seal its Name is the temporary name it was written
// under, not the published one.
func (a *Array) File() *os.File { return a.f }

// Verify checks every block's CRC-32C, in parallel. A mismatch is an
// *arrayx.ChecksumError naming the block.
func (a *Array) Verify() error {
	return a.verifyBlocks(0, a.h.NumBlocks())
}

// VerifyRange checks the blocks overlapping the data-region byte range
// [off, off+n).
func (a *Array) VerifyRange(off, n int64) error {
	if off < 0 || n < 0 || off > a.h.NBytes || n > a.h.NBytes-off {
		return fmt.Errorf("%w: [%d, %d+%d) of %d bytes", ErrRange, off, off, n, a.h.NBytes)
	}
	if n == 0 {
		return nil
	}
	return a.verifyBlocks(int(off/a.h.BlockSize), int((off+n-1)/a.h.BlockSize)+1)
}

func (a *Array) verifyBlocks(first, last int) error {
	a.mu.Lock()
	data := a.data
	a.mu.Unlock()
	if data == nil {
		return fmt.Errorf("%w: %s", ErrClosed, a.path)
	}
	// A concurrent Close while verifying is a caller bug, like any use of a
	// view after Close; forBlocks turns the resulting fault into ErrFault.
	if err := forBlocks(a.h, data, first, last, a.h.CheckBlock); err != nil {
		return fmt.Errorf("mmapstore: verify %s: %w", a.path, err)
	}
	return nil
}

// Close unmaps the array and closes its file. It is idempotent; views of the
// data must not be used afterwards.
func (a *Array) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mm == nil {
		return nil
	}
	err := a.mm.Unmap()
	if cerr := a.f.Close(); err == nil {
		err = cerr
	}
	a.mm, a.data = nil, nil
	if err != nil {
		return fmt.Errorf("mmapstore: close %s: %w", a.path, err)
	}
	return nil
}

var _ arrayx.Array = (*Array)(nil)
