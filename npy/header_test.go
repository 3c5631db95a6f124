package npy

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil/teststore"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// f8x23 is the data of a float64 (2, 3) array.
var f8x23 = bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 6)

func TestParseHeader(t *testing.T) {
	aligned16 := func(dict string, data []byte) []byte { // as numpy < 1.13 padded
		f := npyFile(1, dict, nil)[:10+len(dict)]
		for (len(f)+1)%16 != 0 {
			f = append(f, ' ')
		}
		f = append(f, '\n')
		f = withHeaderLen(f, uint16(len(f)-10))
		return append(f, data...)
	}
	tests := []struct {
		name      string
		file      []byte
		dt        arrayx.DType
		bigEndian bool
		shape     arrayx.Shape
		order     arrayx.Order
		major     int
	}{
		{"f8-C", npyFile(1, dict("'<f8'", "False", "(2, 3)"), f8x23), arrayx.Float64, false, arrayx.Shape{2, 3}, arrayx.OrderC, 1},
		{"f8-F", npyFile(1, dict("'<f8'", "True", "(2, 3)"), f8x23), arrayx.Float64, false, arrayx.Shape{2, 3}, arrayx.OrderF, 1},
		{"0-d", npyFile(1, dict("'<i2'", "False", "()"), []byte{1, 2}), arrayx.Int16, false, arrayx.Shape{}, arrayx.OrderC, 1},
		{"1-d", npyFile(1, dict("'|b1'", "False", "(5,)"), []byte{0, 1, 0, 1, 1}), arrayx.Bool, false, arrayx.Shape{5}, arrayx.OrderC, 1},
		{"empty", npyFile(1, dict("'<c16'", "False", "(0,)"), nil), arrayx.Complex128, false, arrayx.Shape{0}, arrayx.OrderC, 1},
		{"empty-2d", npyFile(1, dict("'<u4'", "True", "(3, 0)"), nil), arrayx.Uint32, false, arrayx.Shape{3, 0}, arrayx.OrderF, 1},
		{"v2", npyFile(2, dict("'<f8'", "False", "(2, 3)"), f8x23), arrayx.Float64, false, arrayx.Shape{2, 3}, arrayx.OrderC, 2},
		{"v3", npyFile(3, dict("'<f8'", "False", "(2, 3)"), f8x23), arrayx.Float64, false, arrayx.Shape{2, 3}, arrayx.OrderC, 3},
		{"big-endian", npyFile(1, dict("'>f8'", "False", "(6,)"), f8x23), arrayx.Float64, true, arrayx.Shape{6}, arrayx.OrderC, 1},
		{"big-endian-i1", npyFile(1, dict("'>i1'", "False", "(2,)"), []byte{1, 2}), arrayx.Int8, false, arrayx.Shape{2}, arrayx.OrderC, 1},
		{"native", npyFile(1, dict("'=f8'", "False", "(6,)"), f8x23), arrayx.Float64, !hostLittleEndian, arrayx.Shape{6}, arrayx.OrderC, 1},
		{"no-order-char", npyFile(1, dict("'f4'", "False", "(3,)"), make([]byte, 12)), arrayx.Float32, !hostLittleEndian, arrayx.Shape{3}, arrayx.OrderC, 1},
		{"lt-i1", npyFile(1, dict("'<i1'", "False", "(2,)"), []byte{1, 2}), arrayx.Int8, false, arrayx.Shape{2}, arrayx.OrderC, 1},
		{"pipe-u1", npyFile(1, dict("'|u1'", "False", "(2,)"), []byte{1, 2}), arrayx.Uint8, false, arrayx.Shape{2}, arrayx.OrderC, 1},
		{"question-mark", npyFile(1, dict("'?'", "False", "(2,)"), []byte{1, 0}), arrayx.Bool, false, arrayx.Shape{2}, arrayx.OrderC, 1},
		{"double-quotes", npyFile(1, `{"descr": "<f2", "fortran_order": False, "shape": (1,)}`, []byte{0, 0x3c}), arrayx.Float16, false, arrayx.Shape{1}, arrayx.OrderC, 1},
		{"keys-reordered-spaced", npyFile(1, "{ 'shape' :\t( 2 ,3 ) ,\n 'descr':'<f8','fortran_order':True}", f8x23), arrayx.Float64, false, arrayx.Shape{2, 3}, arrayx.OrderF, 1},
		{"python2-long", npyFile(1, dict("'<f8'", "False", "(2L, 3L)"), f8x23), arrayx.Float64, false, arrayx.Shape{2, 3}, arrayx.OrderC, 1},
		{"aligned-16", aligned16(dict("'<f8'", "False", "(2, 3)"), f8x23), arrayx.Float64, false, arrayx.Shape{2, 3}, arrayx.OrderC, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ReadHeader(bytes.NewReader(tt.file), int64(len(tt.file)), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if h.DType != tt.dt || h.BigEndian != tt.bigEndian || !h.Shape.Equal(tt.shape) || h.Order != tt.order || h.Major != tt.major || h.Minor != 0 {
				t.Errorf("got %v big=%v %v %v v%d.%d, want %v big=%v %v %v v%d.0",
					h.DType, h.BigEndian, h.Shape, h.Order, h.Major, h.Minor, tt.dt, tt.bigEndian, tt.shape, tt.order, tt.major)
			}
			if want := int64(len(tt.file)) - h.NBytes; h.DataOffset != want {
				t.Errorf("DataOffset %d, want %d", h.DataOffset, want)
			}
			// ParseHeader agrees, given only the prefix and header.
			h2, err := ParseHeader(tt.file[:h.DataOffset], Limits{})
			if err != nil || h2.DType != h.DType || !h2.Shape.Equal(h.Shape) || h2.DataOffset != h.DataOffset {
				t.Errorf("ParseHeader: %+v, %v", h2, err)
			}
		})
	}
}

