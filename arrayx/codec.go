package arrayx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// Limits bounds what a reader accepts. The zero value means the defaults.
type Limits struct {
	// MaxHeaderBytes caps the header length H; 0 means DefaultMaxHeaderBytes.
	// A longer header is refused before it is read or allocated.
	MaxHeaderBytes int
}

func (l Limits) maxHeader() int64 {
	if l.MaxHeaderBytes <= 0 {
		return DefaultMaxHeaderBytes
	}
	return int64(l.MaxHeaderBytes)
}

// Marshal returns the first PrefixSize+H bytes of the array's file: the fixed
// prefix and the msgpack header. The zero padding up to DataOffset is not
// included. Keys are written in a fixed order and attrs with sorted keys, so
// the encoding is deterministic.
func (h *Header) Marshal() ([]byte, error) {
	if err := h.Validate(); err != nil {
		return nil, err
	}
	body, err := h.encodeBody()
	if err != nil {
		return nil, err
	}
	if int64(PrefixSize+len(body)) > h.DataOffset {
		return nil, invalid(headerKeyOffset, "%d leaves no room for a %d-byte header", h.DataOffset, len(body))
	}
	out := make([]byte, PrefixSize, PrefixSize+len(body))
	copy(out, Magic[:])
	binary.LittleEndian.PutUint16(out[8:], MajorVersion)
	binary.LittleEndian.PutUint16(out[10:], MinorVersion)
	binary.LittleEndian.PutUint32(out[12:], uint32(len(body)))
	return append(out, body...), nil
}

func (h *Header) encodeBody() ([]byte, error) {
	var buf bytes.Buffer
	enc := newEncoder(&buf)
	n := 7
	if h.CRC32C != nil {
		n++
	}
	if h.XXH128 != nil {
		n++
	}
	if len(h.Attrs) > 0 {
		n++
	}
	// Encoder writes to a bytes.Buffer cannot fail; only attrs can (bad types).
	_ = enc.EncodeMapLen(n)
	_ = enc.EncodeString(headerKeyDType)
	_ = enc.EncodeString(h.DType.String())
	_ = enc.EncodeString(headerKeyShape)
	_ = enc.EncodeArrayLen(len(h.Shape))
	for _, d := range h.Shape {
		_ = enc.EncodeUint(uint64(d))
	}
	_ = enc.EncodeString(headerKeyOrder)
	_ = enc.EncodeString(h.Order.String())
	_ = enc.EncodeString(headerKeyNBytes)
	_ = enc.EncodeUint(uint64(h.NBytes))
	_ = enc.EncodeString(headerKeyOffset)
	_ = enc.EncodeUint(uint64(h.DataOffset))
	_ = enc.EncodeString(headerKeyBlock)
	_ = enc.EncodeUint(uint64(h.BlockSize))
	_ = enc.EncodeString(headerKeySealed)
	_ = enc.EncodeBool(h.Sealed)
	if h.CRC32C != nil {
		_ = enc.EncodeString(headerKeyCRC)
		table := make([]byte, 4*len(h.CRC32C))
		for i, c := range h.CRC32C {
			binary.LittleEndian.PutUint32(table[4*i:], c)
		}
		_ = enc.EncodeBytes(table)
	}
	if h.XXH128 != nil {
		_ = enc.EncodeString(headerKeyXXH)
		table := make([]byte, 0, 16*len(h.XXH128))
		for _, d := range h.XXH128 {
			table = append(table, d[:]...)
		}
		_ = enc.EncodeBytes(table)
	}
	if len(h.Attrs) > 0 {
		_ = enc.EncodeString(headerKeyAttrs)
		if err := enc.Encode(canonical(h.Attrs)); err != nil {
			return nil, fmt.Errorf("%w: attrs: %w", ErrInvalidHeader, err)
		}
	}
	if uint64(buf.Len()) > math.MaxUint32 {
		return nil, fmt.Errorf("%w: header of %d bytes", ErrTooLarge, buf.Len())
	}
	return buf.Bytes(), nil
}

// newEncoder returns the header encoder: map keys sorted for deterministic
// bytes and integers in their shortest form, so attrs read from a compact
// foreign header fit again when re-encoded. (Compact floats are not used:
// msgpack encodes an integral float as an int, which changes its type.)
func newEncoder(w io.Writer) *msgpack.Encoder {
	enc := msgpack.NewEncoder(w)
	enc.SetSortMapKeys(true)
	enc.UseCompactInts(true)
	return enc
}

