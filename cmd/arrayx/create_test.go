package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/arrayx/arrayx/arrayx"
)

func TestCreate(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"create", "m", "--dtype", "float64", "--shape", "100,100"}, "created m: float64 (100, 100) C, 80000 bytes\n"},
		{[]string{"create", "v", "--dtype", "<i4", "--shape", "(5,)", "--order", "F"}, "created v: int32 (5,) F, 20 bytes\n"},
		{[]string{"create", "s", "--shape", ""}, "created s: float64 () C, 8 bytes\n"},
		{[]string{"create", "sub/dir/e", "--dtype", "?", "--shape", "0,3"}, "created sub/dir/e: bool (0, 3) C, 0 bytes\n"},
		{[]string{"create", "b", "--dtype", "bfloat16", "--shape", "4", "--fill", "ones"}, "created b: bfloat16 (4,) C, 8 bytes\n"},
		{[]string{"create", "c", "--dtype", "c16", "--shape", "2,2", "--fill", "random", "--seed", "9"}, "created c: complex128 (2, 2) C, 64 bytes\n"},
		{[]string{"create", "a", "--shape", "2", "--attr", "unit=m", "--attr", "note=a=b,c"}, "created a: float64 (2,) C, 16 bytes\n"},
	}
	for _, tt := range tests {
		t.Run(tt.args[1], func(t *testing.T) {
			if got := mustRun(t, dir, tt.args...); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	// Attrs are strings; values may hold '=' and ','.
	a := openArray(t, dir, "a")
	if got := a.Header().Attrs; len(got) != 2 || got["unit"] != "m" || got["note"] != "a=b,c" {
		t.Errorf("attrs = %v", got)
	}
	// Creating a name again replaces the array, with --force (overwrite_test.go).
	mustRun(t, dir, "create", "m", "--dtype", "int8", "--shape", "3", "--force")
	if out := mustRun(t, dir, "cat", "m"); out != "[0 0 0]\n" {
		t.Errorf("replaced array: %q", out)
	}
}

func TestCreateUsageErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad-dtype", []string{"--shape", "3", "--dtype", "float99"}, `invalid --dtype "float99"`},
		{"big-endian-dtype", []string{"--shape", "3", "--dtype", ">f8"}, `invalid --dtype ">f8"`},
		{"no-shape", nil, "--shape is required"},
		{"bad-shape", []string{"--shape", "3,x"}, `invalid --shape: shape "3,x": dimension "x"`},
		{"negative-shape", []string{"--shape", "-1"}, "invalid --shape"},
		{"bad-order", []string{"--shape", "3", "--order", "K"}, `invalid --order "K"`},
		{"bad-fill", []string{"--shape", "3", "--fill", "twos"}, `unknown --fill "twos"`},
		{"arange-bool", []string{"--shape", "3", "--dtype", "bool", "--fill", "arange"}, "--fill arange is not defined for bool"},
		{"attr-no-eq", []string{"--shape", "3", "--attr", "k"}, `invalid --attr "k": want key=value`},
		{"attr-empty-key", []string{"--shape", "3", "--attr", "=v"}, "empty key"},
		{"attr-dup", []string{"--shape", "3", "--attr", "k=1", "--attr", "k=2"}, `duplicate --attr key "k"`},
		{"bad-seed", []string{"--shape", "3", "--seed", "-1"}, "--seed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := arrayxRun(t, dir, append([]string{"create", "x"}, tt.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 and %q", r.code, r.stderr, tt.want)
			}
		})
	}
	if out := mustRun(t, dir, "ls"); out != "" {
		t.Errorf("failed creates left arrays behind: %q", out)
	}
}

func TestCreateTooLarge(t *testing.T) {
	dir := t.TempDir()
	r := arrayxRun(t, dir, "create", "huge", "--shape", "1000000000,1000000000,1000000000")
	if r.code == 0 {
		t.Fatal("an array of 8e27 bytes was created")
	}
	if strings.Count(r.stderr, "\n") != 1 && r.code == 1 {
		t.Errorf("not one line: %q", r.stderr)
	}
}

