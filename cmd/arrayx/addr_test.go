package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseAddr(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"host", "host:7070", ""},
		{"host:9000", "host:9000", ""},
		{"arrayx://host:9000", "host:9000", ""},
		{"arrayx://host:9000/", "host:9000", ""},
		{"arrayx://host", "host:7070", ""},
		{"10.0.0.1", "10.0.0.1:7070", ""},
		{"[::1]:9000", "[::1]:9000", ""},
		{"[::1]", "[::1]:7070", ""},
		{"::1", "[::1]:7070", ""},
		{"unix:/run/arrayx.sock", "unix:/run/arrayx.sock", ""},
		{"/run/arrayx.sock", "/run/arrayx.sock", ""},
		{"http://host:8080", "", "not HTTP"},
		{"ftp://host", "", `unknown scheme "ftp://"`},
		{"host:port", "", `port "port" is not a number`},
		{"host:0", "", `port "0" is not a number from 1 to 65535`},
		{"host:70000", "", "from 1 to 65535"},
		{":7070", "", "no host"},
		{"arrayx://", "", "want HOST"},
		{"arrayx://host:7070/sim", "", "want HOST"},
	} {
		got, err := parseAddr(tc.in)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("parseAddr(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("parseAddr(%q) = %q, %v; want an error with %q", tc.in, got, err, tc.err)
		}
	}
}

func TestDialErrorUnknownHost(t *testing.T) {
	// As net.Dial reports it; a real lookup would depend on the machine's DNS.
	err := &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "nohost.invalid", IsNotFound: true}}
	got := dialError("nohost.invalid:7070", "", fmt.Errorf("netlink: dial nohost.invalid:7070: %w", err))
	if want := `cannot connect to nohost.invalid:7070: unknown host "nohost.invalid"`; got.Error() != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestAddrErrors: addresses in the forms users write work, and the ways to
// get one wrong are told in a sentence, without syscall text.
func TestAddrErrors(t *testing.T) {
	local, remote := t.TempDir(), t.TempDir()
	token := filepath.Join(t.TempDir(), "token")
	os.WriteFile(token, []byte("addr-secret-0123456789\n"), 0o600)
	wrong := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrong, []byte("not-the-secret-0123456789\n"), 0o600)
	addr, stop := startServe(t, remote, "--token-file", token)
	t.Cleanup(func() { stop() })
	mustRun(t, remote, "create", "x", "--shape", "2")
	web := httptest.NewServer(http.NotFoundHandler())
	defer web.Close()
	webAddr := strings.TrimPrefix(web.URL, "http://")

	if out := mustRun(t, local, "ls", "--remote", "arrayx://"+addr, "--token-file", token); !strings.HasPrefix(out, "x ") {
		t.Errorf("ls --remote arrayx://%s: %q", addr, out)
	}
	mustRun(t, local, "pull", "arrayx://"+addr+"/", "x", "--token-file", token)

	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"ls", "--remote", webAddr}, 1, webAddr + " is an HTTP server (the --http port of arrayx serve?): arrayx commands talk to the --listen port, 7070 by default"},
		{[]string{"ls", "--remote", web.URL}, 2, "arrayx commands speak the arrayx protocol, not HTTP"},
		{[]string{"ls", "--remote", addr, "--token-file", wrong}, 1, addr + " refused the token in " + wrong},
		{[]string{"info", "x", "--remote", "127.0.0.1:1"}, 1, "cannot connect to 127.0.0.1:1: nothing listens there (connection refused)"},
		{[]string{"push", "x", "host:port"}, 2, `port "port" is not a number`},
		{[]string{"push", "x", addr, "host:0", "--token-file", token}, 2, `port "0" is not a number`},
	} {
		r := arrayxRun(t, local, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q on one line", tc.args, r.code, r.stderr, tc.code, tc.msg)
		}
		for _, raw := range []string{"dial tcp", "netlink:", "lookup "} {
			if strings.Contains(r.stderr, raw) {
				t.Errorf("%v: stderr %q shows %q", tc.args, r.stderr, raw)
			}
		}
	}
}

func TestParseSyncSide(t *testing.T) {
	for in, want := range map[string]syncSide{
		"host:7070":                {addr: "host:7070"},
		"host:7070/sim":            {addr: "host:7070", prefix: "sim"},
		"arrayx://host:7070/sim/a": {addr: "host:7070", prefix: "sim/a"},
		"arrayx://host/sim":        {addr: "host", prefix: "sim"},
		"arrayx://host":            {addr: "host"},
		"/dev/shm/arrayx":          {dir: "/dev/shm/arrayx"},
		"store":                    {dir: "store"},
	} {
		if got := parseSyncSide(in); got != want {
			t.Errorf("parseSyncSide(%q) = %+v, want %+v", in, got, want)
		}
	}
}
