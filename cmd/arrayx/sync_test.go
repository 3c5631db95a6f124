package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/arrayx/arrayx/internal/testutil"
)

// TestSync replicates a store to a server and back with arrayx sync: what
// each run prints, the JSON report, a dry run, and the usage errors.
func TestSync(t *testing.T) {
	local, remote, back := t.TempDir(), t.TempDir(), filepath.Join(t.TempDir(), "back")
	addr, stop := startServe(t, remote)
	defer stop()
	for _, n := range []string{"a", "b", "c"} {
		mustRun(t, local, "create", "sim/"+n, "--dtype", "float64", "--shape", "1000", "--fill", "random")
	}
	mustRun(t, local, "create", "sim/big", "--dtype", "float32", "--shape", "1024,4096", "--fill", "arange")
	simDir := filepath.Join(local, "sim")

	out := mustRun(t, local, "sync", simDir, addr+"/copy")
	if !regexp.MustCompile(`(?m)^synced \S+ -> \S+/copy: 4 checked, 0 identical, 4 sent whole, 0 sent as deltas, 0 deleted; moved 16801216 bytes of data in [0-9.]+ s$`).MatchString(out) ||
		!strings.Contains(out, "whole big: 16777216 of 16777216 bytes\n") {
		t.Fatalf("first sync printed %q", out)
	}
	out = mustRun(t, local, "sync", simDir, "arrayx://"+addr+"/copy")
	if !strings.Contains(out, ": 4 checked, 4 identical, 0 sent whole, 0 sent as deltas, 0 deleted; moved 0 bytes") {
		t.Fatalf("unchanged sync printed %q", out)
	}

	// A changed array: the dry run and then the sync move one block.
	mustRun(t, local, "rm", "sim/big")
	mustRun(t, local, "create", "sim/big", "--dtype", "float32", "--shape", "1024,4096", "--fill", "arange", "--attr", "v=2")
	out = mustRun(t, local, "sync", simDir, addr+"/copy", "--dry-run", "--delete", "--exclude", "a")
	if !strings.Contains(out, "delta big: 0 of 16777216 bytes\ndry run ") || !strings.Contains(out, ": 3 checked, 2 identical, 0 sent whole, 1 sent as deltas, 0 deleted; would move 0 bytes") {
		t.Fatalf("dry run printed %q", out)
	}
	out = mustRun(t, local, "sync", simDir, addr+"/copy", "--json")
	var r struct {
		Checked, Identical, Whole, Delta int
		Bytes                            int64
		Items                            []struct{ Name, Action string }
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("sync --json printed %q: %v", out, err)
	}
	// New attrs make a new header: every block is reused, none is sent.
	if r.Checked != 4 || r.Identical != 3 || r.Delta != 1 || r.Bytes != 0 || len(r.Items) != 1 || r.Items[0].Name != "big" {
		t.Fatalf("sync --json: %+v", r)
	}

	// Pull it all back into a new store, then delete there what the server lacks.
	out = mustRun(t, local, "sync", addr+"/copy", back)
	if !strings.Contains(out, ": 4 checked, 0 identical, 4 sent whole") {
		t.Fatalf("pull-sync printed %q", out)
	}
	want := strings.Replace(mustRun(t, local, "info", "sim/big", "--json"), `"sim/big"`, `"big"`, 1)
	if got := mustRun(t, back, "info", "big", "--json"); want != got {
		t.Fatalf("pulled big differs:\n%s\n%s", got, want)
	}
	mustRun(t, back, "create", "extra", "--dtype", "uint8", "--shape", "3")
	out = mustRun(t, local, "sync", addr+"/copy", back, "--delete")
	if !strings.Contains(out, "delete extra\n") || !strings.Contains(out, "1 deleted") {
		t.Fatalf("sync --delete printed %q", out)
	}
	if _, err := os.Stat(filepath.Join(back, "extra.arx")); !os.IsNotExist(err) {
		t.Fatalf("extra survived --delete: %v", err)
	}

	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"sync", local, back}, 2, "one of SRC and DST must be a server"},
		{[]string{"sync", addr, addr}, 2, "one of SRC and DST must be a server"},
		{[]string{"sync", filepath.Join(local, "nope"), addr}, 1, "no store at"},
		{[]string{"sync", simDir}, 2, "want SRC and DST"},
	} {
		res := runRaw(t, tc.args...)
		if res.code != tc.code || !strings.Contains(res.stderr, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, res.code, res.stderr, tc.code, tc.msg)
		}
	}
}

