package main

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/arrayx/arrayx/netlink"
)

// noRemoteArrayError reports a name the server has no array under, in one
// line; it unwraps to the server's error, which wraps fs.ErrNotExist.
type noRemoteArrayError struct {
	name, host string
	err        error
}

func (e *noRemoteArrayError) Error() string { return fmt.Sprintf("no array %q on %s", e.name, e.host) }
func (e *noRemoteArrayError) Unwrap() error { return e.err }

// remoteArrayError turns a server's error about name into the CLI's
// message, a sentence where the server's own words would be a file path or
// a status code.
func remoteArrayError(host, name string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &noRemoteArrayError{name: name, host: host, err: err}
	case errors.Is(err, netlink.ErrReadOnly):
		return fmt.Errorf("%s is read-only (arrayx serve --read-only): it refuses to store or remove %q", host, name)
	}
	return err
}
