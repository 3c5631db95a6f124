package arrayx

import (
	"math"
	"math/rand/v2"
	"testing"
)

// refHalfValue computes the value of IEEE 754 binary16 bits from the
// definition, in float64: (-1)^s * 2^(e-15) * (1 + m/1024), subnormals
// (-1)^s * 2^-14 * m/1024.
func refHalfValue(h uint16) float64 {
	s := 1.0
	if h&0x8000 != 0 {
		s = -1
	}
	e := int(h>>10) & 0x1f
	m := float64(h & 0x3ff)
	switch e {
	case 0:
		return s * math.Ldexp(m/1024, -14)
	case 0x1f:
		if m != 0 {
			return math.NaN()
		}
		return s * math.Inf(1)
	}
	return s * math.Ldexp(1+m/1024, e-15)
}

// refToHalf rounds a float64 (holding a float32) to the nearest binary16,
// ties to even, from the definition: scale by the unit in the last place of
// the target binade, round with math.RoundToEven, rebuild the bits.
func refToHalf(f float64) uint16 {
	var sign uint16
	if math.Signbit(f) {
		sign = 0x8000
	}
	a := math.Abs(f)
	switch {
	case math.IsNaN(f):
		return sign | 0x7e00
	case a == 0:
		return sign
	}
	_, e := math.Frexp(a) // a = frac * 2^e, frac in [0.5, 1): binade 2^(e-1)
	ulpExp := e - 1 - 10
	if e-1 < -14 {
		ulpExp = -24 // subnormal spacing
	}
	r := math.RoundToEven(math.Ldexp(a, -ulpExp)) // integer count of ulps
	v := math.Ldexp(r, ulpExp)
	if v >= 65536 { // 2^16: past the largest finite half (65504) after rounding
		return sign | 0x7c00
	}
	if v < math.Ldexp(1, -14) { // subnormal (or rounded to zero): bits are the ulp count
		return sign | uint16(r)
	}
	_, ve := math.Frexp(v)
	be := ve - 1 // v = 2^be * (1 + m/1024)
	m := math.Ldexp(v, -be)*1024 - 1024
	return sign | uint16(be+15)<<10 | uint16(m)
}

// TestFloat16ToFloat32Exhaustive checks all 65536 half values against the
// definition and the round trip half -> float32 -> half.
func TestFloat16ToFloat32Exhaustive(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		f := Float16ToFloat32(h)
		want := refHalfValue(h)
		if math.IsNaN(want) {
			if !math.IsNaN(float64(f)) {
				t.Fatalf("Float16ToFloat32(%#04x) = %v, want NaN", h, f)
			}
			if back := Float32ToFloat16(f); back&0x7c00 != 0x7c00 || back&0x3ff == 0 || back&0x8000 != h&0x8000 {
				t.Fatalf("NaN %#04x round trips to %#04x", h, back)
			}
			continue
		}
		if float64(f) != want || math.Signbit(float64(f)) != (h&0x8000 != 0) {
			t.Fatalf("Float16ToFloat32(%#04x) = %v, want %v", h, f, want)
		}
		if back := Float32ToFloat16(f); back != h {
			t.Fatalf("round trip %#04x -> %v -> %#04x", h, f, back)
		}
		if ref := refToHalf(float64(f)); ref != h {
			t.Fatalf("reference rounding disagrees with itself: %#04x -> %v -> %#04x", h, f, ref)
		}
	}
}

