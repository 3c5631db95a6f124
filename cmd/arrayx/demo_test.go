package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// cliEnv makes the test binary act as the arrayx command, so that demo can
// start its consumer process by re-executing os.Executable().
const cliEnv = "ARRAYX_TEST_RUN_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(cliEnv) == "1" {
		main() // signals included, as for the real command
	}
	os.Exit(m.Run())
}

// TestDemo runs the quick start's main job end to end, small: two processes,
// a real handoff, and a report whose sums are right and whose consumer heap
// did not grow by the array's size.
func TestDemo(t *testing.T) {
	t.Setenv(cliEnv, "1")
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"demo", "--size", "32MiB"}, &out, &errb)
	if code != 0 {
		t.Fatalf("demo exited %d: %s\n%s", code, errb.String(), out.String())
	}
	text := out.String()
	t.Log("\n" + text)
	if strings.Count(text, "(correct)") != 2 {
		t.Fatalf("demo did not confirm both sums:\n%s", text)
	}
	if !strings.Contains(text, "(inotify)") && !strings.Contains(text, "(polling)") {
		t.Fatalf("demo does not say how the consumer waited:\n%s", text)
	}
	m := regexp.MustCompile(`heap grew by ([0-9.]+) (B|KiB|MiB) instead of 32.0 MiB`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no heap comparison in:\n%s", text)
	}
	if v, _ := strconv.ParseFloat(m[1], 64); m[2] == "MiB" && v >= 1 {
		t.Fatalf("the consumer's heap grew by %s %s during the handoff", m[1], m[2])
	}
	if !regexp.MustCompile(`network   pull +[0-9.]+ s +[0-9.]+ GB/s, zero-copy: yes \(sendfile->pwrite\)`).MatchString(text) {
		t.Fatalf("no zero-copy network pull in:\n%s", text)
	}
	// The temporary store is gone afterwards.
	if dir := regexp.MustCompile(`store: (\S+)`).FindStringSubmatch(text); dir == nil {
		t.Fatal("no store line")
	} else if _, err := os.Stat(filepath.Dir(dir[1])); !os.IsNotExist(err) {
		t.Fatalf("demo left its store %s behind (%v)", dir[1], err)
	}
}

func TestDemoUsage(t *testing.T) {
	for _, args := range [][]string{{"demo", "extra"}, {"demo", "--size", "lots"}, {"demo", "--size", "4B"}} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, stderr %q", args, code, errb.String())
		}
		if n := strings.Count(strings.TrimSpace(errb.String()), "\n"); n != 0 {
			t.Errorf("%v: error is %d lines: %q", args, n+1, errb.String())
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"512MiB": 512 << 20, "1GiB": 1 << 30, "100MB": 100e6, "4096": 4096,
		"1.5KiB": 1536, "2 GiB": 2 << 30} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "-1MiB", "1e300GiB", "NaN"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) succeeded", in)
		}
	}
}
