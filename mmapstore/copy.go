package mmapstore

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/zerocopy"
)

// CopyOptions tunes Copy and CopyTo. The zero value (or nil) means the defaults.
type CopyOptions struct {
	// Sync is the sync mode of the copy (default: the destination store's,
	// or SyncAuto for CopyTo).
	Sync SyncMode
	// ForceWrite skips the kernel's copies: the source's file is read into
	// a buffer and written (for comparisons; Method reports it either way).
	ForceWrite bool
}

// CopyStats says how a copy was made.
type CopyStats struct {
	Bytes    int64         // bytes of the file copied
	Method   string        // "reflink", "copy_file_range", "sendfile" or "write", joined by "+" when one took over from another midway
	Duration time.Duration // copy, verification, sync and rename
}

// Copy publishes a copy of the sealed array src under name in the store,
// replacing any array of that name, and returns the copy mapped read-only.
//
// The file is copied in the kernel: first as a reflink (FICLONE: the copy
// shares the source's extents until either is written; btrfs, XFS), else
// with copy_file_range(2) (no user-space buffer; a server-side copy on NFS
// and SMB), else with sendfile(2) (in the kernel too, and allowed between
// filesystems), each taking over where the previous stopped, else by reading
// the source's file into a buffer and writing it. The copy is checked
// against every block's CRC-32C before it is published by rename, so a
// source corrupted on disk is refused with a checksum error naming the
// block, and nothing is visible under name until the copy is whole and
// verified.
func (s *Store) Copy(src *Array, name string, opts *CopyOptions) (*Array, CopyStats, error) {
	var o CopyOptions
	if opts != nil {
		o = *opts
	}
	o.Sync = s.syncMode(o.Sync)
	release, err := s.reserve("copy "+name, src.Header().FileSize(), "")
	if err != nil {
		return nil, CopyStats{}, err
	}
	defer release()
	var a *Array
	var st CopyStats
	err = s.retryVanished(name, func(file string) (err error) {
		a, st, err = copyIn(s.root, file, name, src, &o)
		if err != nil {
			s.pruneDirs(file) // a refused copy leaves no empty directory, like Abort
		}
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
	srcFile, open := src.f, src.mm != nil
	src.mu.Unlock()
	if !open {
		return nil, CopyStats{}, fmt.Errorf("%w: copy of %s", ErrClosed, src.path)
	}
	size := src.h.FileSize()
	dir, base := filepath.Split(name)
	tmp, f, err := createTemp(fsys, dir+tempPrefix+base+tempSuffix)
	if err != nil {
		return nil, CopyStats{}, fmt.Errorf("mmapstore: copy %s to %s: %w", src.path, display, err)
	}
	a, method, err := copyFile(fsys, tmp, name, display, f, src, srcFile, size, opts)
	if err != nil {
		f.Close()
		if rerr := fsys.Remove(tmp); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
		return nil, CopyStats{}, fmt.Errorf("mmapstore: copy %s to %s: %w", src.path, display, err)
	}
	return a, CopyStats{Bytes: size, Method: method, Duration: time.Since(start)}, nil
}

// copyFile fills f, the locked temporary file tmp, with the first size bytes
// of the source's file srcFile, verifies it, and publishes it under name. On
// error the caller closes f and removes tmp.
func copyFile(fsys dirFS, tmp, name, display string, f *os.File, src *Array, srcFile *os.File, size int64, opts *CopyOptions) (*Array, string, error) {
	method, err := copyData(f, srcFile, size, opts.ForceWrite)
	if err != nil {
		return nil, "", err
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

// copyData copies the first size bytes of src to the empty file f, in the
// kernel where it can: as a reflink, else with copy_file_range, else with
// sendfile, each taking over where the previous stopped (the kernel stops
// where it cannot go on: across filesystems, or a source that ended early);
// whatever is left is read and written. It returns the methods used.
func copyData(f, src *os.File, size int64, forceWrite bool) (string, error) {
	if !forceWrite {
		handled, err := zerocopy.Reflink(f, 0, src, 0, 0)
		if err != nil {
			return "", noSpace(err)
		}
		if handled {
			return zerocopy.OpReflink, nil
		}
	}
	// Check the room first, so a full filesystem is an error before any
	// copying. Not fallocate: on tmpfs it zeroes every page, which the copy
	// then overwrites; the copies report ENOSPC themselves.
	if free, ok := freeSpace(f); ok && free < size {
		return "", fmt.Errorf("%w: %d bytes needed, %d free", ErrNoSpace, size, free)
	}
	var methods []string
	var done int64
	if !forceWrite {
		for _, m := range []struct {
			name string
			copy func(dst *os.File, dstOff int64, src *os.File, srcOff, n int64) (int64, bool, error)
		}{{zerocopy.OpCopyFileRange, zerocopy.CopyFileRange}, {zerocopy.OpSendfile, zerocopy.SendFileToFile}} {
			// Not handled: the kernel stopped after c bytes (or none),
			// and the next way takes over from there.
			c, _, err := m.copy(f, done, src, done, size-done)
			if c > 0 {
				methods = append(methods, m.name)
				done += c
			}
			if err != nil {
				return "", noSpace(err)
			}
			if done == size {
				break
			}
		}
	}
	if done < size {
		if err := readWrite(f, src, done, size); err != nil {
			return "", err
		}
		methods = append(methods, "write")
	}
	return strings.Join(methods, "+"), nil
}

// readWrite copies bytes [from, size) of src to the same offsets of f
// through a 1 MiB buffer. It reads src's file with pread, not through the
// array's mapping: the first touches of a fresh mapping are what a
// whole-file pass pays most for on virtual machines (see datafile.go), and a
// source truncated behind our back then gives a short read (ErrFault), not
// a SIGBUS. src's own offset is neither used nor moved.
func readWrite(f, src *os.File, from, size int64) error {
	bp := chunkPool.Get()
	defer chunkPool.Put(bp)
	buf := *bp
	for off := from; off < size; {
		c := int(min(size-off, int64(len(buf))))
		r, err := src.ReadAt(buf[:c], off)
		if r < c {
			if err == io.EOF {
				return fmt.Errorf("%w: the source ended after %d of %d bytes", ErrFault, off+int64(r), size)
			}
			return fmt.Errorf("reading the source at %d: %w", off+int64(r), err)
		}
		if _, err := f.WriteAt(buf[:c], off); err != nil {
			return noSpace(err)
		}
		off += int64(c)
	}
	return nil
}
