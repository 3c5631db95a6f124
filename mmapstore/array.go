package mmapstore

import (
	"encoding/binary"
	"fmt"
	"io"
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
	f    *os.File  // kept open: sends and verification read it at explicit offsets
	mm   mmap.MMap // the whole file, read-only
	data []byte    // mm[DataOffset:]
	// unmapping, for an array returned by Seal, is closed once the writer's
	// mapping is gone: until then the file (and the writer's lock) is open.
	unmapping <-chan struct{}
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

// readHeader reads and validates the header of an open file, and returns
// it with its raw bytes.
func readHeader(f *os.File, display string, lim arrayx.Limits) (*arrayx.Header, []byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("mmapstore: stat %s: %w", display, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%w: %s is %v", ErrNotRegular, display, fi.Mode().Type())
	}
	h, raw, err := arrayx.ReadRawHeader(f, fi.Size(), lim)
	if err != nil {
		return nil, nil, fmt.Errorf("mmapstore: %s: %w", display, err)
	}
	if !h.Sealed {
		return nil, nil, fmt.Errorf("mmapstore: %s: %w", display, arrayx.ErrNotSealed)
	}
	return h, raw, nil
}

func mapSealed(f *os.File, display string, lim arrayx.Limits) (*Array, error) {
	h, _, err := readHeader(f, display, lim)
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

// Digest identifies the array's content: see Digest. It is "" once the
// array is closed or if its header cannot be read.
func (a *Array) Digest() string {
	raw := a.RawHeader()
	if raw == nil {
		return ""
	}
	return Digest(raw)
}

// Path returns the file the array was opened from (for arrays returned by
// Seal, the published name).
func (a *Array) Path() string { return a.path }

// File returns the open file backing the array, for kernel copies
// (copy_file_range, sendfile) at explicit offsets. Do not close it or move
// its offset: other goroutines may be reading the same descriptor. For an
// array returned by Seal its Name is the temporary name it was written
// under, not the published one.
func (a *Array) File() *os.File {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.f
}

// region returns the array's data region as a dataFile, or ErrClosed.
func (a *Array) region() (dataFile, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mm == nil {
		return dataFile{}, fmt.Errorf("%w: %s", ErrClosed, a.path)
	}
	return dataFile{f: a.f, base: a.h.DataOffset, size: a.h.NBytes, name: a.path}, nil
}

// CheckFile reports an ErrFault if the array's file is now shorter than its
// header declares (truncated behind the array's back): a sender checks it
// before it promises a peer bytes it cannot send.
func (a *Array) CheckFile() error {
	d, err := a.region()
	if err != nil {
		return err
	}
	fi, err := d.f.Stat()
	if err != nil {
		return fmt.Errorf("mmapstore: %s: %w", a.path, err)
	}
	if fi.Size() < d.base+d.size {
		return d.errTruncated(max(fi.Size()-d.base, 0))
	}
	return nil
}

// ReadAt reads data bytes from offset off into p, from the file (pread), not
// through the mapping: it implements io.ReaderAt over the data region, and
// a file truncated behind the array's back gives ErrFault, never a SIGBUS.
func (a *Array) ReadAt(p []byte, off int64) (int, error) {
	d, err := a.region()
	if err != nil {
		return 0, err
	}
	return d.readAt(p, off)
}

// SendData writes data bytes [off, off+n) to w. When w is a socket with a
// descriptor (a *net.TCPConn or *net.UnixConn), the bytes go by sendfile(2)
// from the page cache at explicit offsets: nothing passes through user space
// and the file's offset is untouched, so any number of goroutines may send
// from one array. Otherwise, and for any part the kernel refuses, they are
// read into a small buffer and written. zeroCopy reports that sendfile
// moved every byte. w's write deadline bounds a stall; a file cut short
// behind the array's back gives ErrFault.
func (a *Array) SendData(w io.Writer, off, n int64) (written int64, zeroCopy bool, err error) {
	d, err := a.region()
	if err != nil {
		return 0, false, err
	}
	return d.sendTo(w, off, n)
}

// CopyData is SendData without the kernel path: data bytes [off, off+n) are
// read into a buffer and written to w (for comparisons, and for writers
// with no descriptor).
func (a *Array) CopyData(w io.Writer, off, n int64) (int64, error) {
	d, err := a.region()
	if err != nil {
		return 0, err
	}
	return d.copyTo(w, off, n)
}

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

// verifyBlocks reads the blocks from the file into hot buffers (see
// datafile.go) rather than through the mapping, which may be fresh.
func (a *Array) verifyBlocks(first, last int) error {
	d, err := a.region()
	if err != nil {
		return err
	}
	if err := d.verify(a.h, first, last); err != nil {
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
	if a.unmapping != nil {
		<-a.unmapping // the file is closed, and its lock dropped, only then
	}
	a.mm, a.data = nil, nil
	if err != nil {
		return fmt.Errorf("mmapstore: close %s: %w", a.path, err)
	}
	return nil
}

var _ arrayx.Array = (*Array)(nil)
