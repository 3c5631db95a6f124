//go:build !linux

package mmapstore

import "os"

const openNonblock = 0

// preallocate sizes the file; without fallocate the space is not reserved, so
// a full disk shows up while filling the mapping instead of here.
func preallocate(f *os.File, size int64) error { return f.Truncate(size) }

func inMemoryFS(*os.File) bool { return false }

func platformDefaultDir() string { return "" }
