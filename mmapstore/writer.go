package mmapstore

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/arrayx/arrayx/arrayx"
	mmap "github.com/edsrzf/mmap-go"
)

// SyncMode says whether Seal flushes data to stable storage before publishing.
type SyncMode int

const (
	// SyncAuto syncs on disk filesystems and skips it on tmpfs and ramfs, where
	// there is no stable storage to reach. It is the default.
	SyncAuto SyncMode = iota
	// SyncAlways always msyncs the mapping, fsyncs the file and its directory.
	SyncAlways
	// SyncNever never syncs: fastest, but a machine crash may lose a sealed array.
	SyncNever
)

// CreateOptions tunes Create. The zero value (or nil) means the defaults.
type CreateOptions struct {
	Attrs map[string]any // user metadata, at most arrayx.MaxAttrsBytes encoded
	Sync  SyncMode
}

// tempPrefix starts every temporary file name: the leading dot keeps it out
// of List and out of the name space (names never have a segment starting
// with "."), so a half-written array is never visible under its name.
const tempPrefix = "."

const tempSuffix = ".tmp-"

// Writer is an array being filled. Write the data through Bytes (or a typed
// view, arrayx.Data[float64](w)), then Seal to publish it or Abort to discard
// it. A Writer is not safe for concurrent Seal/Abort; filling Bytes from many
// goroutines is fine.
type Writer struct {
	fsys      dirFS
	tmp, name string // temporary and final names within fsys
	display   string // the final name as shown in errors
	sync      bool

	h  *arrayx.Header
	f  *os.File
	mm mmap.MMap
	// touched says Bytes was called: the producer fills through the
	// mapping, whose pages are then hot for Seal's CRC. A writer filled
	// through File only is checksummed by reading the file (see seal).
	touched bool

	// prune, for writers of a Store, removes directories Abort left empty.
	prune func(file string)
}

// Create makes a writer for a new array that Seal will publish at path. The
// file is created under a hidden temporary name in the same directory and
// preallocated (on Linux with fallocate, so a full filesystem is an error
// here, before any data is written).
func Create(path string, dt arrayx.DType, shape arrayx.Shape, order arrayx.Order, opts *CreateOptions) (*Writer, error) {
	return createIn(osFS{}, path, path, dt, shape, order, opts)
}

func createIn(fsys dirFS, name, display string, dt arrayx.DType, shape arrayx.Shape, order arrayx.Order, opts *CreateOptions) (*Writer, error) {
	if opts == nil {
		opts = &CreateOptions{}
	}
	h, err := arrayx.NewHeader(dt, shape, order, opts.Attrs)
	if err != nil {
		return nil, fmt.Errorf("mmapstore: create %s: %w", display, err)
	}
	size := h.FileSize()
	if size > math.MaxInt {
		return nil, fmt.Errorf("mmapstore: create %s: %w: %d bytes cannot be mapped on this platform", display, arrayx.ErrTooLarge, size)
	}
	dir, base := filepath.Split(name)
	// Created and locked until Seal or Abort, so Store.Clean never takes it
	// for a crashed writer's orphan (clean.go).
	tmp, f, err := createTemp(fsys, dir+tempPrefix+base+tempSuffix)
	if err != nil {
		return nil, fmt.Errorf("mmapstore: create %s: %w", display, err)
	}
	w := &Writer{fsys: fsys, tmp: tmp, name: name, display: display, h: h, f: f}
	switch opts.Sync {
	case SyncAlways:
		w.sync = true
	case SyncAuto:
		w.sync = !inMemoryFS(f)
	}
	if err := w.setup(size); err != nil {
		return nil, errors.Join(fmt.Errorf("mmapstore: create %s: %w", display, err), w.Abort())
	}
	return w, nil
}

func (w *Writer) setup(size int64) error {
	if err := preallocate(w.f, size); err != nil {
		return err
	}
	mm, err := mmap.MapRegion(w.f, int(size), mmap.RDWR, 0, 0)
	if err != nil {
		return fmt.Errorf("mmap: %w", err)
	}
	w.mm = mm
	enc, err := w.h.Marshal()
	if err != nil {
		return err
	}
	copy(w.mm, enc) // the rest of the file is zero from preallocation
	return nil
}

// Header returns the array's header (unsealed until Seal). Do not modify it.
func (w *Writer) Header() *arrayx.Header { return w.h }

// Bytes returns the writable data region, or nil after Seal or Abort.
func (w *Writer) Bytes() []byte {
	if w.mm == nil {
		return nil
	}
	w.touched = true
	return w.mm[w.h.DataOffset:]
}

