// Package testutil holds the helpers that tests of every package share, so
// that each lives in one place: deciding what a missing tool or privilege
// means, directories on tmpfs and disk, mounted filesystems, seeded
// randomness that can be replayed, polling, and child processes.
//
// It imports nothing of arrayx, so that any package's tests can use it,
// internal/zerocopy's and mmapstore's own included; helpers that open
// stores and make arrays are in the teststore package below it. Only tests
// import it, and internal/testnet, the test network that the benchmark
// harness shares. Helpers take testing.TB, clean up with t.Cleanup, and
// fail with t.Fatal.
//
// # Skip, or fail
//
// A test that needs something the machine lacks (root, a tool, a tmpfs)
// calls Unavailable or one of the Need helpers: it is skipped with the
// reason printed, unless the CI environment variable is set, where it
// fails, so that CI cannot pass by skipping. Tools (curl, strace, openssl,
// mkfs.xfs, ip) are such needs: go test ./... on a fresh machine with Go
// and the README's one install line passes, skipping what it cannot run.
// That install line's Python modules are different: RequirePython fails
// wherever they are missing, since the comparison with Debian's numpy or
// the Python package it serves is the point of the test.
package testutil

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// CI reports whether the CI environment variable is set (.ci/run sets it):
// there, what a test needs must be present.
func CI() bool { return os.Getenv("CI") != "" }

// Unavailable ends a test that cannot run on this machine, saying why: it
// skips, or fails when CI is set.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	why := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatalf("%s (CI is set, so this fails instead of skipping)", why)
	}
	t.Skipf("skipping: %s", why)
}

// NeedRoot calls Unavailable unless the test runs as root; what says what
// needs it ("mounting an XFS image").
func NeedRoot(t testing.TB, what string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "%s needs root (uid %d)", what, os.Geteuid())
	}
}

// installHints says how to get the tools tests look for.
var installHints = map[string]string{
	"curl":     "apt-get install curl; bash .ci/run installs it",
	"strace":   "apt-get install strace; bash .ci/run installs it",
	"mkfs.xfs": "apt-get install xfsprogs; bash .ci/run installs it",
	"git":      "apt-get install git",
}

// LookTool finds a program as exec.LookPath does, and besides PATH in the
// sbin directories, where Debian keeps mkfs.xfs, ip, tc and iptables and
// which a non-login root shell may not have on its PATH.
func LookTool(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err == nil {
		return p, nil
	}
	if !strings.Contains(name, "/") {
		for _, dir := range []string{"/usr/sbin", "/sbin"} {
			if q, err := exec.LookPath(dir + "/" + name); err == nil {
				return q, nil
			}
		}
	}
	return "", err
}

// toolMissing is the reason a tool is missing, with how to install it.
func toolMissing(name string, err error) string {
	if hint, ok := installHints[name]; ok {
		return fmt.Sprintf("%s is needed (%s): %v", name, hint, err)
	}
	return fmt.Sprintf("%s is needed: %v", name, err)
}

// NeedTool returns the path of the named program, or calls Unavailable.
func NeedTool(t testing.TB, name string) string {
	t.Helper()
	p, err := LookTool(name)
	if err != nil {
		Unavailable(t, "%s", toolMissing(name, err))
	}
	return p
}

// Python is Debian's interpreter, which the tests that check the Python
// reader or compare with numpy run: not whatever python3 comes first on
// PATH, but the one .ci/run installs python3-numpy and python3-msgpack for.
const Python = "/usr/bin/python3"

var pythonChecks sync.Map // "numpy, msgpack" -> error, once per process

// RequirePython fails the test, wherever it runs, unless Python imports
// every module named; it never skips (see the package documentation). The
// check runs once per set of modules.
func RequirePython(t testing.TB, modules ...string) {
	t.Helper()
	imports := strings.Join(modules, ", ")
	v, ok := pythonChecks.Load(imports)
	if !ok {
		script := "pass"
		if imports != "" {
			script = "import " + imports
		}
		var err error
		if out, rerr := exec.Command(Python, "-B", "-I", "-c", script).CombinedOutput(); rerr != nil {
			err = fmt.Errorf("%v: %s", rerr, bytes.TrimSpace(out))
		}
		v, _ = pythonChecks.LoadOrStore(imports, err)
	}
	if err, _ := v.(error); err != nil {
		pkgs := []string{"python3"}
		for _, m := range modules {
			pkgs = append(pkgs, "python3-"+m)
		}
		what := Python
		if imports != "" {
			what += " with " + imports
		}
		t.Fatalf("this test needs %s (apt-get install %s; bash .ci/run installs them): %v",
			what, strings.Join(pkgs, " "), err)
	}
}

// SeedEnv names the environment variable that replays a seed Rand logged.
const SeedEnv = "ARRAYX_TEST_SEED"

// Rand returns a generator for tests that pick random points (offsets to
// cut at, bytes to flip): seeded from $ARRAYX_TEST_SEED, or else the clock,
// and the seed is logged, so that a failure can be replayed.
func Rand(t testing.TB) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(SeedEnv); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", SeedEnv, s, err)
		}
	}
	t.Logf("random seed %d (rerun with %s=%d)", seed, SeedEnv, seed)
	return rand.New(rand.NewPCG(seed, 0x61727261797821))
}

// pollEvery is how often Eventually and WaitFor check their condition.
const pollEvery = 2 * time.Millisecond

// Eventually polls cond until it holds, for up to timeout, and reports
// whether it did. WaitFor is the form that fails the test.
func Eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollEvery)
	}
	return true
}

// WaitTimeout is how long WaitFor waits.
const WaitTimeout = 10 * time.Second

// WaitFor polls cond until it holds, and fails the test, naming what it
// waited for, if it does not within WaitTimeout: for what another goroutine
// or process does with no event to wait on.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !Eventually(WaitTimeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", WaitTimeout, what)
	}
}

// Buffer is a bytes.Buffer safe for concurrent use: a child process's
// output that the process writes while the test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// NoExitSleep is the GORACE setting for a child process that is a Go binary:
// the test's own GORACE plus atexit_sleep_ms=0, since a binary built with
// -race otherwise sleeps a second at every exit.
func NoExitSleep() string {
	return "GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0")
}

// ChildEnv is the environment of a child process started by a test: the
// test's own, NoExitSleep, then extra.
func ChildEnv(extra ...string) []string {
	return append(append(os.Environ(), NoExitSleep()), extra...)
}

// Child returns a command that runs this test binary again with no test
// selected, in ChildEnv(extra...): the test package's TestMain or init sees
// a variable of extra and acts as the other process of the test.
func Child(t testing.TB, extra ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = ChildEnv(extra...)
	return cmd
}
