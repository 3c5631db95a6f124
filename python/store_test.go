package python_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/internal/testutil/teststore"
)

// The Python store (python/arrayx/_store.py) against the Go one: the same
// array sealed by each is the same file, byte for byte; each side waits
// for what the other publishes; a Python writer's file is live to Go's
// cleaning while its process lives, and an orphan once it has died.

// requireWriter skips (or, under CI, fails) without what the Python writer
// needs to seal as Go does: the xxhash module for the XXH3-128 table.
func requireWriter(t *testing.T) {
	t.Helper()
	testutil.RequirePython(t, "numpy", "msgpack", "xxhash")
}

// startPython runs preamble+script in the background with in as JSON on
// stdin, and returns its standard output as lines.
func startPython(t *testing.T, script string, in any) (*exec.Cmd, *bufio.Scanner, *testutil.Buffer) {
	t.Helper()
	cmd := pythonCmd(t, script, in)
	var stderr testutil.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, bufio.NewScanner(out), &stderr
}

// goldenCases are the arrays both writers seal: every dtype, both orders,
// 0-d, empty, several blocks, and attrs of every kind.
func goldenCases() []struct {
	Name  string
	DType arrayx.DType
	Shape arrayx.Shape
	Order arrayx.Order
	Attrs map[string]any
} {
	type c = struct {
		Name  string
		DType arrayx.DType
		Shape arrayx.Shape
		Order arrayx.Order
		Attrs map[string]any
	}
	var cs []c
	for _, dt := range arrayx.DTypes() {
		cs = append(cs, c{"c-" + dt.String(), dt, arrayx.Shape{3, 5}, arrayx.OrderC, nil})
	}
	return append(cs,
		c{"f-float64", arrayx.Float64, arrayx.Shape{4, 3, 2}, arrayx.OrderF, nil},
		c{"f-int16", arrayx.Int16, arrayx.Shape{7, 9}, arrayx.OrderF, map[string]any{"units": "m"}},
		c{"scalar", arrayx.Float64, arrayx.Shape{}, arrayx.OrderC, nil},
		c{"empty", arrayx.Int32, arrayx.Shape{0, 4}, arrayx.OrderC, map[string]any{"why": "none yet"}},
		c{"blocks", arrayx.Float32, arrayx.Shape{3 << 20}, arrayx.OrderC, nil}, // 12 MiB: 3 blocks
		c{"attrs", arrayx.Uint8, arrayx.Shape{10}, arrayx.OrderC, map[string]any{
			"units": "K", "n": int64(3), "neg": int64(-70000), "big": int64(1) << 40, "x": 1.5, "ok": true,
			"none": nil, "list": []any{int64(1), "a", 2.5, false}, "z": "last", "é": "unicode key",
			"nested": map[string]any{"b": int64(1), "a": map[string]any{"deep": "yes"}},
		}},
	)
}

// TestPythonSealsAsGo: an array sealed by the Python writer is, byte for
// byte, the file the Go writer seals from the same data and attrs.
func TestPythonSealsAsGo(t *testing.T) {
	requireWriter(t)
	dir := t.TempDir()
	st := teststore.At(t, dir)
	type pyCase struct {
		Name, DType, Order, Data string
		Shape                    []int64
		Attrs                    map[string]any
	}
	var in []pyCase
	for _, c := range goldenCases() {
		fill := fillValues(c.DType)
		if c.Name == "blocks" {
			fill = fillRandom(7)
		}
		writeArray(t, st, "go/"+c.Name, c.DType, c.Shape, c.Order, c.Attrs, func(b []byte) {
			fill(b)
			raw := filepath.Join(dir, c.Name+".bin")
			if err := os.WriteFile(raw, b, 0o644); err != nil {
				t.Fatal(err)
			}
		})
		in = append(in, pyCase{c.Name, c.DType.String(), string(rune(c.Order)), filepath.Join(dir, c.Name+".bin"), c.Shape, c.Attrs})
	}
	script := `
store = arrayx.Store(cases["dir"])
for c in cases["arrays"]:
    raw = np.fromfile(c["Data"], dtype=np.uint8)
    with store.create("py/" + c["Name"], c["DType"], tuple(c["Shape"]), c["Order"], c["Attrs"]) as w:
        if raw.size:
            w.array[...] = raw.view(w.array.dtype).reshape(w.array.shape, order=c["Order"])
        w.seal()
print(json.dumps("done"))
`
	var out string
	runPython(t, script, map[string]any{"dir": dir, "arrays": in}, &out)
	for _, c := range goldenCases() {
		g, err := os.ReadFile(filepath.Join(dir, "go", c.Name+".arx"))
		if err != nil {
			t.Fatal(err)
		}
		p, err := os.ReadFile(filepath.Join(dir, "py", c.Name+".arx"))
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if !bytes.Equal(g, p) {
			i := 0
			for i < min(len(g), len(p)) && g[i] == p[i] {
				i++
			}
			t.Errorf("%s: Python's file differs from Go's at byte %d of %d (Go) / %d (Python)", c.Name, i, len(g), len(p))
		}
	}
	if names, _ := st.List(); len(names) != 2*len(goldenCases()) {
		t.Errorf("the store lists %d arrays, want %d: %v", len(names), 2*len(goldenCases()), names)
	}
}

