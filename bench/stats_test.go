package main

import (
	"math"
	"testing"
)

func TestMedian(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{5, nan, 1, 3}, 3},
		{[]float64{1, math.Inf(1), 2}, 1.5},
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if got := median(nil); !math.IsNaN(got) {
		t.Errorf("median(nil) = %v, want NaN", got)
	}
	if got := median([]float64{nan}); !math.IsNaN(got) {
		t.Errorf("median(NaN) = %v, want NaN", got)
	}
	in := []float64{3, 1, 2}
	median(in)
	if in[0] != 3 {
		t.Errorf("median sorted its argument: %v", in)
	}
}

func TestSpread(t *testing.T) {
	s := spread([]float64{2, math.NaN(), 9, 4, 1})
	if s != (Spread{Median: 3, Min: 1, Max: 9, N: 4}) {
		t.Errorf("spread = %+v", s)
	}
	if e := spread([]float64{math.NaN()}); e.N != 0 || !math.IsNaN(e.Median) {
		t.Errorf("spread of nothing = %+v", e)
	}
}

func TestRatios(t *testing.T) {
	nan := math.NaN()
	got := ratios([]float64{2, 3, nan, 8, 1}, []float64{1, 0, 4, 2})
	want := []float64{2, nan, nan, 4, nan} // zero reference, failed case, missing reference
	for i := range want {
		if got[i] != want[i] && !(math.IsNaN(got[i]) && math.IsNaN(want[i])) {
			t.Errorf("ratios[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	// Per-round ratios differ from the ratio of medians when the machine
	// drifts: the reference and the case were both slow in round 2.
	xs, ref := []float64{1, 0.5, 1}, []float64{2, 1, 2}
	if got := median(ratios(xs, ref)); got != 0.5 {
		t.Errorf("median ratio = %v, want 0.5", got)
	}
}

func TestPerGB(t *testing.T) {
	if got := perGB(0.5, 2e9); got != 0.25 {
		t.Errorf("perGB = %v", got)
	}
	if got := perGB(1, 0); !math.IsNaN(got) {
		t.Errorf("perGB of nothing = %v", got)
	}
}
