package main

import (
	"strings"
	"testing"
)

func TestRm(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "create", "x", "--shape", "2")
	mustRun(t, dir, "create", "d/y", "--shape", "2")
	if got := mustRun(t, dir, "rm", "x"); got != "removed x\n" {
		t.Errorf("rm: %q", got)
	}
	if got := mustRun(t, dir, "rm", "d/y"); got != "removed d/y\n" {
		t.Errorf("rm: %q", got)
	}
	if got := mustRun(t, dir, "ls"); got != "" {
		t.Errorf("ls after rm: %q", got)
	}
	r := arrayxRun(t, dir, "rm", "x")
	if want := `arrayx: no array "x" in store ` + dir + "\n"; r.code != 1 || r.stderr != want {
		t.Errorf("rm again: exit %d, stderr %q, want 1 and %q", r.code, r.stderr, want)
	}
	if r := arrayxRun(t, dir, "rm", "x", "y"); r.code != 2 || !strings.Contains(r.stderr, "want one array NAME") {
		t.Errorf("rm two names: exit %d, stderr %q", r.code, r.stderr)
	}
}
