package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportImportStdio: export NAME - writes the .npy to stdout, byte for
// byte what export to a file writes, and import - NAME reads it from stdin.
func TestExportImportStdio(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "create", "x", "--dtype", "int16", "--shape", "3,5", "--order", "F", "--fill", "arange")
	var out, errb bytes.Buffer
	if code := runIO(context.Background(), []string{"export", "--store", dir, "x", "-"}, nil, &out, &errb); code != 0 {
		t.Fatalf("export x -: exit %d, stderr %q", code, errb.String())
	}
	file := filepath.Join(t.TempDir(), "x.npy")
	mustRun(t, dir, "export", "x", file)
	if want, _ := os.ReadFile(file); !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("export x - wrote %d bytes, unlike the %d of export to a file", out.Len(), len(want))
	}

	npy := bytes.Clone(out.Bytes())
	out.Reset()
	if code := runIO(context.Background(), []string{"import", "--store", dir, "-", "y", "--attr", "from=stdin"}, bytes.NewReader(npy), &out, &errb); code != 0 {
		t.Fatalf("import - y: exit %d, stderr %q", code, errb.String())
	}
	if got := out.String(); !strings.HasPrefix(got, "imported - as y: int16 (3, 5) F, 30 B, ") {
		t.Errorf("import - y printed %q", got)
	}
	if x, y := mustRun(t, dir, "cat", "x"), mustRun(t, dir, "cat", "y"); x != y {
		t.Errorf("y prints\n%s\nx prints\n%s", y, x)
	}

	// A truncated stream is refused, and nothing is published.
	errb.Reset()
	code := runIO(context.Background(), []string{"import", "--store", dir, "-", "z"}, bytes.NewReader(npy[:len(npy)-1]), &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "the stream ends in the data") {
		t.Errorf("import of a cut stream: exit %d, stderr %q", code, errb.String())
	}
	if r := arrayxRun(t, dir, "info", "z"); r.code != 1 {
		t.Errorf("a refused import published z: %q", r.stdout)
	}
}
