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
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"rm"}, "missing array NAME (or --prefix P)"},
		{[]string{"rm", "x", "--prefix", "d/"}, "give NAMEs or --prefix, not both"},
		{[]string{"rm", "x", "../y"}, "invalid array name"},
	} {
		if r := arrayxRun(t, dir, tc.args...); r.code != 2 || !strings.Contains(r.stderr, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.msg)
		}
	}
}

// TestRmMany removes several names, and by prefix; a missing name fails the
// command after the others are removed, as rm(1) does.
func TestRmMany(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a", "b", "c", "sim/1", "sim/2", "simple", "other/sim"} {
		mustRun(t, dir, "create", n, "--shape", "1")
	}
	if got := mustRun(t, dir, "rm", "a", "b"); got != "removed a\nremoved b\n" {
		t.Errorf("rm a b: %q", got)
	}
	r := arrayxRun(t, dir, "rm", "nope", "c")
	if r.code != 1 || r.stdout != "removed c\n" || r.stderr != `arrayx: 1 of 2 arrays not removed, the first: no array "nope" in store `+dir+"\n" {
		t.Errorf("rm nope c: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if got := mustRun(t, dir, "rm", "--prefix", "sim/"); got != "removed sim/1\nremoved sim/2\n" {
		t.Errorf("rm --prefix sim/: %q", got)
	}
	if got := mustRun(t, dir, "ls"); !strings.HasPrefix(got, "other/sim ") || !strings.Contains(got, "\nsimple ") || strings.Count(got, "\n") != 2 {
		t.Errorf("ls after rm --prefix sim/:\n%s", got)
	}
	r = arrayxRun(t, dir, "rm", "--prefix", "sim/")
	if want := `arrayx: no array name starts with "sim/" in store ` + dir + "\n"; r.code != 1 || r.stderr != want {
		t.Errorf("rm --prefix matching nothing: exit %d, stderr %q, want %q", r.code, r.stderr, want)
	}
}
