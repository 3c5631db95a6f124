//go:build !linux

package mmapstore

import "testing"

func usedBytes(t testing.TB, dir string) int64 {
	t.Fatal("usedBytes is only implemented on Linux")
	return 0
}
