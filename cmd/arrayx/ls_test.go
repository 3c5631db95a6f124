package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLs(t *testing.T) {
	dir := t.TempDir()
	if out := mustRun(t, dir, "ls"); out != "" {
		t.Errorf("empty store: %q", out)
	}
	if out := mustRun(t, dir, "ls", "--json"); out != "[]\n" {
		t.Errorf("empty store, --json: %q", out)
	}
	mustRun(t, dir, "create", "zeta", "--dtype", "int8", "--shape", "3")
	mustRun(t, dir, "create", "alpha", "--shape", "1024,1024")
	mustRun(t, dir, "create", "sub/beta", "--dtype", "bool", "--shape", "2,0", "--attr", "a=b")
	want := "" +
		"alpha     float64  (1024, 1024)  8.0 MiB\n" +
		"sub/beta  bool     (2, 0)        0 B\n" +
		"zeta      int8     (3,)          3 B\n"
	if got := mustRun(t, dir, "ls"); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}

	// --json is a list of what info --json prints.
	var list []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, dir, "ls", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 {
		t.Fatalf("%d objects, want 3", len(list))
	}
	for i, name := range []string{"alpha", "sub/beta", "zeta"} {
		var info map[string]any
		if err := json.Unmarshal([]byte(mustRun(t, dir, "info", name, "--json")), &info); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(list[i], info) {
			t.Errorf("ls --json [%d] = %v, info --json = %v", i, list[i], info)
		}
	}
}

func TestLsUnreadable(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "create", "good", "--shape", "2")
	if err := os.WriteFile(filepath.Join(dir, "bad.arx"), []byte("not an array"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := arrayxRun(t, dir, "ls")
	if r.code != 1 || !strings.HasPrefix(r.stdout, "good ") || !strings.Contains(r.stderr, "1 of 2 arrays could not be read") ||
		!strings.Contains(r.stderr, "bad") {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 8 << 20: "8.0 MiB",
		3 << 30: "3.0 GiB", 1 << 62: "4.0 EiB",
	} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