// TestFillArange checks that element i in memory order is i converted to
// the dtype, for C and F order.
func TestFillArange(t *testing.T) {
	dir := t.TempDir()
	const n = 300 // past int8 and uint8 range, so values wrap
	tests := []struct {
		dtype string
		want  func(i int) string // element i of the data, formatted with %v of its Go value
	}{
		{"int8", func(i int) string { return fmtv(int8(i)) }},
		{"int16", func(i int) string { return fmtv(int16(i)) }},
		{"int32", func(i int) string { return fmtv(int32(i)) }},
		{"int64", func(i int) string { return fmtv(int64(i)) }},
		{"uint8", func(i int) string { return fmtv(uint8(i)) }},
		{"uint16", func(i int) string { return fmtv(uint16(i)) }},
		{"uint32", func(i int) string { return fmtv(uint32(i)) }},
		{"uint64", func(i int) string { return fmtv(uint64(i)) }},
		{"float16", func(i int) string { return fmtv(float32(i)) }},
		{"bfloat16", func(i int) string { return fmtv(arrayx.BFloat16ToFloat32(arrayx.Float32ToBFloat16(float32(i)))) }},
		{"float32", func(i int) string { return fmtv(float32(i)) }},
		{"float64", func(i int) string { return fmtv(float64(i)) }},
		{"complex64", func(i int) string { return fmtv(complex(float32(i), 0)) }},
		{"complex128", func(i int) string { return fmtv(complex(float64(i), 0)) }},
	}
	for _, tt := range tests {
		for _, order := range []string{"C", "F"} {
			t.Run(tt.dtype+"-"+order, func(t *testing.T) {
				name := tt.dtype + order
				mustRun(t, dir, "create", name, "--dtype", tt.dtype, "--shape", "3,100", "--order", order, "--fill", "arange")
				a := openArray(t, dir, name)
				h := a.Header()
				for i := range n {
					if got := elemString(h.DType, a.Bytes(), i); got != tt.want(i) {
						t.Fatalf("element %d = %s, want %s", i, got, tt.want(i))
					}
				}
				// The logical index of memory element i follows the order.
				off, err := h.Offset(2, 7)
				if err != nil {
					t.Fatal(err)
				}
				mem := 2*100 + 7
				if order == "F" {
					mem = 2 + 7*3
				}
				if got := int(off) / h.DType.ItemSize(); got != mem {
					t.Fatalf("[2, 7] is memory element %d, want %d", got, mem)
				}
			})
		}
	}
	// The wrap and rounding cases, spelled out.
	mustRun(t, dir, "create", "i8", "--dtype", "int8", "--shape", "201", "--fill", "arange")
	if got := elemString(arrayx.Int8, openArray(t, dir, "i8").Bytes(), 200); got != "-56" {
		t.Errorf("int8 element 200 = %s, want -56", got)
	}
	mustRun(t, dir, "create", "h", "--dtype", "float16", "--shape", "2050", "--fill", "arange")
	if got := elemString(arrayx.Float16, openArray(t, dir, "h").Bytes(), 2049); got != "2048" {
		t.Errorf("float16 element 2049 = %s, want 2048 (round to even)", got)
	}
}

func TestFillOnes(t *testing.T) {
	dir := t.TempDir()
	for _, dt := range arrayx.DTypes() {
		t.Run(dt.String(), func(t *testing.T) {
			mustRun(t, dir, "create", dt.String(), "--dtype", dt.String(), "--shape", "7,3", "--fill", "ones")
			a := openArray(t, dir, dt.String())
			want := "1"
			switch dt {
			case arrayx.Complex64, arrayx.Complex128:
				want = "(1+0i)"
			case arrayx.Bool:
				want = "1"
			}
			for i := range 21 {
				if got := elemString(dt, a.Bytes(), i); got != want {
					t.Fatalf("element %d = %s, want %s", i, got, want)
				}
			}
		})
	}
}

func TestFillRandomRange(t *testing.T) {
	dir := t.TempDir()
	for _, dt := range arrayx.DTypes() {
		t.Run(dt.String(), func(t *testing.T) {
			mustRun(t, dir, "create", dt.String(), "--dtype", dt.String(), "--shape", "1000", "--fill", "random", "--seed", "1")
			a := openArray(t, dir, dt.String())
			distinct := map[string]bool{}
			for i := range 1000 {
				s := elemString(dt, a.Bytes(), i)
				distinct[s] = true
				var re, im float64
				switch dt {
				case arrayx.Bool:
					if s != "0" && s != "1" {
						t.Fatalf("bool element %d = %s", i, s)
					}
					continue
				case arrayx.Float16, arrayx.BFloat16, arrayx.Float32, arrayx.Float64:
					re = elemFloat(dt, a.Bytes(), i)
				case arrayx.Complex64, arrayx.Complex128:
					re, im = elemComplex(dt, a.Bytes(), i)
				default:
					continue
				}
				if re < 0 || re >= 1 || im < 0 || im >= 1 {
					t.Fatalf("element %d = %s, outside [0, 1)", i, s)
				}
			}
			want := 100
			if dt == arrayx.Bool {
				want = 2
			}
			if len(distinct) < want {
				t.Errorf("only %d distinct values of 1000", len(distinct))
			}
		})
	}
}

