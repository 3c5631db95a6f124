package netlink

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testnet"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/internal/testutil/teststore"
	"github.com/arrayx/arrayx/mmapstore"
)

// helperEnv selects a helper mode when the test binary is re-executed inside
// a network namespace (see TestNetns).
const helperEnv = "ARRAYX_NETLINK_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(m.Run())
}

// runHelper is the re-executed binary's main: "server" serves ARX_STORE on
// ARX_ADDR, prints "listening ADDR" and serves until stdin closes; "client"
// pushes ARX_NAME from ARX_STORE to ARX_ADDR, pulls it back as ARX_NAME-back,
// and prints both Stats as JSON. The fault and load tests add:
//   - "server" with ARX_FSIZE=N: first limits the file size the process may
//     write to N bytes (RLIMIT_FSIZE), a real "disk full" without root;
//   - "server" with ARX_STATS=1: samples its goroutine count and connections
//     while serving and prints, after shutting down, "stats " and a
//     serverStats JSON object with those high-water marks and its VmHWM;
//   - "pusher": pushes ARX_NAME from ARX_STORE to ARX_ADDR as ARX_AS and
//     prints the Stats as JSON (fault_test.go kills it mid-transfer);
//   - "chain": pushes ARX_NAME to ARX_ADDR, relayed down ARX_CHAIN (a
//     comma-separated list), and prints a chainResult as JSON;
//   - "syncer": syncs ARX_STORE to ARX_ADDR (SyncPush) and prints the
//     report (sync_fault_test.go kills it);
//   - "client" with ARX_STREAMS=N and ARX_STREAM_MIN=B: transfers on N
//     streams, opening one for every B bytes;
//   - "writer": creates ARX_NAME (ARX_SIZE bytes) in ARX_STORE, fills it,
//     prints "created", waits until stdin closes, seals it and prints
//     "sealed" (fault_test.go kills one to leave an orphaned temporary file).
func runHelper(mode string) int {
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "%s helper: %v\n", mode, err)
		return 1
	}
	st, err := mmapstore.OpenStore(os.Getenv("ARX_STORE"), &mmapstore.Options{Sync: mmapstore.SyncNever})
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	token := []byte(os.Getenv("ARX_TOKEN"))
	switch mode {
	case "server":
		if n := os.Getenv("ARX_FSIZE"); n != "" {
			if err := limitFileSize(n); err != nil {
				return fail(err)
			}
		}
		l, err := net.Listen("tcp", os.Getenv("ARX_ADDR"))
		if err != nil {
			return fail(err)
		}
		srv := NewServer(st, Config{Token: token})
		var sampler *statsSampler
		if os.Getenv("ARX_STATS") != "" {
			sampler = sampleStats(srv)
		}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(l) }()
		fmt.Printf("listening %s\n", l.Addr())
		eof := make(chan struct{})
		go func() { io.Copy(io.Discard, os.Stdin); close(eof) }()
		select {
		case <-eof:
		case <-time.After(2 * time.Minute): // never outlive a lost parent for long
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			return fail(err)
		}
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			return fail(err)
		}
		if sampler != nil {
			st, err := sampler.stop()
			if err != nil {
				return fail(err)
			}
			out, _ := json.Marshal(st)
			fmt.Printf("stats %s\n", out)
		}
		return 0
	case "pusher":
		return helperPusher(st, token, fail)
	case "chain":
		return helperChain(st, token, fail)
	case "syncer":
		return helperSyncer(st, token, fail)
	case "writer":
		return helperWriter(st, fail)
	case "client":
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		name := os.Getenv("ARX_NAME")
		a, err := st.Open(name)
		if err != nil {
			return fail(err)
		}
		defer a.Close()
		streams, _ := strconv.Atoi(os.Getenv("ARX_STREAMS"))
		if m, err := strconv.ParseInt(os.Getenv("ARX_STREAM_MIN"), 10, 64); err == nil {
			streamMin = m
		}
		c, err := Dial(ctx, os.Getenv("ARX_ADDR"), &DialOptions{Token: token, Streams: streams})
		if err != nil {
			return fail(err)
		}
		defer c.Close()
		push, err := c.Push(ctx, a, name)
		if err != nil {
			return fail(err)
		}
		pull, err := c.Pull(ctx, name, st, name+"-back")
		if err != nil {
			return fail(err)
		}
		if err := json.NewEncoder(os.Stdout).Encode(map[string]Stats{"push": push, "pull": pull}); err != nil {
			return fail(err)
		}
		return 0
	}
	return fail(fmt.Errorf("unknown mode"))
}

