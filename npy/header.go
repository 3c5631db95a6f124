package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/arrayx/arrayx/arrayx"
)

// Layout constants of the .npy format (numpy/lib/format.py).
const (
	// Alignment is what numpy pads the header to: the data starts at a
	// multiple of 64 bytes. Readers do not require it (old files used 16).
	Alignment = 64

	// DefaultMaxHeaderBytes is the default limit on the declared header
	// length. Headers of the dtypes arrayx shares with numpy are under 2 KiB
	// even at rank 64; numpy's own reader refuses headers over 10,000
	// characters unless told to trust the file.
	DefaultMaxHeaderBytes = 64 << 10

	magicLen  = 6 // "\x93NUMPY"
	maxPrefix = magicLen + 2 + 4

	// growthDigits is numpy's GROWTH_AXIS_MAX_DIGITS: the header leaves room
	// for the growth axis's length to reach 21 digits, so that appending
	// writers can rewrite it in place. Writing the same keeps the output
	// byte-identical to numpy.save.
	growthDigits = 21
)

var magic = []byte("\x93NUMPY")

// Limits bounds what a reader accepts. The zero value means the defaults.
type Limits struct {
	// MaxHeaderBytes caps the declared header length; 0 means
	// DefaultMaxHeaderBytes. A longer header is refused before it is read or
	// allocated.
	MaxHeaderBytes int
}

func (l Limits) maxHeader() int64 {
	if l.MaxHeaderBytes <= 0 {
		return DefaultMaxHeaderBytes
	}
	return int64(l.MaxHeaderBytes)
}

// Header is a parsed .npy header.
type Header struct {
	Major, Minor int          // format version: 1.0, 2.0 or 3.0
	Descr        string       // the dtype as the file spells it ("<f8")
	DType        arrayx.DType // its arrayx dtype
	// BigEndian says the data is big-endian (">f8", or "=f8" read on a
	// big-endian host); never set for one-byte dtypes. Import converts.
	BigEndian  bool
	Shape      arrayx.Shape
	Order      arrayx.Order // OrderF when fortran_order is True
	DataOffset int64        // file offset of the data: prefix plus header length
	NBytes     int64        // data bytes: product(Shape) * item size
}

// prefixLen returns the length of the magic, version and header-length field
// for a format major version.
func prefixLen(major int) int {
	if major == 1 {
		return magicLen + 2 + 2
	}
	return magicLen + 2 + 4
}

// parsePrefix checks the magic and version at the start of b and returns the
// version, the length of the prefix and the declared header length. It needs
// only as many bytes as the version's prefix has, reads nothing else and
// allocates nothing.
func parsePrefix(b []byte) (major, minor, plen int, hlen int64, err error) {
	if n := min(len(b), magicLen); !bytes.Equal(b[:n], magic[:n]) {
		return 0, 0, 0, 0, fmt.Errorf("%w: starts % x", ErrBadMagic, b[:min(len(b), 8)])
	}
	if len(b) < magicLen+2 {
		return 0, 0, 0, 0, fmt.Errorf("%w: %d bytes, less than the magic and version", ErrTruncated, len(b))
	}
	major, minor = int(b[magicLen]), int(b[magicLen+1])
	if major < 1 || major > 3 || minor != 0 {
		return 0, 0, 0, 0, fmt.Errorf("%w: %d.%d (this reader supports 1.0, 2.0 and 3.0)", ErrVersion, major, minor)
	}
	plen = prefixLen(major)
	if len(b) < plen {
		return 0, 0, 0, 0, fmt.Errorf("%w: %d bytes, the version %d.0 prefix alone is %d", ErrTruncated, len(b), major, plen)
	}
	if major == 1 {
		hlen = int64(binary.LittleEndian.Uint16(b[magicLen+2:]))
	} else {
		hlen = int64(binary.LittleEndian.Uint32(b[magicLen+2:]))
	}
	return major, minor, plen, hlen, nil
}

