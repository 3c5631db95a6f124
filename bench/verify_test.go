package main

import (
	"strings"
	"testing"
)

func arange(n int64) []float64 {
	x := make([]float64, n)
	fillArange(x)
	return x
}

func TestCheckerWhole(t *testing.T) {
	x := arange(100_003)
	k := newChecker(Params{N: int64(len(x))})
	if err := k.add(x); err != nil {
		t.Fatal(err)
	}
	v, err := k.done()
	if err != nil {
		t.Fatal(err)
	}
	if k.samples != maxSamples || !strings.Contains(v, "100003 elements") {
		t.Errorf("%d samples, %q", k.samples, v)
	}
}

func TestCheckerPieces(t *testing.T) {
	x := arange(10_000)
	k := newChecker(Params{N: int64(len(x))})
	for off := 0; off < len(x); off += 777 {
		if err := k.add(x[off:min(off+777, len(x))]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := k.done(); err != nil {
		t.Fatal(err)
	}
}

func TestCheckerCatches(t *testing.T) {
	n := int64(4096)
	for _, tc := range []struct {
		name  string
		feed  func(x []float64) []float64
		shift int64
		want  string
	}{
		{"sampled element wrong", func(x []float64) []float64 { x[0] = -1; return x }, 0, "element 0"},
		{"unsampled element wrong", func(x []float64) []float64 { x[1] += 8; return x }, 0, "sum"},
		{"short", func(x []float64) []float64 { return x[:n-1] }, 0, "received 4095"},
		{"shifted", func(x []float64) []float64 { return x }, 1, "element 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newChecker(Params{N: n, Shift: tc.shift})
			err := k.add(tc.feed(arange(n)))
			if err == nil {
				_, err = k.done()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	k := newChecker(Params{N: 3})
	if err := k.add(arange(4)); err == nil {
		t.Error("more elements than expected went unnoticed")
	}
}

func TestExpectedSum(t *testing.T) {
	for _, tc := range []struct {
		n, shift int64
		want     float64
	}{
		{0, 0, 0},
		{1, 0, 0},
		{4, 0, 6},
		{4, 1, 10},
		{1 << 27, 0, float64((1<<27)*((1<<27)-1)) / 2},
	} {
		if got := expectedSum(tc.n, tc.shift); got != tc.want {
			t.Errorf("expectedSum(%d, %d) = %v, want %v", tc.n, tc.shift, got, tc.want)
		}
	}
	// Beyond 2^53 the sum is compared to a relative 1e-9.
	n := int64(1 << 28)
	want := expectedSum(n, 0)
	if err := checkSum(want*(1+1e-12), n, 0); err != nil {
		t.Error(err)
	}
	if err := checkSum(want*(1+1e-6), n, 0); err == nil {
		t.Error("a sum off by 1e-6 passed")
	}
}

func TestSum4(t *testing.T) {
	for n := range int64(11) {
		if got, want := sum4(arange(n)), expectedSum(n, 0); got != want {
			t.Errorf("sum4(arange(%d)) = %v, want %v", n, got, want)
		}
	}
}
