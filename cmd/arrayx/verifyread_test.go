package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corruptBlock flips a byte of block b of the array name in dir.
func corruptBlock(t *testing.T, dir, name string, b int64) {
	t.Helper()
	h := openArray(t, dir, name).Header()
	f, err := os.OpenFile(filepath.Join(dir, name+".arx"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	off := h.DataOffset + b*h.BlockSize + 4321
	buf := make([]byte, 1)
	if _, err := f.ReadAt(buf, off); err != nil {
		t.Fatal(err)
	}
	buf[0] ^= 0x20
	if _, err := f.WriteAt(buf, off); err != nil {
		t.Fatal(err)
	}
}

// TestReadersVerify: export refuses a corrupt array by name and writes no
// file; cat refuses one whose printed blocks are corrupt, and prints one
// whose corrupt block it does not show.
func TestReadersVerify(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	// Three blocks of 4 MiB; a summarized cat shows the first and the last.
	mustRun(t, dir, "create", "mid", "--shape", "1572864", "--fill", "arange")
	mustRun(t, dir, "create", "end", "--shape", "1572864", "--fill", "arange")
	corruptBlock(t, dir, "mid", 1)
	corruptBlock(t, dir, "end", 2)

	for _, tc := range []struct {
		args  []string
		block string
	}{
		{[]string{"export", "mid", filepath.Join(out, "mid.npy")}, "block 1 "},
		{[]string{"export", "end", filepath.Join(out, "end.npy")}, "block 2 "},
		{[]string{"cat", "end"}, "block 2 "},
		{[]string{"cat", "mid", "--limit", "-1"}, "block 1 "},
	} {
		r := arrayxRun(t, dir, tc.args...)
		if r.code != 1 || r.stdout != "" || !strings.HasPrefix(r.stderr, "arrayx: "+tc.args[1]+" is corrupt: ") ||
			!strings.Contains(r.stderr, tc.block) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stdout %.40q, stderr %q; want 1, nothing, and one line naming %q", tc.args, r.code, r.stdout, r.stderr, tc.block)
		}
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("a refused export left %v", entries)
	}
	if got := mustRun(t, dir, "cat", "mid"); !strings.HasPrefix(got, "[0.000000e+00 1.000000e+00 2.000000e+00 ... ") {
		t.Errorf("cat of an array corrupt only in a block it does not print: %q", got)
	}
	// info reads no data, and keeps working.
	mustRun(t, dir, "info", "mid")
	if err := corruptError("x", errors.New("other")); err.Error() != "other" {
		t.Errorf("corruptError changed a non-checksum error: %v", err)
	}
}
