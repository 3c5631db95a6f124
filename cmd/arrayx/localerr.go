package main

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
)

// readFileError says in a sentence why a local file could not be read,
// for the common cases; other errors pass as they are.
func readFileError(path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("no file %s", path)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("cannot read %s: permission denied", path)
	}
	return err
}

// writeFileError says in a sentence why a local file could not be written
// (the error names a hidden temporary file otherwise), for the common
// cases; other errors pass as they are.
func writeFileError(path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("cannot write %s: no directory %s", path, filepath.Dir(path))
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("cannot write %s: permission denied", path)
	}
	return err
}
