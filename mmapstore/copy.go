package mmapstore

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/arrayx/arrayx/arrayx"
)

// CopyOptions tunes Copy and CopyTo. The zero value (or nil) means the defaults.
type CopyOptions struct {
	// Sync is the sync mode of the copy (default: the destination store's,
	// or SyncAuto for CopyTo).
	Sync SyncMode
	// ForceWrite skips the kernel's copies and writes from the source's
	// mapping (for comparisons; Method reports it either way).
	ForceWrite bool
}

// CopyStats says how a copy was made.
type CopyStats struct {
	Bytes    int64         // bytes of the file copied
	Method   string        // "reflink", "copy_file_range", "sendfile" or "write"
	Duration time.Duration // copy, verification, sync and rename
}

// Copy publishes a copy of the sealed array src under name in the store,
// replacing any array of that name, and returns the copy mapped read-only.
//
// The file is copied in the kernel: first as a reflink (FICLONE: the copy
// shares the source's extents until either is written; btrfs, XFS), else
// with copy_file_range(2) (no user-space buffer; a server-side copy on NFS
// and SMB), else with sendfile(2) (in the kernel too, and allowed between
// filesystems), else by writing from the source's mapping. The copy is checked against every block's CRC-32C before
// it is published by rename, so a source corrupted on disk is refused with a
// checksum error naming the block, and nothing is visible under name until
// the copy is whole and verified.
func (s *Store) Copy(src *Array, name string, opts *CopyOptions) (*Array, CopyStats, error) {
	var o CopyOptions
	if opts != nil {
		o = *opts
	}
	o.Sync = s.syncMode(o.Sync)
	var a *Array
	var st CopyStats
	err := s.retryVanished(name, func(file string) (err error) {
		a, st, err = copyIn(s.root, file, name, src, &o)
		return err
	})
	return a, st, err
}

// CopyTo is Copy to a file path outside any store.
func CopyTo(src *Array, path string, opts *CopyOptions) (*Array, CopyStats, error) {
	if opts == nil {
		opts = &CopyOptions{}
	}
	return copyIn(osFS{}, path, path, src, opts)
}

func copyIn(fsys dirFS, name, display string, src *Array, opts *CopyOptions) (*Array, CopyStats, error) {
	start := time.Now()
	src.mu.Lock()
	srcFile, srcMap := src.f, src.mm
	src.mu.Unlock()
	if srcMap == nil {
		return nil, CopyStats{}, fmt.Errorf("%w: copy of %s", ErrClosed, src.path)
	}
	size := src.h.FileSize()
	dir, base := filepath.Split(name)
	tmp, f, err := createTemp(fsys, dir+tempPrefix+base+tempSuffix)
	if err != nil {
		return nil, CopyStats{}, fmt.Errorf("mmapstore: copy %s to %s: %w", src.path, display, err)
	}
	a, method, err := copyFile(fsys, tmp, name, display, f, src, srcFile, srcMap[:size], opts)
	if err != nil {
		f.Close()
		if rerr := fsys.Remove(tmp); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
		return nil, CopyStats{}, fmt.Errorf("mmapstore: copy %s to %s: %w", src.path, display, err)
	}
	return a, CopyStats{Bytes: size, Method: method, Duration: time.Since(start)}, nil
}

// copyFile fills f, the locked temporary file tmp, with the source's file
// (srcFile, mapped as srcMap), verifies it, and publishes it under name. On
// error the caller closes f and removes tmp.
func copyFile(fsys dirFS, tmp, name, display string, f *os.File, src *Array, srcFile *os.File, srcMap []byte, opts *CopyOptions) (*Array, string, error) {
	size := int64(len(srcMap))
	method := "write"
	if !opts.ForceWrite {
		if err := cloneFile(f, srcFile); err == nil {
			method = "reflink"
		}
	}
	if method != "reflink" {
		// Check the room first, so a full filesystem is an error before any
		// copying. Not fallocate: on tmpfs it zeroes every page, which the
		// copy then overwrites; the copies report ENOSPC themselves.
		if free, ok := freeSpace(f); ok && free < size {
			return nil, "", fmt.Errorf("%w: %d bytes needed, %d free", ErrNoSpace, size, free)
		}
		for _, m := range []struct {
			name string
			copy func(dst, src *os.File, size int64) (bool, error)
		}{{"copy_file_range", copyRange}, {"sendfile", sendRange}} {
			if opts.ForceWrite {
				break
			}
			done, err := m.copy(f, srcFile, size)
			if err != nil {
				return nil, "", err
			}
			if done {
				method = m.name
				break
			}
		}
		if method == "write" {
			if err := writeFromMapping(f, srcMap); err != nil {
				return nil, "", err
			}
		}
	}
	a, err := mapSealed(f, display, arrayx.Limits{MaxHeaderBytes: math.MaxInt32})
	if err != nil {
		return nil, "", err
	}
	if err := verifyCopy(a, src); err != nil {
		a.Close()
		return nil, "", err
	}
	sync := opts.Sync == SyncAlways || opts.Sync == SyncAuto && !inMemoryFS(f)
	if sync {
		if err := f.Sync(); err != nil {
			a.Close()
			return nil, "", fmt.Errorf("fsync: %w", err)
		}
	}
	if err := fsys.Rename(tmp, name); err != nil {
		a.Close()
		return nil, "", err
	}
	if sync {
		if err := syncDir(fsys, name); err != nil {
			a.Close()
			return nil, "", fmt.Errorf("published, but fsync of its directory failed: %w", err)
		}
	}
	return a, method, nil
}

// verifyCopy checks that the copy holds src's header byte for byte and that
// every block matches its CRC.
func verifyCopy(a, src *Array) error {
	got, want := a.RawHeader(), src.RawHeader()
	if got == nil || want == nil || string(got) != string(want) {
		return fmt.Errorf("%w: the copy's header differs from the source's (changed during the copy?)", arrayx.ErrChecksum)
	}
	return a.Verify()
}

// writeFromMapping writes src to f from offset 0, in chunks. A fault while
// reading the mapping (the source truncated behind our back) is an error.
func writeFromMapping(f *os.File, src []byte) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: reading the source: %v", ErrFault, r)
		}
	}()
	const chunk = 8 << 20
	for off := 0; off < len(src); off += chunk {
		if _, err := f.WriteAt(src[off:min(off+chunk, len(src))], int64(off)); err != nil {
			return noSpace(err)
		}
	}
	return nil
}
