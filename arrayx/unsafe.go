package arrayx

import (
	"encoding/binary"
	"fmt"
	"unsafe"
)

// This file is the package's only use of unsafe.

// hostLittleEndian is false on big-endian hosts, where views of
// little-endian data would be wrong and are refused.
var hostLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// castSlice reinterprets b as a []T without copying. It refuses a length that
// is not a multiple of T's size and memory not aligned for T: Go guarantees
// only byte alignment for []byte, although a mapping is page-aligned.
func castSlice[T any](b []byte) ([]T, error) {
	var zero T
	size := int(unsafe.Sizeof(zero))
	if len(b)%size != 0 {
		return nil, fmt.Errorf("%w: %d bytes is not a whole number of %d-byte elements", ErrView, len(b), size)
	}
	if len(b) == 0 {
		return []T{}, nil
	}
	p := unsafe.Pointer(unsafe.SliceData(b))
	if align := unsafe.Alignof(zero); uintptr(p)%align != 0 {
		return nil, fmt.Errorf("%w: address %p is not %d-byte aligned", ErrView, p, align)
	}
	return unsafe.Slice((*T)(p), len(b)/size), nil
}
