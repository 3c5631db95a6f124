package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/internal/testutil/teststore"
	"github.com/arrayx/arrayx/mmapstore"
)

// numpyScript prints each array described on stdin with numpy's print.
const numpyScript = `
import json, sys
import numpy as np
for c in json.load(sys.stdin):
    with open(c["path"], "rb") as f:
        f.seek(c["offset"])
        buf = f.read(c["nbytes"])
    a = np.frombuffer(buf, dtype=c["descr"]).reshape(c["shape"], order=c["order"])
    np.set_printoptions(threshold=c["threshold"] if c["threshold"] >= 0 else sys.maxsize)
    print(a)
    print("@@end@@")
`

type numpyCase struct {
	name  string
	dt    arrayx.DType
	shape arrayx.Shape
	order arrayx.Order
	data  []byte // raw values in memory order; nil: use create
	fill  string // create --fill, when data is nil
	limit int64  // cat --limit
}

func f64s(v ...float64) []byte {
	b := make([]byte, 0, 8*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return b
}

func f32s(v ...float64) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(x)))
	}
	return b
}

func f16s(v ...float64) []byte {
	b := make([]byte, 0, 2*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint16(b, arrayx.Float32ToFloat16(float32(x)))
	}
	return b
}

func i64s(v ...int64) []byte {
	b := make([]byte, 0, 8*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, uint64(x))
	}
	return b
}

func seqf(n int, f func(i int) float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = f(i)
	}
	return v
}

var (
	inf = math.Inf(1)
	nan = math.NaN()
)

