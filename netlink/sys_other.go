//go:build !linux

package netlink

import "errors"

var errTooManyFiles = errors.New("netlink: (no EMFILE on this platform)")
