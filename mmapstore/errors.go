package mmapstore

import "errors"

// Sentinel errors. Errors from this package wrap them (and the arrayx
// sentinels for format problems); test with errors.Is. A missing array wraps
// fs.ErrNotExist.
var (
	// ErrInvalidName means an array name breaks the naming rules (see ValidateName).
	ErrInvalidName = errors.New("mmapstore: invalid array name")

	// ErrNoSpace means the filesystem could not reserve room for an array. It is
	// reported by Create before any data is written.
	ErrNoSpace = errors.New("mmapstore: no space left for array")

	// ErrClosed means the array or writer was already closed, sealed or aborted.
	ErrClosed = errors.New("mmapstore: already closed")

	// ErrNotRegular means the path names a directory, device, FIFO or other
	// non-regular file.
	ErrNotRegular = errors.New("mmapstore: not a regular file")

	// ErrFault means an array's file holds less than its header declares,
	// typically because another process truncated it while it was in use:
	// a read came up short, or reading the mapping faulted.
	ErrFault = errors.New("mmapstore: array file shorter than its header (truncated while in use?)")

	// ErrBusy means another transfer of the same array is in progress.
	ErrBusy = errors.New("mmapstore: a transfer of this array is already in progress")

	// ErrNotPrivate means the default store directory (/dev/shm/arrayx) is
	// not this user's alone: owned by another user, writable by others, or
	// a symlink. Anyone who can write it could plant or replace arrays.
	ErrNotPrivate = errors.New("mmapstore: the default store directory is not private to this user")

	// ErrRange means a byte range lies outside the array's data.
	ErrRange = errors.New("mmapstore: byte range outside the array")
)
