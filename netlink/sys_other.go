//go:build !linux

package netlink

import "errors"

var errTooManyFiles = errors.New("netlink: (no EMFILE on this platform)")

// sendfileWorks is false: the zero-copy paths are Linux's, and arrays
// are written from a buffer here (Stats says so).
const sendfileWorks = false
