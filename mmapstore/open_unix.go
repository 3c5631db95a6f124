//go:build unix

package mmapstore

import "syscall"

// openNonblock keeps Open from blocking on a FIFO planted under an array's
// name; it has no effect on regular files.
const openNonblock = syscall.O_NONBLOCK
