package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOverwrite checks that create, import, pull and push refuse a name
// that holds an array, leaving it as it was, and replace it with --force.
func TestOverwrite(t *testing.T) {
	local, remote := t.TempDir(), t.TempDir()
	token := filepath.Join(t.TempDir(), "token")
	os.WriteFile(token, []byte("overwrite-secret\n"), 0o600)
	addr, stop := startServe(t, remote, "--token-file", token)
	t.Cleanup(func() { stop() })
	remote2 := t.TempDir()
	addr2, stop2 := startServe(t, remote2, "--token-file", token)
	t.Cleanup(func() { stop2() })
	npy := filepath.Join(t.TempDir(), "x.npy")

	mustRun(t, local, "create", "x", "--dtype", "int8", "--shape", "3", "--fill", "arange")
	mustRun(t, local, "create", "y", "--dtype", "int8", "--shape", "2", "--fill", "ones")
	mustRun(t, local, "export", "y", npy)
	mustRun(t, remote, "create", "x", "--dtype", "int8", "--shape", "4", "--fill", "ones")
	mustRun(t, remote2, "create", "r/y", "--dtype", "int8", "--shape", "1", "--fill", "ones")

	refused := []struct {
		args  []string
		where string // the store that must keep x as it was
		msg   string
	}{
		{[]string{"create", "x", "--shape", "5"}, local, `array "x" already exists in store ` + local + " (use --force to replace it)"},
		{[]string{"import", npy, "x"}, local, `array "x" already exists in store ` + local},
		{[]string{"pull", addr, "x", "--token-file", token}, local, `array "x" already exists in store ` + local},
		{[]string{"push", "x", addr, "--token-file", token}, remote, `array "x" already exists on ` + addr + " (use --force to replace it)"},
		// A relayed host is checked too, before any data moves.
		{[]string{"push", "y", addr, addr2, "--as", "r/y", "--token-file", token}, remote, `array "r/y" already exists on ` + addr2},
	}
	for _, tc := range refused {
		before := mustRun(t, tc.where, "cat", "x")
		r := arrayxRun(t, local, tc.args...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %q", tc.args, r.code, r.stderr, tc.msg)
		}
		if strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: the refusal is not one line: %q", tc.args, r.stderr)
		}
		if after := mustRun(t, tc.where, "cat", "x"); after != before {
			t.Errorf("%v: x changed from %q to %q", tc.args, before, after)
		}
	}
	if got := mustRun(t, remote2, "cat", "r/y"); got != "[1]\n" {
		t.Errorf("refused relayed push changed r/y: %q", got)
	}
	if out := mustRun(t, remote, "ls"); strings.Contains(out, "r/y") {
		t.Errorf("refused relayed push published r/y on the first host:\n%s", out)
	}

	// With --force each replaces the array.
	steps := []struct {
		args  []string
		where string
		want  string // cat x afterwards
	}{
		{[]string{"create", "x", "--dtype", "int8", "--shape", "5", "--fill", "arange", "--force"}, local, "[0 1 2 3 4]\n"},
		{[]string{"push", "x", addr, "--token-file", token, "-f"}, remote, "[0 1 2 3 4]\n"},
		{[]string{"import", npy, "x", "--force"}, local, "[1 1]\n"},
		{[]string{"pull", addr, "x", "--token-file", token, "--force"}, local, "[0 1 2 3 4]\n"},
	}
	for _, s := range steps {
		mustRun(t, local, s.args...)
		if got := mustRun(t, s.where, "cat", "x"); got != s.want {
			t.Errorf("%v: x is %q, want %q", s.args, got, s.want)
		}
	}
}