// TestGoWaitsForPython: a Go consumer blocked in Wait gets each array a
// Python producer creates, fills and seals, and verifies every block.
func TestGoWaitsForPython(t *testing.T) {
	requireWriter(t)
	dir := t.TempDir()
	st := teststore.At(t, dir)
	names := []string{"p/a", "p/deep/b", "c"}
	got := make(chan error, len(names))
	for _, name := range names {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			a, err := st.Wait(ctx, name)
			if err != nil {
				got <- err
				return
			}
			defer a.Close()
			x, err := arrayx.Data[float64](a)
			switch {
			case err != nil:
			case a.Header().XXH128 == nil:
				err = fmt.Errorf("%s: no XXH3-128 table", name)
			case len(x) != 1000 || x[999] != 999+float64(len(name)):
				err = fmt.Errorf("%s: %d elements, last %v", name, len(x), x[len(x)-1])
			default:
				err = a.Verify()
			}
			got <- err
		}()
	}
	time.Sleep(50 * time.Millisecond) // the consumers are waiting
	_, lines, stderr := startPython(t, `
store = arrayx.Store(cases["dir"])
for name in cases["names"]:
    with store.create(name, np.float64, (10, 100)) as w:
        w.array[...] = np.arange(1000).reshape(10, 100) + len(name)
        w.seal()
print("sealed", flush=True)
`, map[string]any{"dir": dir, "names": names})
	for range names {
		if err := <-got; err != nil {
			t.Fatalf("%v (python: %s)", err, stderr.String())
		}
	}
	if !lines.Scan() || lines.Text() != "sealed" {
		t.Fatalf("python: %q %s", lines.Text(), stderr.String())
	}
}

// TestPythonWaitsForGo: Python's wait returns the array a Go producer
// seals while it waits, in a directory that did not exist yet, and times
// out with TimeoutError naming it when none comes.
func TestPythonWaitsForGo(t *testing.T) {
	requireWriter(t)
	dir := t.TempDir()
	st := teststore.At(t, dir)
	_, lines, stderr := startPython(t, `
store = arrayx.Store(cases["dir"])
print("waiting", flush=True)
arr, h = store.wait("later/x", timeout=30)
arrayx.verify(arr, h)
print(hashlib.sha256(arr.tobytes(order="A")).hexdigest(), flush=True)  # memory order
try:
    store.wait("never", timeout=0.2)
    print("no timeout", flush=True)
except TimeoutError as e:
    print("timeout:", e, flush=True)
`, map[string]any{"dir": dir})
	if !lines.Scan() || lines.Text() != "waiting" {
		t.Fatalf("python: %q %s", lines.Text(), stderr.String())
	}
	time.Sleep(100 * time.Millisecond)
	writeArray(t, st, "later/x", arrayx.Int32, arrayx.Shape{500, 7}, arrayx.OrderF, nil, fillValues(arrayx.Int32))
	a, err := st.Open("later/x")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if !lines.Scan() || lines.Text() != sha(a.Bytes()) {
		t.Fatalf("python's wait: %q, want %s (%s)", lines.Text(), sha(a.Bytes()), stderr.String())
	}
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "timeout: no array never in store") {
		t.Fatalf("python's wait for nothing: %q (%s)", lines.Text(), stderr.String())
	}
}

