package arrayx

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// scanValid lists well-formed msgpack values covering every type byte.
func scanValid() map[string][]byte {
	return map[string][]byte{
		"nil":         mp{}.null(),
		"false":       mp{}.boolean(false),
		"true":        mp{}.boolean(true),
		"fixint":      mp{}.uint(0x7f),
		"negfixint":   mp{}.int(-32),
		"uint8":       mp{}.u8(200),
		"uint16":      mp{}.u16(0xffff),
		"uint32":      mp{}.u32(0xffffffff),
		"uint64":      mp{}.u64(1 << 63),
		"int8":        mp{}.i8(-100),
		"int16":       mp{}.i16(-30000),
		"int32":       mp{}.i32(-1 << 31),
		"int64":       mp{}.i64(-1 << 63),
		"float32":     mp{}.f32(1.5),
		"float64":     mp{}.f64(-2.5),
		"fixstr":      mp{}.str("hello"),
		"str8":        mp{}.str(strings.Repeat("s", 200)),
		"str16":       mp{}.str(strings.Repeat("s", 300)),
		"str32":       mp{}.raw(0xdb, 0, 0, 0, 3, 'a', 'b', 'c'),
		"bin8":        mp{}.bin([]byte{1, 2, 3}),
		"bin16":       mp{}.bin(make([]byte, 300)),
		"bin32":       mp{}.raw(0xc6, 0, 0, 0, 2, 9, 9),
		"fixext1":     mp{}.raw(0xd4, 1, 0xaa),
		"fixext2":     mp{}.raw(0xd5, 1, 0xaa, 0xbb),
		"fixext4":     mp{}.raw(0xd6, 0xff, 1, 2, 3, 4),
		"fixext8":     mp{}.raw(0xd7, 0xff, 1, 2, 3, 4, 5, 6, 7, 8),
		"fixext16":    append(mp{}.raw(0xd8, 5), make([]byte, 16)...),
		"ext8":        mp{}.raw(0xc7, 3, 7, 1, 2, 3),
		"ext8-empty":  mp{}.raw(0xc7, 0, 7),
		"ext16":       mp{}.raw(0xc8, 0, 2, 7, 1, 2),
		"ext32":       mp{}.raw(0xc9, 0, 0, 0, 1, 7, 1),
		"fixarray":    mp{}.uints(1, 2, 3),
		"empty-array": mp{}.arr(0),
		"array16":     mp{}.raw(0xdc, 0, 2).null().null(),
		"array32":     mp{}.raw(0xdd, 0, 0, 0, 1).str("x"),
		"fixmap":      mp{}.mapn(2).str("a").uint(1).str("b").arr(1).null(),
		"empty-map":   mp{}.mapn(0),
		"map16":       mp{}.raw(0xde, 0, 1).str("k").str("v"),
		"map32":       mp{}.raw(0xdf, 0, 0, 0, 1).uint(1).uint(2),
		"nested":      mp{}.mapn(1).str("a").arr(2).mapn(1).str("b").uints(1, 2).arr(0),
		"header":      baseFields().body(),
		"depth-32":    nestedArrays(32),
	}
}

// nestedArrays returns n single-element arrays nested around nil.
func nestedArrays(n int) []byte {
	return append(bytes.Repeat([]byte{0x91}, n), 0xc0)
}

func TestScanMsgpackValid(t *testing.T) {
	for name, b := range scanValid() {
		t.Run(name, func(t *testing.T) {
			n, err := scanMsgpack(b, maxAttrsDepth)
			if err != nil || n != len(b) {
				t.Fatalf("scan = %d, %v; want %d", n, err, len(b))
			}
			// Trailing bytes are not part of the value.
			n, err = scanMsgpack(append(append([]byte{}, b...), 0xc0, 0xc1), maxAttrsDepth)
			if err != nil || n != len(b) {
				t.Errorf("with trailing bytes: %d, %v; want %d", n, err, len(b))
			}
			// The library's decoder agrees on the value's extent.
			r := bytes.NewReader(b)
			if err := msgpack.NewDecoder(r).Skip(); err != nil {
				t.Errorf("msgpack Skip: %v", err)
			}
			if r.Len() != 0 {
				t.Errorf("msgpack Skip left bytes")
			}
		})
	}
}

// TestScanMsgpackTruncated cuts every valid encoding at every position.
func TestScanMsgpackTruncated(t *testing.T) {
	for name, b := range scanValid() {
		for i := range len(b) {
			if n, err := scanMsgpack(b[:i], maxAttrsDepth); err == nil {
				t.Errorf("%s cut to %d of %d bytes: accepted as %d bytes", name, i, len(b), n)
			}
		}
	}
}

