package netlink

import (
	"math/bits"

	"github.com/arrayx/arrayx/mmapstore"
)

// blockSet is a set of block numbers in [0, size), one bit each.
type blockSet struct {
	w     []uint64
	size  int
	count int
}

func newBlockSet(size int) blockSet {
	return blockSet{w: make([]uint64, (size+63)/64), size: size}
}

func (s *blockSet) has(i int) bool { return s.w[i/64]&(1<<(i%64)) != 0 }

func (s *blockSet) add(i int) {
	if !s.has(i) {
		s.w[i/64] |= 1 << (i % 64)
		s.count++
	}
}

func (s *blockSet) remove(i int) {
	if s.has(i) {
		s.w[i/64] &^= 1 << (i % 64)
		s.count--
	}
}

func (s *blockSet) addRange(r mmapstore.BlockRange) {
	for i := r.Start; i < r.End; i++ {
		s.add(i)
	}
}

// hasAll reports whether every block of r is in the set.
func (s *blockSet) hasAll(r mmapstore.BlockRange) bool {
	for i := r.Start; i < r.End; i++ {
		if !s.has(i) {
			return false
		}
	}
	return true
}

// hasAny reports whether some block of r is in the set.
func (s *blockSet) hasAny(r mmapstore.BlockRange) bool {
	for i := r.Start; i < r.End; i++ {
		if s.has(i) {
			return true
		}
	}
	return false
}

// next returns the lowest member at or after i, or size.
func (s *blockSet) next(i int) int {
	for i < s.size {
		w := s.w[i/64] >> (i % 64)
		if w != 0 {
			return min(i+bits.TrailingZeros64(w), s.size)
		}
		i = (i/64 + 1) * 64
	}
	return s.size
}

// take removes up to max blocks, lowest first, and returns them as runs.
func (s *blockSet) take(max int) []mmapstore.BlockRange {
	var out []mmapstore.BlockRange
	for i := s.next(0); i < s.size && max > 0; i = s.next(i) {
		r := mmapstore.BlockRange{Start: i, End: i}
		for r.End < s.size && s.has(r.End) && max > 0 {
			s.remove(r.End)
			r.End++
			max--
		}
		out = append(out, r)
		i = r.End
	}
	return out
}

// ranges returns the members as runs, in order.
func (s *blockSet) ranges() []mmapstore.BlockRange {
	var out []mmapstore.BlockRange
	for i := s.next(0); i < s.size; {
		j := i
		for j < s.size && s.has(j) {
			j++
		}
		out = append(out, mmapstore.BlockRange{Start: i, End: j})
		i = s.next(j)
	}
	return out
}
