package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/arrayx/arrayx/internal/testutil"
)

// TestSyncBench runs the sync group as a user would, at a tiny size: every
// step and tool runs, every destination ends equal to the source (the
// harness checks it), and arrayx's bytes on the wire at each step are the
// data it had to move plus a little protocol.
func TestSyncBench(t *testing.T) {
	if _, err := exec.LookPath("rsync"); err != nil {
		testutil.Unavailable(t, "rsync is not installed (apt-get install rsync)")
	}
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := syncMain([]string{"--big", "64MiB", "--smalls", "20", "--small", "64KiB", "--runs", "1", "--out", out}, &stdout, &stderr)
	t.Log(stderr.String())
	if code != 0 {
		t.Fatalf("exit code %d", code)
	}
	b, err := os.ReadFile(filepath.Join(out, "sync.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res SyncResults
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	const block = 4 << 20
	// What arrayx must move at each step: everything, one block, three,
	// the appended block(s) (64 MiB of rows after a 64 MiB array: 16
	// blocks), nothing, one small array.
	want := map[string]int64{"initial": 64<<20 + 20*64<<10, "one-block": block, "three-blocks": 3 * block,
		"append": 16 * block, "nothing": 0, "one-small": 64 << 10}
	if len(res.Steps) != len(want) {
		t.Fatalf("%d steps", len(res.Steps))
	}
	for _, s := range res.Steps {
		for _, tool := range s.Tools {
			if len(tool.Runs) != 1 || tool.Runs[0].Error != "" {
				t.Fatalf("%s %s: %+v", s.ID, tool.Tool, tool.Runs)
			}
			if tool.Tool != "arrayx" {
				continue
			}
			// The loopback interface also carries whatever else runs: a
			// slack of 512 KiB, an eighth of a block, still catches a block
			// sent that need not be.
			w := tool.Runs[0].Wire
			if w < want[s.ID] || w > want[s.ID]+want[s.ID]/100+512<<10 {
				t.Errorf("%s: arrayx sent %d bytes on the wire, want %d plus at most 1%% and 512 KiB", s.ID, w, want[s.ID])
			}
		}
	}
	if md, err := os.ReadFile(filepath.Join(out, "sync.md")); err != nil || !bytes.Equal(md, stdout.Bytes()) {
		t.Errorf("sync.md missing or not what was printed (%v)", err)
	}
}
