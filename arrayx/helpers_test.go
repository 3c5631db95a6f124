package arrayx

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"reflect"
	"slices"
	"testing"
)

// This file holds the test suite's shared helpers: a minimal msgpack encoder
// that is independent of the package's codec (so hostile and foreign headers
// can be assembled byte by byte), a header builder over ordered key/value
// pairs, a file assembler, and a fake Array.

// mp is a msgpack byte string under construction. Each method appends one
// encoded item and returns the result, so values read as mp{}.arr(2).uint(2).uint(3).
type mp []byte

func (m mp) raw(b ...byte) mp { return append(m, b...) }

func (m mp) null() mp { return append(m, 0xc0) }

func (m mp) boolean(v bool) mp {
	if v {
		return append(m, 0xc3)
	}
	return append(m, 0xc2)
}

// uint appends v in the smallest unsigned encoding.
func (m mp) uint(v uint64) mp {
	switch {
	case v <= 0x7f:
		return append(m, byte(v))
	case v <= math.MaxUint8:
		return append(m, 0xcc, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(m, 0xcd), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(m, 0xce), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(m, 0xcf), v)
}

// int appends v in the smallest encoding (positive values as unsigned, like
// msgpack-python).
func (m mp) int(v int64) mp {
	switch {
	case v >= 0:
		return m.uint(uint64(v))
	case v >= -32:
		return append(m, byte(int8(v)))
	case v >= math.MinInt8:
		return append(m, 0xd0, byte(int8(v)))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(m, 0xd1), uint16(int16(v)))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(m, 0xd2), uint32(int32(v)))
	}
	return binary.BigEndian.AppendUint64(append(m, 0xd3), uint64(v))
}

// u8/u16/u32/u64/i8/i16/i32/i64 append fixed-width integers, whatever the value.
func (m mp) u8(v uint8) mp   { return append(m, 0xcc, v) }
func (m mp) u16(v uint16) mp { return binary.BigEndian.AppendUint16(append(m, 0xcd), v) }
func (m mp) u32(v uint32) mp { return binary.BigEndian.AppendUint32(append(m, 0xce), v) }
func (m mp) u64(v uint64) mp { return binary.BigEndian.AppendUint64(append(m, 0xcf), v) }
func (m mp) i8(v int8) mp    { return append(m, 0xd0, byte(v)) }
func (m mp) i16(v int16) mp  { return binary.BigEndian.AppendUint16(append(m, 0xd1), uint16(v)) }
func (m mp) i32(v int32) mp  { return binary.BigEndian.AppendUint32(append(m, 0xd2), uint32(v)) }
func (m mp) i64(v int64) mp  { return binary.BigEndian.AppendUint64(append(m, 0xd3), uint64(v)) }

func (m mp) f32(v float32) mp {
	return binary.BigEndian.AppendUint32(append(m, 0xca), math.Float32bits(v))
}

func (m mp) f64(v float64) mp {
	return binary.BigEndian.AppendUint64(append(m, 0xcb), math.Float64bits(v))
}

func (m mp) str(s string) mp {
	n := len(s)
	switch {
	case n < 32:
		m = append(m, 0xa0|byte(n))
	case n <= math.MaxUint8:
		m = append(m, 0xd9, byte(n))
	case n <= math.MaxUint16:
		m = binary.BigEndian.AppendUint16(append(m, 0xda), uint16(n))
	default:
		m = binary.BigEndian.AppendUint32(append(m, 0xdb), uint32(n))
	}
	return append(m, s...)
}

func (m mp) bin(b []byte) mp {
	n := len(b)
	switch {
	case n <= math.MaxUint8:
		m = append(m, 0xc4, byte(n))
	case n <= math.MaxUint16:
		m = binary.BigEndian.AppendUint16(append(m, 0xc5), uint16(n))
	default:
		m = binary.BigEndian.AppendUint32(append(m, 0xc6), uint32(n))
	}
	return append(m, b...)
}

