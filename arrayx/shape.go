package arrayx

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// MaxRank is the largest number of dimensions an ARRAYX v1 array may have.
const MaxRank = 64

// Order is the memory layout of a multi-dimensional array.
type Order byte

const (
	// OrderC is row-major: the last index varies fastest (numpy's default).
	OrderC Order = 'C'
	// OrderF is column-major (Fortran): the first index varies fastest.
	OrderF Order = 'F'
)

func (o Order) String() string { return string(rune(o)) }

// Valid reports whether o is OrderC or OrderF.
func (o Order) Valid() bool { return o == OrderC || o == OrderF }

// ParseOrder parses "C" or "F".
func ParseOrder(s string) (Order, error) {
	switch s {
	case "C":
		return OrderC, nil
	case "F":
		return OrderF, nil
	}
	return 0, fmt.Errorf("%w: order %q: want \"C\" or \"F\"", ErrInvalidHeader, s)
}

// Shape holds an array's dimensions. A nil or empty Shape is a 0-d (scalar) array.
type Shape []int64

// String formats the shape as numpy does: "(2, 3)", "(5,)", "()".
func (s Shape) String() string {
	var b strings.Builder
	b.WriteByte('(')
	for i, d := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatInt(d, 10))
	}
	if len(s) == 1 {
		b.WriteByte(',')
	}
	b.WriteByte(')')
	return b.String()
}

// ParseShape parses a comma-separated list of dimensions ("1000,1000").
// The empty string is a 0-d shape.
func ParseShape(input string) (Shape, error) {
	str := strings.TrimSpace(strings.Trim(strings.TrimSpace(input), "()[]"))
	if str == "" {
		return Shape{}, nil
	}
	parts := strings.Split(str, ",")
	if parts[len(parts)-1] == "" { // numpy-style "(5,)"
		parts = parts[:len(parts)-1]
	}
	s := make(Shape, 0, len(parts))
	for _, p := range parts {
		d, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("%w: shape %q: dimension %q is not a non-negative integer", ErrInvalidHeader, input, p)
		}
		s = append(s, d)
	}
	return s, s.Check(1)
}

// Check validates the rank and that the dimensions, and the byte size of an
// array of this shape with the given item size, fit in an int64. Zero dimensions
// are skipped in the overflow check, so that strides never overflow either.
func (s Shape) Check(itemSize int) error {
	if len(s) > MaxRank {
		return invalid("shape", "rank %d exceeds %d", len(s), MaxRank)
	}
	p := uint64(itemSize)
	for i, d := range s {
		if d < 0 {
			return invalid("shape", "dimension %d is negative (%d)", i, d)
		}
		if d == 0 {
			continue
		}
		hi, lo := bits.Mul64(p, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return fmt.Errorf("%w: shape %v of %d-byte items overflows int64", ErrTooLarge, s, itemSize)
		}
		p = lo
	}
	return nil
}

// NumElements returns the product of the dimensions (1 for a 0-d shape).
// It fails if the product does not fit in an int64.
func (s Shape) NumElements() (int64, error) {
	n := uint64(1)
	for i, d := range s {
		if d < 0 {
			return 0, invalid("shape", "dimension %d is negative (%d)", i, d)
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, fmt.Errorf("%w: shape %v has more than 2^63-1 elements", ErrTooLarge, s)
		}
		n = lo
	}
	return int64(n), nil
}

// Equal reports whether two shapes have the same dimensions.
func (s Shape) Equal(t Shape) bool {
	if len(s) != len(t) {
		return false
	}
	for i := range s {
		if s[i] != t[i] {
			return false
		}
	}
	return true
}

// Strides returns the byte distance between consecutive elements along each
// dimension for the given order and item size. The caller must have checked
// the shape (Check), which guarantees the products fit.
func Strides(s Shape, order Order, itemSize int) []int64 {
	st := make([]int64, len(s))
	acc := int64(itemSize)
	step := func(i int) {
		st[i] = acc
		if s[i] > 0 {
			acc *= s[i]
		}
	}
	if order == OrderF {
		for i := range s {
			step(i)
		}
	} else {
		for i := len(s) - 1; i >= 0; i-- {
			step(i)
		}
	}
	return st
}

// Offset returns the byte offset within the data region of the element at
// index, for an array of this shape, order and item size.
func Offset(s Shape, order Order, itemSize int, index ...int64) (int64, error) {
	if len(index) != len(s) {
		return 0, fmt.Errorf("%w: %d indices for a %d-d array", ErrIndex, len(index), len(s))
	}
	st := Strides(s, order, itemSize)
	var off int64
	for i, x := range index {
		if x < 0 || x >= s[i] {
			return 0, fmt.Errorf("%w: index %d is %d, dimension is %d", ErrIndex, i, x, s[i])
		}
		off += x * st[i]
	}
	return off, nil
}
