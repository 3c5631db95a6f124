package main

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestCp(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	file := filepath.Join(t.TempDir(), "exported.arx")
	mustRun(t, dir, "create", "a/x", "--dtype", "int16", "--shape", "40,50", "--fill", "arange")
	want := openArray(t, dir, "a/x").Bytes()
	line := regexp.MustCompile(`^copied \S+ to .+: \d+ bytes in [0-9.]+ s, (reflink|copy_file_range|sendfile|write), verified\n$`)

	for _, tc := range []struct {
		args         []string
		store, check string // where the copy can be opened as a store array
	}{
		{[]string{"cp", "a/x", "b/y"}, dir, "b/y"},
		{[]string{"cp", "a/x", "z", "--to", other}, other, "z"},
		{[]string{"cp", "a/x", file}, "", ""},
		{[]string{"cp", file, "from-file"}, dir, "from-file"},
	} {
		out := mustRun(t, dir, tc.args...)
		if !line.MatchString(out) {
			t.Errorf("%v printed %q", tc.args, out)
		}
		if tc.check != "" && !bytes.Equal(openArray(t, tc.store, tc.check).Bytes(), want) {
			t.Errorf("%v: the copy's data differs", tc.args)
		}
	}
	if out := mustRun(t, dir, "verify", "from-file"); !strings.Contains(out, "ok") {
		t.Errorf("verify: %q", out)
	}

	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"cp", "a/x"}, 2, "want SRC and DST"},
		{[]string{"cp", "nope", "y"}, 1, `no array "nope"`},
		{[]string{"cp", "a/x", "../y"}, 2, "invalid array name"},
		{[]string{"cp", "a/x", file, "--to", other}, 2, "--to names a store"},
		{[]string{"cp", filepath.Join(dir, "missing.arx"), "y"}, 1, "no array file " + filepath.Join(dir, "missing.arx")},
	} {
		r := arrayxRun(t, dir, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, r.code, r.stderr, tc.code, tc.msg)
		}
	}
}
