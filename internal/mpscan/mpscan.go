// Package mpscan checks msgpack bytes for well-formedness before any decoder
// sees them: the shared first line of defence of every parser in arrayx.
package mpscan

import (
	"encoding/binary"
	"fmt"
)

// Scan checks that b starts with one well-formed msgpack value nested
// at most maxDepth deep and returns its length. It is iterative and allocates
// only its depth stack, so hostile input (2^32-element arrays in a few bytes,
// a million nested arrays) is refused before any decoder allocates for it or
// recurses into it: after this scan, every declared length fits in b.
func Scan(b []byte, maxDepth int) (int, error) {
	pos := 0
	stack := make([]uint64, 1, 8) // items still to read at each open level
	stack[0] = 1
	need := func(n uint64) error {
		if n > uint64(len(b)-pos) {
			return fmt.Errorf("msgpack truncated at byte %d: %d more bytes declared, %d present", pos, n, len(b)-pos)
		}
		return nil
	}
	// uintN reads a big-endian length of w bytes.
	uintN := func(w int) (uint64, error) {
		if err := need(uint64(w)); err != nil {
			return 0, err
		}
		var v uint64
		switch w {
		case 1:
			v = uint64(b[pos])
		case 2:
			v = uint64(binary.BigEndian.Uint16(b[pos:]))
		case 4:
			v = uint64(binary.BigEndian.Uint32(b[pos:]))
		}
		pos += w
		return v, nil
	}
	for len(stack) > 0 {
		top := len(stack) - 1
		if stack[top] == 0 {
			stack = stack[:top]
			continue
		}
		stack[top]--
		if err := need(1); err != nil {
			return 0, err
		}
		c := b[pos]
		pos++
		var skip, items uint64 // payload bytes to skip; child items to read
		var err error
		switch {
		case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
		case c >= 0x80 && c <= 0x8f:
			items = 2 * uint64(c&0x0f)
		case c >= 0x90 && c <= 0x9f:
			items = uint64(c & 0x0f)
		case c >= 0xa0 && c <= 0xbf:
			skip = uint64(c & 0x1f)
		case c == 0xc4, c == 0xd9: // bin8, str8
			skip, err = uintN(1)
		case c == 0xc5, c == 0xda:
			skip, err = uintN(2)
		case c == 0xc6, c == 0xdb:
			skip, err = uintN(4)
		case c >= 0xc7 && c <= 0xc9: // ext8/16/32: length, type byte, data
			skip, err = uintN(1 << (c - 0xc7))
			skip++
		case c == 0xca:
			skip = 4
		case c == 0xcb:
			skip = 8
		case c >= 0xcc && c <= 0xcf: // uint8..uint64
			skip = 1 << (c - 0xcc)
		case c >= 0xd0 && c <= 0xd3: // int8..int64
			skip = 1 << (c - 0xd0)
		case c >= 0xd4 && c <= 0xd8: // fixext1..16: type byte, data
			skip = 1 + 1<<(c-0xd4)
		case c == 0xdc:
			items, err = uintN(2)
		case c == 0xdd:
			items, err = uintN(4)
		case c == 0xde:
			items, err = uintN(2)
			items *= 2
		case c == 0xdf:
			items, err = uintN(4)
			items *= 2
		default: // 0xc1 is never used
			return 0, fmt.Errorf("msgpack byte %#02x at %d is reserved", c, pos-1)
		}
		if err != nil {
			return 0, err
		}
		if err := need(skip); err != nil {
			return 0, err
		}
		pos += int(skip)
		if items > 0 {
			if len(stack) > maxDepth {
				return 0, fmt.Errorf("msgpack nested deeper than %d at byte %d", maxDepth, pos)
			}
			if err := need(items); err != nil { // every item takes at least one byte
				return 0, err
			}
			stack = append(stack, items)
		}
	}
	return pos, nil
}
