package arrayx

import (
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestParseShape(t *testing.T) {
	tests := []struct {
		in   string
		want Shape
		err  error
	}{
		{"1000,1000", Shape{1000, 1000}, nil},
		{"(5,)", Shape{5}, nil},
		{"5,", Shape{5}, nil},
		{"5", Shape{5}, nil},
		{"", Shape{}, nil},
		{"()", Shape{}, nil},
		{"  ", Shape{}, nil},
		{"(2, 3)", Shape{2, 3}, nil},
		{"[2, 3]", Shape{2, 3}, nil},
		{" 2 , 3 ", Shape{2, 3}, nil},
		{"0", Shape{0}, nil},
		{"0,3", Shape{0, 3}, nil},
		{"9223372036854775807", Shape{math.MaxInt64}, nil},
		{"-1", nil, ErrInvalidHeader},
		{"2,-3", nil, ErrInvalidHeader},
		{"a", nil, ErrInvalidHeader},
		{"2,a", nil, ErrInvalidHeader},
		{"1.5", nil, ErrInvalidHeader},
		{"1e3", nil, ErrInvalidHeader},
		{"1,,2", nil, ErrInvalidHeader},
		{",", nil, ErrInvalidHeader},
		{"(,)", nil, ErrInvalidHeader},
		{"5,,", nil, ErrInvalidHeader},
		{"2 3", nil, ErrInvalidHeader},
		{"0x10", nil, ErrInvalidHeader},
		{"9223372036854775808", nil, ErrInvalidHeader},
		{"4294967296,4294967296", nil, ErrTooLarge},
		{"0,9223372036854775807,2", nil, ErrTooLarge},
		{strings.Repeat("1,", 64) + "1", nil, ErrInvalidHeader},
		{strings.TrimSuffix(strings.Repeat("1,", 64), ","), Shape(slices.Repeat([]int64{1}, 64)), nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseShape(tt.in)
			checkErr(t, err, tt.err)
			if err == nil && (got == nil || !got.Equal(tt.want)) {
				t.Errorf("ParseShape(%q) = %#v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestShapeString(t *testing.T) {
	for _, tt := range []struct {
		s    Shape
		want string
	}{
		{nil, "()"}, {Shape{}, "()"}, {Shape{5}, "(5,)"}, {Shape{0}, "(0,)"},
		{Shape{2, 3}, "(2, 3)"}, {Shape{1, 2, 3}, "(1, 2, 3)"},
	} {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.s, got, tt.want)
		}
		// String's output parses back.
		if back, err := ParseShape(tt.s.String()); err != nil || !back.Equal(tt.s) {
			t.Errorf("ParseShape(%q) = %v, %v", tt.s.String(), back, err)
		}
	}
}

func TestShapeEqual(t *testing.T) {
	if !Shape(nil).Equal(Shape{}) || !(Shape{1, 2}).Equal(Shape{1, 2}) {
		t.Error("equal shapes compare unequal")
	}
	if (Shape{1, 2}).Equal(Shape{2, 1}) || (Shape{1}).Equal(Shape{1, 1}) || (Shape{}).Equal(Shape{1}) {
		t.Error("unequal shapes compare equal")
	}
}

func TestShapeCheckAndNumElements(t *testing.T) {
	tests := []struct {
		name     string
		s        Shape
		itemSize int
		n        int64 // NumElements
		nErr     error
		checkErr error
	}{
		{"0-d", nil, 8, 1, nil, nil},
		{"empty", Shape{}, 8, 1, nil, nil},
		{"zero", Shape{0}, 8, 0, nil, nil},
		{"2x3", Shape{2, 3}, 4, 6, nil, nil},
		{"zero-size-3d", Shape{4, 0, 5}, 16, 0, nil, nil},
		{"2^31x2^31", Shape{1 << 31, 1 << 31}, 1, 1 << 62, nil, nil},
		{"2^31x2^31-float32", Shape{1 << 31, 1 << 31}, 4, 1 << 62, nil, ErrTooLarge},
		{"2^31x2^31-int16", Shape{1 << 31, 1 << 31}, 2, 1 << 62, nil, ErrTooLarge},
		{"2^31x2^30-int16", Shape{1 << 31, 1 << 30}, 2, 1 << 61, nil, nil},
		{"2^32x2^32", Shape{1 << 32, 1 << 32}, 1, 0, ErrTooLarge, ErrTooLarge},
		{"2^40x2^40", Shape{1 << 40, 1 << 40}, 1, 0, ErrTooLarge, ErrTooLarge},
		{"max-int64", Shape{math.MaxInt64}, 1, math.MaxInt64, nil, nil},
		{"max-int64-int16", Shape{math.MaxInt64}, 2, math.MaxInt64, nil, ErrTooLarge},
		{"max-int64x2", Shape{math.MaxInt64, 2}, 1, 0, ErrTooLarge, ErrTooLarge},
		{"2^63-via-uint64", Shape{1 << 62, 2}, 1, 0, ErrTooLarge, ErrTooLarge},
		// A zero dimension makes the element count 0, but the other dimensions
		// must still be refused: their products are strides.
		{"0x2^62x2^62", Shape{0, 1 << 62, 1 << 62}, 1, 0, nil, ErrTooLarge},
		{"2^62x0x2^62", Shape{1 << 62, 0, 1 << 62}, 8, 0, nil, ErrTooLarge},
		{"negative", Shape{2, -1}, 1, 0, ErrInvalidHeader, ErrInvalidHeader},
		{"min-int64", Shape{math.MinInt64}, 1, 0, ErrInvalidHeader, ErrInvalidHeader},
		{"rank-64", make(Shape, 64), 1, 0, nil, nil},
		{"rank-65", make(Shape, 65), 1, 0, nil, ErrInvalidHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, tt.s.Check(tt.itemSize), tt.checkErr)
			n, err := tt.s.NumElements()
			checkErr(t, err, tt.nErr)
			if err == nil && n != tt.n {
				t.Errorf("NumElements = %d, want %d", n, tt.n)
			}
		})
	}
}

func TestStrides(t *testing.T) {
	// Expected values are numpy's: np.empty(shape, dtype, order).strides.
	tests := []struct {
		shape    Shape
		itemSize int
		c, f     []int64
	}{
		{Shape{}, 8, []int64{}, []int64{}},
		{Shape{5}, 8, []int64{8}, []int64{8}},
		{Shape{2, 3}, 8, []int64{24, 8}, []int64{8, 16}},
		{Shape{2, 3}, 4, []int64{12, 4}, []int64{4, 8}},
		{Shape{2, 3, 4}, 2, []int64{24, 8, 2}, []int64{2, 4, 12}},
		{Shape{4, 1, 3}, 16, []int64{48, 48, 16}, []int64{16, 64, 64}},
		{Shape{0, 3}, 8, []int64{24, 8}, []int64{8, 8}},
		{Shape{3, 0}, 8, []int64{8, 8}, []int64{8, 24}},
		{Shape{2, 0, 4}, 4, []int64{16, 16, 4}, []int64{4, 8, 8}},
		{Shape{1 << 20, 1 << 20}, 1, []int64{1 << 20, 1}, []int64{1, 1 << 20}},
	}
	for _, tt := range tests {
		t.Run(tt.shape.String(), func(t *testing.T) {
			if got := Strides(tt.shape, OrderC, tt.itemSize); !slices.Equal(got, tt.c) {
				t.Errorf("C strides %v, want %v", got, tt.c)
			}
			if got := Strides(tt.shape, OrderF, tt.itemSize); !slices.Equal(got, tt.f) {
				t.Errorf("F strides %v, want %v", got, tt.f)
			}
		})
	}
}

func TestOffset(t *testing.T) {
	tests := []struct {
		shape Shape
		order Order
		size  int
		index []int64
		want  int64
		err   error
	}{
		{Shape{}, OrderC, 8, nil, 0, nil},
		{Shape{}, OrderF, 8, nil, 0, nil},
		{Shape{2, 3}, OrderC, 4, []int64{1, 2}, 20, nil},
		{Shape{2, 3}, OrderF, 4, []int64{1, 2}, 4 + 2*8, nil},
		{Shape{2, 3}, OrderC, 4, []int64{0, 0}, 0, nil},
		{Shape{2, 3, 4}, OrderC, 2, []int64{1, 0, 3}, 30, nil},
		{Shape{2, 3, 4}, OrderF, 2, []int64{1, 0, 3}, 38, nil},
		{Shape{2, 3, 4}, OrderC, 2, []int64{1, 2, 3}, 46, nil},
		{Shape{5}, OrderC, 16, []int64{4}, 64, nil},
		{Shape{2, 3}, OrderC, 4, []int64{2, 0}, 0, ErrIndex},
		{Shape{2, 3}, OrderC, 4, []int64{0, 3}, 0, ErrIndex},
		{Shape{2, 3}, OrderC, 4, []int64{-1, 0}, 0, ErrIndex},
		{Shape{2, 3}, OrderC, 4, []int64{0}, 0, ErrIndex},
		{Shape{2, 3}, OrderC, 4, []int64{0, 0, 0}, 0, ErrIndex},
		{Shape{}, OrderC, 4, []int64{0}, 0, ErrIndex},
		{Shape{0, 3}, OrderC, 4, []int64{0, 0}, 0, ErrIndex},
		{Shape{1 << 31, 1 << 31}, OrderC, 1, []int64{1<<31 - 1, 1<<31 - 1}, 1<<62 - 1, nil},
	}
	for _, tt := range tests {
		off, err := Offset(tt.shape, tt.order, tt.size, tt.index...)
		if (err == nil) != (tt.err == nil) || (err != nil && !errors.Is(err, tt.err)) || off != tt.want {
			t.Errorf("Offset(%v %v, %v) = %d, %v; want %d, %v", tt.shape, tt.order, tt.index, off, err, tt.want, tt.err)
		}
	}

	// Every element of a small array has a distinct in-range offset, in both orders.
	shape := Shape{3, 4, 5}
	for _, order := range []Order{OrderC, OrderF} {
		seen := map[int64]bool{}
		for i := range int64(3) {
			for j := range int64(4) {
				for k := range int64(5) {
					off, err := Offset(shape, order, 8, i, j, k)
					if err != nil || off < 0 || off >= 3*4*5*8 || off%8 != 0 || seen[off] {
						t.Fatalf("%v (%d,%d,%d): offset %d, %v", order, i, j, k, off, err)
					}
					seen[off] = true
				}
			}
		}
	}
}

func TestOrder(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Order
	}{{"C", OrderC}, {"F", OrderF}} {
		got, err := ParseOrder(tt.in)
		if got != tt.want || err != nil || !got.Valid() || got.String() != tt.in {
			t.Errorf("ParseOrder(%q) = %v, %v", tt.in, got, err)
		}
	}
	for _, s := range []string{"", "c", "f", "A", "K", "CF", " C"} {
		_, err := ParseOrder(s)
		checkErr(t, err, ErrInvalidHeader)
	}
	for _, o := range []Order{0, 'A', 'c'} {
		if o.Valid() {
			t.Errorf("Order %q is Valid", byte(o))
		}
		_, err := NewHeader(Float64, Shape{1}, o, nil)
		checkErr(t, err, ErrInvalidHeader)
	}
}

