package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/arrayx/arrayx/mmapstore"
)

func TestProgressNoop(t *testing.T) {
	var buf bytes.Buffer
	for _, e := range []*env{
		{stderr: &buf},                         // not a terminal
		{stderr: &buf, tty: true, quiet: true}, // --quiet
	} {
		p := e.newProgress("x", 100)
		if p != nil {
			t.Errorf("tty=%v quiet=%v: got a bar", e.tty, e.quiet)
		}
		p.add(10) // a nil bar is a no-op
		p.done()
	}
	if p := (&env{stderr: &buf, tty: true}).newProgress("x", 0); p != nil {
		t.Error("got a bar for no work")
	}
	if buf.Len() != 0 {
		t.Errorf("no-op bars wrote %q", buf.String())
	}
}

func TestProgressBar(t *testing.T) {
	var buf bytes.Buffer
	p := (&env{stderr: &buf, tty: true}).newProgress("copy", 4<<20)
	p.add(1 << 20)
	p.add(3 << 20)
	p.done()
	s := buf.String()
	if !strings.Contains(s, "copy") || !strings.Contains(s, "MiB") {
		t.Errorf("bar output %q: want the description and byte counts", s)
	}
}

// TestCreateProgress fills with a bar, as create does on a terminal.
func TestCreateProgress(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, storeDir: dir, tty: true}
	c := &createCmd{dtype: "float32", shape: "1000,1000", order: "C", fill: fillRandom}
	if err := c.run(context.Background(), e, []string{"p"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errb.String(), "fill p") {
		t.Errorf("stderr %q: want a fill bar", errb.String())
	}
	if out.String() != "created p: float32 (1000, 1000) C, 4000000 bytes\n" {
		t.Errorf("stdout %q", out.String())
	}
}

func TestCreateCanceled(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e := &env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, storeDir: dir}
	c := &createCmd{dtype: "float64", shape: "1000", order: "C", fill: fillOnes}
	if err := c.run(ctx, e, []string{"x"}); err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Errorf("got %v, want a cancellation", err)
	}
	if got := mustRun(t, dir, "ls"); got != "" {
		t.Errorf("a canceled create left %q", got)
	}
}

// TestResumeProgress pulls an array that an interrupted pull left two of
// three blocks of: on a terminal the bars first check the partial (all of
// it), then count the held blocks as done and reach the whole array; the
// summary gives the data phase and the wall time.
func TestResumeProgress(t *testing.T) {
	local, remote := t.TempDir(), t.TempDir()
	mustRun(t, remote, "create", "x", "--dtype", "float64", "--shape", "1572864", "--fill", "random") // 12 MiB, 3 blocks
	addr, stop := startServe(t, remote)
	defer stop()
	src := openArray(t, remote, "x")
	st, err := mmapstore.OpenStore(local, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.Receive("x", src.RawHeader(), nil)
	if err != nil {
		t.Fatal(err)
	}
	const block = 4 << 20
	if _, err := p.ReceiveAt(bytes.NewReader(src.Bytes()[:2*block]), 0, 2*block); err != nil {
		t.Fatal(err)
	}
	p.Close()
	st.Close()

	type count struct{ checked, done, total int64 }
	var got []count
	defer func(h func(string, int64, int64, int64)) { testHookBars = h }(testHookBars)
	testHookBars = func(_ string, checked, done, total int64) { got = append(got, count{checked, done, total}) }
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, storeDir: local, tty: true}
	if err := (&pullCmd{}).run(context.Background(), e, []string{addr, "x"}); err != nil {
		t.Fatal(err)
	}
	n := src.Header().NBytes
	if len(got) != 1 || got[0] != (count{n, n, n}) {
		t.Fatalf("the bars counted %+v; want the whole array checked, then the whole array done", got)
	}
	if !strings.Contains(errb.String(), "check x") || !strings.Contains(errb.String(), "pull x") {
		t.Errorf("stderr %q: want a check bar, then a pull bar", errb.String())
	}
	if s := out.String(); !strings.Contains(s, fmt.Sprintf("%d bytes in", block)) || !strings.Contains(s, fmt.Sprintf("resumed after %d bytes", 2*block)) ||
		!strings.Contains(s, "wall time") {
		t.Errorf("summary %q: want the one block sent, the resume and the wall time", s)
	}
}