// canonical prepares an attrs value for deterministic encoding. msgpack
// sorts the keys of only a few map types (map[string]any among them) and
// writes the others in Go's random iteration order, so every map becomes a
// sortedMap, and slices are rebuilt so that maps inside them are too.
func canonical(v any) any {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		m := make(sortedMap, 0, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			m = append(m, [2]any{it.Key().Interface(), canonical(it.Value().Interface())})
		}
		return m
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return v // bytes: msgpack bin
		}
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = canonical(rv.Index(i).Interface())
		}
		return out
	}
	return v
}

// sortedMap is a map's pairs, encoded as a msgpack map in a fixed order.
type sortedMap [][2]any

func (m sortedMap) EncodeMsgpack(enc *msgpack.Encoder) error {
	keys := make([][]byte, len(m))
	for i, kv := range m {
		var buf bytes.Buffer
		if err := newEncoder(&buf).Encode(kv[0]); err != nil {
			return err
		}
		keys[i] = buf.Bytes()
	}
	order := make([]int, len(m))
	for i := range order {
		order[i] = i
	}
	// String keys sort as strings (as msgpack's own sorting does), ahead of
	// other keys, which sort by their encoded bytes.
	sort.Slice(order, func(a, b int) bool {
		ka, aStr := m[order[a]][0].(string)
		kb, bStr := m[order[b]][0].(string)
		switch {
		case aStr && bStr:
			return ka < kb
		case aStr != bStr:
			return aStr
		}
		return bytes.Compare(keys[order[a]], keys[order[b]]) < 0
	})
	if err := enc.EncodeMapLen(len(m)); err != nil {
		return err
	}
	for _, i := range order {
		if err := enc.Encode(msgpack.RawMessage(keys[i])); err != nil {
			return err
		}
		if err := enc.Encode(m[i][1]); err != nil {
			return err
		}
	}
	return nil
}

func encodeAttrs(attrs map[string]any) ([]byte, error) {
	var buf bytes.Buffer
	enc := newEncoder(&buf)
	if err := enc.Encode(canonical(attrs)); err != nil {
		return nil, fmt.Errorf("%w: attrs: %w", ErrInvalidHeader, err)
	}
	return buf.Bytes(), nil
}

// Prefix is the fixed 16-byte start of an ARRAYX file.
type Prefix struct {
	Major, Minor uint16
	HeaderLen    uint32 // H, the msgpack header's length in bytes
}

// ParsePrefix checks the magic and major version of the first PrefixSize
// bytes of b and the header length against lim. It allocates nothing.
func ParsePrefix(b []byte, lim Limits) (Prefix, error) {
	if len(b) < PrefixSize {
		return Prefix{}, fmt.Errorf("%w: %d bytes, the prefix alone is %d", ErrTruncated, len(b), PrefixSize)
	}
	if !bytes.Equal(b[:8], Magic[:]) {
		return Prefix{}, fmt.Errorf("%w: starts % x", ErrBadMagic, b[:8])
	}
	p := Prefix{
		Major:     binary.LittleEndian.Uint16(b[8:]),
		Minor:     binary.LittleEndian.Uint16(b[10:]),
		HeaderLen: binary.LittleEndian.Uint32(b[12:]),
	}
	if p.Major != MajorVersion {
		return p, fmt.Errorf("%w: %d (this reader supports %d)", ErrVersion, p.Major, MajorVersion)
	}
	if int64(p.HeaderLen) > lim.maxHeader() {
		return p, fmt.Errorf("%w: %d bytes declared, limit %d", ErrHeaderTooLarge, p.HeaderLen, lim.maxHeader())
	}
	return p, nil
}

// Unmarshal parses a prefix and header from the start of b, which must hold
// at least PrefixSize+H bytes (more is allowed and ignored). The header is
// validated, including that DataOffset leaves room for it.
func Unmarshal(b []byte, lim Limits) (*Header, error) {
	p, err := ParsePrefix(b, lim)
	if err != nil {
		return nil, err
	}
	end := PrefixSize + int64(p.HeaderLen)
	if int64(len(b)) < end {
		return nil, fmt.Errorf("%w: header declares %d bytes, %d present", ErrTruncated, p.HeaderLen, len(b)-PrefixSize)
	}
	h, err := decodeBody(b[PrefixSize:end])
	if err != nil {
		return nil, err
	}
	if err := h.Validate(); err != nil {
		return nil, err
	}
	if h.DataOffset < end {
		return nil, invalid(headerKeyOffset, "%d is inside the %d-byte prefix and header", h.DataOffset, end)
	}
	return h, nil
}