func numpyCases() []numpyCase {
	C, F := arrayx.OrderC, arrayx.OrderF
	return []numpyCase{
		{name: "int32-2d", dt: arrayx.Int32, shape: arrayx.Shape{2, 3}, fill: "arange"},
		{name: "int8-wrap-long", dt: arrayx.Int8, shape: arrayx.Shape{300}, fill: "arange", limit: -1},
		{name: "uint64-random", dt: arrayx.Uint64, shape: arrayx.Shape{7}, fill: "random"},
		{name: "uint8-random-2d", dt: arrayx.Uint8, shape: arrayx.Shape{5, 4}, fill: "random"},
		{name: "int64-signs", dt: arrayx.Int64, shape: arrayx.Shape{2, 2}, data: i64s(-5, 100, math.MinInt64, 7)},
		{name: "int16-3d-F", dt: arrayx.Int16, shape: arrayx.Shape{2, 3, 4}, order: F, fill: "arange"},
		{name: "int32-4d", dt: arrayx.Int32, shape: arrayx.Shape{2, 2, 2, 2}, fill: "arange"},
		{name: "float64-arange-2d", dt: arrayx.Float64, shape: arrayx.Shape{2, 3}, fill: "arange"},
		{name: "float64-arange-F", dt: arrayx.Float64, shape: arrayx.Shape{3, 4}, order: F, fill: "arange"},
		{name: "float64-3d", dt: arrayx.Float64, shape: arrayx.Shape{2, 3, 4}, fill: "arange"},
		{name: "float64-fractions", dt: arrayx.Float64, shape: arrayx.Shape{3, 4},
			data: f64s(seqf(12, func(i int) float64 { return float64(i-5) / 7 })...)},
		{name: "float64-short-fractions", dt: arrayx.Float64, shape: arrayx.Shape{4},
			data: f64s(0.5, 0.25, -1.125, 3)},
		{name: "float64-rounded", dt: arrayx.Float64, shape: arrayx.Shape{3},
			data: f64s(0.123456789123, 1, 0.999999999999)},
		{name: "float64-big-positional", dt: arrayx.Float64, shape: arrayx.Shape{2},
			data: f64s(1e7, 12345678.9)},
		{name: "float64-sci", dt: arrayx.Float64, shape: arrayx.Shape{5},
			data: f64s(1e-5, 1e10, -3.5e200, 0, 1.5e-300)},
		{name: "float64-sci-ratio", dt: arrayx.Float64, shape: arrayx.Shape{3},
			data: f64s(1, 1000.5, 2.25)},
		{name: "float64-sci-big", dt: arrayx.Float64, shape: arrayx.Shape{2},
			data: f64s(1e8, 1.5)},
		{name: "float64-nonfinite", dt: arrayx.Float64, shape: arrayx.Shape{4},
			data: f64s(nan, 1.5, -inf, inf)},
		{name: "float64-nonfinite-sci", dt: arrayx.Float64, shape: arrayx.Shape{3},
			data: f64s(nan, 1e-9, inf)},
		{name: "float64-only-nonfinite", dt: arrayx.Float64, shape: arrayx.Shape{2},
			data: f64s(nan, inf)},
		{name: "float64-negzero", dt: arrayx.Float64, shape: arrayx.Shape{2}, data: f64s(math.Copysign(0, -1), 1)},
		{name: "float64-zeros", dt: arrayx.Float64, shape: arrayx.Shape{2, 2}},
		{name: "float64-random-summarized", dt: arrayx.Float64, shape: arrayx.Shape{2000}, fill: "random"},
		{name: "float64-arange-summarized", dt: arrayx.Float64, shape: arrayx.Shape{2000}, fill: "arange"},
		{name: "float64-random-wrap", dt: arrayx.Float64, shape: arrayx.Shape{3, 30}, fill: "random"},
		{name: "int32-random-summarized-2d", dt: arrayx.Int32, shape: arrayx.Shape{40, 50}, fill: "random"},
		{name: "int32-summarized-rows", dt: arrayx.Int32, shape: arrayx.Shape{600, 2}, fill: "arange"},
		{name: "float32-random-summarized-3d-F", dt: arrayx.Float32, shape: arrayx.Shape{20, 10, 10}, order: F, fill: "random"},
		{name: "float32-random", dt: arrayx.Float32, shape: arrayx.Shape{4, 5}, fill: "random"},
		{name: "float32-values", dt: arrayx.Float32, shape: arrayx.Shape{4},
			data: f32s(0.1, 1.0/3, 16777216, -2.5)},
		{name: "float32-sci-digits", dt: arrayx.Float32, shape: arrayx.Shape{3},
			data: f32s(0.1, 1.2345678e-5, 3)},
		{name: "float16-values", dt: arrayx.Float16, shape: arrayx.Shape{6},
			data: f16s(0.1, 1.0/3, 65504, 2049, 0.5, 1000)},
		{name: "float16-sci", dt: arrayx.Float16, shape: arrayx.Shape{3},
			data: f16s(6e-8, 1, 60000)},
		{name: "float16-random", dt: arrayx.Float16, shape: arrayx.Shape{3, 7}, fill: "random"},
		{name: "bool-random", dt: arrayx.Bool, shape: arrayx.Shape{4, 6}, fill: "random"},
		{name: "bool-ones", dt: arrayx.Bool, shape: arrayx.Shape{3}, fill: "ones"},
		{name: "complex128-values", dt: arrayx.Complex128, shape: arrayx.Shape{4},
			data: f64s(1, 2, 1.5, 2.25, -1, -0.5, nan, inf)},
		{name: "complex128-arange", dt: arrayx.Complex128, shape: arrayx.Shape{2, 2}, fill: "arange"},
		{name: "complex64-random", dt: arrayx.Complex64, shape: arrayx.Shape{3, 3}, fill: "random"},
		{name: "scalar-float64", dt: arrayx.Float64, shape: arrayx.Shape{}, fill: "ones"},
		{name: "scalar-float64-fraction", dt: arrayx.Float64, shape: arrayx.Shape{}, data: f64s(0.1)},
		{name: "scalar-float64-1e16", dt: arrayx.Float64, shape: arrayx.Shape{}, data: f64s(1e16)},
		{name: "scalar-float64-small", dt: arrayx.Float64, shape: arrayx.Shape{}, data: f64s(-1.5e-5)},
		{name: "scalar-float32", dt: arrayx.Float32, shape: arrayx.Shape{}, data: f32s(0.1)},
		{name: "scalar-float16", dt: arrayx.Float16, shape: arrayx.Shape{}, data: f16s(65504)},
		{name: "scalar-int", dt: arrayx.Int16, shape: arrayx.Shape{}, fill: "ones"},
		{name: "scalar-bool", dt: arrayx.Bool, shape: arrayx.Shape{}, fill: "ones"},
		{name: "scalar-complex", dt: arrayx.Complex128, shape: arrayx.Shape{}, data: f64s(1, 2)},
		{name: "scalar-complex-imag", dt: arrayx.Complex128, shape: arrayx.Shape{}, data: f64s(0, 2)},
		{name: "empty-2d", dt: arrayx.Float64, shape: arrayx.Shape{2, 0}},
		{name: "empty-1d", dt: arrayx.Int8, shape: arrayx.Shape{0}},
		{name: "limit-10", dt: arrayx.Int64, shape: arrayx.Shape{20}, fill: "arange", limit: 10},
		{name: "limit-0", dt: arrayx.Float64, shape: arrayx.Shape{7}, fill: "arange", limit: 0},
		{name: "limit-none", dt: arrayx.Float32, shape: arrayx.Shape{1200}, fill: "arange", limit: -1},
		{name: "C-order", dt: arrayx.Float64, shape: arrayx.Shape{3, 4}, order: C, fill: "arange"},
	}
}