func TestChooseBlockSize(t *testing.T) {
	const (
		MiB = int64(1) << 20
		GiB = int64(1) << 30
	)
	tests := []struct {
		nbytes, want int64
	}{
		{-1, 4 * MiB},
		{0, 4 * MiB},
		{1, 4 * MiB},
		{MiB, 4 * MiB},
		{4 * MiB, 4 * MiB},
		{128 * GiB, 4 * MiB}, // exactly 32768 blocks of 4 MiB
		{128*GiB + 1, 8 * MiB},
		{200 * GiB, 8 * MiB},
		{256 * GiB, 8 * MiB},
		{256*GiB + 1, 16 * MiB},
		{1 << 44, 512 * MiB},
		{1<<44 + 1, GiB},
		{1 << 45, GiB}, // exactly 32768 blocks of 1 GiB
		{1 << 46, GiB}, // 65536 blocks of 1 GiB: CRCs only (MaxDigestBlocks)
		{1<<46 + 1, GiB},
		{1 << 50, GiB},
		{math.MaxInt64, GiB},
	}
	for _, tt := range tests {
		if got := ChooseBlockSize(tt.nbytes); got != tt.want {
			t.Errorf("ChooseBlockSize(%d) = %d, want %d", tt.nbytes, got, tt.want)
		}
	}

	// The rule itself, on random sizes: the smallest power of two >= 4 MiB
	// giving at most 32768 blocks, capped at 1 GiB.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		n := rng.Int64() >> rng.IntN(63) // sizes spread over every magnitude
		bs := ChooseBlockSize(n)
		blocks := func(bs int64) int64 { return (n + bs - 1) / bs }
		if bs&(bs-1) != 0 || bs < 4*MiB || bs > GiB {
			t.Fatalf("ChooseBlockSize(%d) = %d", n, bs)
		}
		if bs < GiB && blocks(bs) > 32768 {
			t.Fatalf("ChooseBlockSize(%d) = %d gives %d blocks", n, bs, blocks(bs))
		}
		if bs > 4*MiB && blocks(bs/2) <= 32768 {
			t.Fatalf("ChooseBlockSize(%d) = %d, but %d gives %d blocks", n, bs, bs/2, blocks(bs/2))
		}
	}
}