// ReadHeader reads and validates the header of an ARRAYX file of the given
// size, including that the size is exactly DataOffset+NBytes. It reads only
// the prefix and the header, and allocates nothing before the header length
// has passed lim.
func ReadHeader(r io.ReaderAt, size int64, lim Limits) (*Header, error) {
	h, _, err := ReadRawHeader(r, size, lim)
	return h, err
}

// ReadRawHeader is ReadHeader that also returns the prefix and header bytes
// as stored (what a network sender transmits, and what a digest covers).
func ReadRawHeader(r io.ReaderAt, size int64, lim Limits) (*Header, []byte, error) {
	var pre [PrefixSize]byte
	if size < PrefixSize {
		return nil, nil, fmt.Errorf("%w: file is %d bytes, the prefix alone is %d", ErrTruncated, size, PrefixSize)
	}
	if err := readAt(r, pre[:], 0); err != nil {
		return nil, nil, fmt.Errorf("arrayx: reading prefix: %w", err)
	}
	p, err := ParsePrefix(pre[:], lim)
	if err != nil {
		return nil, nil, err
	}
	if int64(p.HeaderLen) > size-PrefixSize {
		return nil, nil, fmt.Errorf("%w: header declares %d bytes, file has %d after the prefix", ErrTruncated, p.HeaderLen, size-PrefixSize)
	}
	buf := make([]byte, PrefixSize+int(p.HeaderLen))
	copy(buf, pre[:])
	if err := readAt(r, buf[PrefixSize:], PrefixSize); err != nil {
		return nil, nil, fmt.Errorf("arrayx: reading header: %w", err)
	}
	h, err := Unmarshal(buf, lim)
	if err != nil {
		return nil, nil, err
	}
	if err := h.CheckFileSize(size); err != nil {
		return nil, nil, err
	}
	return h, buf, nil
}

// readAt fills b from offset off. io.ReaderAt may return io.EOF with a full
// read at the end of the input, which is success; a short read means the
// input ended early (a file truncated after it was sized).
func readAt(r io.ReaderAt, b []byte, off int64) error {
	if len(b) == 0 {
		return nil
	}
	n, err := r.ReadAt(b, off)
	switch {
	case n == len(b):
		return nil
	case err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: %d of %d bytes at offset %d", ErrTruncated, n, len(b), off)
	}
	return err
}

// decodeBody decodes the msgpack header map. The bytes are first scanned for
// well-formedness and depth, so every length the decoder later trusts is
// bounded by the bytes present.
func decodeBody(b []byte) (*Header, error) {
	n, err := scanMsgpack(b, maxAttrsDepth)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidHeader, err)
	}
	if n != len(b) {
		return nil, fmt.Errorf("%w: %d bytes after the header map", ErrInvalidHeader, len(b)-n)
	}
	d := msgpack.NewDecoder(bytes.NewReader(b))
	c, _ := d.PeekCode()
	if !msgpcode.IsFixedMap(c) && c != msgpcode.Map16 && c != msgpcode.Map32 {
		return nil, fmt.Errorf("%w: not a msgpack map (first byte %#02x)", ErrInvalidHeader, c)
	}
	nkeys, err := d.DecodeMapLen()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidHeader, err)
	}
	h := &Header{}
	seen := make(map[string]bool, 9)
	for range nkeys {
		if c, _ := d.PeekCode(); !isStr(c) {
			return nil, fmt.Errorf("%w: a key is not a string (code %#02x)", ErrInvalidHeader, c)
		}
		key, err := d.DecodeString()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidHeader, err)
		}
		if seen[key] {
			return nil, invalid(key, "duplicate key")
		}
		seen[key] = true
		if err := decodeField(d, h, key); err != nil {
			return nil, err
		}
	}
	for _, k := range []string{headerKeyDType, headerKeyShape, headerKeyOrder, headerKeyNBytes,
		headerKeyOffset, headerKeyBlock, headerKeySealed} {
		if !seen[k] {
			return nil, invalid(k, "missing")
		}
	}
	return h, nil
}

