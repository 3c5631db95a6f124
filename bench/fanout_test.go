package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/arrayx/arrayx/internal/testnet"
)

// TestFanout runs the fan-out group as a user would, at a tiny size on
// three destination hosts: every case runs, every destination verifies,
// the chain leaves the source one copy, and the outputs are written.
func TestFanout(t *testing.T) {
	testnet.Need(t, testnet.Options{Hosts: 4, Rate: "1gbit"})
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := fanoutMain([]string{"--hosts", "1,3", "--size", "16MiB", "--runs", "1", "--warmup", "0", "--out", out}, &stdout, &stderr)
	t.Log(stderr.String())
	if code != 0 {
		t.Fatalf("exit code %d", code)
	}
	b, err := os.ReadFile(filepath.Join(out, "fanout.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res FanoutResults
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"single": 1, "sequential-3": 3, "chain-3": 3}
	if len(res.Cases) != len(want) {
		t.Fatalf("%d cases, want %v", len(res.Cases), want)
	}
	for _, c := range res.Cases {
		if want[c.ID] != c.Hosts || len(c.Runs) != 1 || c.Runs[0].Error != "" || len(c.Runs[0].Hosts) != c.Hosts {
			t.Fatalf("case %s: %+v", c.ID, c)
		}
		r := c.Runs[0]
		copies := float64(r.SourceTx) / float64(res.Bytes)
		t.Logf("%-12s %.2f s, source sent %.3f copies, busy %.2f", c.ID, r.Seconds, copies, r.MachineBusy)
		for _, h := range r.Hosts {
			if !h.OK || h.Bytes != res.Bytes || !h.ZeroCopy || h.CPUSeconds < 0 {
				t.Errorf("%s: host %+v", c.ID, h)
			}
		}
		// The sequential source sends every copy; the chain's sends one.
		wantCopies := float64(c.Hosts)
		if c.Mode == "chain" {
			wantCopies = 1
		}
		if copies < wantCopies || copies > wantCopies*1.05 {
			t.Errorf("%s: the source's link sent %.3f copies, want %.0f", c.ID, copies, wantCopies)
		}
	}
	md, err := os.ReadFile(filepath.Join(out, "fanout.md"))
	if err != nil || !bytes.Equal(md, stdout.Bytes()) || !bytes.Contains(md, []byte("| chain-3 | 3 |")) {
		t.Errorf("fanout.md missing or not what was printed (%v):\n%s", err, md)
	}
	f, err := os.Open(filepath.Join(out, "fanout.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("fanout.png: %v", err)
	}
}