func TestFloat32ToFloat16(t *testing.T) {
	tests := []struct {
		f    float32
		want uint16
	}{
		{0, 0x0000},
		{float32(math.Copysign(0, -1)), 0x8000},
		{1, 0x3c00},
		{-2, 0xc000},
		{0.5, 0x3800},
		{65504, 0x7bff},                                     // largest finite
		{65519.99, 0x7bff},                                  // below the midpoint to infinity
		{65520, 0x7c00},                                     // midpoint, ties to even (0x7c00): overflow
		{1e6, 0x7c00},                                       // overflow
		{-1e6, 0xfc00},                                      // negative overflow
		{math.MaxFloat32, 0x7c00},                           //
		{float32(math.Inf(1)), 0x7c00},                      //
		{float32(math.Inf(-1)), 0xfc00},                     //
		{6.103515625e-05, 0x0400},                           // 2^-14, smallest normal
		{5.960464477539063e-08, 0x0001},                     // 2^-24, smallest subnormal
		{2.9802322387695312e-08, 0x0000},                    // 2^-25: tie between 0 and 2^-24, to even (0)
		{2.9802326e-08, 0x0001},                             // just above 2^-25
		{8.940696716308594e-08, 0x0002},                     // 1.5 * 2^-24: tie between 1 and 2, to even (2)
		{1.4901161193847656e-07, 0x0002},                    // 2.5 * 2^-24: tie between 2 and 3, to even (2)
		{1e-10, 0x0000},                                     // underflow
		{-1e-10, 0x8000},                                    // underflow keeps the sign
		{math.SmallestNonzeroFloat32, 0x0000},               // float32 subnormal
		{6.097555160522461e-05, 0x03ff},                     // largest subnormal
		{6.100535392761230e-05, 0x0400},                     // rounds up from the largest subnormal to the smallest normal
		{1.0009765625, 0x3c01},                              // 1 + 2^-10
		{1.00048828125, 0x3c00},                             // 1 + 2^-11: tie, to even (0x3c00)
		{1.00146484375, 0x3c02},                             // 1 + 3*2^-11: tie, to even (0x3c02)
		{math.Float32frombits(0x3f801001), 0x3c01},          // one float32 ulp above the tie
		{2047, 0x67ff},                                      //
		{2049, 0x6800},                                      // tie between 2048 and 2050, to even (2048)
		{2051, 0x6802},                                      // tie between 2050 and 2052, to even (2052)
		{float32(math.Pi), 0x4248},                          //
		{-float32(math.E), 0xc170},                          //
		{0.1, 0x2e66},                                       //
		{0.333333343267, 0x3555},                            //
		{-65504, 0xfbff},                                    //
		{0.00006103515625 * 0.75, 0x0300},                   // subnormal 0.75 * 2^-14
		{float32(math.Float32frombits(0x33000001)), 0x0001}, // 2^-25 + 1 float32 ulp
	}
	for _, tt := range tests {
		if got := Float32ToFloat16(tt.f); got != tt.want {
			t.Errorf("Float32ToFloat16(%v = %#08x) = %#04x, want %#04x", tt.f, math.Float32bits(tt.f), got, tt.want)
		}
		if ref := refToHalf(float64(tt.f)); ref != tt.want {
			t.Errorf("reference(%v) = %#04x, table says %#04x", tt.f, ref, tt.want)
		}
	}
	for _, bits := range []uint32{0x7fc00000, 0xffc00000, 0x7f800001, 0x7fbfffff, 0xff800001, 0x7fffffff} {
		f := math.Float32frombits(bits)
		h := Float32ToFloat16(f)
		if h&0x7c00 != 0x7c00 || h&0x3ff == 0 || (h&0x8000 != 0) != (bits&0x80000000 != 0) {
			t.Errorf("Float32ToFloat16(NaN %#08x) = %#04x, want a NaN of the same sign", bits, h)
		}
	}
}