// TestParseHeaderErrors: every malformed header is refused with the right
// sentinel and a message naming the problem, and the length checks happen
// before anything past the prefix is read.
func TestParseHeaderErrors(t *testing.T) {
	valid := npyFile(1, dict("'<f8'", "False", "(2, 3)"), f8x23)
	hdrLen := len(valid) - len(f8x23) - 10
	v2huge := append(append([]byte{}, magic...), 2, 0, 0xff, 0xff, 0xff, 0xff)
	v2huge = append(v2huge, "{'descr': '<f8'"...)
	bad := func(descr, fortran, shape string) []byte { return npyFile(1, dict(descr, fortran, shape), f8x23) }
	nested := strings.Repeat("(", 20) + strings.Repeat(")", 20)
	rank65 := "(" + strings.Repeat("1, ", 65) + ")"
	tests := []struct {
		name       string
		file       []byte
		lim        Limits
		err        error
		msg        string
		prefixOnly bool // nothing past the length field may be read
	}{
		{"empty-file", nil, Limits{}, ErrTruncated, "less than the magic", true},
		{"bad-magic", append([]byte("\x93NUMPZ"), valid[6:]...), Limits{}, ErrBadMagic, "93 4e 55 4d 50 5a", true},
		{"zip-npz", []byte("PK\x03\x04\x14\x00\x00\x00\x00\x00"), Limits{}, ErrBadMagic, "", true},
		{"version-4.0", append(append([]byte{}, magic...), append([]byte{4, 0}, valid[8:]...)...), Limits{}, ErrVersion, "4.0", true},
		{"version-1.1", append(append([]byte{}, magic...), append([]byte{1, 1}, valid[8:]...)...), Limits{}, ErrVersion, "1.1", true},
		{"version-0.0", append(append([]byte{}, magic...), append([]byte{0, 0}, valid[8:]...)...), Limits{}, ErrVersion, "0.0", true},
		{"truncated-prefix", valid[:9], Limits{}, ErrTruncated, "prefix alone is 10", true},
		{"truncated-v2-prefix", npyFile(2, "{}", nil)[:11], Limits{}, ErrTruncated, "prefix alone is 12", true},
		{"truncated-header", valid[:50], Limits{}, ErrTruncated, "header declares 118 bytes, file has 40", true},
		{"header-length-past-eof", withHeaderLen(valid, 0xffff), Limits{}, ErrTruncated, "header declares 65535 bytes", true},
		{"huge-header-length-v2", v2huge, Limits{}, ErrHeaderTooLarge, "header declares 4294967295 bytes, limit 65536", true},
		{"header-over-limit", valid, Limits{MaxHeaderBytes: 100}, ErrHeaderTooLarge, "header declares 118 bytes, limit 100", true},
		{"lying-length-short", withHeaderLen(valid, 40), Limits{}, ErrInvalidHeader, "header ends where a value", false},
		{"lying-length-long", withHeaderLen(valid, uint16(hdrLen+16)), Limits{}, ErrInvalidHeader, "after the header dict", false},
		{"empty-header", withHeaderLen(valid, 0), Limits{}, ErrInvalidHeader, "empty header", false},
		{"truncated-data", valid[:len(valid)-8], Limits{}, ErrTruncated, "40 bytes of data after the header, shape (2, 3) of float64 needs 48", false},
		{"trailing-bytes", append(append([]byte{}, valid...), 0, 0, 0, 0, 0, 0, 0, 0), Limits{}, ErrTrailingBytes, "56 bytes of data after the header, shape (2, 3) of float64 needs 48", false},
		{"no-data", valid[:len(valid)-48], Limits{}, ErrTruncated, "0 bytes of data", false},
		{"object-dtype", bad("'|O'", "False", "(2, 3)"), Limits{}, ErrPickle, `descr "|O"`, false},
		{"object-dtype-sized", bad("'|O8'", "False", "(6,)"), Limits{}, ErrPickle, "", false},
		{"call", bad("__import__('os').system('echo pwned')", "False", "(2, 3)"), Limits{}, ErrInvalidHeader, `name "__import__": only literals`, false},
		{"call-in-shape", bad("'<f8'", "False", "(len('ab'), 3)"), Limits{}, ErrInvalidHeader, `name "len"`, false},
		{"expression", bad("'<f8'", "False", "(2*1, 3)"), Limits{}, ErrInvalidHeader, `expected ',' or ')', found "*"`, false},
		{"lambda", bad("'<f8'", "(lambda: 0)()", "(2, 3)"), Limits{}, ErrInvalidHeader, `name "lambda"`, false},
		{"float-dim", bad("'<f8'", "False", "(2.0, 3)"), Limits{}, ErrInvalidHeader, "only decimal integers", false},
		{"hex-dim", bad("'<f8'", "False", "(0x2, 3)"), Limits{}, ErrInvalidHeader, "only decimal integers", false},
		{"underscore-dim", bad("'<f8'", "False", "(1_0, 3)"), Limits{}, ErrInvalidHeader, "only decimal integers", false},
		{"leading-zero", bad("'<f8'", "False", "(02, 3)"), Limits{}, ErrInvalidHeader, "leading zero", false},
		{"negative-dim", bad("'<f8'", "False", "(-2, -3)"), Limits{}, ErrInvalidHeader, "dimension 0 is negative (-2)", false},
		{"bool-dim", bad("'<f8'", "False", "(True, 3)"), Limits{}, ErrInvalidHeader, "dimension 0 is a bool", false},
		{"none-dim", bad("'<f8'", "False", "(None, 3)"), Limits{}, ErrInvalidHeader, "dimension 0 is None", false},
		{"shape-list", bad("'<f8'", "False", "[2, 3]"), Limits{}, ErrInvalidHeader, "shape is a list", false},
		{"shape-parenthesised-int", bad("'<f8'", "False", "(6)"), Limits{}, ErrInvalidHeader, "shape is an integer", false},
		{"fortran-int", bad("'<f8'", "1", "(2, 3)"), Limits{}, ErrInvalidHeader, "fortran_order is an integer", false},
		{"fortran-string", bad("'<f8'", "'True'", "(2, 3)"), Limits{}, ErrInvalidHeader, "fortran_order is a string", false},
		{"fortran-lowercase", bad("'<f8'", "true", "(2, 3)"), Limits{}, ErrInvalidHeader, `name "true"`, false},
		{"descr-int", bad("8", "False", "(2, 3)"), Limits{}, ErrInvalidHeader, "descr is an integer", false},
		{"missing-key", npyFile(1, "{'descr': '<f8', 'fortran_order': False}", f8x23), Limits{}, ErrInvalidHeader, "missing key 'shape'", false},
		{"extra-key", npyFile(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (6,), 'x': 1}", f8x23), Limits{}, ErrInvalidHeader, `unexpected key "x"`, false},
		{"duplicate-key", npyFile(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (6,), 'shape': (6,)}", f8x23), Limits{}, ErrInvalidHeader, `duplicate key "shape"`, false},
		{"non-string-key", npyFile(1, "{1: '<f8'}", f8x23), Limits{}, ErrInvalidHeader, "dict key is an integer", false},
		{"not-a-dict", npyFile(1, "[('descr', '<f8')]", f8x23), Limits{}, ErrInvalidHeader, "must start with '{'", false},
		{"leading-space", npyFile(1, " "+dict("'<f8'", "False", "(2, 3)"), f8x23), Limits{}, ErrInvalidHeader, "must start with '{'", false},
		{"missing-colon", npyFile(1, "{'descr' '<f8'}", f8x23), Limits{}, ErrInvalidHeader, "expected ':'", false},
		{"missing-comma", npyFile(1, "{'descr': '<f8' 'shape': ()}", f8x23), Limits{}, ErrInvalidHeader, "expected ',' or '}'", false},
		{"lone-comma", bad("'<f8'", "False", "(,)"), Limits{}, ErrInvalidHeader, `unexpected ","`, false},
		{"garbage-after-dict", npyFile(1, dict("'<f8'", "False", "(2, 3)")+" x", f8x23), Limits{}, ErrInvalidHeader, `unexpected "x" after the header dict`, false},
		{"comment", npyFile(1, dict("'<f8'", "False", "(2, 3)")+" # hi", f8x23), Limits{}, ErrInvalidHeader, "after the header dict", false},
		{"nul-padding", withByte(valid, 10+hdrLen-2, 0), Limits{}, ErrInvalidHeader, `unexpected "\x00"`, false},
		{"unterminated-string", npyFile(1, "{'descr': '<f8}", f8x23), Limits{}, ErrInvalidHeader, "unterminated string", false},
		{"escape", bad(`'\x3cf8'`, "False", "(2, 3)"), Limits{}, ErrInvalidHeader, "unsupported escape", false},
		{"string-concatenation", bad("'<' 'f8'", "False", "(2, 3)"), Limits{}, ErrInvalidHeader, "expected ',' or '}'", false},
		{"bytes-prefix", bad("b'<f8'", "False", "(2, 3)"), Limits{}, ErrInvalidHeader, `name "b"`, false},
		{"control-char", bad("'<f\x01'", "False", "(2, 3)"), Limits{}, ErrInvalidHeader, "control character", false},
		{"deep-nesting", bad("'<f8'", "False", nested), Limits{}, ErrInvalidHeader, "nesting deeper than 16", false},
		{"rank-65", bad("'<f8'", "False", rank65), Limits{}, ErrInvalidHeader, "65 dimensions, arrayx allows 64", false},
		{"structured", bad("[('a', '<f4'), ('b', '<i4')]", "False", "(6,)"), Limits{}, ErrDType, "structured dtype", false},
		{"unicode", bad("'<U5'", "False", "(2, 3)"), Limits{}, ErrDType, "string dtype", false},
		{"bytes-dtype", bad("'|S3'", "False", "(2, 3)"), Limits{}, ErrDType, "string dtype", false},
		{"datetime", bad("'<M8[ns]'", "False", "(2, 3)"), Limits{}, ErrDType, "datetime", false},
		{"long-double", bad("'<f16'", "False", "(3,)"), Limits{}, ErrDType, "long double", false},
		{"void", bad("'|V2'", "False", "(24,)"), Limits{}, ErrDType, "void", false},
		{"bfloat16-name", bad("'bfloat16'", "False", "(24,)"), Limits{}, ErrDType, `descr "bfloat16"`, false},
		{"type-code", bad("'<d'", "False", "(2, 3)"), Limits{}, ErrDType, `descr "<d"`, false},
		{"empty-descr", bad("''", "False", "(2, 3)"), Limits{}, ErrDType, "is empty", false},
		{"size-overflow", bad("'<f8'", "False", "(1099511627776, 1099511627776)"), Limits{}, ErrTooLarge, "overflows int64", false},
		{"stride-overflow-with-zero", bad("'<f8'", "False", "(0, 4611686018427387904)"), Limits{}, ErrTooLarge, "overflows int64", false},
		{"int-overflow", bad("'<f8'", "False", "(99999999999999999999,)"), Limits{}, ErrTooLarge, "does not fit in an int64", false},
		{"v3-bad-utf8", npyFile(3, "{'descr': '<f\xff', 'fortran_order': False, 'shape': (6,)}", f8x23), Limits{}, ErrInvalidHeader, "byte 25: version 3.0 header is not valid UTF-8", false},
		{"v3-long-suffix", npyFile(3, dict("'<f8'", "False", "(2L, 3L)"), f8x23), Limits{}, ErrInvalidHeader, "only decimal integers", false},
		{"latin1-descr", bad("'<f\xe9'", "False", "(2, 3)"), Limits{}, ErrDType, `"<f\xe9"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recordingReader{b: tt.file}
			h, err := ReadHeader(r, int64(len(tt.file)), tt.lim)
			if err == nil {
				t.Fatalf("parsed: %+v", h)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("error %q does not wrap %q", err, tt.err)
			}
			if !strings.Contains(err.Error(), tt.msg) || !strings.HasPrefix(err.Error(), "npy: ") {
				t.Errorf("error %q: want an npy: message containing %q", err, tt.msg)
			}
			if tt.prefixOnly && r.end > maxPrefix {
				t.Errorf("read up to byte %d before refusing; want only the %d-byte prefix", r.end, maxPrefix)
			}
		})
	}
}

func TestHeaderErrorOffset(t *testing.T) {
	d := dict("__import__('os')", "False", "(2, 3)")
	_, err := ParseHeader(npyFile(1, d, nil), Limits{})
	he, ok := errors.AsType[*HeaderError](err)
	if !ok {
		t.Fatalf("%v: want a *HeaderError", err)
	}
	if want := int64(10 + strings.Index(d, "__import__")); he.Offset != want {
		t.Errorf("offset %d, want %d", he.Offset, want)
	}
}

func TestMarshalHeader(t *testing.T) {
	tests := []struct {
		dt    arrayx.DType
		shape arrayx.Shape
		order arrayx.Order
		dict  string // up to the padding
	}{
		{arrayx.Float64, arrayx.Shape{2, 3}, arrayx.OrderC, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }" + strings.Repeat(" ", 20)},
		{arrayx.Float32, arrayx.Shape{2, 300}, arrayx.OrderF, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 300), }" + strings.Repeat(" ", 18)},
		{arrayx.Int16, arrayx.Shape{}, arrayx.OrderC, "{'descr': '<i2', 'fortran_order': False, 'shape': (), }"},
		{arrayx.Bool, arrayx.Shape{5}, arrayx.OrderC, "{'descr': '|b1', 'fortran_order': False, 'shape': (5,), }" + strings.Repeat(" ", 20)},
		{arrayx.Complex128, arrayx.Shape{0}, arrayx.OrderC, "{'descr': '<c16', 'fortran_order': False, 'shape': (0,), }" + strings.Repeat(" ", 20)},
	}
	for _, tt := range tests {
		t.Run(tt.dt.String()+tt.shape.String(), func(t *testing.T) {
			b, err := MarshalHeader(tt.dt, tt.shape, tt.order)
			if err != nil {
				t.Fatal(err)
			}
			if len(b)%Alignment != 0 || b[len(b)-1] != '\n' || !bytes.HasPrefix(b, []byte("\x93NUMPY\x01\x00")) {
				t.Errorf("layout: %q", b)
			}
			if text := string(b[10:]); !strings.HasPrefix(text, tt.dict) || strings.TrimLeft(text[len(tt.dict):], " ") != "\n" {
				t.Errorf("header %q, want %q then spaces and a newline", text, tt.dict)
			}
			h, err := ParseHeader(b, Limits{})
			if err != nil || h.DType != tt.dt || !h.Shape.Equal(tt.shape) || h.Order != tt.order || h.DataOffset != int64(len(b)) {
				t.Errorf("does not parse back: %+v, %v", h, err)
			}
		})
	}
}

func TestMarshalHeaderRefuses(t *testing.T) {
	if _, err := MarshalHeader(arrayx.BFloat16, arrayx.Shape{2}, arrayx.OrderC); !errors.Is(err, ErrDType) || !strings.Contains(err.Error(), "bfloat16") {
		t.Errorf("bfloat16: %v; want ErrDType naming bfloat16", err)
	}
	if _, err := MarshalHeader(arrayx.Float64, arrayx.Shape{1 << 40, 1 << 40}, arrayx.OrderC); !errors.Is(err, ErrTooLarge) {
		t.Errorf("overflow: %v", err)
	}
	if _, err := MarshalHeader(arrayx.Float64, arrayx.Shape{2}, 'X'); !errors.Is(err, ErrInvalidHeader) {
		t.Errorf("order X: %v", err)
	}
}

// TestWrapHeader: numpy's padding rule, including its whole extra line when
// the text already ends aligned, and version 2.0 past 65,535 bytes.
func TestWrapHeader(t *testing.T) {
	for _, n := range []int{0, 1, 53, 54, 55, 117, 65000, 65525, 65526, 65535, 70000} {
		b := wrapHeader(bytes.Repeat([]byte{'x'}, n))
		major := int(b[6])
		plen := prefixLen(major)
		wantMajor := 1
		if n+1+(64-(10+n+1)%64) > 0xffff {
			wantMajor = 2
		}
		pad := len(b) - plen - n - 1
		if major != wantMajor || len(b)%64 != 0 || pad < 1 || pad > 64 || b[len(b)-1] != '\n' {
			t.Errorf("%d bytes: version %d (want %d), length %d, padding %d", n, major, wantMajor, len(b), pad)
		}
		if _, _, gotPlen, hlen, err := parsePrefix(b); err != nil || int(hlen) != len(b)-gotPlen {
			t.Errorf("%d bytes: prefix declares %d, %v", n, hlen, err)
		}
	}
}

func TestParseDescr(t *testing.T) {
	for _, dt := range sharedDTypes() {
		descr, _ := dt.NumpyDescr()
		got, big, err := parseDescr(descr, 0)
		if err != nil || got != dt || big {
			t.Errorf("%s: %v big=%v %v", descr, got, big, err)
		}
		be := ">" + descr[1:]
		got, big, err = parseDescr(be, 0)
		if err != nil || got != dt || big != (dt.ItemSize() > 1) {
			t.Errorf("%s: %v big=%v %v", be, got, big, err)
		}
	}
}

// TestGolden compares Export's output byte for byte with committed files,
// which TestExportNumpy shows numpy.save writes identically. Run with
// -update to rewrite them.
func TestGolden(t *testing.T) {
	st := teststore.Temp(t)
	tests := []struct {
		file  string
		dt    arrayx.DType
		shape arrayx.Shape
		order arrayx.Order
	}{
		{"float64_2x3_C.npy", arrayx.Float64, arrayx.Shape{2, 3}, arrayx.OrderC},
		{"int16_3x2_F.npy", arrayx.Int16, arrayx.Shape{3, 2}, arrayx.OrderF},
		{"bool_0d.npy", arrayx.Bool, arrayx.Shape{}, arrayx.OrderC},
		{"complex64_0x4.npy", arrayx.Complex64, arrayx.Shape{0, 4}, arrayx.OrderC},
	}
	for i, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			n, _ := tt.shape.NumElements()
			a := teststore.Put(t, st, "g", tt.dt, tt.shape, tt.order, randomData(tt.dt, n*int64(tt.dt.ItemSize()), uint64(i)))
			out := filepath.Join(t.TempDir(), tt.file)
			if _, err := Export(a, out, &ExportOptions{NoSync: true}); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tt.file)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Export output differs from %s:\ngot  %q\nwant %q", path, got, want)
			}
		})
	}
}
