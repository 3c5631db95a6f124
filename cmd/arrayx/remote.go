package main

import (
	"errors"
	"fmt"
	"io/fs"
)

// noRemoteArrayError reports a name the server has no array under, in one
// line; it unwraps to the server's error, which wraps fs.ErrNotExist.
type noRemoteArrayError struct {
	name, host string
	err        error
}

func (e *noRemoteArrayError) Error() string { return fmt.Sprintf("no array %q on %s", e.name, e.host) }
func (e *noRemoteArrayError) Unwrap() error { return e.err }

// remoteArrayError turns a server's error about name into the CLI's message.
func remoteArrayError(host, name string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return &noRemoteArrayError{name: name, host: host, err: err}
	}
	return err
}
