package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/arrayx/arrayx/internal/testutil"
)

// runNumpy runs a script with Debian's python3 and numpy. The test fails,
// never skips, without them: CI installs python3-numpy.
func runNumpy(t *testing.T, script string, args ...string) string {
	t.Helper()
	testutil.RequirePython(t, "numpy")
	out, err := exec.Command(testutil.Python, append([]string{"-c", script}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", testutil.Python, err, out)
	}
	return string(out)
}

// TestImportExport round-trips numpy files through the store: import (with
// attrs), inspect, export, and numpy loads the exports with equal arrays.
func TestImportExport(t *testing.T) {
	dir, work := t.TempDir(), t.TempDir()
	runNumpy(t, `
import sys, numpy as np
w = sys.argv[1]
np.save(w + '/a.npy', np.asfortranarray(np.arange(12, dtype='>i4').reshape(3, 4)))
np.save(w + '/b.npy', np.linspace(0, 1, 1000))
`, work)
	kernel := "copy_file_range"
	if runtime.GOOS != "linux" {
		kernel = `read/write`
	}
	a, b := filepath.Join(work, "a.npy"), filepath.Join(work, "b.npy")
	steps := []struct {
		args []string
		want string // regexp of stdout
	}{
		{[]string{"import", a, "a", "--attr", "units=m", "--attr", "source=numpy"},
			`^imported ` + regexp.QuoteMeta(a) + ` as a: int32 \(3, 4\) F, 48 B, byteswap\n$`},
		{[]string{"import", b, "sub/b"},
			`^imported ` + regexp.QuoteMeta(b) + ` as sub/b: float64 \(1000,\) C, 7\.8 KiB, ` + kernel + `\n$`},
		{[]string{"cat", "a"}, `^\[\[ 0  1  2  3\]\n \[ 4  5  6  7\]\n \[ 8  9 10 11\]\]\n$`},
		{[]string{"export", "a", filepath.Join(work, "a2.npy")},
			`^exported a to ` + regexp.QuoteMeta(filepath.Join(work, "a2.npy")) + `: int32 \(3, 4\) F, 48 B, ` + kernel + `\n$`},
		{[]string{"export", "sub/b", filepath.Join(work, "b2.npy")}, `: float64 \(1000,\) C, 7\.8 KiB, ` + kernel + `\n$`},
	}
	for _, s := range steps {
		if got := mustRun(t, dir, s.args...); !regexp.MustCompile(s.want).MatchString(got) {
			t.Errorf("arrayx %s: %q does not match %s", strings.Join(s.args, " "), got, s.want)
		}
	}
	var info struct{ Attrs map[string]any }
	if err := json.Unmarshal([]byte(mustRun(t, dir, "info", "a", "--json")), &info); err != nil {
		t.Fatal(err)
	}
	if info.Attrs["units"] != "m" || info.Attrs["source"] != "numpy" || len(info.Attrs) != 2 {
		t.Errorf("attrs %v", info.Attrs)
	}
	got := runNumpy(t, `
import sys, numpy as np
w = sys.argv[1]
for x in 'ab':
    orig, back = np.load(w + '/' + x + '.npy'), np.load(w + '/' + x + '2.npy')
    print(x, np.array_equal(orig, back), back.dtype.str, back.shape, np.isfortran(orig) == np.isfortran(back))
`, work)
	if want := "a True <i4 (3, 4) True\nb True <f8 (1000,) True\n"; got != want {
		t.Errorf("numpy loaded the exports as\n%s\nwant\n%s", got, want)
	}
}

func TestImportExportErrors(t *testing.T) {
	dir, work := t.TempDir(), t.TempDir()
	mustRun(t, dir, "create", "bf", "--dtype", "bfloat16", "--shape", "2")
	bad := filepath.Join(work, "bad.npy")
	if err := os.WriteFile(bad, []byte("\x93NUMPX\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	obj := filepath.Join(work, "obj.npy")
	runNumpy(t, `import sys, numpy as np; np.save(sys.argv[1], np.array([{}, None]), allow_pickle=True)`, obj)
	tests := []struct {
		name    string
		args    []string
		code    int
		wantErr string
	}{
		{"import-no-args", []string{"import"}, 2, "import: want FILE.npy and NAME, got 0 arguments (usage: arrayx import FILE.npy|- NAME"},
		{"import-one-arg", []string{"import", bad}, 2, "got 1 arguments"},
		{"import-bad-name", []string{"import", bad, "../x"}, 2, `invalid array name: "../x"`},
		{"import-bad-attr", []string{"import", bad, "x", "--attr", "nokey"}, 2, `invalid --attr "nokey"`},
		{"import-missing", []string{"import", filepath.Join(work, "none.npy"), "x"}, 1, "no file " + filepath.Join(work, "none.npy")},
		{"import-bad-magic", []string{"import", bad, "x"}, 1, "npy: import " + bad + ": not a .npy file (bad magic)"},
		{"import-pickle", []string{"import", obj, "x"}, 1, "object arrays are stored as pickles, which are refused"},
		{"export-no-args", []string{"export", "bf"}, 2, "want NAME and FILE.npy, got 1 arguments"},
		{"export-bad-name", []string{"export", "a b", filepath.Join(work, "x.npy")}, 2, "invalid array name"},
		{"export-missing", []string{"export", "nope", filepath.Join(work, "x.npy")}, 1, `no array "nope" in store ` + dir},
		{"export-bfloat16", []string{"export", "bf", filepath.Join(work, "x.npy")}, 1, "bfloat16 has no numpy dtype"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := arrayxRun(t, dir, tt.args...)
			if r.code != tt.code || r.stdout != "" {
				t.Errorf("exit %d, stdout %q; want %d and nothing", r.code, r.stdout, tt.code)
			}
			if !strings.Contains(r.stderr, tt.wantErr) || !strings.HasPrefix(r.stderr, "arrayx: ") {
				t.Errorf("stderr %q does not contain %q", r.stderr, tt.wantErr)
			}
			if tt.code == 1 && strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("runtime error is not one line: %q", r.stderr)
			}
		})
	}
	if got := mustRun(t, dir, "ls"); !strings.HasPrefix(got, "bf ") || strings.Count(got, "\n") != 1 {
		t.Errorf("ls after the failures: %q; want only bf", got)
	}
	if ents, _ := os.ReadDir(work); len(ents) != 2 {
		t.Errorf("%d files in the work directory; the failed exports left something", len(ents))
	}
}
