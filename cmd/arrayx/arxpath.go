package main

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/arrayx/arrayx/mmapstore"
)

// An argument ending in .arx is a file path, never a store name, for every
// verb (cp set the rule): those that read one array (info, cat, verify,
// export, push, cp) open the file; those that create, replace, remove or
// wait for a name in the store refuse it, rather than quietly making or
// looking for NAME.arx.arx.

// storeName checks a name of an array in a store: the store's naming
// rules, and no .arx ending.
func storeName(name string) error {
	if isFilePath(name) {
		return usagef("%q ends in %s, so it is a file path, and this names an array in the store (write %s)",
			name, mmapstore.Ext, strings.TrimSuffix(name, mmapstore.Ext))
	}
	if err := mmapstore.ValidateName(name); err != nil {
		return usagef("%s", strings.TrimPrefix(err.Error(), "mmapstore: "))
	}
	return nil
}

// openFile maps the array file at path, for the verbs that read one.
func openFile(path string) (*mmapstore.Array, error) {
	a, err := mmapstore.Open(path, nil)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no array file %s", path)
	}
	return a, err
}

// fileArrayName is the name an array read from a file goes by elsewhere
// (push's default --as): its base name without .arx.
func fileArrayName(path string) string {
	return strings.TrimSuffix(filepath.Base(path), mmapstore.Ext)
}