// sealedFits checks that h, once sealed with a full CRC table (and digest
// table, up to MaxDigestBlocks), marshals within its DataOffset, and that
// DataOffset is the smallest aligned offset that does.
func sealedFits(tb testing.TB, h *Header) {
	tb.Helper()
	s := h.Clone()
	s.Sealed = true
	s.CRC32C = make([]uint32, s.NumBlocks())
	for i := range s.CRC32C {
		s.CRC32C[i] = 0xffffffff
	}
	if s.NumBlocks() <= MaxDigestBlocks {
		s.XXH128 = make([][16]byte, s.NumBlocks())
		for i := range s.XXH128 {
			s.XXH128[i] = [16]byte{0: 0xff, 15: 0xff}
		}
	}
	b, err := s.Marshal()
	if err != nil {
		tb.Fatalf("sealed header does not marshal: %v", err)
	}
	if int64(len(b)) > h.DataOffset {
		tb.Fatalf("sealed header is %d bytes, data_offset %d", len(b), h.DataOffset)
	}
	if want := (int64(len(b)) + Alignment - 1) / Alignment * Alignment; h.DataOffset != want {
		tb.Errorf("data_offset %d, smallest room for a %d-byte sealed header is %d", h.DataOffset, len(b), want)
	}
	u, err := h.Marshal()
	if err != nil || len(u) > len(b) {
		tb.Errorf("unsealed header: %d bytes, %v", len(u), err)
	}
	if _, err := Unmarshal(b, Limits{}); err != nil {
		tb.Errorf("sealed header does not parse: %v", err)
	}
}

