package netlink

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testnet"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/internal/testutil/teststore"
	"github.com/arrayx/arrayx/mmapstore"
	"golang.org/x/sys/unix"
)

// Faults, for real: processes killed with SIGKILL in the middle of a
// transfer, bytes flipped on the wire, a full filesystem, files truncated
// under their mappings. docs/RELIABILITY.md reports what each test tried.

// ---------------------------------------------------------------------------
// Child processes (the helper modes are in netns_test.go)
// ---------------------------------------------------------------------------

// helperProc is the test binary re-executed in a helper mode.
type helperProc struct {
	t      testing.TB
	mode   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // stdout, line by line; closed at its end
	stderr *testutil.Buffer
	done   chan struct{} // closed once the process has exited
	err    error         // its exit status, once done
}

func startHelper(t testing.TB, mode string, env ...string) *helperProc {
	t.Helper()
	return startCmd(t, mode, testutil.Child(t, append([]string{helperEnv + "=" + mode}, env...)...))
}

// startHelperIn starts a helper inside a host of a test network.
func startHelperIn(t testing.TB, host *testnet.Host, mode string, env ...string) *helperProc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := host.Command(context.Background(), exe, "-test.run=^$")
	cmd.Env = testutil.ChildEnv(append([]string{helperEnv + "=" + mode}, env...)...)
	return startCmd(t, mode, cmd)
}

// startCmd starts a helper's command, reading its stdout line by line.
func startCmd(t testing.TB, mode string, cmd *exec.Cmd) *helperProc {
	t.Helper()
	h := &helperProc{t: t, mode: mode, cmd: cmd, lines: make(chan string, 64), stderr: &testutil.Buffer{}, done: make(chan struct{})}
	cmd.Stderr = h.stderr
	var err error
	if h.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			h.lines <- sc.Text()
		}
		close(h.lines)
		h.err = cmd.Wait()
		close(h.done)
	}()
	t.Cleanup(func() {
		select {
		case <-h.done:
		default:
			cmd.Process.Kill()
			<-h.done
		}
	})
	return h
}

// line returns the next line the helper prints.
func (h *helperProc) line() string {
	h.t.Helper()
	select {
	case l, ok := <-h.lines:
		if !ok {
			<-h.done
			h.t.Fatalf("%s helper ended (%v) without printing a line\n%s", h.mode, h.err, h.stderr)
		}
		return l
	case <-time.After(60 * time.Second):
		h.t.Fatalf("%s helper printed nothing for 60 s\n%s", h.mode, h.stderr)
	}
	return ""
}

// kill sends SIGKILL and waits until the process is gone.
func (h *helperProc) kill() {
	h.t.Helper()
	if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		h.t.Fatalf("killing the %s helper: %v", h.mode, err)
	}
	<-h.done
	var ee *exec.ExitError
	if !errors.As(h.err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		h.t.Fatalf("the %s helper ended with %v, not by SIGKILL\n%s", h.mode, h.err, h.stderr)
	}
}

// finish closes the helper's stdin and waits for it to exit successfully.
func (h *helperProc) finish() {
	h.t.Helper()
	h.stdin.Close()
	select {
	case <-h.done:
	case <-time.After(30 * time.Second):
		h.t.Fatalf("the %s helper did not exit within 30 s of its stdin closing\n%s", h.mode, h.stderr)
	}
	if h.err != nil {
		h.t.Fatalf("the %s helper: %v\n%s", h.mode, h.err, h.stderr)
	}
}

// startServerProc starts a server helper on dir and returns it and its address.
func startServerProc(t testing.TB, dir string, env ...string) (*helperProc, string) {
	t.Helper()
	return serverAddr(t, startHelper(t, "server", append([]string{"ARX_STORE=" + dir, "ARX_ADDR=127.0.0.1:0"}, env...)...))
}

// serverAddr waits for a server helper to say where it listens.
func serverAddr(t testing.TB, h *helperProc) (*helperProc, string) {
	t.Helper()
	addr, ok := strings.CutPrefix(h.line(), "listening ")
	if !ok {
		t.Fatalf("server helper did not say where it listens\n%s", h.stderr)
	}
	return h, addr
}

