package arrayx

import (
	"bytes"
	"math"
	"reflect"
	"testing"
	"time"
)

// fuzzLimits keeps the targets' memory small: no header over 64 KiB is read.
var fuzzLimits = Limits{MaxHeaderBytes: 64 << 10}

// fuzzSeeds returns whole files written by the package's writer path for
// several dtypes, shapes, orders and attrs, plus hand-made and corrupted ones.
func fuzzSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	var seeds [][]byte
	add := func(dt DType, shape Shape, order Order, attrs map[string]any) {
		_, file := sealedFile(tb, dt, shape, order, attrs, nil)
		seeds = append(seeds, file)
		// And the same array unsealed, as a writer leaves it before Seal.
		h, err := NewHeader(dt, shape, order, attrs)
		if err != nil {
			tb.Fatal(err)
		}
		hdr, err := h.Marshal()
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, fileBytes(tb, hdr, int(h.DataOffset), make([]byte, h.NBytes)))
	}
	add(Float32, Shape{2, 3}, OrderC, map[string]any{"units": "m", "source": "golden"})
	add(Float64, Shape{}, OrderC, nil)
	add(Bool, Shape{0}, OrderF, nil)
	add(Int16, Shape{4, 0, 5}, OrderC, nil)
	add(Uint8, Shape{7}, OrderC, map[string]any{"n": 1, "f": 2.5, "neg": -3, "b": []byte{1, 2}, "l": []any{1, "x", nil, true},
		"m": map[string]any{"deep": map[string]any{"x": []any{1.5, -1}}}})
	add(Complex128, Shape{2, 2, 2}, OrderF, map[string]any{"big": uint64(1 << 63), "f32": float32(0.5)})
	add(BFloat16, Shape{3, 1}, OrderC, nil)
	add(Float16, Shape{1, 1, 1, 1}, OrderF, map[string]any{"": ""})
	add(Int64, Shape{1 << 10}, OrderC, nil)

	// A foreign writer's attrs: every numeric encoding, integral floats, -0.
	seeds = append(seeds, fileBytes(tb, headerBytes(baseFields().with(kv("attrs", mp{}.mapn(8).
		str("one").f64(1).str("negzero").f64(math.Copysign(0, -1)).str("f32").f32(2).str("nan").f64(math.NaN()).
		str("ints").arr(6).uint(5).int(-5).u8(200).i16(-300).u32(70000).u64(1<<63).
		str("bin").bin([]byte{0, 1}).str("t").raw(0xd6, 0xff, 0, 0, 0, 1).
		str("m").mapn(1).str("k").arr(2).f32(0.5).f64(-1))).body()), 4096, goldenData()))

	// Nested maps with keys that are not strings (any msgpack value may sit in attrs).
	seeds = append(seeds, fileBytes(tb, headerBytes(baseFields().with(kv("attrs", mp{}.mapn(1).str("m").mapn(6).
		uint(1).str("a").int(-2).str("b").boolean(true).str("c").null().str("d").f64(1.5).str("e").f32(-0.5).str("f"))).body()),
		4096, goldenData()))

	base := headerBytes(baseFields().body())
	golden := fileBytes(tb, base, 4096, goldenData())
	seeds = append(seeds,
		golden,
		golden[:len(golden)-1],                        // truncated data
		append(append([]byte{}, golden...), 0),        // trailing byte
		withByte(golden, 0, 0x88),                     // bad magic
		withByte(golden, 8, 2),                        // major 2
		withByte(golden, 10, 7),                       // minor 7
		withByte(golden, 13, 0x80),                    // huge H
		withByte(golden, PrefixSize, 0x90),            // not a map
		withByte(golden, len(base)-1, 0xc1),           // reserved byte
		append(prefix(1, 0, 12), nestedArrays(11)...), // nested, not a map
		prefix(1, 0, 0),                               // empty header
	)
	return seeds
}

// checkParsed holds the properties of every successfully parsed header: it
// validates, and Marshal then Unmarshal gives it back (with a second Marshal
// identical to the first, which also compares attrs bit for bit).
func checkParsed(t *testing.T, h *Header) {
	t.Helper()
	if err := h.Validate(); err != nil {
		t.Fatalf("parsed header does not validate: %v\n%+v", err, h)
	}
	m1, err := h.Marshal()
	if err != nil {
		t.Fatalf("parsed header does not marshal: %v\n%+v", err, h)
	}
	h2, err := Unmarshal(m1, Limits{MaxHeaderBytes: len(m1)})
	if err != nil {
		t.Fatalf("marshaled header does not parse: %v\n%+v\n% x", err, h, m1)
	}
	m2, err := h2.Marshal()
	if err != nil {
		t.Fatalf("round-tripped header does not marshal: %v", err)
	}
	if !bytes.Equal(m1, m2) {
		t.Fatalf("Marshal is not stable over a round trip:\n% x\n% x", m1, m2)
	}
	a, b := h.Clone(), h2.Clone()
	a.Attrs, b.Attrs = nil, nil
	if !headersEqual(a, b) {
		t.Fatalf("round trip changed the header:\n%+v\n%+v", h, h2)
	}
	if len(h.Attrs) != len(h2.Attrs) || (len(h.Attrs) > 0 && !sameValue(h.Attrs, h2.Attrs)) {
		t.Fatalf("round trip changed attrs: %#v -> %#v", h.Attrs, h2.Attrs)
	}
}

