package main

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
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
// a status code. Local errors (of a pull's store) keep their words.
func remoteArrayError(host, name string, err error) error {
	if re := (*netlink.RemoteError)(nil); !errors.As(err, &re) {
		return err
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &noRemoteArrayError{name: name, host: host, err: err}
	case errors.Is(err, netlink.ErrReadOnly):
		return fmt.Errorf("%s is read-only (arrayx serve --read-only): it refuses to store or remove %q", host, name)
	case errors.Is(err, mmapstore.ErrNoSpace):
		return fmt.Errorf("%s has no room for %q", host, name)
	case errors.Is(err, arrayx.ErrTooLarge):
		return fmt.Errorf("%s refuses %q: larger than it accepts (arrayx serve --max-bytes)", host, name)
	}
	return err
}