// helperClient opens ARX_NAME in st (unless ARX_NAME is unset) and dials
// ARX_ADDR with token, for the helper modes that send: the caller runs
// its request within ctx, then calls done.
func helperClient(st *mmapstore.Store, token []byte) (ctx context.Context, a *mmapstore.Array, c *Client, done func(), err error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	if name := os.Getenv("ARX_NAME"); name != "" {
		if a, err = st.Open(name); err != nil {
			cancel()
			return nil, nil, nil, nil, err
		}
	}
	if c, err = Dial(ctx, os.Getenv("ARX_ADDR"), &DialOptions{Token: token}); err != nil {
		if a != nil {
			a.Close()
		}
		cancel()
		return nil, nil, nil, nil, err
	}
	return ctx, a, c, func() {
		c.Close()
		if a != nil {
			a.Close()
		}
		cancel()
	}, nil
}

// helperPusher is the "pusher" helper mode.
func helperPusher(st *mmapstore.Store, token []byte, fail func(error) int) int {
	ctx, a, c, done, err := helperClient(st, token)
	if err != nil {
		return fail(err)
	}
	defer done()
	stats, err := c.Push(ctx, a, os.Getenv("ARX_AS"))
	if err != nil {
		return fail(err)
	}
	if err := json.NewEncoder(os.Stdout).Encode(stats); err != nil {
		return fail(err)
	}
	return 0
}

// helperWriter is the "writer" helper mode.
func helperWriter(st *mmapstore.Store, fail func(error) int) int {
	n, err := strconv.ParseInt(os.Getenv("ARX_SIZE"), 10, 64)
	if err != nil {
		return fail(err)
	}
	w, err := st.Create(os.Getenv("ARX_NAME"), arrayx.Uint8, arrayx.Shape{n}, arrayx.OrderC, nil)
	if err != nil {
		return fail(err)
	}
	teststore.Fill(w.Bytes(), 42, false)
	fmt.Println("created")
	io.Copy(io.Discard, os.Stdin)
	a, err := w.Seal()
	if err != nil {
		return fail(err)
	}
	defer a.Close()
	if err := a.Verify(); err != nil {
		return fail(err)
	}
	fmt.Println("sealed")
	return 0
}

// limitFileSize sets RLIMIT_FSIZE: writing or allocating past it fails with
// EFBIG (Go ignores the SIGXFSZ that comes with it).
func limitFileSize(s string) error {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return err
	}
	return unix.Setrlimit(unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: n, Max: n})
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

// partialPath returns the partial file of a transfer of the flat name into
// dir, or "" if there is none.
func partialPath(t testing.TB, dir, name string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "."+name+mmapstore.Ext+".part-*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m) > 1 {
		t.Fatalf("%d partial files for %s: %v", len(m), name, m)
	}
	if len(m) == 0 {
		return ""
	}
	return m[0]
}

// holds reports whether the file at path holds data bytes [x-4096, x) of a
// (the receiver has written everything before x there, up to a byte that a
// caller avoids by choosing an x whose byte before is not 0).
func holds(path string, a *mmapstore.Array, x int64) bool {
	if x == 0 {
		return true
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	lo := max(0, x-4096)
	got := make([]byte, x-lo)
	if _, err := f.ReadAt(got, a.Header().DataOffset+lo); err != nil {
		return false
	}
	return bytes.Equal(got, a.Bytes()[lo:x])
}

// cutPoint moves x forward past data bytes that are 0 (see holds).
func cutPoint(a *mmapstore.Array, x int64) int64 {
	b := a.Bytes()
	for x > 0 && x < int64(len(b)) && b[x-1] == 0 {
		x++
	}
	return x
}

// neverVisible polls st until stop is called, and reports whether name was
// ever seen by Open, Stat or List, or, when httpBase is set, by an HTTP
// server on the store (GET /v1/arrays/NAME and the list).
// httpSees returns what an HTTP client learns of name, "" when it is absent:
// the header URL must give 404, the data URL 404, and the list must not
// name it.
func httpSees(base, name string) string {
	for _, path := range []string{"/v1/arrays/" + name, "/v1/arrays/" + name + "/data"} {
		resp, err := http.Get(base + path)
		if err != nil {
			return "HTTP GET " + path + ": " + err.Error()
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			return fmt.Sprintf("HTTP GET %s: status %d", path, resp.StatusCode)
		}
	}
	resp, err := http.Get(base + "/v1/arrays")
	if err != nil {
		return "HTTP list: " + err.Error()
	}
	defer resp.Body.Close()
	var list []httpEntry
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return "HTTP list: " + err.Error()
	}
	for _, e := range list {
		if e.Name == name {
			return "HTTP list names it"
		}
	}
	return ""
}

