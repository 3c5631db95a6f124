package main

import (
	"math"
	"slices"
)

// Spread is the median of a set of measurements with its extremes.
type Spread struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

// spread summarizes xs, ignoring NaNs (failed runs); all fields are NaN when
// nothing is left.
func spread(xs []float64) Spread {
	v := finite(xs)
	if len(v) == 0 {
		return Spread{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	return Spread{Median: median(v), Min: slices.Min(v), Max: slices.Max(v), N: len(v)}
}

// median returns the median of xs (the mean of the middle two for an even
// count), NaN for none. NaNs in xs are ignored.
func median(xs []float64) float64 {
	v := finite(xs)
	if len(v) == 0 {
		return math.NaN()
	}
	slices.Sort(v)
	m := len(v) / 2
	if len(v)%2 == 1 {
		return v[m]
	}
	return (v[m-1] + v[m]) / 2
}

// finite returns a copy of xs without NaNs and infinities.
func finite(xs []float64) []float64 {
	v := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			v = append(v, x)
		}
	}
	return v
}

// ratios divides xs[i] by ref[i] pairwise: each case is compared with the
// reference from the same round (the interleaved rounds run back to back), so
// slow drift in the machine's speed cancels. A missing or failed pair is NaN.
func ratios(xs, ref []float64) []float64 {
	out := make([]float64, len(xs))
	for i := range xs {
		out[i] = math.NaN()
		if i < len(ref) && ref[i] > 0 && !math.IsNaN(xs[i]) {
			out[i] = xs[i] / ref[i]
		}
	}
	return out
}

// perGB scales a per-run quantity to one gigabyte (1e9 bytes) moved.
func perGB(x float64, nbytes int64) float64 {
	if nbytes <= 0 {
		return math.NaN()
	}
	return x / (float64(nbytes) / 1e9)
}
