package main

import (
	"strings"
	"testing"
	"time"
)

// TestWait: wait returns at once for an array that is there, blocks for one
// that is not until it is sealed (in a directory that did not exist), and
// gives up after --timeout with exit 1.
func TestWait(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "create", "here", "--shape", "2")
	if r := arrayxRun(t, dir, "wait", "here"); r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Fatalf("wait for an existing array: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	done := make(chan result, 1)
	go func() { done <- arrayxRun(t, dir, "wait", "later/x") }()
	select {
	case r := <-done:
		t.Fatalf("wait returned before the array existed: exit %d, stderr %q", r.code, r.stderr)
	case <-time.After(50 * time.Millisecond):
	}
	mustRun(t, dir, "create", "later/x", "--shape", "3")
	select {
	case r := <-done:
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("wait: exit %d, stderr %q", r.code, r.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("wait did not return after the array was sealed")
	}

	r := arrayxRun(t, dir, "wait", "never", "--timeout", "20ms")
	if want := `arrayx: no array "never" sealed in store ` + dir + " within 20ms\n"; r.code != 1 || r.stderr != want {
		t.Errorf("wait --timeout: exit %d, stderr %q; want 1 and %q", r.code, r.stderr, want)
	}
	for _, args := range [][]string{{"wait"}, {"wait", "../x"}, {"wait", "x", "--timeout", "-1s"}, {"wait", "x", "--timeout", "soon"}} {
		if r := arrayxRun(t, dir, args...); r.code != 2 || !strings.HasPrefix(r.stderr, "arrayx: ") {
			t.Errorf("%v: exit %d, stderr %q; want a usage error", args, r.code, r.stderr)
		}
	}
}
