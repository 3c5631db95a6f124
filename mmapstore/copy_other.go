//go:build !linux

package mmapstore

import (
	"errors"
	"os"
)

// cloneFile: reflinks are only attempted on Linux (FICLONE).
func cloneFile(dst, src *os.File) error { return errors.ErrUnsupported }

// copyRange: copy_file_range is Linux's; elsewhere the caller writes from
// the source's mapping.
func copyRange(dst, src *os.File, size int64) (bool, error) { return false, nil }

// sendRange: likewise for sendfile between files.
func sendRange(dst, src *os.File, size int64) (bool, error) { return false, nil }

func noSpace(err error) error { return err }
