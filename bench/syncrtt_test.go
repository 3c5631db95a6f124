package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arrayx/arrayx/internal/testnet"
)

// TestSyncRTT runs the sync-rtt group as a user would, small: both
// directions in both modes sync every array (the client checks the
// report's counts), and the outputs are written.
func TestSyncRTT(t *testing.T) {
	testnet.Need(t, testnet.Options{Hosts: 2, Rate: "1gbit", Delay: 2 * time.Millisecond})
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := syncRTTMain([]string{"--delay", "2ms", "--smalls", "20", "--runs", "1", "--dir", t.TempDir(), "--out", out}, &stdout, &stderr)
	t.Log(stderr.String())
	if code != 0 {
		t.Fatalf("exit code %d", code)
	}
	b, err := os.ReadFile(filepath.Join(out, "syncrtt.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res SyncRTTResults
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Cases) != 4 {
		t.Fatalf("%d cases, want 4", len(res.Cases))
	}
	for _, c := range res.Cases {
		if len(c.Runs) != 1 || c.Runs[0].Error != "" || !(c.Seconds.Median > 0) ||
			!strings.Contains(c.Runs[0].Report, "20 checked, 0 identical, 20 sent whole") {
			t.Errorf("case %s: %+v", c.ID, c)
		}
	}
	if !strings.Contains(stdout.String(), "| push |") || !strings.Contains(stdout.String(), "| pull |") {
		t.Errorf("the table:\n%s", stdout.String())
	}
}
