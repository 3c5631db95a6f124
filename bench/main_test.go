package main

import (
	"os"
	"testing"
	"time"
)

// TestMain lets the test binary serve as the harness's children: the
// end-to-end tests re-execute it in a role, exactly as the harness
// re-executes its own binary.
var startTime = time.Now()

func TestMain(m *testing.M) {
	if code, ok := childMain(); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"64MiB", 64 << 20},
		{"1GiB", 1 << 30},
		{" 512KiB", 512 << 10},
		{"4096", 4096},
		{"8B", 8},
	} {
		if got, err := parseSize(tc.in); err != nil || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "MiB", "-1MiB", "0", "12", "1.5GiB", "64MB", "99999999999GiB"} {
		if got, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", bad, got)
		}
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--sizes", "12"},
		{"--runs", "0", "--sizes", "1MiB"},
		{"--cases", "("},
		{"--flight-batch", "3"},
		{"extra"},
	} {
		if code := benchMain(args, discard{}, discard{}); code == 0 {
			t.Errorf("benchMain(%q) = 0, want an error", args)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
