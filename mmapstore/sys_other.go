//go:build !linux

package mmapstore

import (
	"fmt"
	"os"
)

// preallocate sizes the file; without fallocate the space is not reserved, so
// a full disk shows up while filling the mapping instead of here.
func preallocate(f *os.File, size int64) error { return f.Truncate(size) }

func inMemoryFS(*os.File) bool { return false }

func platformDefaultDir() string { return "" }

// locksWork is false here: Clean cannot tell a live writer from an orphan
// and goes by age alone.
const locksWork = false

// lockExclusive is a no-op here: concurrent transfers of one array are not
// excluded on this platform.
func lockExclusive(*os.File) error { return nil }

func freeSpace(*os.File) (int64, bool) { return 0, false }

func usedSpace(*os.File) (int64, bool) { return 0, false }

// physicalMemory is unknown here: no store is memory-backed (inMemoryFS).
func physicalMemory() int64 { return 0 }

// noSpace returns err unchanged: only Linux's errnos (ENOSPC, EDQUOT,
// EFBIG) are marked ErrNoSpace.
func noSpace(err error) error { return err }

// Prefault is unsupported here; it reports false.
func Prefault([]byte) bool { return false }

// checkPrivate: the default store elsewhere is under os.TempDir(), which is
// per-user on macOS and Windows; no check is made.
func checkPrivate(string, *os.Root) error { return nil }

// removeEmptyDir removes dir, inside root, if it is an empty directory and
// not a symlink or file. (Check then remove: without unlinkat here, a
// directory swapped for an empty one in between could go; both are inside
// the store.)
func removeEmptyDir(root *os.Root, dir string) error {
	fi, err := root.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("mmapstore: %s is not a directory", dir)
	}
	return root.Remove(dir)
}
