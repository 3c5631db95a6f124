package npy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
)

// ExportOptions tunes Export. The zero value (or nil) means the defaults.
type ExportOptions struct {
	// NoSync skips the fsync of the file before the rename and of its
	// directory after it: faster on disks, but a machine crash may then
	// lose the file or leave it empty under its name.
	NoSync bool
}

// fileArray is an array whose data is also reachable as a file at
// Header().DataOffset, as it is for mmapstore arrays and writers: Export
// then copies file to file in the kernel.
type fileArray interface {
	File() *os.File
}

// Export writes the array as a .npy file (format 1.0, little-endian, laid
// out as numpy.save would) at npyPath, replacing any file there. It writes
// a hidden temporary file in the same directory, fsyncs it and renames it
// into place, so no half-written file ever appears under npyPath. If a has
// a File method (a *mmapstore.Array has), the data moves from that file
// with copy_file_range where the kernel allows it; otherwise it is written
// from a.Bytes(). bfloat16 arrays are refused (ErrDType): numpy has no such
// dtype. Errors are *FileError.
func Export(a arrayx.Array, npyPath string, opts *ExportOptions) (Stats, error) {
	stats, err := exportFile(a, npyPath, opts)
	if err != nil {
		return Stats{}, &FileError{Op: "export", Path: npyPath, Err: err}
	}
	return stats, nil
}

func exportFile(a arrayx.Array, npyPath string, opts *ExportOptions) (Stats, error) {
	if opts == nil {
		opts = &ExportOptions{}
	}
	start := time.Now()
	h := a.Header()
	hdr, err := MarshalHeader(h.DType, h.Shape, h.Order)
	if err != nil {
		return Stats{}, err
	}
	data := a.Bytes()
	if int64(len(data)) != h.NBytes {
		return Stats{}, fmt.Errorf("%w: the array's data is %d bytes, its header declares %d", mmapstore.ErrClosed, len(data), h.NBytes)
	}
	dir, base := filepath.Split(npyPath)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return Stats{}, err
	}
	tmp := f.Name()
	published := false
	defer func() {
		if !published {
			f.Close()
			os.Remove(tmp)
		}
	}()

	if _, err := f.WriteAt(hdr, 0); err != nil {
		return Stats{}, err
	}
	dataOff := int64(len(hdr))
	writeRest := func(from int64) error {
		_, err := f.WriteAt(data[from:], dataOff+from)
		return err
	}
	var src *os.File
	if fa, ok := a.(fileArray); ok {
		src = fa.File()
	}
	var method string
	if src != nil {
		method, err = moveData(f, dataOff, src, h.DataOffset, h.NBytes, writeRest)
	} else {
		method = MethodReadWrite
		if h.NBytes == 0 {
			method = MethodNone
		}
		if err = writeRest(0); err == nil {
			reportCopy(method, h.NBytes)
		}
	}
	if err != nil {
		return Stats{}, err
	}
	// CreateTemp makes the file 0600; an exported array is meant to be shared.
	if err := f.Chmod(0o644); err != nil {
		return Stats{}, err
	}
	if !opts.NoSync {
		if err := f.Sync(); err != nil {
			return Stats{}, err
		}
	}
	if err := f.Close(); err != nil {
		return Stats{}, err
	}
	if err := os.Rename(tmp, npyPath); err != nil {
		return Stats{}, err
	}
	published = true
	stats := Stats{Bytes: h.NBytes, Method: method, Duration: time.Since(start)}
	if !opts.NoSync {
		if err := syncDir(dir); err != nil {
			return stats, fmt.Errorf("written, but fsync of its directory failed: %w", err)
		}
	}
	return stats, nil
}

// syncDir fsyncs a directory, making a rename in it durable. Windows cannot
// flush a directory handle; NTFS journals the rename itself.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