// TestNetns runs the server in one network namespace and the client in
// another, joined only through a switch with 1 Gbit/s links
// (internal/testnet), and pushes an array across and pulls it back, on one
// stream and on four. The links' counters prove the bytes crossed them.
func TestNetns(t *testing.T) {
	n := testnet.New(t, testnet.Options{Hosts: 2, Rate: "1gbit"})
	srvHost, cliHost := n.Hosts[0], n.Hosts[1]
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	srcDir, dstDir := t.TempDir(), t.TempDir()
	src := teststore.At(t, srcDir)
	a := teststore.NewArray(t, src, "cross", arrayx.Float32, arrayx.Shape{3, 2 << 20}, arrayx.OrderC, richAttrs("cross")) // 24 MiB, 6 blocks
	token := "netns-token"

	// Cancelled by the last cleanup, after the server's own (which closes its
	// stdin and waits for it): the context only bounds a helper that hangs.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	helper := func(h *testnet.Host, mode string, env ...string) *exec.Cmd {
		cmd := h.Command(ctx, exe, "-test.run=^$")
		cmd.Env = testutil.ChildEnv(append([]string{helperEnv + "=" + mode, "ARX_TOKEN=" + token}, env...)...)
		return cmd
	}

	// The server, in the first host.
	srv := helper(srvHost, "server", "ARX_STORE="+dstDir, "ARX_ADDR="+srvHost.IP+":0")
	stdin, err := srv.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var srvErr bytes.Buffer
	srv.Stderr = &srvErr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	srvDone := make(chan error, 1)
	t.Cleanup(func() {
		stdin.Close()
		select {
		case err := <-srvDone:
			if err != nil {
				t.Errorf("server helper: %v\n%s", err, srvErr.String())
			}
		case <-time.After(15 * time.Second):
			srv.Process.Kill()
			t.Errorf("server helper did not exit within 15 s of its stdin closing\n%s", srvErr.String())
		}
	})
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- line
		io.Copy(io.Discard, stdout)
		srvDone <- srv.Wait()
	}()
	var addr string
	select {
	case line := <-lines:
		var ok bool
		if addr, ok = strings.CutPrefix(strings.TrimSpace(line), "listening "); !ok {
			t.Fatalf("server helper said %q\n%s", line, srvErr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("server helper did not start listening within 30 s\n%s", srvErr.String())
	}
	t.Logf("server in %s listening on %s; client in %s", srvHost, addr, cliHost)

	dst := teststore.At(t, dstDir)
	for _, streams := range []int{1, 4} {
		t.Run(fmt.Sprintf("streams=%d", streams), func(t *testing.T) {
			rx0, tx0, err := srvHost.LinkBytes()
			if err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("cross%d", streams)
			if err := os.Link(filepath.Join(srcDir, "cross.arx"), filepath.Join(srcDir, name+".arx")); err != nil {
				t.Fatal(err)
			}
			// 24 MiB makes four streams of 6 MiB: the helper lowers the
			// least a stream must carry.
			cli := helper(cliHost, "client", "ARX_STORE="+srcDir, "ARX_ADDR="+addr, "ARX_NAME="+name,
				fmt.Sprintf("ARX_STREAMS=%d", streams), "ARX_STREAM_MIN=4194304")
			out, err := cli.Output()
			if err != nil {
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					t.Fatalf("client helper: %v\n%s", err, ee.Stderr)
				}
				t.Fatal(err)
			}
			var stats map[string]Stats
			if err := json.Unmarshal(out, &stats); err != nil {
				t.Fatalf("client helper output %q: %v", out, err)
			}
			push, pull := stats["push"], stats["pull"]
			t.Logf("push: %s", push)
			t.Logf("pull: %s", pull)
			n := a.Header().NBytes
			if push.Bytes != n || !push.ZeroCopy || pull.Bytes != n || !pull.ZeroCopy || push.Streams != streams || pull.Streams != streams {
				t.Fatalf("stats push %+v pull %+v, want %d bytes each way by sendfile on %d streams", push, pull, n, streams)
			}
			// The server's store holds the array; the client's holds the copy pulled back.
			sameArray(t, a, dst, name)
			sameArray(t, a, src, name+"-back")
			// The bytes went through the link: the server's host received the
			// push and sent the pull.
			rx1, tx1, err := srvHost.LinkBytes()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: received %d bytes, sent %d bytes", srvHost, rx1-rx0, tx1-tx0)
			if rx1-rx0 < n || tx1-tx0 < n {
				t.Fatalf("the link moved rx %d / tx %d bytes, less than the array's %d each way", rx1-rx0, tx1-tx0, n)
			}
		})
	}
}
