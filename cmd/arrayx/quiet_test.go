package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuiet: with -q the commands that change or check things print
// nothing on success and their errors as ever; those whose output is the
// answer print it.
func TestQuiet(t *testing.T) {
	dir, work := t.TempDir(), t.TempDir()
	token := filepath.Join(t.TempDir(), "token")
	os.WriteFile(token, []byte("quiet-secret-0123456789\n"), 0o600)
	addr, stop := startServe(t, t.TempDir(), "--token-file", token)
	t.Cleanup(func() { stop() })
	npy := filepath.Join(work, "x.npy")
	for _, args := range [][]string{
		{"create", "x", "--shape", "4", "--fill", "arange"},
		{"verify", "x"},
		{"export", "x", npy},
		{"import", npy, "y"},
		{"cp", "x", filepath.Join(work, "x.arx")},
		{"push", "x", addr, "--token-file", token},
		{"pull", addr, "x", "--as", "z", "--token-file", token},
		{"sync", dir, addr + "/mirror", "--token-file", token},
		{"rm", "y", "z"},
	} {
		r := arrayxRun(t, dir, append(args, "-q")...)
		if r.code != 0 || r.stdout != "" || r.stderr != "" {
			t.Errorf("%v -q: exit %d, stdout %q, stderr %q; want 0 and nothing", args, r.code, r.stdout, r.stderr)
		}
	}
	// Without -q the same commands say what they did.
	for _, args := range [][]string{{"create", "w", "--shape", "4"}, {"verify", "w"}, {"rm", "w"}} {
		if r := arrayxRun(t, dir, args...); r.code != 0 || r.stdout == "" {
			t.Errorf("%v without -q: exit %d, stdout %q; want a line", args, r.code, r.stdout)
		}
	}
	for _, args := range [][]string{{"cat", "x"}, {"info", "x"}, {"ls"}, {"sync", dir, addr + "/mirror", "--token-file", token, "--dry-run"}} {
		if r := arrayxRun(t, dir, append(args, "-q")...); r.code != 0 || r.stdout == "" {
			t.Errorf("%v -q: exit %d, stdout %q; want its output", args, r.code, r.stdout)
		}
	}
	if r := runRaw(t, "-q", "--store", dir, "rm", "nope"); r.code != 1 || !strings.HasPrefix(r.stderr, `arrayx: no array "nope"`) {
		t.Errorf("-q rm nope: exit %d, stderr %q; want the error", r.code, r.stderr)
	}
}

// TestSeedDecimal: --seed is read in decimal only; Go's 0x and 0 prefixes
// are refused rather than read as hex or octal.
func TestSeedDecimal(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "create", "a", "--shape", "8", "--fill", "random", "--seed", "010")
	mustRun(t, dir, "create", "b", "--shape", "8", "--fill", "random", "--seed", "10")
	if a, b := mustRun(t, dir, "cat", "a"), mustRun(t, dir, "cat", "b"); a != b {
		t.Errorf("--seed 010 and --seed 10 differ:\n%s%s", a, b)
	}
	mustRun(t, dir, "create", "c", "--shape", "8", "--fill", "random", "--seed", "18446744073709551615")
	for _, bad := range []string{"0x10", "-1", "1e3", "18446744073709551616", ""} {
		r := arrayxRun(t, dir, "create", "d", "--shape", "8", "--fill", "random", "--seed", bad)
		if r.code != 2 || !strings.Contains(r.stderr, "want a decimal number") {
			t.Errorf("--seed %q: exit %d, stderr %q; want a usage error", bad, r.code, r.stderr)
		}
	}
}