// sameValue compares decoded attrs values by meaning: integers of any width
// equal by value, floats of either width equal by value and sign (NaN equal
// to NaN), but an integer never equals a float.
func sameValue(a, b any) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if !va.IsValid() || !vb.IsValid() {
		return va.IsValid() == vb.IsValid()
	}
	switch {
	case va.CanInt() || va.CanUint():
		return (vb.CanInt() || vb.CanUint()) && intString(va) == intString(vb)
	case va.CanFloat():
		if !vb.CanFloat() {
			return false
		}
		x, y := va.Float(), vb.Float()
		return x == y && math.Signbit(x) == math.Signbit(y) || math.IsNaN(x) && math.IsNaN(y)
	}
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !sameValue(v, w) {
				return false
			}
		}
		return true
	case map[any]any:
		// Keys compare by lookup, except NaN keys, which no lookup finds (and
		// which reflect.DeepEqual never finds equal): their values are
		// matched as a multiset.
		y, ok := b.(map[any]any)
		if !ok || len(x) != len(y) {
			return false
		}
		var xn, yn []any
		for k, v := range x {
			if isNaN(k) {
				xn = append(xn, v)
				continue
			}
			w, ok := y[k]
			if !ok || !sameValue(v, w) {
				return false
			}
		}
		for k, w := range y {
			if isNaN(k) {
				yn = append(yn, w)
			}
		}
		if len(xn) != len(yn) {
			return false
		}
		used := make([]bool, len(yn))
	next:
		for _, v := range xn {
			for j, w := range yn {
				if !used[j] && sameValue(v, w) {
					used[j] = true
					continue next
				}
			}
			return false
		}
		return true
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	}
	return reflect.DeepEqual(a, b)
}

func isNaN(k any) bool {
	v := reflect.ValueOf(k)
	return v.IsValid() && v.CanFloat() && math.IsNaN(v.Float())
}

func FuzzUnmarshal(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		// Unmarshal reads only the prefix and header: seed with just those.
		if len(s) >= PrefixSize {
			if p, err := ParsePrefix(s, Limits{}); err == nil && int(PrefixSize+p.HeaderLen) <= len(s) {
				s = s[:PrefixSize+p.HeaderLen]
			}
		}
		f.Add(s)
	}
	// Headers of arrays too large for a seed file: many CRC blocks.
	for _, shape := range []Shape{{4 << 30}, {1 << 20, 1 << 15}} {
		h, err := NewHeader(Uint8, shape, OrderC, map[string]any{"k": "v"})
		if err != nil {
			f.Fatal(err)
		}
		h.Sealed, h.CRC32C = true, make([]uint32, h.NumBlocks())
		for i := range h.CRC32C {
			h.CRC32C[i] = uint32(i) * 0x9e3779b9
		}
		b, err := h.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := Unmarshal(b, fuzzLimits)
		if err != nil {
			if h != nil {
				t.Fatalf("header returned with error %v", err)
			}
			if !wrapsSentinel(err) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		p, _ := ParsePrefix(b, fuzzLimits)
		if h.DataOffset < PrefixSize+int64(p.HeaderLen) {
			t.Fatalf("data_offset %d inside the %d-byte header", h.DataOffset, PrefixSize+p.HeaderLen)
		}
		checkParsed(t, h)
	})
}

func FuzzReadHeader(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ReadHeader(bytes.NewReader(b), int64(len(b)), fuzzLimits)
		if err != nil {
			if h != nil {
				t.Fatalf("header returned with error %v", err)
			}
			if !wrapsSentinel(err) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if h.FileSize() != int64(len(b)) {
			t.Fatalf("accepted a %d-byte file declaring %d bytes", len(b), h.FileSize())
		}
		h2, err := Unmarshal(b, fuzzLimits)
		if err != nil {
			t.Fatalf("Unmarshal refuses what ReadHeader accepts: %v", err)
		}
		e1, err1 := h.encodeBody()
		e2, err2 := h2.encodeBody()
		if err1 != nil || err2 != nil || !bytes.Equal(e1, e2) {
			t.Fatalf("Unmarshal disagrees with ReadHeader: %v %v\n%+v\n%+v", err1, err2, h, h2)
		}
		checkParsed(t, h)
	})
}
