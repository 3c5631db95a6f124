//go:build linux

package netlink

import "syscall"

var errTooManyFiles error = syscall.EMFILE

// sendfileWorks says that arrays go to sockets by sendfile(2) here.
const sendfileWorks = true
