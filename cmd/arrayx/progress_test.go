package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
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
