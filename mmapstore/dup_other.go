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
