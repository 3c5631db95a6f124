package mmapstore

import (
	"os"
	"path/filepath"
)

// dirFS is the handful of file operations arrays need. A Store uses an
// *os.Root, so no name, symlink or ".." can lead outside the store; the
// path-level Create and Open use the plain os functions.
type dirFS interface {
	OpenFile(name string, flag int, perm os.FileMode) (*os.File, error)
	Rename(oldname, newname string) error
	Remove(name string) error
}

type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(name, flag, perm)
}
func (osFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }
func (osFS) Remove(name string) error             { return os.Remove(name) }

// syncDir fsyncs the directory holding name, making a rename in it durable.
func syncDir(fsys dirFS, name string) error {
	d, err := fsys.OpenFile(filepath.Dir(name), os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