// arr and mapn append container headers; the caller appends the items.
func (m mp) arr(n int) mp {
	switch {
	case n < 16:
		return append(m, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(m, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(m, 0xdd), uint32(n))
}

func (m mp) mapn(n int) mp {
	switch {
	case n < 16:
		return append(m, 0x80|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(m, 0xde), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(m, 0xdf), uint32(n))
}

// uints appends an array of compact unsigned integers.
func (m mp) uints(vs ...uint64) mp {
	m = m.arr(len(vs))
	for _, v := range vs {
		m = m.uint(v)
	}
	return m
}

// field is one key/value pair of a header map, both already encoded.
type field struct {
	key, val []byte
}

func kv(key string, val mp) field { return field{mp{}.str(key), val} }

// fields is an ordered header map, so tests can drop, replace, repeat and
// reorder keys.
type fields []field

// set returns a copy of fs with key's value replaced, or the pair appended.
func (fs fields) set(key string, val mp) fields {
	out := append(fields{}, fs...)
	k := mp{}.str(key)
	for i := range out {
		if string(out[i].key) == string(k) {
			out[i].val = val
			return out
		}
	}
	return append(out, field{k, val})
}

// without returns a copy of fs without key.
func (fs fields) without(key string) fields {
	var out fields
	k := mp{}.str(key)
	for _, f := range fs {
		if string(f.key) != string(k) {
			out = append(out, f)
		}
	}
	return out
}

// with returns a copy of fs with more pairs appended (duplicates allowed).
func (fs fields) with(more ...field) fields {
	return append(append(fields{}, fs...), more...)
}

// body encodes fs as a msgpack map.
func (fs fields) body() []byte {
	m := mp{}.mapn(len(fs))
	for _, f := range fs {
		m = append(m, f.key...)
		m = append(m, f.val...)
	}
	return m
}

// prefix returns the 16-byte file prefix.
func prefix(major, minor uint16, h uint32) []byte {
	b := append([]byte{}, Magic[:]...)
	b = binary.LittleEndian.AppendUint16(b, major)
	b = binary.LittleEndian.AppendUint16(b, minor)
	return binary.LittleEndian.AppendUint32(b, h)
}

// headerBytes returns a v1.0 prefix followed by body.
func headerBytes(body []byte) []byte {
	return append(prefix(1, 0, uint32(len(body))), body...)
}

// fileBytes assembles a whole file: hdr (prefix and header), zero padding up
// to dataOffset, then data.
func fileBytes(tb testing.TB, hdr []byte, dataOffset int, data []byte) []byte {
	tb.Helper()
	if len(hdr) > dataOffset {
		tb.Fatalf("fileBytes: %d header bytes do not fit before data offset %d", len(hdr), dataOffset)
	}
	out := make([]byte, dataOffset, dataOffset+len(data))
	copy(out, hdr)
	return append(out, data...)
}

// crcTable computes the per-block CRC-32C table with hash/crc32 directly, as
// an independent writer would, little-endian.
func crcTable(data []byte, blockSize int) []byte {
	tab := crc32.MakeTable(crc32.Castagnoli)
	var out []byte
	for off := 0; off < len(data); off += blockSize {
		end := min(off+blockSize, len(data))
		out = binary.LittleEndian.AppendUint32(out, crc32.Checksum(data[off:end], tab))
	}
	if out == nil {
		out = []byte{}
	}
	return out
}

// goldenData is the data of the golden float32 2x3 array: 0, 1, ..., 5.
func goldenData() []byte {
	var b []byte
	for i := range 6 {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(i)))
	}
	return b
}

// baseFields is a valid sealed header for goldenData, as a foreign writer
// would encode it (compact integers).
func baseFields() fields {
	return fields{
		kv("dtype", mp{}.str("float32")),
		kv("shape", mp{}.uints(2, 3)),
		kv("order", mp{}.str("C")),
		kv("nbytes", mp{}.uint(24)),
		kv("data_offset", mp{}.uint(4096)),
		kv("block_size", mp{}.uint(4<<20)),
		kv("sealed", mp{}.boolean(true)),
		kv("crc32c", mp{}.bin(crcTable(goldenData(), 4<<20))),
	}
}

// sealedFile writes a complete file through the package's own writer path:
// NewHeader, CRCs over data, Marshal, padding, data. data may be nil for an
// all-zero array.
func sealedFile(tb testing.TB, dt DType, shape Shape, order Order, attrs map[string]any, data []byte) (*Header, []byte) {
	tb.Helper()
	h, err := NewHeader(dt, shape, order, attrs)
	if err != nil {
		tb.Fatalf("NewHeader(%v, %v): %v", dt, shape, err)
	}
	if data == nil {
		data = make([]byte, h.NBytes)
	}
	if int64(len(data)) != h.NBytes {
		tb.Fatalf("sealedFile: %d data bytes for nbytes %d", len(data), h.NBytes)
	}
	h.CRC32C = make([]uint32, h.NumBlocks())
	if h.NumBlocks() <= MaxDigestBlocks {
		h.XXH128 = make([][16]byte, h.NumBlocks())
	}
	for i := range h.CRC32C {
		off, n := h.Block(i)
		s := SumBlock(data[off:off+n], h.XXH128 != nil)
		h.CRC32C[i] = s.CRC32C
		if h.XXH128 != nil {
			h.XXH128[i] = s.XXH128
		}
	}
	h.Sealed = true
	hdr, err := h.Marshal()
	if err != nil {
		tb.Fatalf("Marshal: %v", err)
	}
	return h, fileBytes(tb, hdr, int(h.DataOffset), data)
}

// sentinels lists every error a parse failure must wrap.
var sentinels = []error{
	ErrBadMagic, ErrVersion, ErrHeaderTooLarge, ErrTruncated, ErrTrailingBytes,
	ErrInvalidHeader, ErrDType, ErrNotSealed, ErrChecksum, ErrTooLarge,
	ErrAttrsTooLarge, ErrView, ErrIndex,
}

// wrapsSentinel reports whether err wraps one of the package's sentinels.
func wrapsSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// checkErr fails unless err wraps want (or is nil when want is nil).
func checkErr(tb testing.TB, err, want error) {
	tb.Helper()
	switch {
	case want == nil && err != nil:
		tb.Fatalf("unexpected error: %v", err)
	case want != nil && err == nil:
		tb.Fatalf("no error, want %v", want)
	case want != nil && !errors.Is(err, want):
		tb.Fatalf("error %q does not wrap %q", err, want)
	}
}

// headersEqual compares every field of two headers; attrs are compared with
// reflect.DeepEqual after treating nil and empty as equal.
func headersEqual(a, b *Header) bool {
	if a.DType != b.DType || !a.Shape.Equal(b.Shape) || a.Order != b.Order ||
		a.NBytes != b.NBytes || a.DataOffset != b.DataOffset || a.BlockSize != b.BlockSize ||
		a.Sealed != b.Sealed || (a.CRC32C == nil) != (b.CRC32C == nil) ||
		!reflect.DeepEqual(append([]uint32{}, a.CRC32C...), append([]uint32{}, b.CRC32C...)) ||
		(a.XXH128 == nil) != (b.XXH128 == nil) || !slices.Equal(a.XXH128, b.XXH128) {
		return false
	}
	if len(a.Attrs) == 0 && len(b.Attrs) == 0 {
		return true
	}
	return reflect.DeepEqual(a.Attrs, b.Attrs)
}

// fakeArray is the smallest Array: a header and a data slice.
type fakeArray struct {
	h *Header
	b []byte
}

func (a fakeArray) Header() *Header { return a.h }
func (a fakeArray) Bytes() []byte   { return a.b }

// alignedBytes returns n bytes whose address is a multiple of 16, carved from a
// larger buffer (no unsafe: the address comes from reflect), and the buffer
// itself so callers can take misaligned slices of it.
func alignedBytes(n int) (aligned, buf []byte) {
	buf = make([]byte, n+32)
	off := int((16 - reflect.ValueOf(buf).Pointer()%16) % 16)
	return buf[off : off+n : off+n], buf[off:]
}
