//go:build linux

package netlink

import "syscall"

var errTooManyFiles error = syscall.EMFILE
