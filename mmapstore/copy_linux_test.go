package mmapstore

import (
	"testing"

	"golang.org/x/sys/unix"
)

// usedBytes is the space in use on the filesystem holding dir.
func usedBytes(t testing.TB, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Blocks-st.Bfree) * int64(st.Bsize)
}
