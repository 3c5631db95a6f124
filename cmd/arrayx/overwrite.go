package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/arrayx/arrayx/mmapstore"
	"github.com/arrayx/arrayx/netlink"
	"github.com/spf13/pflag"
)

// The verbs that write an array under a name (create, import, push, pull)
// refuse a name that already holds one unless --force. cp(1), rsync and
// rclone overwrite by default, but their targets are files on disk that a
// backup may hold; an array here lives in RAM, is often gigabytes, and may
// be what another process waits for or a server's other clients read, so
// losing one by a typo costs more than typing --force. sync is the verb
// that replaces on purpose: making DST like SRC is what it is for. The check
// is made before anything is written, so an array published under the name
// in between is still replaced.

// forceFlag is the --force flag of the verbs that write arrays.
type forceFlag struct{ force bool }

func (f *forceFlag) addForceFlag(fs *pflag.FlagSet) {
	fs.BoolVarP(&f.force, "force", "f", false, "replace an array that already has the name (default: refuse)")
}

// existsError says that name is taken where, in one line.
type existsError struct{ name, where string }

func (e *existsError) Error() string {
	return fmt.Sprintf("array %q already exists %s (use --force to replace it)", e.name, e.where)
}
func (e *existsError) Unwrap() error { return errExists }

// checkLocal refuses name if the store holds an array (or an unreadable
// file) under it, unless --force.
func (f *forceFlag) checkLocal(st *mmapstore.Store, name string) error {
	if f.force {
		return nil
	}
	if _, err := st.Stat(name); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return &existsError{name: name, where: "in store " + st.Dir()}
}

// checkRemote refuses name if the server at host holds it, unless --force.
func (f *forceFlag) checkRemote(ctx context.Context, cl *netlink.Client, host, name string) error {
	if f.force {
		return nil
	}
	_, err := cl.Stat(ctx, name)
	switch {
	case err == nil:
		return &existsError{name: name, where: "on " + host}
	case errors.Is(err, fs.ErrNotExist):
		return nil
	}
	return err
}
