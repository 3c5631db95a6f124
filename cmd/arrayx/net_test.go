package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/arrayx/arrayx/internal/testutil"
)

// startServe runs `arrayx serve` in-process on a free port and returns its
// address and a function that stops it (as SIGTERM would) and returns its
// exit code.
func startServe(t *testing.T, store string, extra ...string) (string, func() int) {
	t.Helper()
	return startServeLog(t, store, &testutil.Buffer{}, extra...)
}

// startServeLog is startServe with serve's stderr going to stderr.
func startServeLog(t *testing.T, store string, stderr *testutil.Buffer, extra ...string) (string, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, append([]string{"--store", store, "serve", "--listen", "127.0.0.1:0"}, extra...), pw, stderr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("serve did not start: %v %s", err, stderr.String())
	}
	go io.Copy(io.Discard, pr)
	m := regexp.MustCompile(` on (\S+)$`).FindStringSubmatch(strings.TrimSpace(line))
	if m == nil {
		t.Fatalf("serve printed %q", line)
	}
	stop := func() int {
		cancel()
		select {
		case c := <-code:
			return c
		case <-time.After(10 * time.Second):
			t.Fatal("serve did not stop")
			return -1
		}
	}
	return m[1], stop
}

func TestServePushPullLs(t *testing.T) {
	local, remote := t.TempDir(), t.TempDir()
	token := filepath.Join(t.TempDir(), "token")
	os.WriteFile(token, []byte("s3cret-0123456789abcdef\n"), 0o600)
	addr, stop := startServe(t, remote, "--token-file", token)

	mustRun(t, local, "create", "a/x", "--dtype", "int32", "--shape", "300,500", "--fill", "arange")
	out := mustRun(t, local, "push", "a/x", addr, "--as", "b/y", "--token-file", token)
	if !regexp.MustCompile(`^pushed a/x to \S+ as b/y: 600000 bytes in [0-9.]+ s, [0-9.]+ GB/s, zero-copy: yes \(sendfile`).MatchString(out) {
		t.Fatalf("push summary: %q", out)
	}
	out = mustRun(t, local, "ls", "--remote", addr, "--json", "--token-file", token)
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 1 || list[0]["name"] != "b/y" {
		t.Fatalf("ls --remote --json: %q %v", out, err)
	}
	out = mustRun(t, local, "pull", addr, "b/y", "--as", "back", "--token-file", token, "--sync")
	if !strings.HasPrefix(out, "pulled b/y from "+addr+" as back: 600000 bytes") || !strings.Contains(out, "zero-copy: yes") {
		t.Fatalf("pull summary: %q", out)
	}
	a := mustRun(t, local, "cat", "a/x", "--limit", "10")
	b := mustRun(t, local, "cat", "back", "--limit", "10")
	if a != b {
		t.Fatalf("pulled array prints differently:\n%s\n%s", a, b)
	}
	mustRun(t, local, "verify", "back")

	// Errors: no token, a missing remote array, a bad address.
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"ls", "--remote", addr}, 1, addr + " requires a token: give --token-file"},
		{[]string{"--store", local, "pull", addr, "nope", "--token-file", token}, 1, `no array "nope" on ` + addr},
		{[]string{"--store", local, "pull", addr, "../x", "--token-file", token}, 2, "invalid array name"},
		{[]string{"--store", local, "push", "a/x"}, 2, "want NAME and at least one ADDR"},
		{[]string{"--store", local, "push", "a/x", "127.0.0.1:1"}, 1, "connection refused"},
		{[]string{"serve", "--log-format", "xml"}, 2, "want text or json"},
	} {
		var so, se bytes.Buffer
		c := run(context.Background(), tc.args, &so, &se)
		if c != tc.code || !strings.Contains(se.String(), tc.msg) || strings.Count(strings.TrimSpace(se.String()), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q on one line", tc.args, c, se.String(), tc.code, tc.msg)
		}
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d after the signal", code)
	}
}
