package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/arrayx/arrayx/internal/testutil"
)

// TestServeHTTPRealClients serves a store with `arrayx serve --http` in its
// own process, under strace, and fetches arrays with curl (whole and
// ranged) and with Python's urllib into numpy.frombuffer. The trace proves
// the bodies left by sendfile(2).
func TestServeHTTPRealClients(t *testing.T) {
	testutil.NeedTool(t, "curl")
	testutil.NeedTool(t, "strace")
	testutil.RequirePython(t, "numpy")
	dir := t.TempDir()
	mustRun(t, dir, "create", "sim/temperature", "--dtype", "float64", "--shape", "300,400", "--fill", "arange")
	mustRun(t, dir, "create", "counts", "--dtype", "int32", "--shape", "1000", "--order", "F", "--fill", "arange")
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("s3cret-0123456789abcdef\n"), 0o600)
	data := openArray(t, dir, "sim/temperature").Bytes()

	base, stop := startTracedHTTP(t, dir, tokenFile)
	auth := "Authorization: Bearer s3cret-0123456789abcdef"

	curl := func(args ...string) []byte {
		t.Helper()
		out, err := exec.Command("curl", append([]string{"-sS", "--fail-with-body", "-H", auth}, args...)...).Output()
		if err != nil {
			t.Fatalf("curl %v: %v: %s", args, err, out)
		}
		return out
	}
	// curl: the whole data, a range, the headers and the JSON.
	if got := curl(base + "/v1/arrays/sim%2Ftemperature/data"); !bytes.Equal(got, data) {
		t.Fatalf("curl: %d bytes, want the array's %d", len(got), len(data))
	}
	if got := curl("-r", "800-1599", base+"/v1/arrays/sim%2Ftemperature/data"); !bytes.Equal(got, data[800:1600]) {
		t.Fatalf("curl -r: %d bytes, want 800 equal bytes", len(got))
	}
	head := string(curl("-I", base+"/v1/arrays/sim%2Ftemperature/data"))
	for _, want := range []string{"X-Arrayx-Dtype: float64", "X-Arrayx-Shape: 300,400", "X-Arrayx-Order: C",
		"Content-Length: 960000", "Accept-Ranges: bytes", "Etag: \""} {
		if !strings.Contains(head, want) {
			t.Errorf("curl -I lacks %q:\n%s", want, head)
		}
	}
	if got := string(curl(base + "/v1/arrays")); !strings.Contains(got, `"name":"sim/temperature"`) {
		t.Errorf("list: %s", got)
	}
	if out, err := exec.Command("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", base+"/v1/arrays").Output(); err != nil || string(out) != "401" {
		t.Errorf("no token: %s %v, want 401", out, err)
	}

	// Python: urllib into numpy.frombuffer, shaped by the X-Arrayx headers.
	script := `
import sys, urllib.request, numpy as np
base, token = sys.argv[1], sys.argv[2]
def get(path, rng=None):
    req = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
    if rng:
        req.add_header("Range", rng)
    with urllib.request.urlopen(req) as r:
        return r.headers, r.read()
h, body = get("/v1/arrays/sim%2Ftemperature/data")
shape = tuple(int(n) for n in h["X-Arrayx-Shape"].split(",") if n)
a = np.frombuffer(body, dtype=h["X-Arrayx-Dtype"]).reshape(shape, order=h["X-Arrayx-Order"])
assert (a == np.arange(120000, dtype=np.float64).reshape(300, 400)).all(), "values differ"
h, body = get("/v1/arrays/counts/data")
c = np.frombuffer(body, dtype=h["X-Arrayx-Dtype"])
h, part = get("/v1/arrays/counts/data", "bytes=40-79")
assert np.frombuffer(part, dtype="int32").tolist() == list(range(10, 20)), "range values differ"
print(a.shape, a.dtype, a.sum(), c.sum())
`
	out, err := exec.Command(testutil.Python, "-c", script, base, "s3cret-0123456789abcdef").CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "(300, 400) float64 7199940000.0 499500" {
		t.Errorf("python printed %q", got)
	}

	// The trace: every body went out by sendfile. The served bodies were
	// 960000 (curl) + 800 (curl -r) + 960000 + 4000 + 40 (python) bytes.
	trace := stop()
	var calls, total int64
	for _, m := range regexp.MustCompile(`sendfile(?:64)?\(\d+, \d+, (?:NULL|\[\d+\] => \[\d+\]), \d+\)\s+= (\d+)`).FindAllStringSubmatch(trace, -1) {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		calls++
		total += n
	}
	if want := int64(960000 + 800 + 960000 + 4000 + 40); total != want {
		t.Fatalf("strace saw %d sendfile calls moving %d bytes, want %d bytes:\n%s", calls, total, want, trace)
	}
	t.Logf("strace: %d sendfile calls moved all %d body bytes", calls, total)
}

// startTracedHTTP runs `arrayx serve --listen "" --http 127.0.0.1:0` under
// strace -f -e trace=sendfile and returns the base URL and a function that
// stops the server (SIGTERM) and returns the trace.
func startTracedHTTP(t *testing.T, dir, tokenFile string) (string, func() string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	traceFile := filepath.Join(t.TempDir(), "trace")
	cmd := exec.Command("strace", "-f", "-qq", "-e", "trace=sendfile", "-o", traceFile,
		exe, "--store", dir, "serve", "--listen", "", "--http", "127.0.0.1:0", "--token-file", tokenFile)
	cmd.Env = append(os.Environ(), cliEnv+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	m := regexp.MustCompile(`over HTTP on (http://\S+)/v1/arrays$`).FindStringSubmatch(strings.TrimSpace(line))
	if err != nil || m == nil {
		t.Fatalf("serve printed %q (%v); stderr: %s", line, err, stderr.String())
	}
	stop := func() string {
		t.Helper()
		// strace's child is the server: signal it, not strace.
		kids, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
		pid, perr := strconv.Atoi(strings.TrimSpace(string(kids)))
		if err != nil || perr != nil {
			t.Fatalf("finding the server under strace: %v %v %q", err, perr, kids)
		}
		syscall.Kill(pid, syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("serve under strace: %v; stderr: %s", err, stderr.String())
			}
		case <-time.After(10 * time.Second):
			t.Fatal("serve did not stop on SIGTERM")
		}
		b, err := os.ReadFile(traceFile)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	return m[1], stop
}

func TestServeNeedsAListener(t *testing.T) {
	r := runRaw(t, "--store", t.TempDir(), "serve", "--listen", "")
	if r.code != 2 || !strings.Contains(r.stderr, "nothing to serve") {
		t.Errorf("serve with no listener: exit %d, %q", r.code, r.stderr)
	}
}
