package testutil

import (
	"os"
	"testing"
)

// ShmDir returns a fresh directory on /dev/shm, removed when the test ends:
// memory, where the default store lives and where receivers splice. It
// calls Unavailable when /dev/shm is not a tmpfs.
func ShmDir(t testing.TB) string {
	t.Helper()
	if ok, why := shmIsTmpfs(); !ok {
		Unavailable(t, "%s", why)
	}
	return shmTemp(t)
}

// ShmOrTempDir returns a fresh directory on /dev/shm when that is a tmpfs,
// else the test's temporary directory, saying so: for tests that are faster
// on memory, or cross tmpfs's paths where there is one, but hold anywhere.
func ShmOrTempDir(t testing.TB) string {
	t.Helper()
	if ok, why := shmIsTmpfs(); !ok {
		dir := t.TempDir()
		t.Logf("%s: using %s", why, dir)
		return dir
	}
	return shmTemp(t)
}

func shmTemp(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "arrayx-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// DiskDir returns the test's temporary directory, and calls Unavailable if
// it is a tmpfs: for tests that pair a disk with /dev/shm to cross
// filesystems, or need a filesystem with stable storage.
func DiskDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if isTmpfs(dir) {
		Unavailable(t, "%s is a tmpfs: set TMPDIR to a directory on disk", dir)
	}
	return dir
}
