package npy

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Functions wrap them with context (%w); test with errors.Is.
var (
	// ErrBadMagic means the file does not start with "\x93NUMPY": not a .npy file.
	ErrBadMagic = errors.New("npy: not a .npy file (bad magic)")

	// ErrVersion means the format version is not 1.0, 2.0 or 3.0.
	ErrVersion = errors.New("npy: unsupported .npy format version")

	// ErrHeaderTooLarge means the declared header length exceeds the reader's
	// limit (Limits.MaxHeaderBytes). It is reported before the header is read
	// or allocated.
	ErrHeaderTooLarge = errors.New("npy: header length exceeds limit")

	// ErrTruncated means the file ends before the prefix, header or data it
	// declares.
	ErrTruncated = errors.New("npy: truncated")

	// ErrTrailingBytes means the file is longer than its header and the data
	// its shape and dtype declare.
	ErrTrailingBytes = errors.New("npy: trailing bytes after data")

	// ErrInvalidHeader means the header is not a Python dict literal of
	// exactly the keys 'descr', 'fortran_order' and 'shape' with values of the
	// right types; see HeaderError for where.
	ErrInvalidHeader = errors.New("npy: invalid header")

	// ErrDType means the dtype has no arrayx equivalent: structured, string,
	// datetime or long double dtypes on import, bfloat16 on export.
	ErrDType = errors.New("npy: unsupported dtype")

	// ErrPickle means the array has the object dtype: its data is a Python
	// pickle, which this package never loads.
	ErrPickle = errors.New("npy: object arrays are stored as pickles, which are refused")

	// ErrTooLarge means the shape's byte size, or an integer in the header,
	// does not fit in an int64.
	ErrTooLarge = errors.New("npy: array too large")

	// ErrNotRegular means the .npy path names a directory, device, FIFO or
	// other non-regular file.
	ErrNotRegular = errors.New("npy: not a regular file")
)

// HeaderError reports a problem at one place in the header dict. It wraps
// ErrInvalidHeader, or ErrTooLarge for an integer out of range.
type HeaderError struct {
	Offset int64 // file offset of the offending byte
	Msg    string
	Err    error
}

func (e *HeaderError) Error() string {
	return fmt.Sprintf("%v: byte %d: %s", e.Err, e.Offset, e.Msg)
}

func (e *HeaderError) Unwrap() error { return e.Err }

// FileError is what Import and Export return: the operation, the .npy file
// and the cause, which keeps its chain for errors.Is and errors.As.
type FileError struct {
	Op   string // "import" or "export"
	Path string // the .npy file
	Err  error
}

func (e *FileError) Error() string {
	// The cause usually comes from this package too: say "npy:" once.
	return "npy: " + e.Op + " " + e.Path + ": " + strings.TrimPrefix(e.Err.Error(), "npy: ")
}

func (e *FileError) Unwrap() error { return e.Err }
