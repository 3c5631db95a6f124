package npy

import (
	"fmt"
	"os"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
)

// ImportOptions tunes Import. The zero value (or nil) means the defaults.
type ImportOptions struct {
	Attrs  map[string]any     // user metadata for the new array
	Limits Limits             // bounds on the .npy header
	Sync   mmapstore.SyncMode // as in mmapstore.CreateOptions; default the store's
}

// Import reads the .npy file at npyPath into a new array of the store,
// published under name (replacing any array of that name) once its data
// and checksums are complete, and returns it sealed and mapped. The header
// is read and validated, the file size checked against it, before the array
// is created; the data then moves from file to file with copy_file_range
// where the kernel allows it (big-endian data is converted on the way in).
// On any error the new array is aborted: nothing appears in the store.
// Errors are *FileError.
func Import(st *mmapstore.Store, name, npyPath string, opts *ImportOptions) (*mmapstore.Array, Stats, error) {
	a, stats, err := importFile(st, name, npyPath, opts)
	if err != nil {
		return nil, Stats{}, &FileError{Op: "import", Path: npyPath, Err: err}
	}
	return a, stats, nil
}

func importFile(st *mmapstore.Store, name, npyPath string, opts *ImportOptions) (*mmapstore.Array, Stats, error) {
	if opts == nil {
		opts = &ImportOptions{}
	}
	start := time.Now()
	f, size, err := openRegular(npyPath)
	if err != nil {
		return nil, Stats{}, err
	}
	defer f.Close()
	h, err := ReadHeader(f, size, opts.Limits)
	if err != nil {
		return nil, Stats{}, err
	}
	w, err := st.Create(name, h.DType, h.Shape, h.Order, &mmapstore.CreateOptions{Attrs: opts.Attrs, Sync: opts.Sync})
	if err != nil {
		return nil, Stats{}, err
	}
	defer w.Abort() // does nothing once sealed

	if testHookBeforeData != nil {
		testHookBeforeData()
	}
	var method string
	if h.BigEndian {
		if err := readSwapped(w.Bytes(), f, h.DataOffset, swapSize(h.DType)); err != nil {
			return nil, Stats{}, err
		}
		method = reportCopy(MethodByteSwap, h.NBytes)
	} else {
		// Writes through the writer's file land in the pages its mapping
		// shows, so Seal checksums what the kernel copied.
		method, err = moveData(w.File(), w.Header().DataOffset, f, h.DataOffset, h.NBytes, func(from int64) error {
			return readFull(f, w.Bytes()[from:], h.DataOffset+from, "data")
		})
		if err != nil {
			return nil, Stats{}, err
		}
	}
	a, err := w.Seal()
	if err != nil {
		return nil, Stats{}, err
	}
	return a, Stats{Bytes: h.NBytes, Method: method, Duration: time.Since(start)}, nil
}

// swapSize is the unit a big-endian dtype is byte-swapped in: the item size,
// or for complex dtypes that of each of the two parts.
func swapSize(dt arrayx.DType) int {
	if dt == arrayx.Complex64 || dt == arrayx.Complex128 {
		return dt.ItemSize() / 2
	}
	return dt.ItemSize()
}

// openRegular opens path for reading and returns it with its size; anything
// but a regular file is refused (a FIFO without blocking on it).
func openRegular(path string) (*os.File, int64, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%w: %s is %v", ErrNotRegular, path, fi.Mode().Type())
	}
	return f, fi.Size(), nil
}
