package python_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/internal/testutil/teststore"
	"github.com/arrayx/arrayx/mmapstore"
	"github.com/arrayx/arrayx/netlink"
)

// The Python client (python/arrayx/_net.py) against the Go server: push
// and pull, bit-exact and verified, token and errors, and resume after the
// Python process dies mid-transfer.

const netToken = "python-net-token-0123456789"

// goServer serves st on loopback with the test token, and returns its
// address.
func goServer(t *testing.T, st *mmapstore.Store) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := netlink.NewServer(st, netlink.Config{Token: []byte(netToken)})
	go srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return l.Addr().String()
}

// TestPythonPushPull: Python pushes arrays of several dtypes (64 MiB the
// largest) to a Go server and pulls back what a Go producer made there;
// every array is equal byte for byte on both sides and verifies, a Go
// client pulls what Python pushed, and a missing array and a wrong token
// are errors Python can tell apart.
func TestPythonPushPull(t *testing.T) {
	requireWriter(t)
	local, remote := t.TempDir(), t.TempDir()
	rst := teststore.At(t, remote)
	addr := goServer(t, rst)
	writeArray(t, rst, "go/made", arrayx.Int16, arrayx.Shape{3000, 700}, arrayx.OrderF, map[string]any{"by": "go"}, fillRandom(3))
	var out map[string]any
	runPython(t, `
store = arrayx.Store(cases["local"])
with store.create("big", "float64", (8 << 20,)) as w:   # 64 MiB, 16 blocks
    w.array[:] = np.arange(8 << 20) * 0.5
    w.seal()
with store.create("small", "complex64", (7, 3), order="F", attrs={"k": [1, 2]}) as w:
    w.array[...] = np.arange(21).reshape(7, 3) * (1 + 2j)
    w.seal()
out = {}
with arrayx.Client(cases["addr"], token=cases["token"]) as c:
    s = c.push(store, "big", "py/big")
    out["push"] = [s.bytes, s.zero_copy, str(s)]
    c.push(store, "small", "py/small")
    s = c.pull("go/made", store, "from-go")
    out["pull"] = [s.bytes, str(s)]
    arr, h = store.open("from-go", verify=True)
    out["pulled_sha"] = hashlib.sha256(arr.tobytes(order="A")).hexdigest()
    out["names"] = [e["name"] for e in c.list()]
    try:
        c.pull("nope", store)
    except FileNotFoundError as e:
        out["missing"] = str(e)
try:
    arrayx.Client(cases["addr"], token="wrong-token-0123456789")
except PermissionError as e:
    out["token"] = str(e)
print(json.dumps(out))
`, map[string]any{"local": local, "addr": addr, "token": netToken}, &out)
	t.Logf("python: %v", out)
	if p, ok := out["push"].([]any); !ok || p[0] != float64(64<<20) || p[1] != true {
		t.Errorf("python's push: %v; want 64 MiB sent by sendfile", out["push"])
	}
	if fmt.Sprint(out["names"]) != "[go/made py/big py/small]" || !strings.Contains(fmt.Sprint(out["missing"]), "status 404") ||
		!strings.Contains(fmt.Sprint(out["token"]), "status 401") {
		t.Errorf("python's listing and errors: %v", out)
	}
	lst := teststore.At(t, local)
	for _, pair := range [][2]string{{"py/big", "big"}, {"py/small", "small"}} {
		a, err := rst.Open(pair[0])
		if err != nil {
			t.Fatal(err)
		}
		b, err := lst.Open(pair[1])
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Verify(); err != nil || !bytes.Equal(a.Bytes(), b.Bytes()) || !bytes.Equal(a.RawHeader(), b.RawHeader()) {
			t.Errorf("%s on the server: verify %v, same file as Python's %v", pair[0], err, bytes.Equal(a.Bytes(), b.Bytes()))
		}
		a.Close()
		b.Close()
	}
	made, err := rst.Open("go/made")
	if err != nil {
		t.Fatal(err)
	}
	defer made.Close()
	if out["pulled_sha"] != sha(made.Bytes()) {
		t.Errorf("python pulled %v, want %s", out["pulled_sha"], sha(made.Bytes()))
	}
	// A Go client pulls what Python pushed.
	c, err := netlink.Dial(context.Background(), addr, &netlink.DialOptions{Token: []byte(netToken)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	back := teststore.Temp(t)
	if _, err := c.Pull(context.Background(), "py/big", back, ""); err != nil {
		t.Fatal(err)
	}
}

// TestPythonResume: a Python pull, then a Python push, die (os._exit, as
// a kill) after landing or sending part of a 64 MiB array. Nothing is
// visible under the name; the next run in a new process sends only what
// is missing and ends with the array whole and verified.
func TestPythonResume(t *testing.T) {
	requireWriter(t)
	local, remote := t.TempDir(), t.TempDir()
	rst := teststore.At(t, remote)
	addr := goServer(t, rst)
	writeArray(t, rst, "src", arrayx.Float32, arrayx.Shape{16 << 20}, arrayx.OrderC, nil, fillRandom(5)) // 64 MiB, 16 blocks
	in := map[string]any{"local": local, "addr": addr, "token": netToken}
	die := `
import arrayx._store as _s
landed = [0]
real_land = _s.Partial.land
def land(self, i, data):
    ok = real_land(self, i, data)
    landed[0] += 1
    if landed[0] == 5:
        os._exit(9)  # killed after five blocks
    return ok
_s.Partial.land = land
store = arrayx.Store(cases["local"])
with arrayx.Client(cases["addr"], token=cases["token"]) as c:
    c.pull("src", store)
`
	cmd := pythonCmd(t, "import os\n"+die, in)
	if err := cmd.Run(); err == nil || !strings.Contains(err.Error(), "exit status 9") {
		t.Fatalf("the dying pull: %v", err)
	}
	lst := teststore.At(t, local)
	if names, _ := lst.List(); len(names) != 0 {
		t.Fatalf("after the dying pull the store lists %v", names)
	}
	var out map[string]any
	runPython(t, `
store = arrayx.Store(cases["local"])
with arrayx.Client(cases["addr"], token=cases["token"]) as c:
    s = c.pull("src", store)
arr, h = store.open("src", verify=True)
print(json.dumps({"resumed": s.resumed, "bytes": s.bytes}))
`, in, &out)
	if out["resumed"] != float64(5<<22) || out["bytes"] != float64(11<<22) {
		t.Errorf("the resumed pull: %v; want 5 blocks held and 11 sent", out)
	}
	src, err := rst.Open("src")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	got, err := lst.Open("src")
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if !bytes.Equal(src.Bytes(), got.Bytes()) {
		t.Fatal("the resumed pull differs from the source")
	}

	// The push: die once five runs of one block have gone out.
	cmd = pythonCmd(t, `
import os
import socket
store = arrayx.Store(cases["local"])
sent = [0]
real = socket.socket.sendfile
def sendfile(self, f, offset=0, count=None):
    n = real(self, f, offset, count)
    sent[0] += n
    if sent[0] >= 5 << 22:
        os._exit(9)
    return n
socket.socket.sendfile = sendfile
arrayx._net.SEND_CHUNK = 4 << 20
with arrayx.Client(cases["addr"], token=cases["token"]) as c:
    c.push(store, "src", "again")
`, in)
	if err := cmd.Run(); err == nil || !strings.Contains(err.Error(), "exit status 9") {
		t.Fatalf("the dying push: %v", err)
	}
	if _, err := rst.Open("again"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after the dying push the server has again: %v", err)
	}
	testutil.WaitFor(t, "the server to keep the dead push's partial", func() bool {
		m, _ := filepath.Glob(filepath.Join(remote, ".again.arx.part-*"))
		return len(m) == 1
	})
	runPython(t, `
store = arrayx.Store(cases["local"])
with arrayx.Client(cases["addr"], token=cases["token"]) as c:
    s = c.push(store, "src", "again")
print(json.dumps({"resumed": s.resumed, "bytes": s.bytes}))
`, in, &out)
	if out["resumed"].(float64) < 4<<22 || out["bytes"].(float64)+out["resumed"].(float64) != 16<<22 {
		t.Errorf("the resumed push: %v; want at least 4 blocks held, the rest sent", out)
	}
	again, err := rst.Open("again")
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if err := again.Verify(); err != nil || !bytes.Equal(again.Bytes(), src.Bytes()) {
		t.Fatalf("the resumed push: verify %v", err)
	}
}

// TestPythonPushPull1GiB pushes a 1 GiB array from Python to a Go server
// and pulls it back, both verified and equal (not with -short).
func TestPythonPushPull1GiB(t *testing.T) {
	if testing.Short() {
		t.Skip("a 1 GiB round trip; -short skips it")
	}
	requireWriter(t)
	local, remote := testutil.ShmOrTempDir(t), testutil.ShmOrTempDir(t)
	addr := goServer(t, teststore.At(t, remote))
	var out map[string]any
	runPython(t, `
store = arrayx.Store(cases["local"], sync="never")
with store.create("g", "float64", (1 << 27,)) as w:   # 1 GiB
    w.array[:] = np.arange(1 << 27)
    w.seal()
with arrayx.Client(cases["addr"], token=cases["token"]) as c:
    p = c.push(store, "g", "g")
    q = c.pull("g", store, "back")
arr, h = store.open("back", verify=True)
print(json.dumps({"push": str(p), "pull": str(q), "last": float(arr[-1])}))
`, map[string]any{"local": local, "addr": addr, "token": netToken}, &out)
	t.Logf("python, 1 GiB: push %v; pull %v", out["push"], out["pull"])
	if out["last"] != float64(1<<27-1) {
		t.Fatalf("the pulled array ends with %v", out["last"])
	}
	a, err := teststore.At(t, remote).Open("g")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Verify(); err != nil {
		t.Fatal(err)
	}
}
