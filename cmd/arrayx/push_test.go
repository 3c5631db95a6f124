package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPushMany pushes once to three servers through a relay chain: each
// publishes the array and the push prints a line per host. A dead host in
// the chain fails the push by name, after the others got the array; a
// server started with --no-relay refuses to relay.
func TestPushMany(t *testing.T) {
	token := filepath.Join(t.TempDir(), "token")
	os.WriteFile(token, []byte("relay-secret-0123456789\n"), 0o600)
	local := t.TempDir()
	var remotes, addrs []string
	for range 3 {
		dir := t.TempDir()
		addr, stop := startServe(t, dir, "--token-file", token)
		t.Cleanup(func() { stop() })
		remotes, addrs = append(remotes, dir), append(addrs, addr)
	}
	mustRun(t, local, "create", "m", "--dtype", "float64", "--shape", "1000,1000", "--fill", "random")

	out := mustRun(t, local, append([]string{"push", "m", "--token-file", token}, addrs...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "pushed m to "+addrs[0]+" as m: 8000000 bytes") {
		t.Fatalf("push to three hosts printed %q", out)
	}
	for i, l := range lines[1:] {
		re := `^relayed to ` + regexp.QuoteMeta(addrs[i+1]) + `: 8000000 bytes in [0-9.]+ s, [0-9.]+ GB/s, zero-copy: yes$`
		if !regexp.MustCompile(re).MatchString(l) {
			t.Errorf("line %d: %q, want %s", i+1, l, re)
		}
	}
	want := mustRun(t, local, "info", "m", "--json")
	for _, dir := range remotes {
		if got := mustRun(t, dir, "info", "m", "--json"); got != want {
			t.Errorf("%s holds a different m:\n%s\nwant\n%s", dir, got, want)
		}
		mustRun(t, dir, "verify", "m")
	}

	// A dead last host: the push fails naming it, the others publish.
	mustRun(t, local, "create", "n", "--dtype", "int32", "--shape", "1000", "--fill", "arange")
	r := arrayxRun(t, local, "push", "n", addrs[0], addrs[1], "127.0.0.1:1", "--token-file", token)
	if r.code != 1 || !strings.Contains(r.stderr, "1 of 3 hosts did not get it: 127.0.0.1:1") ||
		!strings.Contains(r.stdout, "relay to 127.0.0.1:1 failed: ") || !strings.Contains(r.stdout, "relayed to "+addrs[1]+": 4000 bytes") {
		t.Fatalf("push with a dead host: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	for _, dir := range remotes[:2] {
		mustRun(t, dir, "verify", "n")
	}

	// A chain through a server that does not relay is refused before any data moves.
	plain, stop := startServe(t, t.TempDir(), "--token-file", token, "--no-relay")
	defer stop()
	r = arrayxRun(t, local, "push", "n", plain, addrs[0], "--token-file", token, "--force") // addrs[0] holds n
	if r.code != 1 || !strings.Contains(r.stderr, "does not relay") {
		t.Fatalf("push through a --no-relay server: exit %d, stderr %q", r.code, r.stderr)
	}
}