func TestScanMsgpackInvalid(t *testing.T) {
	tests := map[string][]byte{
		"empty":            nil,
		"reserved-c1":      {0xc1},
		"c1-in-array":      mp{}.arr(2).null().raw(0xc1),
		"c1-as-map-key":    mp{}.mapn(1).raw(0xc1).null(),
		"c1-as-map-value":  mp{}.mapn(1).str("a").raw(0xc1),
		"array32-huge":     {0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0},
		"map32-huge":       {0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0},
		"array16-huge":     {0xdc, 0xff, 0xff, 0xc0},
		"map16-huge":       {0xde, 0xff, 0xff, 0xc0, 0xc0},
		"str32-huge":       {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'},
		"bin32-huge":       {0xc6, 0xff, 0xff, 0xff, 0xff, 'a'},
		"ext32-huge":       {0xc9, 0xff, 0xff, 0xff, 0xff, 1, 'a'},
		"ext32-max-plus-1": {0xc9, 0xff, 0xff, 0xff, 0xff, 1},
		"fixext16-short":   append([]byte{0xd8, 1}, make([]byte, 15)...),
		"map-missing-val":  mp{}.mapn(1).str("a"),
		"depth-33":         nestedArrays(33),
		"depth-33-maps":    nested(33),
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			if n, err := scanMsgpack(b, maxAttrsDepth); err == nil {
				t.Errorf("accepted as %d bytes", n)
			}
		})
	}
}

func TestScanMsgpackDepthLimit(t *testing.T) {
	for depth := range 40 {
		_, err := scanMsgpack(nestedArrays(depth), 32)
		if (err == nil) != (depth <= 32) {
			t.Errorf("depth %d: %v", depth, err)
		}
	}
	// Empty containers at the limit are fine: they open no level.
	if _, err := scanMsgpack(append(bytes.Repeat([]byte{0x91}, 32), 0x90), 32); err != nil {
		t.Errorf("empty array at depth 33: %v", err)
	}
	// Siblings do not add up to depth.
	wide := mp{}.arr(15)
	for range 15 {
		wide = append(wide, nestedArrays(31)...)
	}
	if n, err := scanMsgpack(wide, 32); err != nil || n != len(wide) {
		t.Errorf("15 siblings of depth 31: %d, %v", n, err)
	}
}

// TestScanMsgpackHostile checks that hostile inputs are refused quickly and
// with a fixed amount of memory: a million nested arrays, and huge declared
// lengths in a few bytes.
func TestScanMsgpackHostile(t *testing.T) {
	deep := nestedArrays(1_000_000)
	maps := bytes.Repeat([]byte{0x81, 0xa1, 'k'}, 1_000_000)
	huge := [][]byte{
		{0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0},
		{0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0},
	}
	start := time.Now()
	allocs := testing.AllocsPerRun(10, func() {
		for _, b := range append([][]byte{deep, maps}, huge...) {
			if _, err := scanMsgpack(b, maxAttrsDepth); err == nil {
				t.Fatal("hostile input accepted")
			}
		}
	})
	if d := time.Since(start); d > time.Second {
		t.Errorf("11 rounds of hostile input took %v", d)
	}
	// The depth stack and the error: a handful of allocations, whatever the input.
	if allocs > 40 {
		t.Errorf("%.0f allocations per round", allocs)
	}

	// The same inputs as a whole header, through Unmarshal.
	for _, body := range [][]byte{deep, maps, huge[0], huge[1],
		append(baseFields().with(kv("x", mp{})).body(), deep...)} {
		_, err := Unmarshal(headerBytes(body), Limits{MaxHeaderBytes: 4 << 20})
		checkErr(t, err, ErrInvalidHeader)
	}
}

// FuzzScanMsgpack checks scanMsgpack against the msgpack library: whatever
// the scanner accepts, the decoder can skip, ending at the same byte.
func FuzzScanMsgpack(f *testing.F) {
	for _, b := range scanValid() {
		f.Add(b)
	}
	f.Add([]byte{0xc1})
	f.Add(nestedArrays(40))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := scanMsgpack(b, maxAttrsDepth)
		if err != nil {
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("scan returned %d for %d bytes", n, len(b))
		}
		r := bytes.NewReader(b)
		d := msgpack.NewDecoder(r)
		if err := d.Skip(); err != nil {
			t.Fatalf("scan accepted %d bytes, msgpack Skip fails: %v", n, err)
		}
		if used := len(b) - r.Len(); used != n {
			t.Fatalf("scan says %d bytes, msgpack Skip used %d", n, used)
		}
	})
}