// TestFillRandomDeterministic checks that the data depends on the seed only,
// not on GOMAXPROCS, and pins the data of one seed so that a change of
// generator or chunking, which changes every seed's data, is noticed.
func TestFillRandomDeterministic(t *testing.T) {
	dir := t.TempDir()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	shape := "3," + itoa(fillChunk+10) // several chunks and a partial one
	var crcs []uint32
	for i, procs := range []int{1, 2, 5} {
		runtime.GOMAXPROCS(procs)
		for _, dt := range []string{"float64", "uint8", "bool", "float16", "complex64"} {
			name := dt + itoa(i)
			mustRun(t, dir, "create", name, "--dtype", dt, "--shape", shape, "--fill", "random", "--seed", "42")
			crcs = append(crcs, arrayx.CRC32C(openArray(t, dir, name).Bytes()))
		}
	}
	for i := 5; i < len(crcs); i++ {
		if crcs[i] != crcs[i%5] {
			t.Errorf("dtype %d: data differs with GOMAXPROCS: %08x vs %08x", i%5, crcs[i], crcs[i%5])
		}
	}
	mustRun(t, dir, "create", "other", "--dtype", "float64", "--shape", shape, "--fill", "random", "--seed", "43")
	if arrayx.CRC32C(openArray(t, dir, "other").Bytes()) == crcs[0] {
		t.Error("seeds 42 and 43 give the same data")
	}
	// Seed 0 (the default) of a small float64 array, pinned.
	mustRun(t, dir, "create", "pinned", "--shape", "4", "--fill", "random")
	if got, want := mustRun(t, dir, "cat", "pinned"), pinnedRandom; got != want {
		t.Errorf("seed 0 data changed: %q, want %q", got, want)
	}
}

// pinnedRandom is `arrayx cat` of `create --shape 4 --fill random` (seed 0).
const pinnedRandom = "[0.2338967  0.54325501 0.93747704 0.22390844]\n"

func itoa(i int) string { return fmtv(i) }

func fmtv(v any) string { return fmt.Sprint(v) }

// elemString formats element i of data (memory order) by its Go value.
func elemString(dt arrayx.DType, data []byte, i int) string {
	b := data[i*dt.ItemSize():]
	switch dt {
	case arrayx.Bool, arrayx.Uint8:
		return fmtv(b[0])
	case arrayx.Int8:
		return fmtv(int8(b[0]))
	case arrayx.Int16:
		return fmtv(int16(binary.LittleEndian.Uint16(b)))
	case arrayx.Int32:
		return fmtv(int32(binary.LittleEndian.Uint32(b)))
	case arrayx.Int64:
		return fmtv(int64(binary.LittleEndian.Uint64(b)))
	case arrayx.Uint16:
		return fmtv(binary.LittleEndian.Uint16(b))
	case arrayx.Uint32:
		return fmtv(binary.LittleEndian.Uint32(b))
	case arrayx.Uint64:
		return fmtv(binary.LittleEndian.Uint64(b))
	case arrayx.Float16, arrayx.BFloat16, arrayx.Float32, arrayx.Float64:
		return fmtv(elemFloat(dt, data, i))
	}
	re, im := elemComplex(dt, data, i)
	return fmtv(complex(re, im))
}

func elemFloat(dt arrayx.DType, data []byte, i int) float64 {
	b := data[i*dt.ItemSize():]
	switch dt {
	case arrayx.Float16:
		return float64(arrayx.Float16ToFloat32(binary.LittleEndian.Uint16(b)))
	case arrayx.BFloat16:
		return float64(arrayx.BFloat16ToFloat32(binary.LittleEndian.Uint16(b)))
	case arrayx.Float32:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b))
}

func elemComplex(dt arrayx.DType, data []byte, i int) (re, im float64) {
	b := data[i*dt.ItemSize():]
	if dt == arrayx.Complex64 {
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b))),
			float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4:])))
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b)), math.Float64frombits(binary.LittleEndian.Uint64(b[8:]))
}