func neverVisible(st *mmapstore.Store, name, httpBase string) (stop func() (polls int, seen string)) {
	var (
		quit  = make(chan struct{})
		done  = make(chan struct{})
		n     int
		first string
	)
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			default:
			}
			n++
			if a, err := st.Open(name); err == nil {
				a.Close()
				first = "Open"
				return
			} else if !errors.Is(err, fs.ErrNotExist) {
				first = "Open: " + err.Error()
				return
			}
			if _, err := st.Stat(name); !errors.Is(err, fs.ErrNotExist) {
				first = fmt.Sprintf("Stat: %v", err)
				return
			}
			if names, err := st.List(); err != nil || slices.Contains(names, name) {
				first = fmt.Sprintf("List: %v %v", names, err)
				return
			}
			if httpBase != "" {
				if seen := httpSees(httpBase, name); seen != "" {
					first = seen
					return
				}
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()
	return func() (int, string) {
		close(quit)
		<-done
		return n, first
	}
}

// checkResumed checks the Stats of a transfer resumed after the receiver got
// exactly x data bytes: it resumed from the last whole block before x and
// sent the rest, at most one block more than what was missing.
func checkResumed(t testing.TB, st Stats, h *arrayx.Header, x int64) {
	t.Helper()
	bs := h.BlockSize
	if want := min(x/bs*bs, h.NBytes); st.Resumed != want {
		t.Fatalf("resumed from %d after %d bytes had arrived, want %d (the whole blocks before it)", st.Resumed, x, want)
	}
	if st.Resumed+st.Bytes != h.NBytes {
		t.Fatalf("resumed %d + sent %d != %d bytes", st.Resumed, st.Bytes, h.NBytes)
	}
	if missing := h.NBytes - x; st.Bytes > missing+bs {
		t.Fatalf("re-sent %d bytes where %d were missing: more than one block (%d) extra", st.Bytes, missing, bs)
	}
}

// ---------------------------------------------------------------------------
// Sender killed
// ---------------------------------------------------------------------------

// TestSenderKilled pushes an array from a child process and kills it with
// SIGKILL once the receiver's partial file holds the data up to a chosen
// byte, at 20 random points and 5 edge cases (before the first data byte,
// one byte in, on either side of a block boundary, one byte short of the
// end). Through the whole interrupted transfer no array is visible under
// the name (Open, Stat, List and HTTP polled continuously); then a push from this
// process resumes from the last whole block received and verifies.
//
// A relay between the child and the server stops forwarding at the chosen
// byte, so the kill lands exactly there: the bytes the server received are
// the bytes its partial holds (checked by reading the file).
func TestSenderKilled(t *testing.T) {
	ctx := context.Background()
	local := teststore.At(t, t.TempDir())
	remote := teststore.At(t, testutil.ShmOrTempDir(t))
	srv, addr := startServer(t, remote, "tcp", Config{})
	_, httpBase := serveHTTP(t, remote, Config{})
	a := teststore.NewArray(t, local, "src", arrayx.Uint8, arrayx.Shape{6*4*mib - 1000}, arrayx.OrderC, nil) // 6 blocks, the last short
	h := a.Header()
	bs := h.BlockSize
	rng := testutil.Rand(t)
	points := []int64{0, 1, bs - 1, bs, bs + 1, h.NBytes - 1}
	for range 20 {
		points = append(points, 1+rng.Int64N(h.NBytes-1))
	}
	var polls int
	start := time.Now()
	for i, x := range points {
		x = cutPoint(a, x)
		name := fmt.Sprintf("k%02d", i)
		p := newProxy(t, addr)
		p.c2s.holdData(a, x)
		stop := neverVisible(remote, name, httpBase)
		pusher := startHelper(t, "pusher", "ARX_STORE="+local.Dir(), "ARX_ADDR="+p.addr, "ARX_NAME=src", "ARX_AS="+name)
		p.c2s.waitReached(t)
		// The receiver writes a block once it has it whole and verified:
		// wait for the whole blocks before x.
		var part string
		testutil.WaitFor(t, fmt.Sprintf("the receiver's partial of %s to hold the %d bytes of whole blocks before byte %d", name, x/bs*bs, x), func() bool {
			part = partialPath(t, remote.Dir(), name)
			return part != "" && holds(part, a, x/bs*bs)
		})
		pusher.kill()
		p.close()
		waitIdle(t, srv)
		n, seen := stop()
		polls += n
		if seen != "" {
			t.Fatalf("point %d (%d bytes): the interrupted array was visible under its name: %s", i, x, seen)
		}
		notVisibleAmong(t, remote, name)
		if partialPath(t, remote.Dir(), name) != part {
			t.Fatalf("point %d: the partial file %s did not survive the sender's death", i, part)
		}
		c := dial(t, addr, nil)
		st, err := c.Push(ctx, a, name)
		if err != nil {
			t.Fatalf("point %d (%d bytes): the push after the kill: %v", i, x, err)
		}
		c.Close()
		checkResumed(t, st, h, x)
		sameArray(t, a, remote, name)
	}
	t.Logf("%d senders killed at data bytes %v (block size %d, %d bytes); every push after resumed from the last whole block and verified; "+
		"the name was polled %d times while interrupted and never seen; %v", len(points), points, bs, h.NBytes, polls, time.Since(start).Round(time.Millisecond))
}