// TestSyncWatch runs sync --watch with its metrics: the catch-up, a new
// array replicated as it is sealed, the counters scraped over HTTP, and
// an interrupt that ends the watch with exit code 0.
func TestSyncWatch(t *testing.T) {
	local, remote := t.TempDir(), t.TempDir()
	addr, stop := startServe(t, remote)
	defer stop()
	mustRun(t, local, "create", "a", "--dtype", "float64", "--shape", "1000", "--fill", "random")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metrics := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var stderr testutil.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"sync", local, addr, "--watch", "--debounce", "20ms", "--metrics", metrics}, pw, &stderr)
		pw.Close()
	}()
	expect := expectLines(t, pr, &stderr)
	expect("the metrics address", regexp.MustCompile(`^metrics on http://`+regexp.QuoteMeta(metrics)+`/metrics$`))
	expect("the catch-up", regexp.MustCompile(`^synced .*: 1 checked, 0 identical, 1 sent whole`))
	mustRun(t, local, "create", "b", "--dtype", "int32", "--shape", "10", "--fill", "arange")
	expect("the new array", regexp.MustCompile(`^whole b: 40 of 40 bytes$`))
	expect("its round", regexp.MustCompile(`^synced .*: 1 checked, 0 identical, 1 sent whole`))
	resp, err := http.Get("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`arrayx_sync_arrays_total{action="whole"} 2`,
		`arrayx_sync_arrays_total{action="delta"} 0`,
		"arrayx_sync_sent_bytes_total 8040",
		"arrayx_sync_rounds_total 2",
		"arrayx_sync_errors_total 0",
		"arrayx_sync_lag_seconds ",
		"arrayx_sync_last_success_timestamp_seconds ",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the metrics lack %q:\n%s", want, body)
		}
	}
	// 100 successive seals of one array: the replica ends equal.
	go io.Copy(io.Discard, pr)
	for i := range 100 {
		mustRun(t, local, "create", "c", "--dtype", "float64", "--shape", "1000", "--fill", "random", "--seed", fmt.Sprint(i), "--force")
	}
	want, err := os.ReadFile(filepath.Join(local, "c.arx"))
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the replica of c to equal the 100th seal", func() bool {
		got, err := os.ReadFile(filepath.Join(remote, "c.arx"))
		return err == nil && bytes.Equal(got, want)
	})
	resp, err = http.Get("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !regexp.MustCompile(`(?m)^arrayx_sync_rounds_total ([3-9]|[1-9][0-9]+)$`).Match(body) ||
		!strings.Contains(string(body), "arrayx_sync_errors_total 0") {
		t.Errorf("after 100 seals, the metrics say:\n%s", body)
	}
	cancel()
	if c := <-code; c != 0 {
		t.Fatalf("an interrupted watch exited %d: %s", c, stderr.String())
	}
	if names := mustRun(t, remote, "ls"); !strings.Contains(names, "a") || !strings.Contains(names, "b") {
		t.Fatalf("the server holds %q", names)
	}
}

// TestSyncWatchPull keeps a store following a server with sync --watch
// from the server's side: the catch-up, then an array created on the
// server arrives within a few polls, and an interrupt ends it with 0.
func TestSyncWatchPull(t *testing.T) {
	local, remote := t.TempDir(), t.TempDir()
	addr, stop := startServe(t, remote)
	defer stop()
	mustRun(t, remote, "create", "a", "--dtype", "float64", "--shape", "1000", "--fill", "random")
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var stderr testutil.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"sync", addr, local, "--watch", "--poll", "20ms"}, pw, &stderr)
		pw.Close()
	}()
	expect := expectLines(t, pr, &stderr)
	expect("the catch-up", regexp.MustCompile(`^synced .*: 1 checked, 0 identical, 1 sent whole`))
	mustRun(t, remote, "create", "b", "--dtype", "int32", "--shape", "10", "--fill", "arange")
	expect("the new array", regexp.MustCompile(`^whole b: 40 of 40 bytes$`))
	go io.Copy(io.Discard, pr)
	cancel()
	if c := <-code; c != 0 {
		t.Fatalf("an interrupted watch exited %d: %s", c, stderr.String())
	}
	want, _ := os.ReadFile(filepath.Join(remote, "b.arx"))
	if got, err := os.ReadFile(filepath.Join(local, "b.arx")); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the followed copy of b: %v, equal %v", err, bytes.Equal(got, want))
	}
}

// expectLines returns a function that reads r's lines until one matches re,
// failing the test (with stderr) if none does.
func expectLines(t *testing.T, r io.Reader, stderr *testutil.Buffer) func(what string, re *regexp.Regexp) {
	lines := bufio.NewScanner(r)
	return func(what string, re *regexp.Regexp) {
		t.Helper()
		for lines.Scan() {
			if re.MatchString(lines.Text()) {
				return
			}
		}
		t.Fatalf("%s: no line matching %s (stderr %s)", what, re, stderr.String())
	}
}