func TestNewHeader(t *testing.T) {
	const (
		MiB = int64(1) << 20
		GiB = int64(1) << 30
	)
	blob := func(n int) map[string]any { return map[string]any{"b": strings.Repeat("x", n)} }
	tests := []struct {
		name       string
		dt         DType
		shape      Shape
		order      Order
		attrs      map[string]any
		nbytes     int64
		blockSize  int64
		blocks     int
		dataOffset int64 // 0: only check that the sealed header fits
	}{
		{"zero-size", Float64, Shape{0}, OrderC, nil, 0, 4 * MiB, 0, 4096},
		{"0-d", Complex128, Shape{}, OrderF, nil, 16, 4 * MiB, 1, 4096},
		{"1MiB", Uint8, Shape{1 << 20}, OrderC, nil, MiB, 4 * MiB, 1, 4096},
		{"golden", Float32, Shape{2, 3}, OrderC, map[string]any{"units": "m", "source": "golden"}, 24, 4 * MiB, 1, 4096},
		{"32768-blocks", Uint8, Shape{128 * GiB}, OrderC, nil, 128 * GiB, 4 * MiB, 32768, 0},
		{"32768-blocks-max-attrs", Uint8, Shape{128 * GiB}, OrderC, blob(MaxAttrsBytes - 6), 128 * GiB, 4 * MiB, 32768, 0},
		{"300GiB", Float64, Shape{300 * GiB / 8}, OrderC, nil, 300 * GiB, 16 * MiB, 19200, 0},
		{"300GiB-2d-F", Float32, Shape{300 * 1024, 256 * 1024}, OrderF, nil, 300 * GiB, 16 * MiB, 19200, 0},
		{"2^46-bytes-crc-only", Uint8, Shape{1 << 46}, OrderC, nil, 1 << 46, GiB, 65536, 0},
		{"2^47-bytes", Uint8, Shape{1 << 47}, OrderC, nil, 1 << 47, GiB, 131072, 0},
		{"rank-64", Int8, slices.Repeat(Shape{1}, 64), OrderC, nil, 1, 4 * MiB, 1, 4096},
		{"attrs-at-limit", Bool, Shape{3}, OrderC, blob(MaxAttrsBytes - 6), 3, 4 * MiB, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			shape := slices.Clone(tt.shape)
			h, err := NewHeader(tt.dt, shape, tt.order, tt.attrs)
			if err != nil {
				t.Fatal(err)
			}
			if len(shape) > 0 {
				shape[0]++ // the header must not alias the caller's shape
			}
			if h.DType != tt.dt || !h.Shape.Equal(tt.shape) || h.Order != tt.order || h.NBytes != tt.nbytes ||
				h.BlockSize != tt.blockSize || h.NumBlocks() != tt.blocks {
				t.Errorf("header %v %v %v nbytes %d block %d (%d blocks); want %d, %d (%d)",
					h.DType, h.Shape, h.Order, h.NBytes, h.BlockSize, h.NumBlocks(), tt.nbytes, tt.blockSize, tt.blocks)
			}
			if h.Sealed || h.CRC32C != nil {
				t.Errorf("new header is sealed %v with crc table of %d", h.Sealed, len(h.CRC32C))
			}
			if tt.dataOffset != 0 && h.DataOffset != tt.dataOffset {
				t.Errorf("data_offset %d, want %d", h.DataOffset, tt.dataOffset)
			}
			if h.DataOffset%Alignment != 0 {
				t.Errorf("data_offset %d is not aligned", h.DataOffset)
			}
			checkErr(t, h.Validate(), nil)
			sealedFits(t, h)
		})
	}
}

