package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEndToEnd runs the whole harness as a user would, every case at a tiny
// size, and checks that every case ran, verified its data and was written
// out.
func TestEndToEnd(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := benchMain([]string{"--sizes", "1MiB,4MiB", "--runs", "1", "--warmup", "0", "--flight-batch", "512KiB", "--out", out}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit code %d:\n%s", code, stderr.String())
	}
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res Results
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Sizes) != 2 {
		t.Fatalf("%d sizes", len(res.Sizes))
	}
	for _, s := range res.Sizes {
		if len(s.Cases) != len(cases) {
			t.Errorf("%d: %d cases, want %d", s.Bytes, len(s.Cases), len(cases))
		}
		for _, c := range s.Cases {
			if len(c.Runs) != 1 {
				t.Errorf("%s at %d: %d runs", c.ID, s.Bytes, len(c.Runs))
				continue
			}
			r := c.Runs[0]
			checked := r.Receiver != nil && (r.Receiver.Window.Verified != "" || r.Verified == "the case's check passed")
			if !r.ok() || r.GBps <= 0 || r.Verified == "" || !checked {
				t.Errorf("%s at %d did not run and verify: %+v", c.ID, s.Bytes, r)
			}
			if r.Receiver != nil && r.Receiver.Window.MaxRSS <= 0 {
				t.Errorf("%s: no peak RSS", c.ID)
			}
			if len(c.Procs) == 2 && (r.Sender == nil || r.Sender.Total.User+r.Sender.Total.Sys <= 0) {
				t.Errorf("%s: no sender usage", c.ID)
			}
			t.Logf("%8d %-16s %8.2f GB/s  %s; %s", s.Bytes, c.ID, r.GBps, r.Method, r.Verified)
		}
	}
	for _, want := range []string{"sendfile", "write", "DoGet, 8 batches", "DoPut, 8 batches"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("results.json does not mention %q", want)
		}
	}
	md, err := os.ReadFile(filepath.Join(out, "results.md"))
	if err != nil || !bytes.Equal(md, stdout.Bytes()) || !bytes.Contains(md, []byte("| arrayx push (sendfile) |")) {
		t.Errorf("results.md missing or not what was printed (%v)", err)
	}
	f, err := os.Open(filepath.Join(out, "throughput.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("throughput.png: %v", err)
	}
	left, _ := filepath.Glob("/dev/shm/arrayx-peers-*")
	for _, d := range left {
		if fi, err := os.Stat(d); err == nil && fi.ModTime().After(startTime) {
			t.Errorf("left behind: %s", d)
		}
	}
}

// TestVerificationFails runs every case against the wrong expectation
// (element i should read i+1): each must fail, so the harness would exit
// non-zero.
func TestVerificationFails(t *testing.T) {
	res, err := run(t.Context(), options{Sizes: []int64{1 << 20}, Runs: 1, Dir: "/dev/shm", FlightRows: 1 << 15, Shift: 1}, cases)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Sizes[0].Cases {
		r := c.Runs[0]
		if r.ok() {
			t.Errorf("%s verified wrong data: %+v", c.ID, r)
			continue
		}
		if !strings.Contains(r.Error, "want") {
			t.Errorf("%s failed for another reason: %s", c.ID, r.Error)
		}
		t.Logf("%-16s %s", c.ID, r.Error)
	}
	if res.failures() != len(cases) {
		t.Errorf("%d failures, want %d", res.failures(), len(cases))
	}
}