func decodeField(d *msgpack.Decoder, h *Header, key string) error {
	var err error
	switch key {
	case headerKeyDType:
		var s string
		if s, err = decodeStr(d, key); err != nil {
			return err
		}
		for _, dt := range DTypes() {
			if dt.String() == s {
				h.DType = dt
			}
		}
		if h.DType == 0 {
			return invalid(key, "%q is not an ARRAYX dtype name", s)
		}
	case headerKeyShape:
		c, _ := d.PeekCode()
		if !msgpcode.IsFixedArray(c) && c != msgpcode.Array16 && c != msgpcode.Array32 {
			return invalid(key, "not an array")
		}
		n, err := d.DecodeArrayLen()
		if err != nil {
			return invalid(key, "%v", err)
		}
		if n > MaxRank {
			return invalid(key, "rank %d exceeds %d", n, MaxRank)
		}
		h.Shape = make(Shape, n)
		for i := range h.Shape {
			if h.Shape[i], err = decodeNonNeg(d, key); err != nil {
				return err
			}
		}
	case headerKeyOrder:
		var s string
		if s, err = decodeStr(d, key); err != nil {
			return err
		}
		if s != "C" && s != "F" {
			return invalid(key, "%q: want \"C\" or \"F\"", s)
		}
		h.Order = Order(s[0])
	case headerKeyNBytes:
		h.NBytes, err = decodeNonNeg(d, key)
	case headerKeyOffset:
		h.DataOffset, err = decodeNonNeg(d, key)
	case headerKeyBlock:
		h.BlockSize, err = decodeNonNeg(d, key)
	case headerKeySealed:
		if c, _ := d.PeekCode(); c != msgpcode.True && c != msgpcode.False {
			return invalid(key, "not a bool")
		}
		h.Sealed, err = d.DecodeBool()
	case headerKeyCRC:
		if c, _ := d.PeekCode(); c != msgpcode.Bin8 && c != msgpcode.Bin16 && c != msgpcode.Bin32 {
			return invalid(key, "not binary")
		}
		var raw []byte
		if raw, err = d.DecodeBytes(); err != nil {
			return invalid(key, "%v", err)
		}
		if len(raw)%4 != 0 {
			return invalid(key, "%d bytes is not a whole number of uint32 checksums", len(raw))
		}
		h.CRC32C = make([]uint32, len(raw)/4)
		for i := range h.CRC32C {
			h.CRC32C[i] = binary.LittleEndian.Uint32(raw[4*i:])
		}
	case headerKeyXXH:
		if c, _ := d.PeekCode(); c != msgpcode.Bin8 && c != msgpcode.Bin16 && c != msgpcode.Bin32 {
			return invalid(key, "not binary")
		}
		var raw []byte
		if raw, err = d.DecodeBytes(); err != nil {
			return invalid(key, "%v", err)
		}
		if len(raw)%16 != 0 {
			return invalid(key, "%d bytes is not a whole number of 16-byte digests", len(raw))
		}
		h.XXH128 = make([][16]byte, len(raw)/16)
		for i := range h.XXH128 {
			h.XXH128[i] = [16]byte(raw[16*i:])
		}
	case headerKeyAttrs:
		h.Attrs, err = decodeAttrs(d)
	default:
		// Minor versions may add keys: readers skip what they do not know.
		if err := d.Skip(); err != nil {
			return invalid(key, "%v", err)
		}
	}
	if err != nil && !errors.Is(err, ErrInvalidHeader) { // decodeNonNeg and friends name the key already
		return invalid(key, "%v", err)
	}
	return err
}

func decodeAttrs(d *msgpack.Decoder) (map[string]any, error) {
	c, _ := d.PeekCode()
	if c == msgpcode.Nil {
		return nil, d.Skip()
	}
	if !isMap(c) {
		return nil, fmt.Errorf("not a map")
	}
	n, err := d.DecodeMapLen()
	if err != nil {
		return nil, err
	}
	m := make(map[string]any, n)
	for range n {
		if c, _ := d.PeekCode(); !isStr(c) {
			return nil, fmt.Errorf("a key is not a string")
		}
		k, err := d.DecodeString()
		if err != nil {
			return nil, err
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("duplicate key %q", k)
		}
		if m[k], err = decodeValue(d); err != nil {
			return nil, fmt.Errorf("attrs[%q]: %w", k, err)
		}
	}
	return m, nil
}