// TestFloat32ToFloat16Reference compares against the reference rounding on
// float32 values chosen to hit every rounding case: for every sign, exponent
// and 10-bit half mantissa, the dropped bits exactly at, just below and just
// above the halfway point, plus random low bits; and random bit patterns.
func TestFloat32ToFloat16Reference(t *testing.T) {
	check := func(bits uint32) {
		f := math.Float32frombits(bits)
		if math.IsNaN(float64(f)) {
			return
		}
		if got, want := Float32ToFloat16(f), refToHalf(float64(f)); got != want {
			t.Fatalf("Float32ToFloat16(%v = %#08x) = %#04x, want %#04x", f, bits, got, want)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	// Exponents from float32 zero/subnormal up to beyond the half range.
	for exp := uint32(0); exp < 0xff; exp++ {
		if exp > 0 && exp < 127-30 {
			continue // all round to zero; covered by the random patterns
		}
		// Bits of the float32 mantissa dropped when rounding to half: 13 for
		// normal halves, more for subnormal halves (down to all 23 and the
		// implicit bit).
		drop := uint32(13)
		if e := int(exp) - 127 + 15; e <= 0 {
			drop = uint32(min(24, 14-e))
		}
		for _, sign := range []uint32{0, 1 << 31} {
			for kept := uint32(0); kept < 1<<10; kept++ {
				var hi uint32
				if drop < 23 {
					hi = kept << drop & 0x7fffff
				}
				half := uint32(1) << (drop - 1)
				for _, lo := range []uint32{0, 1, half - 1, half, half + 1, 1<<drop - 1, rng.Uint32()} {
					if drop <= 23 {
						lo &= 1<<drop - 1
					}
					check(sign | exp<<23 | (hi|lo)&0x7fffff)
				}
			}
		}
	}
	for range 1 << 20 {
		check(rng.Uint32())
	}
}

func TestBFloat16Exhaustive(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		f := BFloat16ToFloat32(h)
		// bfloat16 is the top half of a float32, by definition.
		if math.Float32bits(f) != uint32(h)<<16 {
			t.Fatalf("BFloat16ToFloat32(%#04x) has bits %#08x", h, math.Float32bits(f))
		}
		back := Float32ToBFloat16(f)
		if math.IsNaN(float64(f)) {
			if back&0x7f80 != 0x7f80 || back&0x7f == 0 || back&0x8000 != h&0x8000 {
				t.Fatalf("NaN %#04x round trips to %#04x", h, back)
			}
			continue
		}
		if back != h {
			t.Fatalf("round trip %#04x -> %v -> %#04x", h, f, back)
		}
	}
}

// refToBFloat16 rounds a float32's bits to bfloat16 from the definition:
// bfloat16 keeps 8 significant bits over float32's exponent range.
func refToBFloat16(f float32) uint16 {
	a := math.Abs(float64(f))
	sign := uint16(0)
	if math.Signbit(float64(f)) {
		sign = 0x8000
	}
	if a == 0 || math.IsInf(a, 0) {
		return sign | uint16(math.Float32bits(f)>>16)&0x7fff
	}
	_, e := math.Frexp(a)
	ulpExp := e - 1 - 7
	if e-1 < -126 {
		ulpExp = -133 // subnormal spacing: float32's 2^-149 times 2^16
	}
	v := math.Ldexp(math.RoundToEven(math.Ldexp(a, -ulpExp)), ulpExp)
	if v >= math.Ldexp(1, 128) {
		return sign | 0x7f80
	}
	return sign | uint16(math.Float32bits(float32(v))>>16) // v is exact in float32
}

func TestFloat32ToBFloat16(t *testing.T) {
	tests := []struct {
		bits uint32
		want uint16
	}{
		{0x3f800000, 0x3f80}, // 1
		{0x3f808000, 0x3f80}, // tie, to even (down)
		{0x3f818000, 0x3f82}, // tie, to even (up)
		{0x3f808001, 0x3f81}, // above the tie
		{0x3f807fff, 0x3f80}, // below the tie
		{0x7f7fffff, 0x7f80}, // max float32 rounds to infinity
		{0x7f7f7fff, 0x7f7f}, // stays finite
		{0x7f7f8000, 0x7f80}, // tie at the top, to even: infinity
		{0x7f800000, 0x7f80}, // +inf
		{0xff800000, 0xff80}, // -inf
		{0x80000000, 0x8000}, // -0
		{0x00000001, 0x0000}, // smallest float32 subnormal
		{0x00008000, 0x0000}, // subnormal tie, to even (0)
		{0x00018000, 0x0002}, // subnormal tie, to even (2)
		{0x007fffff, 0x0080}, // largest subnormal rounds to the smallest normal
		{0xc0490fdb, 0xc049}, // -pi
	}
	for _, tt := range tests {
		f := math.Float32frombits(tt.bits)
		if got := Float32ToBFloat16(f); got != tt.want {
			t.Errorf("Float32ToBFloat16(%#08x) = %#04x, want %#04x", tt.bits, got, tt.want)
		}
		if ref := refToBFloat16(f); ref != tt.want {
			t.Errorf("reference(%#08x) = %#04x, table says %#04x", tt.bits, ref, tt.want)
		}
	}
	for _, bits := range []uint32{0x7fc00000, 0xffc00000, 0x7f800001, 0x7f80ffff, 0xff800001, 0x7fffffff} {
		h := Float32ToBFloat16(math.Float32frombits(bits))
		if h&0x7f80 != 0x7f80 || h&0x7f == 0 || (h&0x8000 != 0) != (bits&0x80000000 != 0) {
			t.Errorf("Float32ToBFloat16(NaN %#08x) = %#04x, want a NaN of the same sign", bits, h)
		}
	}

	rng := rand.New(rand.NewPCG(5, 6))
	check := func(bits uint32) {
		f := math.Float32frombits(bits)
		if math.IsNaN(float64(f)) {
			return
		}
		if got, want := Float32ToBFloat16(f), refToBFloat16(f); got != want {
			t.Fatalf("Float32ToBFloat16(%#08x) = %#04x, want %#04x", bits, got, want)
		}
	}
	for hi := range uint32(1 << 16) {
		for _, lo := range []uint32{0, 1, 0x7fff, 0x8000, 0x8001, 0xffff, rng.Uint32() & 0xffff} {
			check(hi<<16 | lo)
		}
	}
	for range 1 << 20 {
		check(rng.Uint32())
	}
}
