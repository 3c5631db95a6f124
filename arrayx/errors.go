package arrayx

import (
	"errors"
	"fmt"
)

// Sentinel errors. Functions wrap them with context (%w); test with errors.Is.
var (
	// ErrBadMagic means the first 8 bytes are not the ARRAYX magic: not an array file.
	ErrBadMagic = errors.New("arrayx: not an ARRAYX file (bad magic)")

	// ErrVersion means the file's major version is not 1.
	ErrVersion = errors.New("arrayx: unsupported format major version")

	// ErrHeaderTooLarge means the declared header length exceeds the reader's limit.
	// It is reported before the header is read or allocated.
	ErrHeaderTooLarge = errors.New("arrayx: header exceeds limit")

	// ErrTruncated means the input ends before the prefix, header or data it declares.
	ErrTruncated = errors.New("arrayx: truncated")

	// ErrTrailingBytes means the file is longer than data_offset + nbytes.
	ErrTrailingBytes = errors.New("arrayx: trailing bytes after data")

	// ErrInvalidHeader means a header field is missing, mistyped or inconsistent.
	ErrInvalidHeader = errors.New("arrayx: invalid header")

	// ErrDType means a dtype name or numpy type string is not one arrayx supports.
	ErrDType = errors.New("arrayx: unsupported dtype")

	// ErrNotSealed means the array has not been sealed: its data may be incomplete
	// and it carries no checksums.
	ErrNotSealed = errors.New("arrayx: array is not sealed")

	// ErrChecksum means a data block does not match its CRC-32C; see ChecksumError.
	ErrChecksum = errors.New("arrayx: checksum mismatch")

	// ErrTooLarge means an array's size cannot be represented (overflow) or exceeds
	// what the format or the platform can address.
	ErrTooLarge = errors.New("arrayx: array too large")

	// ErrAttrsTooLarge means encoded attrs exceed MaxAttrsBytes.
	ErrAttrsTooLarge = errors.New("arrayx: attrs too large")

	// ErrView means a typed view cannot be made: wrong dtype, length or alignment,
	// or a big-endian host.
	ErrView = errors.New("arrayx: cannot make typed view")

	// ErrIndex means an element index is out of range or has the wrong rank.
	ErrIndex = errors.New("arrayx: index out of range")
)

// ChecksumError reports the first data block whose CRC-32C, or XXH3-128,
// does not match the header's table. It wraps ErrChecksum.
type ChecksumError struct {
	Block  int   // block number, from 0
	Offset int64 // byte offset of the block within the data region
	Want   uint32
	Got    uint32 // CRC-32C: Want and Got differ unless Digest
	// Digest means the CRC-32C matched but the XXH3-128 did not.
	Digest bool
}

func (e *ChecksumError) Error() string {
	if e.Digest {
		return fmt.Sprintf("arrayx: checksum mismatch in block %d (data offset %d): its CRC-32C matches but its XXH3-128 does not",
			e.Block, e.Offset)
	}
	return fmt.Sprintf("arrayx: checksum mismatch in block %d (data offset %d): header has %08x, data has %08x",
		e.Block, e.Offset, e.Want, e.Got)
}

func (e *ChecksumError) Unwrap() error { return ErrChecksum }

// invalid builds an ErrInvalidHeader error naming the field.
func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidHeader, field, fmt.Sprintf(format, args...))
}
