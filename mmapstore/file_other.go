//go:build !unix

package mmapstore

import (
	"errors"
	"os"
)

// dupFile is not available here: relaying a partial is a Unix feature.
func dupFile(*os.File) (*os.File, error) {
	return nil, errors.ErrUnsupported
}

// fileID is 0 here: Watch tells versions apart by size and time alone.
func fileID(os.FileInfo) int64 { return 0 }
