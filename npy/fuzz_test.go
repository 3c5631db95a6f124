package npy

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/arrayx/arrayx/arrayx"
)

// fuzzLimits keeps the targets' memory small: no header over 4 KiB is read.
var fuzzLimits = Limits{MaxHeaderBytes: 4 << 10}

// sentinels is every error a parser may return (wrapped).
var sentinels = []error{ErrBadMagic, ErrVersion, ErrHeaderTooLarge, ErrTruncated, ErrTrailingBytes,
	ErrInvalidHeader, ErrDType, ErrPickle, ErrTooLarge}

// fuzzSeeds returns whole .npy files: the writer's own output for every
// dtype and a few shapes, numpy's files from testdata, hand-made variants
// and malformed ones.
func fuzzSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	var seeds [][]byte
	for _, dt := range sharedDTypes() {
		for _, shape := range []arrayx.Shape{{}, {3}, {2, 0}, {2, 3, 1}} {
			for _, order := range []arrayx.Order{arrayx.OrderC, arrayx.OrderF} {
				hdr, err := MarshalHeader(dt, shape, order)
				if err != nil {
					tb.Fatal(err)
				}
				n, _ := shape.NumElements()
				seeds = append(seeds, append(hdr, make([]byte, n*int64(dt.ItemSize()))...))
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.npy"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	valid := npyFile(1, dict("'<f8'", "False", "(2, 3)"), f8x23)
	seeds = append(seeds,
		npyFile(2, dict("'>c8'", "True", "(3, 1)"), make([]byte, 24)),
		npyFile(3, dict("'=u2'", "False", "(2L,)"), make([]byte, 4)),
		npyFile(1, `{"shape": (), "descr": "?", "fortran_order": True,}`, []byte{1}),
		npyFile(1, dict("[('a', '<f4')]", "False", "(1,)"), make([]byte, 4)),
		npyFile(1, dict("'|O'", "False", "(1,)"), []byte("\x80\x04N.")),
		npyFile(1, dict("__import__('os')", "False", "(1,)"), nil),
		npyFile(1, dict("'<f8'", "False", "(99999999999999999999,)"), nil),
		valid[:len(valid)-1],
		append(append([]byte{}, valid...), 0),
		withHeaderLen(valid, 0xffff),
		withHeaderLen(valid, 30),
		withByte(valid, 6, 3),
		withByte(valid, 7, 1),
		valid[:11],
	)
	return seeds
}

// checkParsed holds for every header that parses: it describes a valid
// array, and MarshalHeader writes a header that parses back to the same
// array.
func checkParsed(t *testing.T, h *Header, text []byte) {
	t.Helper()
	if !h.DType.Valid() || !h.Order.Valid() || h.Major < 1 || h.Major > 3 || h.Minor != 0 {
		t.Fatalf("invalid fields: %+v", h)
	}
	if int64(prefixLen(h.Major)) > h.DataOffset || h.DataOffset > int64(len(text)) {
		t.Fatalf("DataOffset %d outside the %d bytes given", h.DataOffset, len(text))
	}
	n, err := h.Shape.NumElements()
	if err != nil || n*int64(h.DType.ItemSize()) != h.NBytes {
		t.Fatalf("NBytes %d for shape %v of %v (%v)", h.NBytes, h.Shape, h.DType, err)
	}
	hdr, err := MarshalHeader(h.DType, h.Shape, h.Order)
	if err != nil {
		t.Fatalf("MarshalHeader(%v, %v, %v): %v", h.DType, h.Shape, h.Order, err)
	}
	h2, err := ParseHeader(hdr, Limits{})
	if err != nil {
		t.Fatalf("our own header does not parse: %v\n%q", err, hdr)
	}
	if h2.DType != h.DType || !h2.Shape.Equal(h.Shape) || h2.Order != h.Order || h2.BigEndian || h2.NBytes != h.NBytes {
		t.Fatalf("round trip: %+v, want %+v", h2, h)
	}
}

func checkErr(t *testing.T, err error) {
	t.Helper()
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("error wraps no sentinel: %v", err)
}

func FuzzParseHeader(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseHeader(data, fuzzLimits)
		if err != nil {
			checkErr(t, err)
		} else {
			checkParsed(t, h, data)
		}
		// ReadHeader also checks the size: it accepts a subset of what
		// ParseHeader accepts, with the same result.
		r := &recordingReader{b: data}
		rh, rerr := ReadHeader(r, int64(len(data)), fuzzLimits)
		switch {
		case rerr != nil:
			checkErr(t, rerr)
		case err != nil:
			t.Fatalf("ReadHeader accepts what ParseHeader refuses (%v): %+v", err, rh)
		case rh.DType != h.DType || !rh.Shape.Equal(h.Shape) || rh.DataOffset != h.DataOffset:
			t.Fatalf("ReadHeader %+v, ParseHeader %+v", rh, h)
		case rh.DataOffset+rh.NBytes != int64(len(data)):
			t.Fatalf("ReadHeader accepted %d bytes for offset %d + %d", len(data), rh.DataOffset, rh.NBytes)
		}
		if r.end > maxPrefix+int64(fuzzLimits.MaxHeaderBytes) {
			t.Fatalf("read up to byte %d, past the header limit", r.end)
		}
	})
}

// FuzzParseDict fuzzes the header text alone, wrapped in a valid prefix, so
// that mutations reach the literal parser instead of the length checks.
func FuzzParseDict(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		if h, err := ParseHeader(s, Limits{}); err == nil {
			f.Add(string(s[prefixLen(h.Major):h.DataOffset]))
		}
	}
	for _, s := range []string{
		dict("'<f8'", "False", "(2L, 3L)"),
		dict("[('a', '<f4'), ('b', [('c', '|u1')])]", "False", "()"),
		dict("'<f8'", "False", "((((((((((((((((((1,),),),),),),),),),),),),),),),),),),)"),
		dict("'<f8'", "None", "(-9223372036854775808,)"),
		`{'descr': '\'\\\"', 'fortran_order': False, 'shape': (), }`,
		"{}", "{", "", "{'descr': '<f8',,}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if len(text) > fuzzLimits.MaxHeaderBytes {
			return
		}
		b := npyFile(1, text, nil)
		if len(text) > 0xff00 {
			b = npyFile(2, text, nil)
		}
		h, err := ParseHeader(b, fuzzLimits)
		if err != nil {
			checkErr(t, err)
			return
		}
		checkParsed(t, h, b)
		if !bytes.HasPrefix(b[prefixLen(h.Major):], []byte("{")) {
			t.Fatalf("accepted a header not starting with '{': %q", text)
		}
	})
}
