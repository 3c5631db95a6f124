package arrayx

import (
	"fmt"
	"strings"
)

// DType is an element type. The zero value is invalid.
type DType uint8

// The dtypes of ARRAYX v1. Item sizes are numpy's; bfloat16 is 2 bytes.
const (
	Bool DType = iota + 1
	Int8
	Int16
	Int32
	Int64
	Uint8
	Uint16
	Uint32
	Uint64
	Float16
	BFloat16
	Float32
	Float64
	Complex64
	Complex128
)

type dtypeInfo struct {
	name  string
	size  int
	numpy string // numpy type string (little-endian), "" when numpy has none
}

var dtypes = [...]dtypeInfo{
	Bool:       {"bool", 1, "|b1"},
	Int8:       {"int8", 1, "|i1"},
	Int16:      {"int16", 2, "<i2"},
	Int32:      {"int32", 4, "<i4"},
	Int64:      {"int64", 8, "<i8"},
	Uint8:      {"uint8", 1, "|u1"},
	Uint16:     {"uint16", 2, "<u2"},
	Uint32:     {"uint32", 4, "<u4"},
	Uint64:     {"uint64", 8, "<u8"},
	Float16:    {"float16", 2, "<f2"},
	BFloat16:   {"bfloat16", 2, ""},
	Float32:    {"float32", 4, "<f4"},
	Float64:    {"float64", 8, "<f8"},
	Complex64:  {"complex64", 8, "<c8"},
	Complex128: {"complex128", 16, "<c16"},
}

// DTypes returns every valid dtype, in declaration order.
func DTypes() []DType {
	out := make([]DType, 0, len(dtypes)-1)
	for d := Bool; d <= Complex128; d++ {
		out = append(out, d)
	}
	return out
}

// Valid reports whether d is one of the ARRAYX v1 dtypes.
func (d DType) Valid() bool { return d >= Bool && d <= Complex128 }

// String returns the dtype's ARRAYX name ("float64"), or "dtype(N)" if invalid.
func (d DType) String() string {
	if !d.Valid() {
		return fmt.Sprintf("dtype(%d)", uint8(d))
	}
	return dtypes[d].name
}

// ItemSize returns the size of one element in bytes, or 0 if d is invalid.
func (d DType) ItemSize() int {
	if !d.Valid() {
		return 0
	}
	return dtypes[d].size
}

// NumpyDescr returns the numpy type string ("<f8") and false when numpy has no
// equivalent (bfloat16) or d is invalid.
func (d DType) NumpyDescr() (string, bool) {
	if !d.Valid() || dtypes[d].numpy == "" {
		return "", false
	}
	return dtypes[d].numpy, true
}

// ParseDType parses an ARRAYX name ("float64") or a numpy type string ("<f8",
// "f8", "|u1", "?"). Big-endian type strings of multi-byte types are refused
// with an error that says so: arrayx data is little-endian.
func ParseDType(s string) (DType, error) {
	for d := Bool; d <= Complex128; d++ {
		if dtypes[d].name == s {
			return d, nil
		}
	}
	t := s
	order := byte(0)
	if t != "" && strings.IndexByte("<>|=", t[0]) >= 0 {
		order, t = t[0], t[1:]
	}
	if t == "?" {
		t = "b1"
	}
	for d := Bool; d <= Complex128; d++ {
		np := dtypes[d].numpy
		if np == "" || np[1:] != t {
			continue
		}
		if dtypes[d].size > 1 && (order == '>' || order == '=' && !hostLittleEndian) {
			return 0, fmt.Errorf("%w: %q is big-endian; arrayx stores little-endian data", ErrDType, s)
		}
		return d, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrDType, s)
}
