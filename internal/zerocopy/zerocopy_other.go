//go:build !linux

package zerocopy

import (
	"os"
	"syscall"
)

// The kernel paths here are Linux's. Elsewhere every adapter reports
// handled false and callers take their portable path (reading into a buffer
// and writing), which their statistics report.

// SendFile is not attempted on this platform.
func SendFile(dst syscall.Conn, src *os.File, off, n int64) (int64, bool, error) {
	return 0, false, nil
}

// CopyFileRange is not attempted on this platform.
func CopyFileRange(dst *os.File, dstOff int64, src *os.File, srcOff, n int64) (int64, bool, error) {
	return 0, false, nil
}

// SendFileToFile is not attempted on this platform.
func SendFileToFile(dst *os.File, dstOff int64, src *os.File, srcOff, n int64) (int64, bool, error) {
	return 0, false, nil
}

// Reflink is not attempted on this platform.
func Reflink(dst *os.File, dstOff int64, src *os.File, srcOff, n int64) (bool, error) {
	return false, nil
}
