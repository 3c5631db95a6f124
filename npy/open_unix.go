//go:build unix

package npy

import "syscall"

// openNonblock keeps Import from blocking on a FIFO given as the .npy path:
// the open returns at once and the Stat after it refuses the FIFO. It has
// no effect on regular files.
const openNonblock = syscall.O_NONBLOCK
