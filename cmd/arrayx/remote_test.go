package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arrayx/arrayx/mmapstore"
	"github.com/arrayx/arrayx/netlink"
)

// TestRemoteAdmin: info, ls --digests and rm against a server, each as the
// local verb prints it.
func TestRemoteAdmin(t *testing.T) {
	local, remote := t.TempDir(), t.TempDir()
	token := filepath.Join(t.TempDir(), "token")
	os.WriteFile(token, []byte("admin-secret-0123456789\n"), 0o600)
	addr, stop := startServe(t, remote, "--token-file", token)
	t.Cleanup(func() { stop() })
	for _, n := range []string{"m", "sim/1", "sim/2", "simple"} {
		mustRun(t, remote, "create", n, "--dtype", "int16", "--shape", "3,4", "--fill", "arange", "--attr", "k=v")
	}
	mustRun(t, local, "create", "m", "--dtype", "int16", "--shape", "3,4", "--fill", "arange", "--attr", "k=v")
	tok := []string{"--token-file", token}

	// info --remote prints what info prints of the same array.
	for _, args := range [][]string{{"info", "m"}, {"info", "m", "--json"}} {
		want := mustRun(t, local, args...)
		if got := mustRun(t, local, append(append(args, "--remote", addr), tok...)...); got != want {
			t.Errorf("%v --remote:\n%s\nwant\n%s", args, got, want)
		}
	}
	r := arrayxRun(t, local, append([]string{"info", "nope", "--remote", addr}, tok...)...)
	if want := `arrayx: no array "nope" on ` + addr + "\n"; r.code != 1 || r.stderr != want {
		t.Errorf("info --remote of a missing array: exit %d, stderr %q, want %q", r.code, r.stderr, want)
	}

	// ls --digests: the server's digest of m is the local one, and a
	// changed array gets another.
	localLs := mustRun(t, local, "ls", "--digests")
	f := strings.Fields(localLs)
	if strings.Count(localLs, "\n") != 1 || len(f[len(f)-1]) != 32 {
		t.Fatalf("ls --digests: %q, want one line ending in a 32-digit digest", localLs)
	}
	digest := f[len(f)-1]
	remoteLs := mustRun(t, local, append([]string{"ls", "--remote", addr, "--digests"}, tok...)...)
	lines := strings.Split(strings.TrimSpace(remoteLs), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "m ") || !strings.HasSuffix(lines[0], "  "+digest) {
		t.Fatalf("ls --remote --digests:\n%s\nwant m first, with digest %s", remoteLs, digest)
	}
	if plain := mustRun(t, local, append([]string{"ls", "--remote", addr}, tok...)...); strings.Contains(plain, digest) {
		t.Errorf("ls --remote without --digests prints them:\n%s", plain)
	}
	mustRun(t, local, "create", "m", "--dtype", "int16", "--shape", "3,4", "--fill", "ones", "--attr", "k=v", "--force")
	if again := mustRun(t, local, "ls", "--digests"); strings.Contains(again, digest) {
		t.Errorf("ls --digests: a changed array kept its digest %s:\n%s", digest, again)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, local, "ls", "--json", "--digests")), &list); err != nil || len(list) != 1 || list[0]["digest"] == "" {
		t.Errorf("ls --json --digests: %v %v, want a digest", list, err)
	}

	// rm --remote: names, a missing one, a prefix.
	if got := mustRun(t, local, append([]string{"rm", "m", "--remote", addr}, tok...)...); got != "removed m\n" {
		t.Errorf("rm --remote m: %q", got)
	}
	r = arrayxRun(t, local, append([]string{"rm", "m", "--remote", addr}, tok...)...)
	if want := `arrayx: no array "m" on ` + addr + "\n"; r.code != 1 || r.stderr != want {
		t.Errorf("rm --remote of a missing array: exit %d, stderr %q, want %q", r.code, r.stderr, want)
	}
	if got := mustRun(t, local, append([]string{"rm", "--prefix", "sim/", "--remote", addr}, tok...)...); got != "removed sim/1\nremoved sim/2\n" {
		t.Errorf("rm --remote --prefix sim/: %q", got)
	}
	if got := mustRun(t, remote, "ls"); !strings.HasPrefix(got, "simple ") || strings.Count(got, "\n") != 1 {
		t.Errorf("the server's store after the removals:\n%s", got)
	}
	if got := mustRun(t, local, "ls"); !strings.HasPrefix(got, "m ") {
		t.Errorf("rm --remote touched the local store:\n%s", got)
	}
}

// TestRemoteRefusals: a server's refusals read as sentences naming it.
func TestRemoteRefusals(t *testing.T) {
	local := t.TempDir()
	ro, stopRO := startServe(t, t.TempDir(), "--read-only")
	t.Cleanup(func() { stopRO() })
	small, stopSmall := startServe(t, t.TempDir(), "--max-bytes", "1KiB")
	t.Cleanup(func() { stopSmall() })
	mustRun(t, local, "create", "x", "--shape", "1000")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"push", "x", ro}, ro + ` is read-only (arrayx serve --read-only): it refuses to store or remove "x"`},
		{[]string{"rm", "x", "--remote", ro}, ro + ` is read-only (arrayx serve --read-only): it refuses to store or remove "x"`},
		{[]string{"push", "x", small}, small + ` refuses "x": larger than it accepts (arrayx serve --max-bytes)`},
	} {
		r := arrayxRun(t, local, tc.args...)
		if r.code != 1 || r.stderr != "arrayx: "+tc.want+"\n" {
			t.Errorf("%v: exit %d, stderr %q; want %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// TestRemoteArrayErrorNoSpace: a server's no_space reply names the server;
// the same sentinel from the local store (a pull) keeps its own words.
func TestRemoteArrayErrorNoSpace(t *testing.T) {
	remote := fmt.Errorf("netlink: push x: %w", &netlink.RemoteError{Status: netlink.StatusNoSpace, Code: "no_space", Message: "mmapstore: no space left for array"})
	if got := remoteArrayError("h:7070", "x", remote).Error(); got != `h:7070 has no room for "x"` {
		t.Errorf("remote no_space: %q", got)
	}
	local := fmt.Errorf("netlink: pull x: %w", mmapstore.ErrNoSpace)
	if got := remoteArrayError("h:7070", "x", local); got != local {
		t.Errorf("local no space became %q", got)
	}
}
