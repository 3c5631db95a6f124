//go:build windows

package mmapstore

// openNonblock is unneeded on Windows, where opening a file never blocks.
const openNonblock = 0