// decodeValue decodes any msgpack value of attrs faithfully enough to
// re-encode it in no more bytes: integers become int64 (uint64 above
// MaxInt64), floats keep their width, maps with string keys become
// map[string]any and others map[any]any, and extension types stay raw
// (msgpack.RawMessage). Recursion is bounded by scanMsgpack's depth check.
func decodeValue(d *msgpack.Decoder) (any, error) {
	c, err := d.PeekCode()
	if err != nil {
		return nil, err
	}
	switch {
	case isMap(c):
		n, err := d.DecodeMapLen()
		if err != nil {
			return nil, err
		}
		keys, vals := make([]any, n), make([]any, n)
		allStr := true
		for i := range n {
			if keys[i], err = decodeValue(d); err != nil {
				return nil, err
			}
			switch keys[i].(type) {
			case string:
			case int64, uint64, bool, float32, float64, nil:
				allStr = false
			default: // slices, maps and raw bytes cannot be Go map keys
				return nil, fmt.Errorf("map key of type %T", keys[i])
			}
			if vals[i], err = decodeValue(d); err != nil {
				return nil, err
			}
		}
		var m any
		if allStr {
			ms := make(map[string]any, n)
			for i, k := range keys {
				ms[k.(string)] = vals[i]
			}
			m = ms
		} else {
			ma := make(map[any]any, n)
			for i, k := range keys {
				ma[k] = vals[i]
			}
			m = ma
		}
		if reflect.ValueOf(m).Len() != n {
			return nil, fmt.Errorf("duplicate key in a map")
		}
		return m, nil
	case msgpcode.IsFixedArray(c), c == msgpcode.Array16, c == msgpcode.Array32:
		n, err := d.DecodeArrayLen()
		if err != nil {
			return nil, err
		}
		s := make([]any, n)
		for i := range s {
			if s[i], err = decodeValue(d); err != nil {
				return nil, err
			}
		}
		return s, nil
	case msgpcode.IsExt(c):
		return d.DecodeRaw()
	case msgpcode.IsFixedNum(c), c >= msgpcode.Int8 && c <= msgpcode.Int64:
		return d.DecodeInt64()
	case c >= msgpcode.Uint8 && c <= msgpcode.Uint64:
		v, err := d.DecodeUint64()
		if err != nil || v > math.MaxInt64 {
			return v, err
		}
		return int64(v), nil
	}
	return d.DecodeInterface() // nil, bool, float32/64, str, bin
}

func isMap(c byte) bool {
	return msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32
}

func decodeStr(d *msgpack.Decoder, key string) (string, error) {
	if c, _ := d.PeekCode(); !isStr(c) {
		return "", invalid(key, "not a string")
	}
	s, err := d.DecodeString()
	if err != nil {
		return "", invalid(key, "%v", err)
	}
	return s, nil
}

// decodeNonNeg decodes an integer of any msgpack width that fits in an int64
// and is not negative. Floats are refused rather than truncated.
func decodeNonNeg(d *msgpack.Decoder, key string) (int64, error) {
	c, _ := d.PeekCode()
	switch {
	case msgpcode.IsFixedNum(c), c >= msgpcode.Int8 && c <= msgpcode.Int64:
		v, err := d.DecodeInt64()
		if err != nil {
			return 0, invalid(key, "%v", err)
		}
		if v < 0 {
			return 0, invalid(key, "negative (%d)", v)
		}
		return v, nil
	case c >= msgpcode.Uint8 && c <= msgpcode.Uint64:
		v, err := d.DecodeUint64()
		if err != nil {
			return 0, invalid(key, "%v", err)
		}
		if v > math.MaxInt64 {
			return 0, invalid(key, "%d exceeds 2^63-1", v)
		}
		return int64(v), nil
	}
	return 0, invalid(key, "not an integer (code %#02x)", c)
}

func isStr(c byte) bool {
	return msgpcode.IsFixedString(c) || c == msgpcode.Str8 || c == msgpcode.Str16 || c == msgpcode.Str32
}