func TestNewHeaderErrors(t *testing.T) {
	big := map[string]any{"b": strings.Repeat("x", MaxAttrsBytes-5)} // one byte over
	tests := []struct {
		name  string
		dt    DType
		shape Shape
		order Order
		attrs map[string]any
		want  error
	}{
		{"dtype-0", 0, Shape{1}, OrderC, nil, ErrDType},
		{"order-0", Float64, Shape{1}, 0, nil, ErrInvalidHeader},
		{"negative", Float64, Shape{-1}, OrderC, nil, ErrInvalidHeader},
		{"rank-65", Float64, make(Shape, 65), OrderC, nil, ErrInvalidHeader},
		{"overflow", Float64, Shape{1 << 61}, OrderC, nil, ErrTooLarge},
		{"zero-hides-overflow", Float64, Shape{0, 1 << 62, 1 << 62}, OrderC, nil, ErrTooLarge},
		{"attrs-over-limit", Float64, Shape{1}, OrderC, big, ErrAttrsTooLarge},
		{"attrs-unencodable", Float64, Shape{1}, OrderC, map[string]any{"f": func() {}}, ErrInvalidHeader},
		// 2^50 bytes in 1 GiB blocks is 2^20 checksums: a 4 MiB table, over
		// readers' default header limit.
		{"crc-table-over-header-limit", Uint8, Shape{1 << 50}, OrderC, nil, ErrTooLarge},
		// 262140 blocks of 1 GiB: the table alone (1048560 bytes) fits under
		// 1 MiB, the whole header does not.
		{"header-just-over-limit", Uint8, Shape{262140 << 30}, OrderC, nil, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := NewHeader(tt.dt, tt.shape, tt.order, tt.attrs)
			checkErr(t, err, tt.want)
			if h != nil {
				t.Errorf("header returned with error: %+v", h)
			}
		})
	}
}

// TestNewHeaderHugeArrayAllocation is a regression test (fixed in b774623):
// refusing an array whose CRC table cannot fit in a header must not first
// build that table. NewHeader used to allocate the []uint32 table, then
// encodeBody a 4*NumBlocks byte table and the body buffer, before checking the
// body against DefaultMaxHeaderBytes: 48 MiB of garbage for 2^52 uint8, and
// for Shape{1 << 62} (2^32 blocks of 1 GiB) a 16 GiB allocation and a fatal
// out-of-memory instead of ErrTooLarge.
func TestNewHeaderHugeArrayAllocation(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := NewHeader(Uint8, Shape{1 << 52}, OrderC, nil)
	runtime.ReadMemStats(&after)
	checkErr(t, err, ErrTooLarge)
	if n := after.TotalAlloc - before.TotalAlloc; n > 4*DefaultMaxHeaderBytes {
		t.Errorf("NewHeader allocated %d MB to refuse a header it could size in advance", n>>20)
	}
}
