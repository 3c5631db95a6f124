package arrayx

import (
	"fmt"
	"reflect"
)

// Array is anything holding an array's header and its data bytes: an open
// mmapstore array (read-only mapping) or a writer (writable mapping).
type Array interface {
	Header() *Header
	Bytes() []byte // the data region: NBytes bytes at DataOffset
}

// Element is the set of Go types that map one-to-one onto a dtype. bool,
// float16 and bfloat16 have no such type: use BoolBytes, Float16Bits and
// BFloat16Bits.
type Element interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64 |
		~float32 | ~float64 | ~complex64 | ~complex128
}

var kindDType = map[reflect.Kind]DType{
	reflect.Int8: Int8, reflect.Int16: Int16, reflect.Int32: Int32, reflect.Int64: Int64,
	reflect.Uint8: Uint8, reflect.Uint16: Uint16, reflect.Uint32: Uint32, reflect.Uint64: Uint64,
	reflect.Float32: Float32, reflect.Float64: Float64,
	reflect.Complex64: Complex64, reflect.Complex128: Complex128,
}

// DTypeOf returns the dtype that a Go element type views.
func DTypeOf[T Element]() DType { return kindDType[reflect.TypeFor[T]().Kind()] }

// Data returns the array's elements as a []T over its memory, without
// copying. T must match the dtype exactly (float64 for float64, ...). The
// slice is valid only while the array is open (see the package docs); for a
// read-only array, writing through it faults.
func Data[T Element](a Array) ([]T, error) {
	return view[T](a, DTypeOf[T]())
}

// Cast views a little-endian byte buffer (a file read into memory, a
// network buffer) as a []T without copying, with the same length and
// alignment checks as Data.
func Cast[T Element](b []byte) ([]T, error) {
	if !hostLittleEndian {
		return nil, fmt.Errorf("%w: host is big-endian, data is little-endian", ErrView)
	}
	return castSlice[T](b)
}

// BoolBytes returns a bool array's elements as bytes (0 or 1 when written by
// arrayx or numpy). A []bool is not offered: a byte other than 0 or 1 in a
// Go bool is undefined behaviour, and a file may hold any byte.
func BoolBytes(a Array) ([]uint8, error) { return view[uint8](a, Bool) }

// Float16Bits returns a float16 array's elements as raw IEEE 754 half-precision
// bits; convert with Float16ToFloat32.
func Float16Bits(a Array) ([]uint16, error) { return view[uint16](a, Float16) }

// BFloat16Bits returns a bfloat16 array's elements as raw bits; convert with
// BFloat16ToFloat32.
func BFloat16Bits(a Array) ([]uint16, error) { return view[uint16](a, BFloat16) }

func view[T any](a Array, want DType) ([]T, error) {
	h := a.Header()
	if h.DType != want {
		return nil, fmt.Errorf("%w: array is %v, view asks for %v", ErrView, h.DType, want)
	}
	if !hostLittleEndian {
		return nil, fmt.Errorf("%w: host is big-endian, data is little-endian", ErrView)
	}
	b := a.Bytes()
	if int64(len(b)) != h.NBytes {
		return nil, fmt.Errorf("%w: data region is %d bytes, header says %d", ErrView, len(b), h.NBytes)
	}
	return castSlice[T](b)
}
