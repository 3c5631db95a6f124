package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/arrayx/arrayx/arrayx"
)

func TestVerify(t *testing.T) {
	dir := t.TempDir()
	// 1 Mi float64s = 8 MiB = two 4 MiB blocks.
	mustRun(t, dir, "create", "v", "--shape", "1048576", "--fill", "arange")
	mustRun(t, dir, "create", "empty", "--shape", "0")
	tests := []struct{ name, want string }{
		{"v", `^v: ok \(2 blocks, [0-9.]+ GB/s\)\n$`},
		{"empty", `^empty: ok \(0 blocks, ([0-9.]+|-) GB/s\)\n$`},
	}
	for _, tt := range tests {
		if got := mustRun(t, dir, "verify", tt.name); !regexp.MustCompile(tt.want).MatchString(got) {
			t.Errorf("verify %s: %q does not match %s", tt.name, got, tt.want)
		}
	}
}

func TestVerifyCorrupt(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "create", "v", "--shape", "1048576", "--fill", "random")
	h := openArray(t, dir, "v").Header()
	// Flip a byte of the second block.
	f, err := os.OpenFile(filepath.Join(dir, "v.arx"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	off := h.DataOffset + h.BlockSize + 12345
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	f.Close()

	r := arrayxRun(t, dir, "verify", "v")
	if r.code != 1 || r.stdout != "" {
		t.Errorf("exit %d, stdout %q; want 1 and nothing", r.code, r.stdout)
	}
	if !strings.Contains(r.stderr, "v is corrupt") || !strings.Contains(r.stderr, "block 1 ") ||
		strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("stderr %q: want one line naming block 1", r.stderr)
	}
	// The error chain keeps the block for callers.
	e := &env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, storeDir: dir}
	err = (&verifyCmd{}).run(context.Background(), e, []string{"v"})
	if ce, ok := errors.AsType[*arrayx.ChecksumError](err); !ok || ce.Block != 1 || !errors.Is(err, arrayx.ErrChecksum) {
		t.Errorf("error %v: want a *arrayx.ChecksumError for block 1", err)
	}
	// info reads the header only and still works.
	mustRun(t, dir, "info", "v")
}

// TestVerifyProgress runs verify as on a terminal: a bar goes to stderr and
// is erased at the end; --quiet (or no terminal) shows none, and --quiet
// no "ok" line either.
func TestVerifyProgress(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "create", "v", "--shape", "1048576")
	for _, quiet := range []bool{false, true} {
		var out, errb bytes.Buffer
		e := &env{stdout: &out, stderr: &errb, storeDir: dir, tty: true, quiet: quiet}
		if err := (&verifyCmd{}).run(context.Background(), e, []string{"v"}); err != nil {
			t.Fatal(err)
		}
		if ok := strings.HasPrefix(out.String(), "v: ok (2 blocks"); ok == quiet || quiet && out.Len() != 0 {
			t.Errorf("quiet=%v: stdout %q", quiet, out.String()) // -q: errors only
		}
		if quiet != (errb.Len() == 0) {
			t.Errorf("quiet=%v: stderr %q", quiet, errb.String())
		}
		if !quiet && (!strings.Contains(errb.String(), "verify v") || !strings.HasSuffix(errb.String(), "\r")) {
			t.Errorf("bar: %q; want the description, erased at the end", errb.String())
		}
	}
}

func TestVerifyCanceled(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "create", "v", "--shape", "1048576")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e := &env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, storeDir: dir}
	if err := (&verifyCmd{}).run(ctx, e, []string{"v"}); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}
