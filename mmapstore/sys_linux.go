//go:build linux

package mmapstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// preallocate reserves size bytes for f with fallocate(2), so that running
// out of space is an error now rather than a SIGBUS while filling the mapping.
// Filesystems without fallocate fall back to ftruncate (sparse, no reservation).
func preallocate(f *os.File, size int64) error {
	var err error
	for {
		err = unix.Fallocate(int(f.Fd()), 0, 0, size)
		if err != unix.EINTR {
			break
		}
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.ENOSPC), errors.Is(err, unix.EDQUOT), errors.Is(err, unix.EFBIG):
		// EFBIG: over the process's RLIMIT_FSIZE or the filesystem's file size limit.
		return fmt.Errorf("%w: %s: %d bytes: %w", ErrNoSpace, f.Name(), size, err)
	case errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.ENOSYS):
		return f.Truncate(size)
	}
	return fmt.Errorf("mmapstore: fallocate %s: %w", f.Name(), err)
}

// inMemoryFS reports whether f lives on tmpfs or ramfs, where fsync buys nothing.
func inMemoryFS(f *os.File) bool {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return false
	}
	t := uint32(st.Type) // int32 on 386, int64 on amd64
	return t == unix.TMPFS_MAGIC || t == unix.RAMFS_MAGIC
}

func platformDefaultDir() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		return "/dev/shm/arrayx"
	}
	return ""
}

// locksWork says that lockExclusive excludes other processes, so Clean can
// tell a live writer's temporary file from an orphan.
const locksWork = true

// lockExclusive takes a non-blocking exclusive flock on f, so two transfers
// of the same array never write one partial file at once, and Clean never
// removes a file a live writer or transfer holds.
func lockExclusive(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case err == unix.EINTR:
			continue
		case errors.Is(err, unix.EWOULDBLOCK):
			return fmt.Errorf("%w: %s", ErrBusy, f.Name())
		}
		return fmt.Errorf("mmapstore: flock %s: %w", f.Name(), err)
	}
}

// noSpace marks a full filesystem (or file size limit) as ErrNoSpace.
func noSpace(err error) error {
	if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) || errors.Is(err, unix.EFBIG) {
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	}
	return err
}

// freeSpace returns the bytes available to us on f's filesystem.
func freeSpace(f *os.File) (int64, bool) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return 0, false
	}
	return int64(st.Bavail) * int64(st.Bsize), true
}

// usedSpace returns the bytes in use on f's filesystem.
func usedSpace(f *os.File) (int64, bool) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return 0, false
	}
	return int64(st.Blocks-st.Bfree) * int64(st.Bsize), true
}

// physicalMemory returns the machine's RAM in bytes, 0 if unknown.
func physicalMemory() int64 {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
}

// Prefault populates the writable pages of b ahead of use
// (MADV_POPULATE_WRITE, Linux 5.14+), so that writing into a fresh mapping
// does not take a page fault per page. It reports false where unsupported.
func Prefault(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	return unix.Madvise(b, unix.MADV_POPULATE_WRITE) == nil
}

// checkPrivate refuses a store directory that is a symlink, is owned by
// another user, or is writable by group or others. The owner and mode are
// those of the directory root holds open, not of whatever the name points
// to by now.
func checkPrivate(dir string, root *os.Root) error {
	if fi, err := os.Lstat(dir); err != nil {
		return fmt.Errorf("mmapstore: store %s: %w", dir, err)
	} else if fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("%w: %s is a symlink (set %s to choose a store)", ErrNotPrivate, dir, EnvStore)
	}
	fi, err := root.Stat(".")
	if err != nil {
		return fmt.Errorf("mmapstore: store %s: %w", dir, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if uid := os.Geteuid(); int(st.Uid) != uid {
		return fmt.Errorf("%w: %s belongs to uid %d, not to uid %d (set %s to choose a store)", ErrNotPrivate, dir, st.Uid, uid, EnvStore)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("%w: %s has mode %v, writable by others (chmod go-w it, or set %s)", ErrNotPrivate, dir, perm, EnvStore)
	}
	return nil
}

// removeEmptyDir removes dir, inside root, if it is an empty directory:
// unlinkat with AT_REMOVEDIR refuses symlinks and files (ENOTDIR) and
// directories with entries (ENOTEMPTY) in the same system call, so nothing
// can be swapped in between a check and the removal.
func removeEmptyDir(root *os.Root, dir string) error {
	parent, base := filepath.Split(dir)
	if parent == "" {
		parent = "."
	}
	d, err := root.Open(parent)
	if err != nil {
		return err
	}
	defer d.Close()
	rc, err := d.SyscallConn()
	if err != nil {
		return err
	}
	var uerr error
	if err := rc.Control(func(fd uintptr) { uerr = unix.Unlinkat(int(fd), base, unix.AT_REMOVEDIR) }); err != nil {
		return err
	}
	return uerr
}
