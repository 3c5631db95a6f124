package testutil

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// recorder is a testing.TB that records the first way a helper ended the
// test instead of ending it.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Skipf(format string, args ...any) {
	if r.skipped == "" && r.failed == "" {
		r.skipped = fmtArgs(format, args...)
	}
}

func (r *recorder) Fatalf(format string, args ...any) {
	if r.skipped == "" && r.failed == "" {
		r.failed = fmtArgs(format, args...)
	}
}

func (r *recorder) Fatal(args ...any) { r.Fatalf("%v", args...) }

func fmtArgs(format string, args ...any) string { return fmt.Sprintf(format, args...) }

func TestUnavailable(t *testing.T) {
	t.Setenv("CI", "")
	r := &recorder{TB: t}
	Unavailable(r, "no %s here", "widget")
	if r.skipped != "skipping: no widget here" || r.failed != "" {
		t.Errorf("without CI: skipped %q, failed %q; want a skip with the reason", r.skipped, r.failed)
	}
	t.Setenv("CI", "true")
	r = &recorder{TB: t}
	Unavailable(r, "no %s here", "widget")
	if r.skipped != "" || !strings.HasPrefix(r.failed, "no widget here") || !strings.Contains(r.failed, "CI is set") {
		t.Errorf("with CI: skipped %q, failed %q; want a failure with the reason", r.skipped, r.failed)
	}
}

func TestNeedTool(t *testing.T) {
	t.Setenv("CI", "")
	if p := NeedTool(t, "sh"); p == "" {
		t.Error("NeedTool found no sh")
	}
	r := &recorder{TB: t}
	NeedTool(r, "mkfs.xfs-no-such-tool")
	if !strings.Contains(r.skipped, "mkfs.xfs-no-such-tool is needed") {
		t.Errorf("a missing tool: skipped %q, failed %q", r.skipped, r.failed)
	}
	t.Setenv("CI", "true")
	r = &recorder{TB: t}
	NeedTool(r, "curl-no-such-tool")
	if r.skipped != "" || !strings.Contains(r.failed, "curl-no-such-tool is needed") {
		t.Errorf("a missing tool under CI: skipped %q, failed %q; want a failure", r.skipped, r.failed)
	}
}

func TestRequirePythonMissingModule(t *testing.T) {
	if _, err := os.Stat(Python); err != nil {
		t.Skipf("no %s: the message is not the point here", Python)
	}
	r := &recorder{TB: t}
	RequirePython(r, "arrayx_no_such_module")
	if r.skipped != "" || !strings.Contains(r.failed, "python3-arrayx_no_such_module") {
		t.Errorf("skipped %q, failed %q; want a failure naming the package", r.skipped, r.failed)
	}
}

func TestRandReplays(t *testing.T) {
	t.Setenv(SeedEnv, "12345")
	a, b := Rand(t), Rand(t)
	for range 10 {
		if x, y := a.Uint64(), b.Uint64(); x != y {
			t.Fatalf("the same %s gave %d and %d", SeedEnv, x, y)
		}
	}
	t.Setenv(SeedEnv, "not a number")
	r := &recorder{TB: t}
	Rand(r)
	if !strings.Contains(r.failed, "not a number") {
		t.Errorf("a bad seed: failed %q", r.failed)
	}
}

func TestEventually(t *testing.T) {
	n := 0
	if !Eventually(time.Second, func() bool { n++; return n == 3 }) || n != 3 {
		t.Errorf("Eventually stopped after %d calls; want true after 3", n)
	}
	start := time.Now()
	if Eventually(20*time.Millisecond, func() bool { return false }) {
		t.Error("Eventually held for a condition that never holds")
	}
	if d := time.Since(start); d < 20*time.Millisecond || d > 5*time.Second {
		t.Errorf("Eventually gave up after %v; want about 20 ms", d)
	}
}

func TestShmOrTempDirRemoved(t *testing.T) {
	var dir string
	t.Run("use", func(t *testing.T) {
		dir = ShmOrTempDir(t)
		if err := os.WriteFile(dir+"/f", []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s outlived its test: %v", dir, err)
	}
}
