package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/arrayx/arrayx/internal/testutil"
)

// TestInterrupted: a command whose context ends exits 130 with one line;
// a transfer's line says that running it again resumes it.
func TestInterrupted(t *testing.T) {
	local := t.TempDir()
	token := filepath.Join(t.TempDir(), "token")
	os.WriteFile(token, []byte("interrupt-secret\n"), 0o600)
	addr, stop := startServe(t, t.TempDir(), "--token-file", token)
	t.Cleanup(func() { stop() })
	mustRun(t, local, "create", "x", "--shape", "1000")

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, args := range [][]string{
		{"push", "x", addr, "--token-file", token},
		{"pull", addr, "x", "--as", "y", "--token-file", token},
		{"sync", local, addr, "--token-file", token},
	} {
		var out, errb bytes.Buffer
		code := run(cancelled, append([]string{"--store", local}, args...), &out, &errb)
		want := "arrayx: " + args[0] + " interrupted; run the same command again to resume the transfer where it stopped\n"
		if code != 130 || errb.String() != want {
			t.Errorf("%v interrupted: exit %d, stderr %q; want 130 and %q", args, code, errb.String(), want)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var errb bytes.Buffer
	go func() { done <- run(ctx, []string{"--store", local, "wait", "never"}, &bytes.Buffer{}, &errb) }()
	cancel()
	if code := <-done; code != 130 || errb.String() != "arrayx: wait interrupted\n" {
		t.Errorf("wait interrupted: exit %d, stderr %q", code, errb.String())
	}
}

// TestSignalExitCodes sends real signals to a waiting command: SIGINT exits
// 130, SIGTERM 143, as a shell reports a process the signal killed.
func TestSignalExitCodes(t *testing.T) {
	if runtime.GOOS != "linux" {
		testutil.Unavailable(t, "needs Linux's /proc and inotify to see when the command is waiting")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		cmd := exec.Command(exe, "--store", t.TempDir(), "wait", "never")
		cmd.Env = append(os.Environ(), cliEnv+"=1", testutil.NoExitSleep())
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if !waiting(cmd.Process.Pid) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the command never started waiting (with inotify)")
		}
		cmd.Process.Signal(tc.sig)
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != tc.code || stderr.String() != "arrayx: wait interrupted\n" {
			t.Errorf("%v: %v, stderr %q; want exit %d and one line", tc.sig, err, stderr.String(), tc.code)
		}
	}
}

// waiting waits until process pid is in Store.Wait, past installing its
// signal handlers: it holds an inotify descriptor. (The Go runtime catches
// every signal from the start, so the signal masks in /proc do not tell.)
func waiting(pid int) bool {
	fds := "/proc/" + strconv.Itoa(pid) + "/fd"
	for range 2000 {
		entries, err := os.ReadDir(fds)
		if err != nil {
			return false
		}
		for _, e := range entries {
			if l, _ := os.Readlink(filepath.Join(fds, e.Name())); l == "anon_inode:inotify" {
				return true
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}