// TestPythonWriterAndClean: a live Python writer's hidden file survives
// Go's Clean; killed mid-fill, it leaves nothing under the name, and the
// next Clean removes its file. A writer left by an exception or abort
// leaves nothing either.
func TestPythonWriterAndClean(t *testing.T) {
	requireWriter(t)
	dir := t.TempDir()
	st := teststore.At(t, dir)
	cmd, lines, stderr := startPython(t, `
store = arrayx.Store(cases["dir"])
try:
    with store.create("e/x", "float32", (100,)) as w:
        raise RuntimeError("a bug while filling")
except RuntimeError:
    pass
w = store.create("e/y", "float32", (100,))
w.abort()
try:
    store.create("../x", "float32", (1,))
except arrayx.InvalidNameError as e:
    print("refused:", e, flush=True)
w = store.create("k/x", "float64", (1 << 20,))
w.array[: 1 << 19] = 1.0
print("filling", flush=True)
time.sleep(60)
`, map[string]any{"dir": dir})
	if !lines.Scan() || !strings.Contains(lines.Text(), `invalid array name '../x'`) {
		t.Fatalf("python: %q %s", lines.Text(), stderr.String())
	}
	if !lines.Scan() || lines.Text() != "filling" {
		t.Fatalf("python: %q %s", lines.Text(), stderr.String())
	}
	res, err := st.Clean(nil)
	if err != nil || len(res.Removed) != 0 || res.InUse != 1 {
		t.Fatalf("Clean while the Python writer lives: %+v, %v", res, err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if names, err := st.List(); err != nil || len(names) != 0 {
		t.Fatalf("after the writer died the store lists %v, %v", names, err)
	}
	res, err = st.Clean(nil)
	if err != nil || len(res.Removed) != 1 || !strings.HasPrefix(res.Removed[0], "k/.x.arx.tmp-") {
		t.Fatalf("Clean after the writer died: %+v, %v", res, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("the store still holds %v", entries)
	}
}

// TestPythonStoreAPI: list, stat, open and remove agree with Go's view of
// the same store, and the command line lists and verifies by name.
func TestPythonStoreAPI(t *testing.T) {
	requireWriter(t)
	dir := t.TempDir()
	st := teststore.At(t, dir)
	writeArray(t, st, "g/one", arrayx.Uint16, arrayx.Shape{10}, arrayx.OrderC, nil, fillValues(arrayx.Uint16))
	var out map[string]any
	runPython(t, `
store = arrayx.Store(cases["dir"])
with store.create("p/two", "int64", (3,), attrs={"k": "v"}) as w:
    w.array[:] = [1, 2, 3]
    w.seal()
h = store.stat("g/one")
arr, _ = store.open("p/two", verify=True)
out = {"list": store.list(), "prefix": store.list("p/"), "dtype": h["dtype"], "two": arr.tolist()}
store.remove("g/one")
try:
    store.open("g/one")
except FileNotFoundError as e:
    out["missing"] = str(e)
print(json.dumps(out))
`, map[string]any{"dir": dir}, &out)
	if fmt.Sprint(out["list"]) != "[g/one p/two]" || fmt.Sprint(out["prefix"]) != "[p/two]" || out["dtype"] != "uint16" ||
		fmt.Sprint(out["two"]) != "[1 2 3]" || !strings.Contains(fmt.Sprint(out["missing"]), "no array g/one in store") {
		t.Fatalf("python's view: %v", out)
	}
	if names, _ := st.List(); fmt.Sprint(names) != "[p/two]" {
		t.Fatalf("Go's view after python's remove: %v", names)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--store", dir, "ls"}, "p/two\tint64\t(3,)\tC\t24"},
		{[]string{"--store", dir, "verify", "p/two"}, "p/two: ok"},
		{[]string{"--store", dir, "info", "p/two"}, `"k": "v"`},
	} {
		cmd := exec.Command(testutil.Python, append([]string{"-B", "-m", "arrayx"}, c.args...)...)
		cmd.Dir = moduleDir(t)
		b, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(b), c.want) {
			t.Errorf("python -m arrayx %v: %v\n%s", c.args, err, b)
		}
	}
}

// TestPipInstall installs the package as the README says, offline, into a
// virtual environment that sees the system's modules, and uses it from
// another directory.
func TestPipInstall(t *testing.T) {
	requireWriter(t)
	tmp := t.TempDir()
	if out, err := exec.Command(testutil.Python, "-m", "venv", "--system-site-packages", filepath.Join(tmp, "venv")).CombinedOutput(); err != nil {
		testutil.Unavailable(t, "python3 -m venv does not work here (apt-get install python3-venv): %v %s", err, out)
	}
	// A copy of the sources: pip leaves build files next to them.
	src := filepath.Join(tmp, "src")
	if err := os.CopyFS(src, os.DirFS(moduleDir(t))); err != nil {
		t.Fatal(err)
	}
	pip := exec.Command(filepath.Join(tmp, "venv", "bin", "pip"), "install", "-q", "--no-build-isolation", "--no-index", src)
	if out, err := pip.CombinedOutput(); err != nil {
		t.Fatalf("pip install: %v\n%s", err, out)
	}
	use := exec.Command(filepath.Join(tmp, "venv", "bin", "python"), "-I", "-c", `
import arrayx, sys
st = arrayx.Store(sys.argv[1])
with st.create("x", "int8", (4,)) as w:
    w.array[:] = [1, 2, 3, 4]
    arr, h = w.seal()
print(arrayx.__file__, arr.tolist())
`, filepath.Join(tmp, "store"))
	use.Dir = tmp
	out, err := use.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "site-packages/arrayx/__init__.py [1, 2, 3, 4]") {
		t.Fatalf("the installed package: %v\n%s", err, out)
	}
}
