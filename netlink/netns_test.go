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
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arrayx/arrayx/arrayx"
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
		c, err := Dial(ctx, os.Getenv("ARX_ADDR"), &DialOptions{Token: token})
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

var netnsSeq atomic.Int32

// TestNetns runs the server in one network namespace and the client in
// another, joined only by a veth pair, and pushes an array across and pulls
// it back. The veth counters prove the bytes crossed the link.
func TestNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skipf("skipping: creating network namespaces needs root, running as uid %d", os.Geteuid())
	}
	ipCmd, err := exec.LookPath("ip")
	if err != nil {
		t.Skipf("skipping: no ip command (iproute2): %v", err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	seq := netnsSeq.Add(1)
	id := fmt.Sprintf("%d%c", os.Getpid(), 'a'+rune(seq%26))
	nsA, nsB := "arxA"+id, "arxB"+id
	vethA, vethB := "arxa"+id, "arxb"+id // at most 12 bytes: IFNAMSIZ is 16
	x := (os.Getpid() + int(seq)) % 256
	ipA, ipB := fmt.Sprintf("10.231.%d.1", x), fmt.Sprintf("10.231.%d.2", x)

	ip := func(args ...string) ([]byte, error) {
		out, err := exec.Command(ipCmd, args...).CombinedOutput()
		if err != nil {
			return out, fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
		return out, nil
	}
	must := func(args ...string) []byte {
		t.Helper()
		out, err := ip(args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if _, err := ip("netns", "add", nsA); err != nil {
		t.Skipf("skipping: cannot create a network namespace here: %v", err)
	}
	t.Cleanup(func() {
		if _, err := ip("netns", "del", nsA); err != nil {
			t.Error(err)
		}
	})
	must("netns", "add", nsB)
	t.Cleanup(func() {
		if _, err := ip("netns", "del", nsB); err != nil {
			t.Error(err)
		}
		// The veth ends die with their namespaces; this catches a pair left in
		// the host namespace by a failure half-way through.
		ip("link", "del", vethA)
	})
	must("link", "add", vethA, "netns", nsA, "type", "veth", "peer", "name", vethB, "netns", nsB)
	must("-n", nsA, "addr", "add", ipA+"/30", "dev", vethA)
	must("-n", nsB, "addr", "add", ipB+"/30", "dev", vethB)
	for _, nd := range [][2]string{{nsA, vethA}, {nsB, vethB}} {
		must("-n", nd[0], "link", "set", "lo", "up")
		must("-n", nd[0], "link", "set", nd[1], "up")
	}

	srcDir, dstDir := t.TempDir(), t.TempDir()
	src, err := mmapstore.OpenStore(srcDir, &mmapstore.Options{Sync: mmapstore.SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	a := newArray(t, src, "cross", arrayx.Float32, arrayx.Shape{3, 2 << 20}, arrayx.OrderC, richAttrs("cross")) // 24 MiB
	token := "netns-token"

	// Cancelled by the last cleanup, after the server's own (which closes its
	// stdin and waits for it): the context only bounds a helper that hangs.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	helper := func(ns, mode string, env ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, ipCmd, "netns", "exec", ns, exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), append([]string{helperEnv + "=" + mode, "ARX_TOKEN=" + token,
			"GORACE=" + os.Getenv("GORACE") + " atexit_sleep_ms=0"}, env...)...) // -race binaries sleep 1 s at exit by default
		return cmd
	}

	// The server, in namespace A.
	srv := helper(nsA, "server", "ARX_STORE="+dstDir, "ARX_ADDR="+ipA+":0")
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
	t.Logf("server in %s listening on %s; client in %s at %s", nsA, addr, nsB, ipB)

	// The client, in namespace B.
	cli := helper(nsB, "client", "ARX_STORE="+srcDir, "ARX_ADDR="+addr, "ARX_NAME=cross")
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
	if push.Bytes != n || !push.ZeroCopy || pull.Bytes != n || !pull.ZeroCopy {
		t.Fatalf("stats push %+v pull %+v, want %d bytes each way by sendfile", push, pull, n)
	}

	// The server's store holds the array; the client's holds the copy pulled back.
	dst, err := mmapstore.OpenStore(dstDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	sameArray(t, a, dst, "cross")
	sameArray(t, a, src, "cross-back")

	// The bytes went through the veth: A received the push and sent the pull.
	var links []struct {
		Stats64 struct {
			RX, TX struct {
				Bytes int64 `json:"bytes"`
			}
		} `json:"stats64"`
	}
	if err := json.Unmarshal(must("-n", nsA, "-s", "-j", "link", "show", "dev", vethA), &links); err != nil || len(links) != 1 {
		t.Fatalf("veth statistics: %v %v", links, err)
	}
	rx, tx := links[0].Stats64.RX.Bytes, links[0].Stats64.TX.Bytes
	t.Logf("%s in %s: received %d bytes, sent %d bytes", vethA, nsA, rx, tx)
	if rx < n || tx < n {
		t.Fatalf("%s moved rx %d / tx %d bytes, less than the array's %d each way", vethA, rx, tx, n)
	}
}
