package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestArxPaths: an argument ending in .arx is a file path for every verb:
// those that read one array open the file, those that write, remove or wait
// for a store name refuse it.
func TestArxPaths(t *testing.T) {
	dir, work := t.TempDir(), t.TempDir()
	token := filepath.Join(t.TempDir(), "token")
	os.WriteFile(token, []byte("arx-secret-0123456789\n"), 0o600)
	remote := t.TempDir()
	addr, stop := startServe(t, remote, "--token-file", token)
	t.Cleanup(func() { stop() })
	mustRun(t, dir, "create", "x", "--dtype", "int8", "--shape", "3", "--fill", "arange")
	file := filepath.Join(work, "f.arx")
	mustRun(t, dir, "cp", "x", file)

	// Readers take the file, and see what the store's x holds.
	if got, want := mustRun(t, dir, "cat", file), mustRun(t, dir, "cat", "x"); got != want {
		t.Errorf("cat %s: %q, want %q", file, got, want)
	}
	if got := mustRun(t, dir, "info", file); !strings.HasPrefix(got, "name:        "+file+"\n") || !strings.Contains(got, "shape:       (3,)\n") {
		t.Errorf("info %s:\n%s", file, got)
	}
	mustRun(t, dir, "verify", file)
	mustRun(t, dir, "export", file, filepath.Join(work, "f.npy"))
	if out := mustRun(t, dir, "push", file, addr, "--token-file", token); !strings.Contains(out, " as f: ") {
		t.Errorf("push %s: %q, want it pushed as f", file, out)
	}
	if got := mustRun(t, remote, "cat", "f"); got != "[0 1 2]\n" {
		t.Errorf("the server's f: %q", got)
	}
	r := arrayxRun(t, dir, "cat", filepath.Join(work, "nope.arx"))
	if want := "arrayx: no array file " + filepath.Join(work, "nope.arx") + "\n"; r.code != 1 || r.stderr != want {
		t.Errorf("cat of a missing file: exit %d, stderr %q, want %q", r.code, r.stderr, want)
	}

	// Writers, rm and wait refuse, naming the store name meant.
	for _, args := range [][]string{
		{"create", "y.arx", "--shape", "2"},
		{"import", filepath.Join(work, "f.npy"), "y.arx"},
		{"pull", addr, "f", "--as", "y.arx", "--token-file", token},
		{"pull", addr, "f.arx", "--token-file", token},
		{"push", "x", addr, "--as", "y.arx", "--token-file", token},
		{"rm", "x.arx"},
		{"wait", "x.arx"},
		{"info", "x.arx", "--remote", addr, "--token-file", token},
	} {
		r := arrayxRun(t, dir, args...)
		if r.code != 2 || !strings.Contains(r.stderr, "ends in .arx, so it is a file path, and this names an array in the store (write ") {
			t.Errorf("%v: exit %d, stderr %q; want a usage error", args, r.code, r.stderr)
		}
	}
	if got := mustRun(t, dir, "ls"); strings.Count(got, "\n") != 1 {
		t.Errorf("the refusals changed the store:\n%s", got)
	}
}

// TestLocalFileErrors: the usual mistakes with local files read as
// sentences, without the hidden temporary file's name or syscall text.
func TestLocalFileErrors(t *testing.T) {
	dir, work := t.TempDir(), t.TempDir()
	mustRun(t, dir, "create", "x", "--shape", "3")
	missing := filepath.Join(work, "no", "such")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"export", "x", filepath.Join(missing, "x.npy")}, "cannot write " + filepath.Join(missing, "x.npy") + ": no directory " + missing},
		{[]string{"cp", "x", filepath.Join(missing, "x.arx")}, "cannot write " + filepath.Join(missing, "x.arx") + ": no directory " + missing},
		{[]string{"import", filepath.Join(work, "none.npy"), "y"}, "no file " + filepath.Join(work, "none.npy")},
		{[]string{"cp", filepath.Join(work, "none.arx"), "y"}, "no array file " + filepath.Join(work, "none.arx")},
	} {
		r := arrayxRun(t, dir, tc.args...)
		if r.code != 1 || r.stderr != "arrayx: "+tc.want+"\n" {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}