// ReadHeader reads and validates the header of the .npy file r of size bytes,
// and checks that the file holds exactly the data the header declares. The
// header length is checked against lim and against size before a header byte
// is read or allocated.
func ReadHeader(r io.ReaderAt, size int64, lim Limits) (*Header, error) {
	var pre [maxPrefix]byte
	n := int(min(size, maxPrefix))
	if n < 0 {
		n = 0
	}
	if err := readFull(r, pre[:n], 0, "prefix"); err != nil {
		return nil, err
	}
	major, minor, plen, hlen, err := parsePrefix(pre[:n])
	if err != nil {
		return nil, err
	}
	if err := checkHeaderLen(hlen, plen, size, lim); err != nil {
		return nil, err
	}
	text := make([]byte, hlen)
	if err := readFull(r, text, int64(plen), "header"); err != nil {
		return nil, err
	}
	h, err := parseBody(text, major, minor, int64(plen))
	if err != nil {
		return nil, err
	}
	if err := h.CheckFileSize(size); err != nil {
		return nil, err
	}
	return h, nil
}

// checkHeaderLen refuses a declared header length over the limit or past the
// end of a file of size bytes.
func checkHeaderLen(hlen int64, plen int, size int64, lim Limits) error {
	if hlen > lim.maxHeader() {
		return fmt.Errorf("%w: header declares %d bytes, limit %d", ErrHeaderTooLarge, hlen, lim.maxHeader())
	}
	if hlen > size-int64(plen) {
		return fmt.Errorf("%w: header declares %d bytes, file has %d after the %d-byte prefix",
			ErrTruncated, hlen, size-int64(plen), plen)
	}
	return nil
}

// ParseHeader parses the prefix and header at the start of b, which must
// hold at least the whole header; the data, if present, is not looked at
// (ReadHeader also checks the file size). It allocates only the parsed
// values.
func ParseHeader(b []byte, lim Limits) (*Header, error) {
	major, minor, plen, hlen, err := parsePrefix(b)
	if err != nil {
		return nil, err
	}
	if err := checkHeaderLen(hlen, plen, int64(len(b)), lim); err != nil {
		return nil, err
	}
	return parseBody(b[plen:int64(plen)+hlen], major, minor, int64(plen))
}

// readFull reads len(b) bytes of what at off; a file shorter than it
// claimed to be is ErrTruncated.
func readFull(r io.ReaderAt, b []byte, off int64, what string) error {
	n, err := r.ReadAt(b, off)
	switch {
	case n == len(b):
		return nil
	case err == nil || err == io.EOF:
		return fmt.Errorf("%w: %s: %d of %d bytes at offset %d", ErrTruncated, what, n, len(b), off)
	}
	return fmt.Errorf("npy: reading %s: %w", what, err)
}