// TestCatMatchesNumpy compares cat with numpy's print of the same bytes. It
// fails, rather than skips, without numpy: the comparison is the point.
func TestCatMatchesNumpy(t *testing.T) {
	compareWithNumpy(t, t.TempDir(), numpyCases())
}

// compareWithNumpy creates each case's array, runs cat on it, and compares
// the output with numpy's print of the same bytes, all cases in one Python.
func compareWithNumpy(t *testing.T, dir string, cases []numpyCase) {
	t.Helper()
	testutil.RequirePython(t, "numpy")
	st := teststore.At(t, dir)

	type pyCase struct {
		Path      string  `json:"path"`
		Offset    int64   `json:"offset"`
		NBytes    int64   `json:"nbytes"`
		Descr     string  `json:"descr"`
		Shape     []int64 `json:"shape"`
		Order     string  `json:"order"`
		Threshold int64   `json:"threshold"`
	}
	var py []pyCase
	var got []string
	for _, c := range cases {
		if c.order == 0 {
			c.order = arrayx.OrderC
		}
		limit := c.limit
		if limit == 0 && !strings.HasPrefix(c.name, "limit-0") {
			limit = npThreshold
		}
		if c.data != nil {
			teststore.Put(t, st, c.name, c.dt, c.shape, c.order, c.data)
		} else {
			fill := c.fill
			if fill == "" {
				fill = "zeros"
			}
			mustRun(t, dir, "create", c.name, "--dtype", c.dt.String(), "--shape", shapeArg(c.shape),
				"--order", c.order.String(), "--fill", fill, "--seed", "7")
		}
		got = append(got, mustRun(t, dir, "cat", c.name, "--limit", fmt.Sprint(limit)))
		h, err := st.Stat(c.name)
		if err != nil {
			t.Fatal(err)
		}
		descr, _ := c.dt.NumpyDescr()
		py = append(py, pyCase{
			Path: filepath.Join(dir, c.name+mmapstore.Ext), Offset: h.DataOffset, NBytes: h.NBytes,
			Descr: descr, Shape: append([]int64{}, c.shape...), Order: c.order.String(), Threshold: limit,
		})
	}
	in, err := json.Marshal(py)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testutil.Python, "-c", numpyScript)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("numpy: %v: %s", err, stderr.String())
	}
	want := strings.Split(string(out), "@@end@@\n")
	if len(want) != len(cases)+1 {
		t.Fatalf("numpy printed %d arrays for %d cases", len(want)-1, len(cases))
	}
	for i, c := range cases {
		if got[i] != want[i] {
			t.Errorf("%s: cat differs from numpy\ncat:\n%s\nnumpy:\n%s", c.name, got[i], want[i])
		}
	}
}

func shapeArg(s arrayx.Shape) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return strings.Join(parts, ",")
}

// bfloat16 has no numpy dtype: its expected output is spelled out, with the
// shortest digits that identify each bfloat16 value (as ml_dtypes prints).
func TestCatBFloat16(t *testing.T) {
	dir := t.TempDir()
	st := teststore.At(t, dir)
	bf := func(v ...float32) []byte {
		var b []byte
		for _, x := range v {
			b = binary.LittleEndian.AppendUint16(b, arrayx.Float32ToBFloat16(x))
		}
		return b
	}
	tests := []struct {
		name  string
		shape arrayx.Shape
		data  []byte
		want  string
	}{
		{"values", arrayx.Shape{4}, bf(0.1, 1, 2.5, -2.5), "[ 0.1  1.   2.5 -2.5]\n"},
		{"rounded", arrayx.Shape{3}, bf(257, 1, 100), "[256.   1. 100.]\n"},
		{"third", arrayx.Shape{2}, bf(1.0/3, 3), "[0.334 3.   ]\n"}, // 0.333 would be another bfloat16
		{"sci-digits", arrayx.Shape{3}, bf(0.1, 1000, 1.234), "[1.001e-01 1.000e+03 1.234e+00]\n"},
		{"scalar", arrayx.Shape{}, bf(0.1), "0.1\n"},
		{"big", arrayx.Shape{2}, bf(3e38, 1), "[3.e+38 1.e+00]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			teststore.Put(t, st, tt.name, arrayx.BFloat16, tt.shape, arrayx.OrderC, tt.data)
			if got := mustRun(t, dir, "cat", tt.name); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