// File returns the open file behind the writer, or nil after Seal or Abort,
// for filling the data region in the kernel (copy_file_range at explicit
// offsets from Header().DataOffset). Writes through it are visible through
// Bytes, and so to Seal's checksums: the mapping is shared and Linux (like
// macOS and Windows for local files) keeps one page cache for both. Write
// only within the data region; do not close or truncate it (its file
// offset is not used, so sendfile(2) into it is fine).
func (w *Writer) File() *os.File { return w.f }

// Seal computes the block CRCs (on all cores), rewrites the header in place,
// flushes if the sync mode says so, and atomically renames the file to its
// name, replacing any array of that name. It returns the published array
// mapped read-only. If a step before the rename fails, the temporary file is
// removed and nothing is published; if only the final directory fsync fails,
// the array is published but its name may not survive a crash, and the
// error says so. Views of the writer's data are invalid afterwards.
func (w *Writer) Seal() (*Array, error) {
	if w.mm == nil {
		return nil, fmt.Errorf("%w: seal %s", ErrClosed, w.display)
	}
	a, err := w.seal()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("mmapstore: seal %s: %w", w.display, err), w.Abort())
	}
	return a, nil
}

func (w *Writer) seal() (*Array, error) {
	var crcs []uint32
	var xxhs [][16]byte
	var err error
	if w.touched {
		crcs, xxhs, err = computeSums(w.h, w.mm[w.h.DataOffset:])
	} else {
		// Filled in the kernel (an import): its pages are in the page cache
		// but were never touched through this mapping, and first touches of
		// a mapping are slow on virtual machines; read them instead.
		crcs, xxhs = newSumTables(w.h)
		d := dataFile{f: w.f, base: w.h.DataOffset, size: w.h.NBytes, name: w.display}
		err = d.scanBlocks(w.h, 0, len(crcs), xxhs != nil, func(i int, sum arrayx.BlockSum) error {
			crcs[i] = sum.CRC32C
			if xxhs != nil {
				xxhs[i] = sum.XXH128
			}
			return nil
		})
	}
	if err != nil {
		return nil, err
	}
	sealed := w.h.Clone()
	sealed.Sealed, sealed.CRC32C, sealed.XXH128 = true, crcs, xxhs
	enc, err := sealed.Marshal()
	if err != nil {
		return nil, err
	}
	copy(w.mm, enc)
	clear(w.mm[len(enc):sealed.DataOffset])
	if w.sync {
		if err := w.mm.Flush(); err != nil {
			return nil, fmt.Errorf("msync: %w", err)
		}
		if err := w.f.Sync(); err != nil {
			return nil, fmt.Errorf("fsync: %w", err)
		}
	}
	// Map read-only from our own descriptor rather than reopening by name: a
	// concurrent writer may replace the name right after our rename.
	mm, err := mmap.MapRegion(w.f, int(sealed.FileSize()), mmap.RDONLY, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("mmap: %w", err)
	}
	if err := w.fsys.Rename(w.tmp, w.name); err != nil {
		mm.Unmap()
		return nil, err
	}
	// Tearing down the writable mapping's page tables takes about as long
	// as the CRC of its pages (BenchmarkSealVsCRC), and publishing need not
	// wait for it: the data is in the file. Views of it were invalid from
	// Seal on. The mapping holds the file open, and with it the writer's
	// lock, so the Array's Close waits for it.
	rw := w.mm
	w.mm = nil
	unmapped := make(chan struct{})
	go func() {
		rw.Unmap()
		close(unmapped)
	}()
	a := &Array{path: w.display, h: sealed, f: w.f, mm: mm, data: mm[sealed.DataOffset:], unmapping: unmapped}
	w.f, w.h = nil, sealed
	if w.sync {
		if err := syncDir(w.fsys, w.name); err != nil {
			a.Close()
			return nil, fmt.Errorf("published, but fsync of its directory failed: %w", err)
		}
	}
	return a, nil
}

// Abort discards the array: it unmaps and removes the temporary file. It is
// idempotent and does nothing after a successful Seal, so `defer w.Abort()`
// is the natural guard.
func (w *Writer) Abort() error {
	var errs []error
	if w.mm != nil {
		errs = append(errs, w.mm.Unmap())
		w.mm = nil
	}
	if w.f != nil {
		errs = append(errs, w.f.Close())
		w.f = nil
		if err := w.fsys.Remove(w.tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		} else if w.prune != nil {
			w.prune(w.tmp)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("mmapstore: abort %s: %w", w.display, err)
	}
	return nil
}

var _ arrayx.Array = (*Writer)(nil)
