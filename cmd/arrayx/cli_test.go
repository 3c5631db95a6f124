package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arrayx/arrayx/mmapstore"
)

// result is one in-process run of the command line.
type result struct {
	stdout, stderr string
	code           int
}

// arrayxRun runs the CLI in-process with --store dir after the verb.
func arrayxRun(t testing.TB, dir string, args ...string) result {
	t.Helper()
	if len(args) > 0 {
		args = append([]string{args[0], "--store", dir}, args[1:]...)
	}
	return runRaw(t, args...)
}

func runRaw(t testing.TB, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return result{out.String(), errb.String(), code}
}

// mustRun runs a command that must succeed and returns its stdout.
func mustRun(t testing.TB, dir string, args ...string) string {
	t.Helper()
	r := arrayxRun(t, dir, args...)
	if r.code != 0 {
		t.Fatalf("arrayx %s: exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// openArray opens a sealed array of the store for inspection.
func openArray(t testing.TB, dir, name string) *mmapstore.Array {
	t.Helper()
	st, err := mmapstore.OpenStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a, err := st.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "create", "x", "--shape", "2,3", "--fill", "arange")
	tests := []struct {
		name    string
		args    []string
		code    int
		wantErr string // substring of stderr
	}{
		{"no-command", nil, 2, ""},
		{"help", []string{"help"}, 0, ""},
		{"unknown-verb", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"unknown-flag", []string{"ls", "--nope"}, 2, "unknown flag: --nope"},
		{"verb-help", []string{"cat", "--help"}, 0, ""},
		{"info-missing-arg", []string{"info"}, 2, "info: missing array NAME"},
		{"info-extra-arg", []string{"info", "a", "b"}, 2, "want one array NAME, got 2 arguments"},
		{"cat-missing-arg", []string{"cat"}, 2, "missing array NAME"},
		{"verify-missing-arg", []string{"verify"}, 2, "missing array NAME"},
		{"rm-missing-arg", []string{"rm"}, 2, "missing array NAME"},
		{"create-missing-arg", []string{"create", "--shape", "3"}, 2, "missing array NAME"},
		{"ls-extra-arg", []string{"ls", "x"}, 2, "takes no arguments"},
		{"bad-name-dotdot", []string{"info", "../x"}, 2, `invalid array name: "../x"`},
		{"bad-name-hidden", []string{"cat", ".hidden"}, 2, `invalid array name: ".hidden"`},
		{"bad-name-create", []string{"create", "a//b", "--shape", "1"}, 2, "invalid array name"},
		{"bad-name-rm", []string{"rm", "a b"}, 2, "invalid array name"},
		{"missing-info", []string{"info", "foo"}, 1, `no array "foo" in store ` + dir},
		{"missing-cat", []string{"cat", "foo"}, 1, `no array "foo" in store ` + dir},
		{"missing-verify", []string{"verify", "foo"}, 1, `no array "foo" in store ` + dir},
		{"missing-rm", []string{"rm", "sub/foo"}, 1, `no array "sub/foo" in store ` + dir},
		{"ok-info", []string{"info", "x"}, 0, ""},
		{"ok-cat", []string{"cat", "x"}, 0, ""},
		{"bad-limit", []string{"cat", "x", "--limit", "-2"}, 2, "invalid --limit -2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := arrayxRun(t, dir, tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", r.code, tt.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("stderr %q does not contain %q", r.stderr, tt.wantErr)
			}
			if tt.code != 0 && !strings.HasPrefix(r.stderr, "arrayx: ") && tt.args != nil {
				t.Errorf("stderr %q: want an \"arrayx: \" message", r.stderr)
			}
			if tt.code == 1 && strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("runtime error is not one line: %q", r.stderr)
			}
		})
	}
}

// TestGlobalFlagsBeforeVerb checks that --store before the verb is honoured
// (the verb's flag set must not reset it to the default).
func TestGlobalFlagsBeforeVerb(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(mmapstore.EnvStore, filepath.Join(t.TempDir(), "wrong"))
	if r := runRaw(t, "--store", dir, "create", "g", "--shape", "2"); r.code != 0 {
		t.Fatalf("create: exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "g.arx")); err != nil {
		t.Fatalf("array not in --store dir: %v", err)
	}
	if r := runRaw(t, "--store", dir, "ls"); r.stdout == "" || !strings.HasPrefix(r.stdout, "g ") {
		t.Fatalf("ls with --store before verb: %q", r.stdout)
	}
	if r := runRaw(t, "-q", "--store", dir, "cat", "g"); r.stdout != "[0. 0.]\n" {
		t.Fatalf("cat: %q, stderr %q", r.stdout, r.stderr)
	}
}

func TestUsageListsVerbs(t *testing.T) {
	r := runRaw(t, "help")
	for _, v := range []string{"create", "info", "ls", "verify", "rm", "cat"} {
		if !strings.Contains(r.stdout, "  "+v+" ") {
			t.Errorf("usage does not list %s:\n%s", v, r.stdout)
		}
	}
}