// set configures a flow under its lock (the pumps may already run, in a
// race detector's eyes: a child process's connection syncs nothing with them).
func (f *flow) set(fn func(f *flow)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// waitConns waits until the server has at most n connections left (the
// test's own, still open).
func waitConns(t testing.TB, srv *Server, n int) {
	t.Helper()
	testutil.WaitFor(t, fmt.Sprintf("the server to have at most %d connections", n), func() bool { return connCount(srv) <= n })
}

// notVisibleAmong checks that name is not published in st (other arrays may be).
func notVisibleAmong(t testing.TB, st *mmapstore.Store, name string) {
	t.Helper()
	if a, err := st.Open(name); !errors.Is(err, fs.ErrNotExist) {
		if err == nil {
			a.Close()
		}
		t.Fatalf("Open(%q) = %v, want fs.ErrNotExist", name, err)
	}
	if _, err := st.Stat(name); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat(%q) = %v, want fs.ErrNotExist", name, err)
	}
	if names, err := st.List(); err != nil || slices.Contains(names, name) {
		t.Fatalf("List = %v, %v; want no %q", names, err, name)
	}
}

// ---------------------------------------------------------------------------
// Server killed
// ---------------------------------------------------------------------------

// TestServerKilled kills a server process with SIGKILL in the middle of a
// PUT, on tmpfs (received by splice) and on disk (through the mapping), with
// what other crashes leave in the store: a writer process killed while
// filling its array, an abandoned partial a week old, and a live writer in
// another process. A new server on the same store removes the dead writer's
// temporary file and the old partial when it starts, keeps the live writer's
// file and the young partial of the interrupted transfer; the next push
// resumes from that partial and verifies, and the live writer seals.
func TestServerKilled(t *testing.T) {
	ctx := context.Background()
	for _, fsys := range []string{"tmpfs", "disk"} {
		t.Run(fsys, func(t *testing.T) {
			dir := t.TempDir()
			if fsys == "tmpfs" {
				dir = testutil.ShmOrTempDir(t)
			}
			remote := teststore.At(t, dir) // this process's view of the server's store
			local := teststore.At(t, t.TempDir())
			a := teststore.NewArray(t, local, "big", arrayx.Uint8, arrayx.Shape{10*4*mib + 777}, arrayx.OrderC, nil) // 11 blocks
			old := teststore.NewArray(t, local, "old", arrayx.Uint8, arrayx.Shape{2 * 4 * mib}, arrayx.OrderC, nil)
			h := a.Header()

			// What crashes left behind.
			dead := startHelper(t, "writer", "ARX_STORE="+dir, "ARX_NAME=dead", "ARX_SIZE="+strconv.Itoa(4*mib))
			if l := dead.line(); l != "created" {
				t.Fatalf("writer helper said %q", l)
			}
			dead.kill()
			live := startHelper(t, "writer", "ARX_STORE="+dir, "ARX_NAME=live", "ARX_SIZE="+strconv.Itoa(4*mib))
			if l := live.line(); l != "created" {
				t.Fatalf("writer helper said %q", l)
			}
			p, err := remote.Receive("old", old.RawHeader(), nil)
			if err != nil {
				t.Fatal(err)
			}
			bs := old.Header().BlockSize
			if _, err := p.ReceiveAt(bytes.NewReader(old.Bytes()[:bs]), 0, bs); err != nil {
				t.Fatal(err)
			}
			p.Close()
			oldPart := partialPath(t, dir, "old")
			week := time.Now().Add(-7 * 24 * time.Hour)
			if err := os.Chtimes(oldPart, week, week); err != nil {
				t.Fatal(err)
			}
			glob := func(pattern string) []string {
				m, _ := filepath.Glob(filepath.Join(dir, pattern))
				return m
			}
			deadTmp, liveTmp := glob(".dead.arx.tmp-*"), glob(".live.arx.tmp-*")
			if len(deadTmp) != 1 || len(liveTmp) != 1 {
				t.Fatalf("temporary files: dead writer %v, live writer %v; want one each", deadTmp, liveTmp)
			}

			// A server starts, cleans (before its first accept), and is
			// killed in the middle of a PUT.
			srv1, addr1 := startServerProc(t, dir)
			c := dial(t, addr1, nil)
			if _, err := c.List(ctx, ""); err != nil {
				t.Fatal(err)
			}
			if got := glob(".*"); !slices.Equal(got, []string{liveTmp[0]}) {
				t.Fatalf("after the server's start the store holds hidden files %v; want only the live writer's %s", got, liveTmp[0])
			}
			rng := testutil.Rand(t)
			x := cutPoint(a, h.BlockSize+rng.Int64N(h.NBytes-2*h.BlockSize))
			prox := newProxy(t, addr1)
			prox.c2s.holdData(a, x)
			pushed := make(chan error, 1)
			go func() {
				c, err := Dial(ctx, prox.addr, nil)
				if err == nil {
					defer c.Close()
					_, err = c.Push(ctx, a, "big")
				}
				pushed <- err
			}()
			prox.c2s.waitReached(t)
			var part string
			bs = h.BlockSize
			testutil.WaitFor(t, fmt.Sprintf("the server's partial to hold the %d bytes of whole blocks before byte %d", x/bs*bs, x), func() bool {
				part = partialPath(t, dir, "big")
				return part != "" && holds(part, a, x/bs*bs)
			})
			srv1.kill()
			prox.close()
			if err := <-pushed; err == nil {
				t.Fatal("the push to a killed server succeeded")
			} else {
				t.Logf("server killed at data byte %d of %d: the push failed with %v", x, h.NBytes, err)
			}
			notVisibleAmong(t, remote, "big")

			// A new server on the same store: the partial survives and
			// resumes; the live writer's file survives too.
			_, addr2 := startServerProc(t, dir)
			c2 := dial(t, addr2, nil)
			list, err := c2.List(ctx, "")
			if err != nil || len(list) != 0 {
				t.Fatalf("the restarted server lists %v, %v; want nothing", list, err)
			}
			if got := glob(".*"); !slices.Equal(got, []string{part, liveTmp[0]}) {
				t.Fatalf("after the restart the store holds hidden files %v; want the partial %s and the live writer's %s", got, part, liveTmp[0])
			}
			st, err := c2.Push(ctx, a, "big")
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("push to the restarted server: %s", st)
			checkResumed(t, st, h, x)
			sameArray(t, a, remote, "big")
			live.finish()
			if names, err := remote.List(); err != nil || !slices.Equal(names, []string{"big", "live"}) {
				t.Fatalf("List = %v, %v; want big and live", names, err)
			}
			if got := glob(".*"); len(got) != 0 {
				t.Fatalf("hidden files left at the end: %v", got)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Bytes flipped in flight
// ---------------------------------------------------------------------------

// TestFlippedBytes flips one byte at a random place of the data on the
// wire in 8 transfers, pushes and pulls, with protocol versions 1 and 2.
// Version 2 fetches the bad block again and completes, sending nothing else
// twice; version 1 names the block, publishes nothing, and the transfer that
// follows fetches that block and what came after it, nothing before
// (TestCorruptionInFlight in transfer_test.go is the fixed-place version).
func TestFlippedBytes(t *testing.T) {
	ctx := context.Background()
	rng := testutil.Rand(t)
	local, remote := teststore.At(t, testutil.ShmOrTempDir(t)), teststore.At(t, t.TempDir())
	pushSrc := teststore.NewArray(t, local, "p", arrayx.Float32, arrayx.Shape{6 * mib}, arrayx.OrderC, nil) // 24 MiB, 6 blocks
	pullSrc := teststore.NewArray(t, remote, "q", arrayx.Int64, arrayx.Shape{3 * mib}, arrayx.OrderF, nil)  // 24 MiB, 6 blocks
	for i := range 8 {
		dir := []string{"push", "pull"}[i%2]
		version := 1 + i/2%2
		a := pushSrc
		if dir == "pull" {
			a = pullSrc
		}
		h := a.Header()
		bad := rng.IntN(h.NumBlocks())
		off, n := h.Block(bad)
		pos := off + rng.Int64N(n)
		name := fmt.Sprintf("f%d", i)
		t.Run(fmt.Sprintf("%s-v%d-block%d", dir, version, bad), func(t *testing.T) {
			srv, addr := startServer(t, remote, "tcp", Config{})
			p := newProxy(t, addr)
			opts := &DialOptions{MaxVersion: version}
			var err error
			var st Stats
			dst := remote
			flip := func(f *flow) { f.flipAt, f.flipSkip = dataAt(a, pos) }
			c := dial(t, p.addr, opts)
			if dir == "push" {
				p.c2s.set(flip)
				st, err = c.Push(ctx, a, name)
			} else {
				dst = local
				p.s2c.set(flip)
				st, err = c.Pull(ctx, "q", local, name)
			}
			if version == 2 {
				if err != nil {
					t.Fatalf("byte %d (block %d) flipped: %v; want the block fetched again", pos, bad, err)
				}
				if st.Refetched != 1 || st.Bytes != h.NBytes+n {
					t.Fatalf("byte %d (block %d) flipped: %d blocks and %d bytes sent; want 1 block again, %d bytes", pos, bad, st.Refetched, st.Bytes, h.NBytes+n)
				}
				sameArray(t, a, dst, name)
				return
			}
			if !errors.Is(err, arrayx.ErrChecksum) || !strings.Contains(err.Error(), fmt.Sprintf("block %d ", bad)) {
				t.Fatalf("byte %d (block %d) flipped: %v; want arrayx.ErrChecksum naming block %d", pos, bad, err, bad)
			}
			p.close()
			waitIdle(t, srv)
			notVisibleAmong(t, dst, name)
			c = dial(t, addr, opts)
			if dir == "push" {
				st, err = c.Push(ctx, a, name)
			} else {
				st, err = c.Pull(ctx, "q", local, name)
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.Resumed != off || st.Bytes != h.NBytes-off {
				t.Fatalf("after a bad block %d: resumed %d and fetched %d bytes; want %d and %d (that block and what follows)",
					bad, st.Resumed, st.Bytes, off, h.NBytes-off)
			}
			sameArray(t, a, dst, name)
		})
	}
}

// ---------------------------------------------------------------------------
// Disk full
// ---------------------------------------------------------------------------

// TestDiskFull fills a real filesystem: an 8 MiB tmpfs mounted for the test
// (as root), and a server process whose RLIMIT_FSIZE is 8 MiB (any user).
// The receiver refuses an array that does not fit before the data phase,
// with status 507 wrapping mmapstore.ErrNoSpace, and leaves nothing behind;
// a local Create refuses likewise; a Pull into the full store is refused
// locally and leaves the connection usable; what fits still goes through.
func TestDiskFull(t *testing.T) {
	ctx := context.Background()
	t.Run("tmpfs-8MiB", func(t *testing.T) {
		dir := testutil.Tmpfs(t, "8m") // the rlimit-fsize subtest fills a real limit without root
		counter := countSendfile(t)
		small := teststore.At(t, dir)
		local, remote := teststore.At(t, t.TempDir()), teststore.At(t, t.TempDir())
		srv, addr := startServer(t, small, "tcp", Config{})
		big := teststore.NewArray(t, local, "big", arrayx.Uint8, arrayx.Shape{16 * mib}, arrayx.OrderC, nil)
		fits := teststore.NewArray(t, local, "fits", arrayx.Uint8, arrayx.Shape{4 * mib}, arrayx.OrderC, nil)
		more := teststore.NewArray(t, local, "more", arrayx.Uint8, arrayx.Shape{6 * mib}, arrayx.OrderC, nil)
		c := dial(t, addr, nil)
		empty := func() {
			t.Helper()
			var left []string
			filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err == nil && p != dir && d.Name() != "fits.arx" {
					left = append(left, p)
				}
				return nil
			})
			if len(left) > 0 {
				t.Fatalf("a refusal left %v on the full filesystem", left)
			}
		}

		refused := func(a *mmapstore.Array, name string) {
			t.Helper()
			counter.reset()
			st, err := c.Push(ctx, a, name)
			if !errors.Is(err, mmapstore.ErrNoSpace) || remoteStatus(err) != StatusNoSpace || !strings.Contains(err.Error(), "no space") {
				t.Fatalf("push of %d bytes onto the full filesystem: %v; want status %d wrapping mmapstore.ErrNoSpace", a.Header().NBytes, err, StatusNoSpace)
			}
			if calls, _, _ := counter.snapshot(); calls != 0 || st.Bytes != 0 {
				t.Fatalf("the refused push sent data: %d sendfile calls, %+v", calls, st)
			}
			t.Logf("push %s: %v", name, err)
			waitConns(t, srv, 1) // the refusal was the whole request
			empty()
		}
		refused(big, "big")
		if _, err := small.Create("local", arrayx.Uint8, arrayx.Shape{16 * mib}, arrayx.OrderC, nil); !errors.Is(err, mmapstore.ErrNoSpace) {
			t.Fatalf("local Create of 16 MiB on an 8 MiB filesystem: %v, want mmapstore.ErrNoSpace", err)
		} else {
			t.Logf("Create: %v", err)
		}
		empty()
		// What fits goes through; then the rest of the space is too small.
		if _, err := c.Push(ctx, fits, "fits"); err != nil {
			t.Fatal(err)
		}
		sameArray(t, fits, small, "fits")
		refused(more, "more")
		if _, err := small.Create("local", arrayx.Uint8, arrayx.Shape{6 * mib}, arrayx.OrderC, nil); !errors.Is(err, mmapstore.ErrNoSpace) {
			t.Fatalf("local Create of 6 MiB with about 4 MiB left: %v, want mmapstore.ErrNoSpace", err)
		}
		empty()
		// A pull into the full store is refused locally; the connection stays usable.
		teststore.NewArray(t, remote, "r", arrayx.Uint8, arrayx.Shape{16 * mib}, arrayx.OrderC, nil)
		_, raddr := startServer(t, remote, "tcp", Config{})
		rc := dial(t, raddr, nil)
		if _, err := rc.Pull(ctx, "r", small, ""); !errors.Is(err, mmapstore.ErrNoSpace) {
			t.Fatalf("pull of 16 MiB into the full store: %v, want mmapstore.ErrNoSpace", err)
		}
		if _, err := rc.List(ctx, ""); err != nil {
			t.Fatalf("the connection after a pull refused for space: %v", err)
		}
		empty()
		sameArray(t, fits, small, "fits")
	})

	t.Run("rlimit-fsize", func(t *testing.T) {
		counter := countSendfile(t)
		dir := t.TempDir()
		local := teststore.At(t, t.TempDir())
		srv, addr := startServerProc(t, dir, "ARX_FSIZE="+strconv.Itoa(8*mib))
		big := teststore.NewArray(t, local, "big", arrayx.Uint8, arrayx.Shape{16 * mib}, arrayx.OrderC, nil)
		fits := teststore.NewArray(t, local, "fits", arrayx.Uint8, arrayx.Shape{4 * mib}, arrayx.OrderC, nil)
		c := dial(t, addr, nil)
		counter.reset()
		st, err := c.Push(ctx, big, "big")
		if !errors.Is(err, mmapstore.ErrNoSpace) || remoteStatus(err) != StatusNoSpace {
			t.Fatalf("push of 16 MiB to a server limited to 8 MiB files: %v; want status %d wrapping mmapstore.ErrNoSpace", err, StatusNoSpace)
		}
		if calls, _, _ := counter.snapshot(); calls != 0 || st.Bytes != 0 {
			t.Fatalf("the refused push sent data: %d sendfile calls, %+v", calls, st)
		}
		t.Logf("push: %v", err)
		if _, err := c.Push(ctx, fits, "fits"); err != nil {
			t.Fatalf("a 4 MiB push on the same connection: %v", err)
		}
		c.Close()
		srv.finish()
		ents, err := os.ReadDir(dir)
		if err != nil || len(ents) != 1 || ents[0].Name() != "fits.arx" {
			t.Fatalf("the store holds %v (%v); want only fits.arx", ents, err)
		}
		sameArray(t, fits, teststore.At(t, dir), "fits")
	})
}

// ---------------------------------------------------------------------------
// Files truncated under their mappings
// ---------------------------------------------------------------------------

// TestTruncatedArray truncates array files behind the library's back, as
// another process could, while they are mapped and being sent: a push from
// the mapping (ForceCopy), a push by sendfile, a push whose header is gone,
// and a server sending a pull whose file is cut half-way. Each fails with an
// error wrapping mmapstore.ErrFault (or, for the client of the cut pull, a
// broken connection), nothing is published, and both processes live on.
func TestTruncatedArray(t *testing.T) {
	ctx := context.Background()
	local, remote := teststore.At(t, t.TempDir()), teststore.At(t, t.TempDir())
	srv, addr := startServer(t, remote, "tcp", Config{})
	teststore.NewArray(t, local, "x", arrayx.Uint8, arrayx.Shape{4 * 4 * mib}, arrayx.OrderC, nil)
	b, err := local.Open("x")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	h := b.Header()
	path, _ := local.Path("x")
	if err := os.Truncate(path, h.DataOffset+h.BlockSize+100); err != nil {
		t.Fatal(err)
	}
	for _, force := range []bool{true, false} {
		c := dial(t, addr, &DialOptions{ForceCopy: force})
		st, err := c.Push(ctx, b, "x")
		if !errors.Is(err, mmapstore.ErrFault) {
			t.Fatalf("push (ForceCopy %v) of an array truncated in block 1: %v (stats %+v), want mmapstore.ErrFault", force, err, st)
		}
		t.Logf("push, ForceCopy %v: %v", force, err)
		c.Close()
		waitIdle(t, srv)
		notVisibleAmong(t, remote, "x")
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	c := dial(t, addr, nil)
	if _, err := c.Push(ctx, b, "x"); !errors.Is(err, mmapstore.ErrFault) {
		t.Fatalf("push of an array truncated to 0 bytes: %v, want mmapstore.ErrFault", err)
	}
	if _, err := c.List(ctx, ""); err != nil {
		t.Fatalf("the connection after a push refused locally: %v", err)
	}

	// The server's file is cut while it sends it.
	// 16 blocks: more than the socket buffers hold, so the server is still
	// sending when its file is cut.
	a := teststore.NewArray(t, remote, "y", arrayx.Uint8, arrayx.Shape{16 * 4 * mib}, arrayx.OrderC, nil)
	ah := a.Header()
	p := newProxy(t, addr)
	p.s2c.holdData(a, ah.BlockSize)
	pc := dial(t, p.addr, nil)
	pulled := make(chan error, 1)
	go func() {
		_, err := pc.Pull(ctx, "y", local, "")
		pulled <- err
	}()
	p.s2c.waitReached(t)
	rpath, _ := remote.Path("y")
	if err := os.Truncate(rpath, ah.DataOffset+2*ah.BlockSize); err != nil {
		t.Fatal(err)
	}
	p.s2c.release()
	if err := <-pulled; err == nil {
		t.Fatal("a pull of an array cut while being sent succeeded")
	} else {
		t.Logf("pull of an array cut while being sent: %v", err)
	}
	notVisibleAmong(t, local, "y")
	p.close()
	c.Close()
	waitIdle(t, srv)
	c = dial(t, addr, nil)
	if _, err := c.List(ctx, ""); err != nil {
		t.Fatalf("the server after sending from a truncated file: %v", err)
	}
}