// parseBody parses the header text (after the prefix, which ends at file
// offset base) of a file of the given version.
func parseBody(text []byte, major, minor int, base int64) (*Header, error) {
	// Versions 1.0 and 2.0 are latin-1, where every byte is a character;
	// 3.0 is UTF-8.
	if major == 3 && !utf8.Valid(text) {
		i := 0
		for i < len(text) {
			r, n := utf8.DecodeRune(text[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		return nil, &HeaderError{Offset: base + int64(i), Msg: "version 3.0 header is not valid UTF-8", Err: ErrInvalidHeader}
	}
	p := &litParser{src: text, base: base, longL: major < 3}
	d, err := p.parseDict()
	if err != nil {
		return nil, err
	}
	h := &Header{Major: major, Minor: minor, DataOffset: base + int64(len(text))}
	if err := h.setFields(p, d); err != nil {
		return nil, err
	}
	return h, nil
}

// The keys of a header dict: exactly these, each once.
const (
	keyDescr   = "descr"
	keyFortran = "fortran_order"
	keyShape   = "shape"
)

// setFields checks the dict and fills h from it.
func (h *Header) setFields(p *litParser, d lit) error {
	var descr, fortran, shape *lit
	for i, k := range d.keys {
		if k.kind != litStr {
			return p.errAt(k.off, "dict key is %v, want 'descr', 'fortran_order' or 'shape'", k.kind)
		}
		var slot **lit
		switch k.str {
		case keyDescr:
			slot = &descr
		case keyFortran:
			slot = &fortran
		case keyShape:
			slot = &shape
		default:
			return p.errAt(k.off, "unexpected key %s (want exactly 'descr', 'fortran_order' and 'shape')", quoteKey(k.str))
		}
		if *slot != nil {
			return p.errAt(k.off, "duplicate key %s", quoteKey(k.str))
		}
		*slot = &d.elems[i]
	}
	for _, m := range []struct {
		name string
		v    *lit
	}{{keyDescr, descr}, {keyFortran, fortran}, {keyShape, shape}} {
		if m.v == nil {
			return p.errAt(d.off, "missing key '%s'", m.name)
		}
	}

	switch descr.kind {
	case litStr:
		dt, be, err := parseDescr(descr.str, p.base+int64(descr.off))
		if err != nil {
			return err
		}
		h.Descr, h.DType, h.BigEndian = descr.str, dt, be
	case litList:
		return fmt.Errorf("%w: structured dtype (descr at byte %d is a list of fields); an arrayx array has one numeric dtype",
			ErrDType, p.base+int64(descr.off))
	default:
		return p.errAt(descr.off, "descr is %v, want a string", descr.kind)
	}

	if fortran.kind != litBool {
		return p.errAt(fortran.off, "fortran_order is %v, want True or False", fortran.kind)
	}
	h.Order = arrayx.OrderC
	if fortran.b {
		h.Order = arrayx.OrderF
	}

	if shape.kind != litTuple {
		return p.errAt(shape.off, "shape is %v, want a tuple of integers", shape.kind)
	}
	if len(shape.elems) > arrayx.MaxRank {
		return p.errAt(shape.off, "shape has %d dimensions, arrayx allows %d", len(shape.elems), arrayx.MaxRank)
	}
	h.Shape = make(arrayx.Shape, len(shape.elems))
	for i, e := range shape.elems {
		if e.kind != litInt {
			return p.errAt(e.off, "shape dimension %d is %v, want a non-negative integer", i, e.kind)
		}
		if e.num < 0 {
			return p.errAt(e.off, "shape dimension %d is negative (%d)", i, e.num)
		}
		h.Shape[i] = e.num
	}
	nbytes, err := byteSize(h.Shape, h.DType)
	if err != nil {
		return err
	}
	h.NBytes = nbytes
	return nil
}

func quoteKey(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return strconv.QuoteToASCII(s)
}

// byteSize returns the data size of an array of this shape and dtype, with
// arrayx's rule (strides must fit too, so zero dimensions do not excuse an
// overflow of the others): an overflow is refused before anything is
// allocated for the data.
func byteSize(s arrayx.Shape, dt arrayx.DType) (int64, error) {
	if err := s.Check(dt.ItemSize()); err != nil {
		if errors.Is(err, arrayx.ErrTooLarge) {
			return 0, fmt.Errorf("%w: shape %v of %v overflows int64", ErrTooLarge, s, dt)
		}
		return 0, fmt.Errorf("%w: %w", ErrInvalidHeader, err)
	}
	n, err := s.NumElements()
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	return n * int64(dt.ItemSize()), nil // cannot overflow after Check
}

// CheckFileSize checks that a file of size bytes holds exactly the header
// and the data it declares, naming both sizes when it does not.
func (h *Header) CheckFileSize(size int64) error {
	have := size - h.DataOffset
	switch {
	case have < h.NBytes:
		return fmt.Errorf("%w: %d bytes of data after the header, shape %v of %v needs %d",
			ErrTruncated, max(have, 0), h.Shape, h.DType, h.NBytes)
	case have > h.NBytes:
		return fmt.Errorf("%w: %d bytes of data after the header, shape %v of %v needs %d",
			ErrTrailingBytes, have, h.Shape, h.DType, h.NBytes)
	}
	return nil
}

// hostLittleEndian is false on big-endian hosts, where "=" and "|" in a
// descr mean big-endian.
var hostLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// descrKinds maps a descr without its byte-order character to a dtype: the
// kind and size forms numpy writes, and "?" for bool.
var descrKinds = map[string]arrayx.DType{
	"b1": arrayx.Bool, "?": arrayx.Bool,
	"i1": arrayx.Int8, "i2": arrayx.Int16, "i4": arrayx.Int32, "i8": arrayx.Int64,
	"u1": arrayx.Uint8, "u2": arrayx.Uint16, "u4": arrayx.Uint32, "u8": arrayx.Uint64,
	"f2": arrayx.Float16, "f4": arrayx.Float32, "f8": arrayx.Float64,
	"c8": arrayx.Complex64, "c16": arrayx.Complex128,
}

// parseDescr maps a numpy type string to a dtype and says whether its data
// is big-endian. '<' is little-endian, '>' big-endian, and '=', '|' or no
// order character mean the host's order, as numpy reads them. off is the
// descr's file offset, for errors.
func parseDescr(s string, off int64) (arrayx.DType, bool, error) {
	t, order := s, byte('=')
	if t != "" && strings.IndexByte("<>|=", t[0]) >= 0 {
		order, t = t[0], t[1:]
	}
	if t == "O" || strings.HasPrefix(t, "O") && isDigits(t[1:]) {
		return 0, false, fmt.Errorf("%w: descr %s at byte %d", ErrPickle, quoteKey(s), off)
	}
	dt, ok := descrKinds[t]
	if !ok {
		return 0, false, fmt.Errorf("%w: descr %s at byte %d%s; arrayx shares with numpy only bool, int8 to int64, uint8 to uint64, float16, float32, float64, complex64 and complex128",
			ErrDType, quoteKey(s), off, descrHint(t))
	}
	big := order == '>' || (order == '=' || order == '|') && !hostLittleEndian
	return dt, big && dt.ItemSize() > 1, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// descrHint names the kind of a refused descr, when numpy has a name for it.
func descrHint(t string) string {
	switch {
	case t == "":
		return " is empty"
	case strings.HasPrefix(t, "U"), strings.HasPrefix(t, "S"), strings.HasPrefix(t, "a"):
		return " is a string dtype"
	case strings.HasPrefix(t, "V"):
		return " is a void (raw bytes) dtype, as bfloat16 from ml_dtypes is saved"
	case strings.HasPrefix(t, "M"), strings.HasPrefix(t, "m"):
		return " is a datetime or timedelta dtype"
	case t == "f12" || t == "f16" || t == "c24" || t == "c32":
		return " is long double"
	}
	return ""
}

// MarshalHeader returns the prefix and header of a .npy file holding an
// array of this dtype, shape and order, laid out byte for byte as
// numpy.save writes it: version 1.0 when the header length fits in 16 bits,
// else 2.0, the dict padded with spaces and a newline so that the data
// starts at a multiple of Alignment. bfloat16 has no numpy dtype and is
// refused with ErrDType.
func MarshalHeader(dt arrayx.DType, shape arrayx.Shape, order arrayx.Order) ([]byte, error) {
	descr, ok := dt.NumpyDescr()
	if !ok {
		if dt == arrayx.BFloat16 {
			return nil, fmt.Errorf("%w: bfloat16 has no numpy dtype; convert it to float32 first", ErrDType)
		}
		return nil, fmt.Errorf("%w: %v", ErrDType, dt)
	}
	if !order.Valid() {
		return nil, fmt.Errorf("%w: order %q: want C or F", ErrInvalidHeader, string(rune(order)))
	}
	if len(shape) > arrayx.MaxRank {
		return nil, fmt.Errorf("%w: shape has %d dimensions, arrayx allows %d", ErrInvalidHeader, len(shape), arrayx.MaxRank)
	}
	if _, err := byteSize(shape, dt); err != nil {
		return nil, err
	}
	fortran := "False"
	if order == arrayx.OrderF {
		fortran = "True"
	}
	// numpy writes the keys sorted, each followed by ", ", as repr would.
	dict := fmt.Sprintf("{'%s': '%s', '%s': %s, '%s': %v, }", keyDescr, descr, keyFortran, fortran, keyShape, shape)
	if len(shape) > 0 {
		growth := shape[0]
		if order == arrayx.OrderF {
			growth = shape[len(shape)-1]
		}
		dict += strings.Repeat(" ", max(0, growthDigits-len(strconv.FormatInt(growth, 10))))
	}
	return wrapHeader([]byte(dict)), nil
}

// wrapHeader prefixes the dict text with the magic, version and length and
// pads it with spaces and a final newline to a multiple of Alignment. Like
// numpy, it pads a whole Alignment when the text already ends aligned.
func wrapHeader(dict []byte) []byte {
	major := 1
	hlen := len(dict) + 1 // the newline
	pad := Alignment - (prefixLen(major)+hlen)%Alignment
	if hlen+pad > 0xffff {
		major = 2
		pad = Alignment - (prefixLen(major)+hlen)%Alignment
	}
	plen := prefixLen(major)
	out := make([]byte, 0, plen+hlen+pad)
	out = append(out, magic...)
	out = append(out, byte(major), 0)
	if major == 1 {
		out = binary.LittleEndian.AppendUint16(out, uint16(hlen+pad))
	} else {
		out = binary.LittleEndian.AppendUint32(out, uint32(hlen+pad))
	}
	out = append(out, dict...)
	out = append(out, bytes.Repeat([]byte{' '}, pad)...)
	return append(out, '\n')
}
