//go:build !linux

package testutil

import (
	"runtime"
	"testing"
)

// isTmpfs reports whether dir is on a tmpfs: never, off Linux.
func isTmpfs(string) bool { return false }

// shmIsTmpfs reports whether /dev/shm is a tmpfs: never, off Linux.
func shmIsTmpfs() (bool, string) { return false, "no tmpfs /dev/shm on " + runtime.GOOS }

// Tmpfs mounts a tmpfs for the test: on Linux only.
func Tmpfs(t testing.TB, size string) string {
	t.Helper()
	Unavailable(t, "tmpfs mounts are made on Linux only, not %s", runtime.GOOS)
	return ""
}

// XFS mounts an XFS image for the test: on Linux only.
func XFS(t testing.TB) string {
	t.Helper()
	Unavailable(t, "XFS images are mounted on Linux only, not %s", runtime.GOOS)
	return ""
}
