package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
)

// TestShortestFloat16MatchesNumpy compares the shortest digits of every
// positive finite float16 with numpy's (Dragon4 at half precision).
func TestShortestFloat16MatchesNumpy(t *testing.T) {
	const script = `
import numpy as np
v = np.arange(1, 0x7c00, dtype=np.uint16).view(np.float16)
print("\n".join(np.format_float_scientific(x, unique=True, trim='-') for x in v))
`
	testutil.RequirePython(t, "numpy")
	out, err := exec.Command(testutil.Python, "-c", script).Output()
	if err != nil {
		t.Fatalf("numpy: %v", err)
	}
	want := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(want) != 0x7c00-1 {
		t.Fatalf("numpy printed %d values", len(want))
	}
	bad := 0
	for b := uint16(1); b < 0x7c00; b++ {
		x := float64(arrayx.Float16ToFloat32(b))
		digits, e := kindFloat16.shortest(x)
		got := digits[:1]
		if len(digits) > 1 {
			got += "." + digits[1:]
		}
		got += "e" + expString(e, 2)
		if got != want[b-1] {
			if bad++; bad <= 10 {
				t.Errorf("float16 %#04x (%v): got %s, numpy %s", b, x, got, want[b-1])
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d values differ", bad)
	}
}

// TestShortestBFloat16 checks every positive finite bfloat16: the digits
// identify the value, and one digit fewer never does.
func TestShortestBFloat16(t *testing.T) {
	back := func(digits string, e int) uint16 {
		var v float64
		fmt.Sscanf(digits[:1]+"."+digits[1:]+"e"+fmt.Sprint(e), "%g", &v)
		return arrayx.Float32ToBFloat16(float32(v))
	}
	for b := uint16(1); b < 0x7f80; b++ {
		x := float64(arrayx.BFloat16ToFloat32(b))
		digits, e := kindBFloat16.shortest(x)
		if got := back(digits, e); got != b {
			t.Fatalf("bfloat16 %#04x (%v): digits %s e%d read back as %#04x", b, x, digits, e, got)
		}
		if n := len(digits); n > 1 {
			d, e2 := splitE(fmt.Sprintf("%.*e", n-2, x))
			if back(d, e2) == b {
				t.Fatalf("bfloat16 %#04x (%v): %s e%d is not the shortest, %s e%d also works", b, x, digits, e, d, e2)
			}
		}
	}
}

// TestFormatRandomArraysMatchNumpy prints many random arrays, mixing
// dtypes, ranks, orders, magnitudes, non-finite values and summarization,
// and compares each with numpy.
func TestFormatRandomArraysMatchNumpy(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	dtypes := []arrayx.DType{
		arrayx.Bool, arrayx.Int8, arrayx.Int16, arrayx.Int32, arrayx.Int64,
		arrayx.Uint8, arrayx.Uint16, arrayx.Uint32, arrayx.Uint64,
		arrayx.Float16, arrayx.Float32, arrayx.Float64, arrayx.Complex64, arrayx.Complex128,
	}
	var cases []numpyCase
	for i := range 150 {
		dt := dtypes[r.IntN(len(dtypes))]
		rank := r.IntN(4)
		shape := make(arrayx.Shape, rank)
		n := 1
		for k := range shape {
			shape[k] = int64(1 + r.IntN(7))
			if r.IntN(10) == 0 {
				shape[k] = int64(r.IntN(2) * 40) // empty, or long
			}
			n *= int(shape[k])
		}
		order := arrayx.OrderC
		if r.IntN(2) == 0 {
			order = arrayx.OrderF
		}
		limit := int64(npThreshold)
		if r.IntN(3) == 0 {
			limit = int64(r.IntN(n + 1))
		}
		style := r.IntN(5)
		cases = append(cases, numpyCase{
			name: fmt.Sprintf("r%03d-%v", i, dt), dt: dt, shape: shape, order: order,
			data: randomData(r, dt, n, style), limit: limit,
		})
	}
	// limit 0 means the default in numpyCase; numpy's threshold 0 is
	// covered by the "limit-0" case of TestCatMatchesNumpy.
	for i := range cases {
		if cases[i].limit == 0 {
			cases[i].limit = -1
		}
	}
	compareWithNumpy(t, t.TempDir(), cases)
}

// randomData returns n random little-endian values of dt. style picks the
// distribution of floats: 0 uniform [0, 1), 1 small integers, 2 magnitudes
// from 1e-12 to 1e12 of either sign, 3 the same with NaN, ±Inf and -0
// mixed in, 4 short decimals (k/8, k/100).
func randomData(r *rand.Rand, dt arrayx.DType, n, style int) []byte {
	float := func() float64 {
		switch style {
		case 0:
			return r.Float64()
		case 1:
			return float64(r.IntN(200) - 100)
		case 2, 3:
			if style == 3 {
				switch r.IntN(8) {
				case 0:
					return math.NaN()
				case 1:
					return math.Inf(1 - 2*r.IntN(2))
				case 2:
					return math.Copysign(0, -1)
				}
			}
			v := math.Pow(10, r.Float64()*24-12)
			if r.IntN(2) == 0 {
				v = -v
			}
			return v
		}
		if r.IntN(2) == 0 {
			return float64(r.IntN(64)) / 8
		}
		return float64(r.IntN(1000)-500) / 100
	}
	var b []byte
	for range n {
		switch dt {
		case arrayx.Bool:
			b = append(b, byte(r.IntN(2)))
		case arrayx.Int8, arrayx.Uint8:
			b = append(b, byte(r.Uint32()))
		case arrayx.Int16, arrayx.Uint16:
			b = binary.LittleEndian.AppendUint16(b, uint16(r.Uint32()))
		case arrayx.Int32, arrayx.Uint32:
			b = binary.LittleEndian.AppendUint32(b, r.Uint32()>>(r.IntN(4)*8))
		case arrayx.Int64, arrayx.Uint64:
			b = binary.LittleEndian.AppendUint64(b, r.Uint64()>>(r.IntN(8)*8))
		case arrayx.Float16:
			b = binary.LittleEndian.AppendUint16(b, arrayx.Float32ToFloat16(float32(float())))
		case arrayx.Float32:
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(float())))
		case arrayx.Float64:
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(float()))
		case arrayx.Complex64:
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(float())))
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(float())))
		case arrayx.Complex128:
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(float()))
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(float()))
		}
	}
	if b == nil {
		b = []byte{}
	}
	return b
}
