package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPushPullMany: push --prefix sends every matching array, pull takes
// several names or --prefix; one array that fails does not stop the others
// and fails the command naming it.
func TestPushPullMany(t *testing.T) {
	local, remote, back := t.TempDir(), t.TempDir(), t.TempDir()
	token := filepath.Join(t.TempDir(), "token")
	os.WriteFile(token, []byte("many-secret-0123456789\n"), 0o600)
	addr, stop := startServe(t, remote, "--token-file", token)
	t.Cleanup(func() { stop() })
	for i, n := range []string{"sim/a", "sim/b", "simple", "other"} {
		mustRun(t, local, "create", n, "--dtype", "int8", "--shape", "3", "--fill", []string{"zeros", "ones", "arange", "zeros"}[i])
	}
	tok := []string{"--token-file", token}

	out := mustRun(t, local, append([]string{"push", "--prefix", "sim", addr}, tok...)...)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 3 ||
		!strings.HasPrefix(lines[0], "pushed sim/a to ") || !strings.HasPrefix(lines[2], "pushed simple to ") {
		t.Fatalf("push --prefix sim:\n%s", out)
	}
	for _, n := range []string{"sim/a", "sim/b", "simple"} {
		if got, want := mustRun(t, remote, "cat", n), mustRun(t, local, "cat", n); got != want {
			t.Errorf("the server's %s: %q, want %q", n, got, want)
		}
	}
	if r := arrayxRun(t, remote, "info", "other"); r.code != 1 {
		t.Errorf("push --prefix sim pushed other")
	}

	// Several names, one missing: the others are pulled.
	r := arrayxRun(t, back, append([]string{"pull", addr, "sim/a", "nope", "simple"}, tok...)...)
	if r.code != 1 || strings.Count(r.stdout, "pulled ") != 2 ||
		r.stderr != `arrayx: 1 of 3 arrays not pulled, the first: no array "nope" on `+addr+"\n" {
		t.Errorf("pull of three names, one missing: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	out = mustRun(t, back, append([]string{"pull", addr, "--prefix", "sim/", "--force"}, tok...)...)
	if strings.Count(out, "pulled ") != 2 || !strings.Contains(out, "pulled sim/b from ") {
		t.Errorf("pull --prefix sim/:\n%s", out)
	}
	if got := mustRun(t, back, "ls"); strings.Count(got, "\n") != 3 {
		t.Errorf("the store after the pulls:\n%s", got)
	}

	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"push", "--prefix", "nothing/", addr}, 1, `no array name starts with "nothing/" in store ` + local},
		{append([]string{"pull", addr, "--prefix", "nothing/"}, tok...), 1, `no array name starts with "nothing/" on ` + addr},
		{[]string{"push", "--prefix", "sim/", addr, "--as", "x"}, 2, "--as names one array"},
		{[]string{"pull", addr, "a", "b", "--as", "x"}, 2, "--as names one array"},
		{[]string{"pull", addr, "a", "--prefix", "sim/"}, 2, "give NAMEs or --prefix, not both"},
		{[]string{"pull", addr}, 2, "want ADDR and NAME (or --prefix P)"},
		{[]string{"push", "--prefix", "sim/"}, 2, "want at least one ADDR"},
	} {
		r := arrayxRun(t, local, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, r.code, r.stderr, tc.code, tc.msg)
		}
	}
}
