package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arrayx/arrayx/internal/testutil"
)

// TestServeTLS serves over TLS, binary and HTTP, and uses it as a user
// would: push, pull and ls --remote with --tls-ca; curl with --cacert on
// the HTTPS endpoint. A client without TLS is told the server requires it,
// and a client with TLS at a plaintext server is told it does not use it.
func TestServeTLS(t *testing.T) {
	certs := testutil.NewTLS(t)
	src, dst, back := t.TempDir(), t.TempDir(), t.TempDir()
	mustRun(t, src, "create", "x", "--dtype", "float64", "--shape", "1000,100", "--fill", "arange")
	addr, stop := startServe(t, dst, "--tls-cert", certs.Cert, "--tls-key", certs.Key)
	defer stop()

	out := mustRun(t, src, "push", "x", addr, "--tls-ca", certs.CA)
	if !strings.Contains(out, "zero-copy: no (tls, ") {
		t.Errorf("push over TLS printed %q", out)
	}
	mustRun(t, back, "pull", addr, "x", "--tls-ca", certs.CA)
	if a, b := openArray(t, src, "x"), openArray(t, back, "x"); string(a.Bytes()) != string(b.Bytes()) {
		t.Fatal("the array pulled over TLS differs")
	}
	if out := mustRun(t, back, "ls", "--remote", addr, "--tls-ca", certs.CA); !strings.Contains(out, "x") {
		t.Errorf("ls --remote over TLS: %q", out)
	}

	r := arrayxRun(t, src, "push", "x", addr)
	if r.code != 1 || !strings.Contains(r.stderr, "requires TLS") {
		t.Errorf("plaintext push to a TLS server: exit %d, %q", r.code, r.stderr)
	}
	r = arrayxRun(t, src, "push", "x", addr, "--tls-ca", testutil.NewTLS(t).CA)
	if r.code != 1 || !strings.Contains(r.stderr, "certificate") {
		t.Errorf("push trusting another authority: exit %d, %q", r.code, r.stderr)
	}
	plain, stopPlain := startServe(t, dst)
	defer stopPlain()
	r = arrayxRun(t, src, "push", "x", plain, "--tls-ca", certs.CA)
	if r.code != 1 || !strings.Contains(r.stderr, "does not use TLS") {
		t.Errorf("TLS push to a plaintext server: exit %d, %q", r.code, r.stderr)
	}

	curl, err := exec.LookPath("curl")
	if err != nil {
		testutil.Unavailable(t, "curl is not installed (apt-get install curl)")
	}
	httpAddr := httpsAddr(t, dst, certs)
	b, err := exec.Command(curl, "-sS", "--fail", "--cacert", certs.CA, "https://"+httpAddr+"/v1/arrays/x").CombinedOutput()
	if err != nil || !strings.Contains(string(b), `"dtype"`) {
		t.Fatalf("curl --cacert over HTTPS: %v %s", err, b)
	}
	if b, err := exec.Command(curl, "-sS", "--fail", "https://"+httpAddr+"/v1/arrays/x").CombinedOutput(); err == nil {
		t.Fatalf("curl without the authority succeeded: %s", b)
	}
}

// httpsAddr starts a TLS server with HTTP on a free port and returns the
// HTTP address.
func httpsAddr(t *testing.T, store string, certs *testutil.TLSFiles) string {
	t.Helper()
	url, stop := startServe(t, store, "--listen", "", "--http", "127.0.0.1:0", "--tls-cert", certs.Cert, "--tls-key", certs.Key)
	t.Cleanup(func() { stop() })
	return strings.TrimSuffix(strings.TrimPrefix(url, "https://"), "/v1/arrays")
}

// TestServeWarnings: what a careful operator is warned of. Serving on a
// non-loopback address without a token or TLS, a token file others can
// read, a short token, and a client whose token a server does not ask for.
func TestServeWarnings(t *testing.T) {
	dir := t.TempDir()
	logs := &testutil.Buffer{}
	_, stop := startServeLog(t, dir, logs, "--listen", "0.0.0.0:0")
	stop()
	for _, want := range []string{"without a token: anyone who can reach it can read and write the store", "without TLS"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("serve on 0.0.0.0 warned %q, want %q", logs.String(), want)
		}
	}
	logs = &testutil.Buffer{}
	_, stop = startServeLog(t, dir, logs) // loopback: nothing to say
	stop()
	if strings.Contains(logs.String(), "warning") {
		t.Errorf("serve on loopback warned: %q", logs.String())
	}

	short := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(short, []byte("abc123\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	logs = &testutil.Buffer{}
	_, stop = startServeLog(t, dir, logs, "--token-file", short)
	stop()
	for _, want := range []string{"is readable by others than its owner", "has 6 bytes; use at least 16"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("serve with a short, readable token warned %q, want %q", logs.String(), want)
		}
	}

	good := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(good, []byte("0123456789abcdef0123"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, stop := startServe(t, dir)
	defer stop()
	r := arrayxRun(t, t.TempDir(), "ls", "--remote", addr, "--token-file", good)
	if r.code != 0 || !strings.Contains(r.stderr, "asks for no token (yours was not sent)") {
		t.Errorf("a token for a server without one: exit %d, %q", r.code, r.stderr)
	}
	r = arrayxRun(t, t.TempDir(), "ls", "--remote", addr)
	if r.code != 0 || r.stderr != "" {
		t.Errorf("ls --remote without a token: exit %d, %q", r.code, r.stderr)
	}
}
