package netlink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/internal/testutil/teststore"
	"github.com/arrayx/arrayx/internal/zerocopy"
	"github.com/arrayx/arrayx/mmapstore"
	"golang.org/x/sys/unix"
)

// ---------------------------------------------------------------------------
// Helpers shared by transfer_test.go, security_test.go and netns_test.go.
// ---------------------------------------------------------------------------

const mib = 1 << 20

// startServer serves st on a fresh listener and returns the server and the
// address to Dial. Cleanup shuts it down and waits until every connection
// goroutine has ended, so that test hooks can be restored without a race.
// Tests that set a hook must do so before calling startServer.
func startServer(t testing.TB, st *mmapstore.Store, network string, cfg Config) (*Server, string) {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		dir, err := os.MkdirTemp("", "nl")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		addr = filepath.Join(dir, "s.sock")
	}
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(st, cfg)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
		waitIdle(t, srv)
	})
	if network == "unix" {
		return srv, "unix:" + addr
	}
	return srv, l.Addr().String()
}

// connCount returns how many connections the server is tracking.
func connCount(srv *Server) int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return len(srv.conns)
}

// waitIdle waits until the server has no connection left: every connection
// goroutine has returned (untrack is its last step), so its partial files are
// closed and unlocked.
func waitIdle(t testing.TB, srv *Server) {
	t.Helper()
	if !testutil.Eventually(10*time.Second, func() bool { return connCount(srv) == 0 }) {
		t.Fatalf("server still has %d connections after 10 s", connCount(srv))
	}
}

// richAttrs exercises every kind of attrs value the header supports.
func richAttrs(name string) map[string]any {
	return map[string]any{
		"origin": name,
		"units":  "m/s",
		"scale":  0.5,
		"offset": int64(-3),
		"big":    uint64(1) << 40,
		"ok":     true,
		"none":   nil,
		"tags":   []any{"a", int64(1), false, 2.5},
		"nested": map[string]any{"k": "v", "deeper": map[string]any{"n": int64(7)}},
		"blob":   []byte{0, 1, 2, 0xff},
		"ünï":    "códe ✓",
	}
}

// fileOf returns the whole file of a published array.
func fileOf(t testing.TB, st *mmapstore.Store, name string) []byte {
	t.Helper()
	p, err := st.Path(name)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameArray checks that the array published under name in st is a,
// byte for byte (whole file, header, data) and that it verifies.
func sameArray(t testing.TB, a *mmapstore.Array, st *mmapstore.Store, name string) {
	t.Helper()
	b, err := st.Open(name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer b.Close()
	if !bytes.Equal(a.RawHeader(), b.RawHeader()) {
		t.Fatalf("%s: header differs from the source:\n got %x\nwant %x", name, b.RawHeader(), a.RawHeader())
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatalf("%s: data differs from the source (first difference at byte %d of %d)", name, firstDiff(a.Bytes(), b.Bytes()), len(a.Bytes()))
	}
	if err := b.Verify(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// notVisible checks that nothing is published under name and that the store
// lists nothing: a partial transfer is never visible.
func notVisible(t testing.TB, st *mmapstore.Store, name string) {
	t.Helper()
	if a, err := st.Open(name); !errors.Is(err, fs.ErrNotExist) {
		if err == nil {
			a.Close()
		}
		t.Fatalf("after an interrupted transfer, Open(%q) = %v, want fs.ErrNotExist", name, err)
	}
	if names, err := st.List(); err != nil || len(names) != 0 {
		t.Fatalf("after an interrupted transfer, List = %v, %v; want nothing", names, err)
	}
}

// dataAt returns bytes of a's data that occur once on the wire, and how far
// pos lies past them: flow.flipAt and flipSkip aim at data byte pos. fill
// stamps the start of every 64 KiB with a unique value.
func dataAt(a *mmapstore.Array, pos int64) ([]byte, int64) {
	start := pos &^ (64<<10 - 1)
	return bytes.Clone(a.Bytes()[start : start+16]), pos - start
}

// holdData makes f hold just before data byte pos of a, whatever the
// framing around the data.
func (f *flow) holdData(a *mmapstore.Array, pos int64) {
	f.set(func(f *flow) { f.holdAt, f.holdSkip = dataAt(a, pos) })
}

// sendfileCounter is a testHookSendfile that counts calls and bytes and can
// act on the running total.
type sendfileCounter struct {
	mu    sync.Mutex
	calls int
	total int64
	maxN  int
	on    func(total int64)
}

// countSendfile counts the sendfile calls the zerocopy package reports until
// the test ends. Call it before startServer (cleanups run in reverse order).
func countSendfile(t testing.TB) *sendfileCounter {
	sc := &sendfileCounter{}
	t.Cleanup(zerocopy.SetTestHook(func(op string, n int64) {
		if op == zerocopy.OpSendfile {
			sc.hook(int(n))
		}
	}))
	return sc
}

func (sc *sendfileCounter) hook(n int) {
	sc.mu.Lock()
	sc.calls++
	sc.total += int64(n)
	sc.maxN = max(sc.maxN, n)
	total, on := sc.total, sc.on
	sc.mu.Unlock()
	if on != nil {
		on(total)
	}
}

func (sc *sendfileCounter) snapshot() (calls int, total int64, maxN int) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.calls, sc.total, sc.maxN
}

func (sc *sendfileCounter) reset() {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.calls, sc.total, sc.maxN = 0, 0, 0
}

func (sc *sendfileCounter) setOn(f func(total int64)) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.on = f
}

// recvRecorder is a testHookRecv that records the methods it sees.
type recvRecorder struct {
	mu      sync.Mutex
	methods []string
	on      func()
}

func recordRecv(t testing.TB) *recvRecorder {
	rr := &recvRecorder{}
	old := testHookRecv
	testHookRecv = func(m string) {
		rr.mu.Lock()
		rr.methods = append(rr.methods, m)
		on := rr.on
		rr.mu.Unlock()
		if on != nil {
			on()
		}
	}
	t.Cleanup(func() { testHookRecv = old })
	return rr
}

func (rr *recvRecorder) take() []string {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	m := rr.methods
	rr.methods = nil
	return m
}

func (rr *recvRecorder) setOn(f func()) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	rr.on = f
}

// sockQueues returns the bytes in a TCP socket's receive queue not yet read
// by the application (SIOCINQ) and in its send queue not yet acknowledged by
// the peer (SIOCOUTQ).
func sockQueues(t testing.TB, c net.Conn) (inq, outq int) {
	t.Helper()
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var ierr, oerr error
	rc.Control(func(fd uintptr) {
		inq, ierr = unix.IoctlGetInt(int(fd), unix.SIOCINQ)
		outq, oerr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ)
	})
	if ierr != nil || oerr != nil {
		t.Fatalf("SIOCINQ/SIOCOUTQ: %v %v", ierr, oerr)
	}
	return inq, outq
}

// ---------------------------------------------------------------------------
// proxy: a TCP relay for one connection that can hold or corrupt either
// direction at exact stream offsets, and record what passes.
// ---------------------------------------------------------------------------

type proxy struct {
	addr     string
	l        net.Listener
	c2s, s2c *flow
	ready    chan struct{} // closed once down and up are set
	down, up net.Conn      // client side, server side

	closeOnce sync.Once
	pumps     sync.WaitGroup
}

// flow is one direction. Configure it before the client dials.
type flow struct {
	hold   int64 // forward nothing at or past this offset until release (-1: never hold)
	flip   int64 // XOR 0xff into the byte at this offset (-1: none)
	record bool
	// holdAt and flipAt set hold and flip at the stream offset where these
	// bytes first pass (plus flipSkip for flip): a place in the array's data
	// whatever framing surrounds it. Array data made by fill is unique in
	// every 64 KiB, so 16 of its bytes find one place.
	holdAt, flipAt     []byte
	holdSkip, flipSkip int64
	flipEvery          bool // flip at every pass of flipAt, not only the first

	mu      sync.Mutex
	cond    *sync.Cond
	fwd     int64
	rec     []byte
	closed  bool
	reached chan struct{} // closed when fwd reaches hold
	once    sync.Once
}

func newFlow() *flow {
	f := &flow{hold: -1, flip: -1, reached: make(chan struct{})}
	f.cond = sync.NewCond(&f.mu)
	return f
}

func (f *flow) signal() { f.once.Do(func() { close(f.reached) }) }

// release lets a held flow go on.
func (f *flow) release() {
	f.mu.Lock()
	f.hold = -1
	f.cond.Broadcast()
	f.mu.Unlock()
}

// forwarded returns the bytes forwarded so far.
func (f *flow) forwarded() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fwd
}

// recorded returns a copy of what was forwarded (with record set).
func (f *flow) recorded() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return bytes.Clone(f.rec)
}

// waitReached waits until the flow reached its hold offset.
func (f *flow) waitReached(t testing.TB) {
	t.Helper()
	select {
	case <-f.reached:
	case <-time.After(20 * time.Second):
		t.Fatalf("proxy: flow never reached its offset (forwarded %d)", f.forwarded())
	}
}

func newProxy(t testing.TB, target string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: l.Addr().String(), l: l, c2s: newFlow(), s2c: newFlow(), ready: make(chan struct{})}
	p.pumps.Add(1)
	go func() {
		defer p.pumps.Done()
		down, err := l.Accept()
		l.Close()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", target)
		if err != nil {
			down.Close()
			return
		}
		p.down, p.up = down, up
		close(p.ready)
		var both sync.WaitGroup
		both.Add(2)
		go func() { defer both.Done(); p.pump(p.c2s, down, up) }()
		go func() { defer both.Done(); p.pump(p.s2c, up, down) }()
		both.Wait()
		p.close()
	}()
	t.Cleanup(func() {
		p.close()
		p.pumps.Wait()
	})
	return p
}

// close closes everything at once, releasing held flows.
func (p *proxy) close() {
	p.closeOnce.Do(func() {
		for _, f := range []*flow{p.c2s, p.s2c} {
			f.mu.Lock()
			f.closed = true
			f.cond.Broadcast()
			f.mu.Unlock()
		}
		p.l.Close()
		select {
		case <-p.ready:
			p.down.Close()
			p.up.Close()
		default:
		}
	})
}

// pump forwards src to dst. At the end of src it half-closes dst; on a write
// error it just stops, leaving the other direction to deliver what the peer
// already sent (a server's error reply before its reset, say).
func (p *proxy) pump(f *flow, src, dst net.Conn) {
	buf := make([]byte, 64<<10)
	var pending []byte // read, not yet forwarded: the tail a pattern may start in
	for {
		if len(pending) > 0 {
			// Forward it if nothing follows soon: the peer may wait for it.
			src.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		}
		n, rerr := src.Read(buf)
		flush := false
		if len(pending) > 0 {
			src.SetReadDeadline(time.Time{})
			if rerr != nil && isTimeout(rerr) {
				rerr, flush = nil, true
			}
		}
		data := append(pending, buf[:n]...)
		pending = nil
		f.mu.Lock()
		look := max(len(f.holdAt), len(f.flipAt))
		base := f.fwd
		for _, pat := range []struct {
			pat  []byte
			set  *int64
			skip int64
		}{{f.holdAt, &f.hold, f.holdSkip}, {f.flipAt, &f.flip, f.flipSkip}} {
			if len(pat.pat) == 0 {
				continue
			}
			if i := bytes.Index(data, pat.pat); i >= 0 {
				*pat.set = base + int64(i) + pat.skip
				if pat.set == &f.hold {
					f.holdAt = nil
				} else if !f.flipEvery {
					f.flipAt = nil
				}
			}
		}
		if look = max(len(f.holdAt), len(f.flipAt)); look > 0 && rerr == nil && !flush {
			keep := min(len(data), look-1) // may hold the start of a pattern
			pending = append([]byte(nil), data[len(data)-keep:]...)
			data = data[:len(data)-keep]
		}
		f.mu.Unlock()
		for len(data) > 0 {
			f.mu.Lock()
			for f.hold >= 0 && f.fwd >= f.hold && !f.closed {
				f.signal()
				f.cond.Wait()
			}
			if f.closed {
				f.mu.Unlock()
				return
			}
			off, m := f.fwd, int64(len(data))
			if f.hold >= 0 {
				m = min(m, f.hold-off)
			}
			flip, record := f.flip, f.record
			f.mu.Unlock()
			chunk := data[:m]
			if flip >= off && flip < off+m {
				chunk[flip-off] ^= 0xff
			}
			if _, err := dst.Write(chunk); err != nil {
				return
			}
			f.mu.Lock()
			f.fwd += m
			if record {
				f.rec = append(f.rec, chunk...)
			}
			if f.hold >= 0 && f.fwd >= f.hold {
				f.signal()
			}
			f.mu.Unlock()
			data = data[m:]
		}
		if rerr != nil {
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
			return
		}
	}
}

// ---------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------

// TestRoundTrip pushes and pulls back every dtype, in both orders, in shapes
// from empty to several blocks, over TCP and a Unix socket, with rich attrs,
// and checks Stat, List and Delete along the way.
func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	shapes := []struct {
		name  string
		shape func(dt arrayx.DType) arrayx.Shape
		only  []arrayx.DType // when set, only these dtypes (one per item size)
	}{
		{"empty_0", func(arrayx.DType) arrayx.Shape { return arrayx.Shape{0} }, nil},
		{"empty_3x0", func(arrayx.DType) arrayx.Shape { return arrayx.Shape{3, 0} }, nil},
		{"scalar_0d", func(arrayx.DType) arrayx.Shape { return arrayx.Shape{} }, nil},
		{"small_2x3x5", func(arrayx.DType) arrayx.Shape { return arrayx.Shape{2, 3, 5} }, nil},
		{"odd_17x33x7", func(arrayx.DType) arrayx.Shape { return arrayx.Shape{17, 33, 7} }, nil},
		// Two blocks, the second short: 2 x n elements of about 4 MiB + 24 KiB.
		{"two_blocks_2xn", func(dt arrayx.DType) arrayx.Shape {
			return arrayx.Shape{2, int64(2*mib+12345) / int64(dt.ItemSize())}
		}, []arrayx.DType{arrayx.Bool, arrayx.BFloat16, arrayx.Float32, arrayx.Int64, arrayx.Complex128}},
	}
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			// On tmpfs when there is one: this test is about the protocol, and
			// ~250 MiB of arrays need not go through a disk's writeback.
			store := func() *mmapstore.Store { return teststore.At(t, testutil.ShmOrTempDir(t)) }
			local, remote, back := store(), store(), store()
			_, addr := startServer(t, remote, network, Config{})
			c := dial(t, addr, nil)
			for _, dt := range arrayx.DTypes() {
				for _, sh := range shapes {
					if sh.only != nil && !slices.Contains(sh.only, dt) {
						continue
					}
					for _, order := range []arrayx.Order{arrayx.OrderC, arrayx.OrderF} {
						t.Run(fmt.Sprintf("%v/%s/%v", dt, sh.name, order), func(t *testing.T) {
							name := fmt.Sprintf("rt/%v/%s_%v", dt, sh.name, order)
							a := teststore.NewArray(t, local, name, dt, sh.shape(dt), order, richAttrs(name))
							roundTrip(t, ctx, c, a, name, local, remote, back)
						})
					}
				}
			}
			// Everything was deleted on the way.
			if list, err := c.List(ctx, ""); err != nil || len(list) != 0 {
				t.Fatalf("List at the end = %v, %v; want empty", list, err)
			}
		})
	}
}

func roundTrip(t *testing.T, ctx context.Context, c *Client, a *mmapstore.Array, name string, local, remote, back *mmapstore.Store) {
	t.Helper()
	h := a.Header()
	st, err := c.Push(ctx, a, name)
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	if st.Bytes != h.NBytes || st.Resumed != 0 {
		t.Fatalf("push stats %+v, want %d bytes, none resumed", st, h.NBytes)
	}
	// The remote file is the local file, byte for byte.
	if !bytes.Equal(fileOf(t, remote, name), fileOf(t, local, name)) {
		t.Fatal("pushed file differs from the source file")
	}

	// Stat returns the header: re-encoding it gives the raw header back.
	sh, err := c.Stat(ctx, name)
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	enc, err := sh.Marshal()
	if err != nil {
		t.Fatalf("re-encoding the stat header: %v", err)
	}
	if !bytes.Equal(enc, a.RawHeader()) {
		t.Fatalf("stat header encodes to\n%x\nwant\n%x", enc, a.RawHeader())
	}
	if sh.DType != h.DType || !sh.Shape.Equal(h.Shape) || sh.Order != h.Order || sh.NBytes != h.NBytes ||
		!slices.Equal(sh.CRC32C, h.CRC32C) || !sh.Sealed {
		t.Fatalf("stat header %+v, want %+v", sh, h)
	}

	// List shows it with its description.
	list, err := c.List(ctx, "")
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	i := slices.IndexFunc(list, func(e Entry) bool { return e.Name == name })
	if i < 0 {
		t.Fatalf("list %v lacks %s", list, name)
	}
	if e := list[i]; e.DType != h.DType.String() || !slices.Equal(e.Shape, h.Shape) || e.Order != h.Order.String() || e.NBytes != h.NBytes {
		t.Fatalf("list entry %+v for header %+v", e, h)
	}

	// Pull it back into a third store: the same file again.
	st, err = c.Pull(ctx, name, back, "")
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	if st.Bytes != h.NBytes || st.Resumed != 0 {
		t.Fatalf("pull stats %+v, want %d bytes, none resumed", st, h.NBytes)
	}
	sameArray(t, a, back, name)
	if !bytes.Equal(fileOf(t, back, name), fileOf(t, local, name)) {
		t.Fatal("pulled file differs from the source file")
	}

	// Delete removes it remotely.
	if err := c.Delete(ctx, name); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := c.Stat(ctx, name); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat after delete: %v, want fs.ErrNotExist", err)
	}
	if err := c.Delete(ctx, name); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("second delete: %v, want fs.ErrNotExist", err)
	}
	if list, err := c.List(ctx, ""); err != nil || slices.ContainsFunc(list, func(e Entry) bool { return e.Name == name }) {
		t.Fatalf("list after delete: %v %v", list, err)
	}
}

// TestPushReplaces pushes a different array under an existing name: the new
// one replaces the old.
func TestPushReplaces(t *testing.T) {
	ctx := context.Background()
	local, remote := teststore.Temp(t), teststore.Temp(t)
	_, addr := startServer(t, remote, "tcp", Config{})
	c := dial(t, addr, nil)
	a := teststore.NewArray(t, local, "one", arrayx.Int32, arrayx.Shape{1000}, arrayx.OrderC, nil)
	b := teststore.NewArray(t, local, "two", arrayx.Float64, arrayx.Shape{7, 9}, arrayx.OrderF, map[string]any{"v": int64(2)})
	for _, x := range []*mmapstore.Array{a, b} {
		if _, err := c.Push(ctx, x, "same"); err != nil {
			t.Fatal(err)
		}
	}
	sameArray(t, b, remote, "same")
}

// ---------------------------------------------------------------------------
// Zero copy and receive methods
// ---------------------------------------------------------------------------

// TestZeroCopy proves the sender's method: with sendfile the hook sees every
// data byte and nothing else; with ForceCopy it sees nothing and Stats says
// "write". Pulls report the server's sendfile.
func TestZeroCopy(t *testing.T) {
	ctx := context.Background()
	counter := countSendfile(t)
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			local, remote := teststore.Temp(t), teststore.Temp(t)
			_, addr := startServer(t, remote, network, Config{})
			a := teststore.NewArray(t, local, "zc", arrayx.Float32, arrayx.Shape{3, 1 << 20}, arrayx.OrderC, nil) // 12 MiB, 3 blocks
			n := a.Header().NBytes

			t.Run("push_sendfile", func(t *testing.T) {
				c := dial(t, addr, nil)
				counter.reset()
				st, err := c.Push(ctx, a, "sf")
				if err != nil {
					t.Fatal(err)
				}
				calls, total, _ := counter.snapshot()
				t.Logf("%s; %d sendfile calls, %d bytes", st, calls, total)
				if calls == 0 || total != n || st.Bytes != n {
					t.Fatalf("sendfile calls %d, total %d, stats bytes %d; want >0 calls and %d bytes", calls, total, st.Bytes, n)
				}
				if !st.ZeroCopy || !strings.HasPrefix(st.Method, "sendfile") {
					t.Fatalf("stats %+v, want ZeroCopy and method sendfile", st)
				}
				sameArray(t, a, remote, "sf")
			})
			t.Run("push_forcecopy", func(t *testing.T) {
				c := dial(t, addr, &DialOptions{ForceCopy: true})
				counter.reset()
				st, err := c.Push(ctx, a, "fc")
				if err != nil {
					t.Fatal(err)
				}
				if calls, total, _ := counter.snapshot(); calls != 0 {
					t.Fatalf("ForceCopy still called sendfile %d times (%d bytes)", calls, total)
				}
				if st.ZeroCopy || !strings.HasPrefix(st.Method, "write") || st.Bytes != n {
					t.Fatalf("stats %+v, want no ZeroCopy, method write, %d bytes", st, n)
				}
				sameArray(t, a, remote, "fc")
			})
			t.Run("pull_sendfile", func(t *testing.T) {
				c := dial(t, addr, nil)
				back := teststore.Temp(t)
				counter.reset()
				st, err := c.Pull(ctx, "sf", back, "")
				if err != nil {
					t.Fatal(err)
				}
				// The server's hook runs after its last sendfile returns,
				// which may be after the client has read every byte.
				testutil.Eventually(5*time.Second, func() bool { _, total, _ := counter.snapshot(); return total >= n })
				calls, total, _ := counter.snapshot()
				if calls == 0 || total != n || st.Bytes != n || !st.ZeroCopy || !strings.HasPrefix(st.Method, "sendfile->") {
					t.Fatalf("server sendfile %d calls %d bytes; stats %+v", calls, total, st)
				}
				sameArray(t, a, back, "sf")
			})
		})
	}
}

// TestMethods pushes and pulls with protocol versions 1 and 2, over TCP and
// a Unix socket, into tmpfs and into the test's temporary directory, and
// checks that the hook and Stats name the method on both sides (the server
// receives a Push, the client a Pull) and that the data arrives intact.
func TestMethods(t *testing.T) {
	ctx := context.Background()
	rec := recordRecv(t)
	for _, network := range []string{"tcp", "unix"} {
		for _, version := range []int{1, 2} {
			for _, shm := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/v%d/shm=%v", network, version, shm), func(t *testing.T) {
					local, remote, back := teststore.Temp(t), teststore.Temp(t), teststore.Temp(t)
					if shm {
						remote, back = teststore.Shm(t), teststore.Shm(t)
					}
					_, addr := startServer(t, remote, network, Config{})
					a := teststore.NewArray(t, local, "m", arrayx.Complex64, arrayx.Shape{1<<20 + 4321}, arrayx.OrderC, nil) // 8 MiB + a bit: 3 blocks
					c := dial(t, addr, &DialOptions{MaxVersion: version})
					if c.Version() != version {
						t.Fatalf("agreed on version %d, want %d", c.Version(), version)
					}
					rec.take()
					st, err := c.Push(ctx, a, "m")
					if err != nil {
						t.Fatal(err)
					}
					if got := rec.take(); !slices.Equal(got, []string{"pwrite"}) {
						t.Fatalf("server received with %q, want [pwrite]", got)
					}
					if st.Method != "sendfile->pwrite" || st.Version != version || !st.ZeroCopy || st.Bytes != a.Header().NBytes {
						t.Fatalf("push stats %+v, want sendfile->pwrite, zero-copy, version %d", st, version)
					}
					sameArray(t, a, remote, "m")
					st, err = c.Pull(ctx, "m", back, "")
					if err != nil {
						t.Fatal(err)
					}
					if got := rec.take(); !slices.Equal(got, []string{"pwrite"}) {
						t.Fatalf("client received with %q, want [pwrite]", got)
					}
					if st.Method != "sendfile->pwrite" || st.Version != version || !st.ZeroCopy || st.Bytes != a.Header().NBytes {
						t.Fatalf("pull stats %+v, want sendfile->pwrite, zero-copy, version %d", st, version)
					}
					sameArray(t, a, back, "m")
				})
			}
		}
	}
}

// TestPushLargerThan2GiB pushes a 2.25 GiB array between two /dev/shm stores:
// the data phase runs past 2^31 bytes of file offset and of byte count, in
// several sendfile calls none above the kernel's per-call cap.
func TestPushLargerThan2GiB(t *testing.T) {
	const n = 9 << 28 // 2.25 GiB of uint8
	var sfs syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &sfs); err != nil {
		t.Skipf("skipping the 2.25 GiB transfer: cannot statfs /dev/shm: %v", err)
	}
	if free := int64(sfs.Bavail) * int64(sfs.Bsize); free < 5<<30 {
		t.Skipf("skipping the 2.25 GiB transfer: /dev/shm has %.2f GiB free, it needs 5 GiB for two copies", float64(free)/(1<<30))
	}
	ctx := context.Background()
	counter := countSendfile(t)
	src, dst := teststore.Shm(t), teststore.Shm(t)

	start := time.Now()
	w, err := src.Create("big", arrayx.Uint8, arrayx.Shape{n}, arrayx.OrderC, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	marks := []int64{0, 1<<31 - 1, 1 << 31, 1<<31 + 4093, 1<<31 + 4*mib, n - 4*mib + 17, n - 2, n - 1}
	b := w.Bytes()
	for i, m := range marks {
		b[m] = byte(i*37 + 11)
	}
	a, err := w.Seal()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	t.Logf("created and sealed 2.25 GiB in %v", time.Since(start))

	_, addr := startServer(t, dst, "tcp", Config{})
	c := dial(t, addr, nil)
	counter.reset()
	start = time.Now()
	st, err := c.Push(ctx, a, "big")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("push: %s (wall %v)", st, time.Since(start))
	calls, total, maxN := counter.snapshot()
	t.Logf("sendfile: %d calls, %d bytes, largest call %d bytes", calls, total, maxN)
	if st.Bytes != n || !st.ZeroCopy {
		t.Fatalf("stats %+v, want %d bytes by sendfile", st, int64(n))
	}
	if total != n || total <= math.MaxInt32 || calls < 2 {
		t.Fatalf("sendfile saw %d calls, %d bytes; want several calls summing to %d (> 2^31-1)", calls, total, int64(n))
	}
	if maxN > 0x7ffff000 {
		t.Fatalf("one sendfile call moved %d bytes, above the kernel cap %d", maxN, 0x7ffff000)
	}
	r, err := dst.Open("big")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rb := r.Bytes()
	for i, m := range marks {
		if rb[m] != byte(i*37+11) {
			t.Fatalf("byte %d = %d, want %d", m, rb[m], byte(i*37+11))
		}
	}
	if !bytes.Equal(a.RawHeader(), r.RawHeader()) || !bytes.Equal(a.Bytes(), rb) {
		t.Fatal("received array differs from the source")
	}
	if err := r.Verify(); err != nil {
		t.Fatal(err)
	}
}

// ---------------------------------------------------------------------------
// Resume
// ---------------------------------------------------------------------------

// TestResume cancels a transfer mid-way, checks that nothing is visible, and
// transfers again: only the part not already verified is sent. Both
// protocol versions: the receiver keeps the same blocks either way.
func TestResume(t *testing.T) {
	// 80 MiB: when the push is cancelled at 22 MiB, more is left than the
	// socket buffers on both sides could take in at once.
	const blocks = 20
	for _, version := range []int{1, 2} {
		opts := &DialOptions{MaxVersion: version}
		t.Run(fmt.Sprintf("push/v%d", version), func(t *testing.T) {
			counter := countSendfile(t)
			local, remote := teststore.Temp(t), teststore.Temp(t)
			srv, addr := startServer(t, remote, "tcp", Config{})
			a := teststore.NewArray(t, local, "src", arrayx.Uint8, arrayx.Shape{blocks * 4 * mib}, arrayx.OrderC, nil)
			h := a.Header()
			bs := h.BlockSize
			if bs != 4*mib || h.NumBlocks() != blocks {
				t.Fatalf("block size %d, %d blocks; the test assumes 4 MiB x %d", bs, h.NumBlocks(), blocks)
			}

			// Cancel once sendfile has sent 22 MiB and a bit.
			const cutAt = 22*mib + 12345
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var once sync.Once
			counter.setOn(func(total int64) {
				if total >= cutAt {
					once.Do(cancel)
				}
			})
			c1 := dial(t, addr, opts)
			st1, err := c1.Push(ctx, a, "dst/x")
			counter.setOn(nil)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled push returned %v (stats %+v), want an error wrapping context.Canceled", err, st1)
			}
			delivered := st1.Bytes
			t.Logf("cancelled push: %v; %d bytes sent", err, delivered)
			if delivered < cutAt || delivered >= h.NBytes {
				t.Fatalf("cancelled push sent %d bytes, want between %d and %d", delivered, cutAt, h.NBytes)
			}
			if _, err := c1.List(context.Background(), ""); !errors.Is(err, ErrBroken) {
				t.Fatalf("client after a cancelled push: %v, want ErrBroken", err)
			}
			waitIdle(t, srv)
			notVisible(t, remote, "dst/x")
			c2 := dial(t, addr, opts)
			if list, err := c2.List(context.Background(), ""); err != nil || len(list) != 0 {
				t.Fatalf("remote List = %v, %v; want empty", list, err)
			}

			st2, err := c2.Push(context.Background(), a, "dst/x")
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("resumed push: %s", st2)
			if st2.Resumed <= 0 || st2.Resumed%bs != 0 {
				t.Fatalf("resumed %d, want a positive multiple of %d", st2.Resumed, bs)
			}
			if st2.Resumed+st2.Bytes != h.NBytes {
				t.Fatalf("resumed %d + sent %d != %d", st2.Resumed, st2.Bytes, h.NBytes)
			}
			if st2.Bytes > h.NBytes-delivered+bs {
				t.Fatalf("re-sent %d bytes; at most %d (total %d - delivered %d + one block) allowed", st2.Bytes, h.NBytes-delivered+bs, h.NBytes, delivered)
			}
			sameArray(t, a, remote, "dst/x")
		})

		t.Run(fmt.Sprintf("pull/v%d", version), func(t *testing.T) {
			local, remote := teststore.Temp(t), teststore.Temp(t)
			srv, addr := startServer(t, remote, "tcp", Config{})
			a := teststore.NewArray(t, remote, "src", arrayx.Uint8, arrayx.Shape{blocks * 4 * mib}, arrayx.OrderC, nil)
			h := a.Header()
			bs := h.BlockSize

			// Hold the server's data in the middle of block 5, wait until the
			// client has read all it was given (so it waits inside that
			// block), then cancel.
			delivered := 5*bs + bs/2
			p := newProxy(t, addr)
			p.s2c.holdData(a, delivered)
			c1 := dial(t, p.addr, opts)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			type result struct {
				st  Stats
				err error
			}
			done := make(chan result, 1)
			go func() {
				st, err := c1.Pull(ctx, "src", local, "")
				done <- result{st, err}
			}()
			p.s2c.waitReached(t)
			testutil.WaitFor(t, "the client to read everything forwarded", func() bool {
				_, outq := sockQueues(t, p.down)
				inq, _ := sockQueues(t, c1.c.nc)
				return outq == 0 && inq == 0
			})
			cancel()
			var r result
			select {
			case r = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Pull did not return within 10 s of its context being cancelled")
			}
			if !errors.Is(r.err, context.Canceled) {
				t.Fatalf("cancelled pull returned %v, want an error wrapping context.Canceled", r.err)
			}
			t.Logf("cancelled pull: %v; %d bytes received", r.err, r.st.Bytes)
			p.close()
			waitIdle(t, srv)
			notVisible(t, local, "src")

			c2 := dial(t, addr, opts)
			st, err := c2.Pull(context.Background(), "src", local, "")
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("resumed pull: %s", st)
			if st.Resumed != 5*bs {
				t.Fatalf("resumed %d, want %d (the 5 blocks received whole)", st.Resumed, 5*bs)
			}
			if st.Resumed+st.Bytes != h.NBytes || st.Bytes > h.NBytes-delivered+bs {
				t.Fatalf("resumed %d, re-sent %d of %d (delivered %d)", st.Resumed, st.Bytes, h.NBytes, delivered)
			}
			sameArray(t, a, local, "src")
		})
	}
}

// TestCancelBetweenBlocks cancels a transfer at a moment when the data loop
// is between two blocks (pull) or two sendfile chunks (push). The transfer
// must stop there, as it does when the cancellation lands mid-block (see
// TestResume): the error wraps context.Canceled and nothing is published.
func TestCancelBetweenBlocks(t *testing.T) {
	for _, version := range []int{1, 2} {
		t.Run(fmt.Sprintf("pull/v%d", version), func(t *testing.T) {
			rec := recordRecv(t)
			local, remote := teststore.Temp(t), teststore.Temp(t)
			_, addr := startServer(t, remote, "tcp", Config{})
			teststore.NewArray(t, remote, "src", arrayx.Uint8, arrayx.Shape{10 * 4 * mib}, arrayx.OrderC, nil)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// testHookRecv runs at the start of the data phase, before the
			// first block: cancel there and give context.AfterFunc time to
			// run.
			rec.setOn(func() {
				cancel()
				time.Sleep(100 * time.Millisecond)
			})
			c := dial(t, addr, &DialOptions{MaxVersion: version})
			st, err := c.Pull(ctx, "src", local, "")
			rec.setOn(nil)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Pull = %v, want an error wrapping context.Canceled", err)
			}
			if b, oerr := local.Open("src"); oerr == nil {
				b.Close()
				t.Errorf("Pull was cancelled before its first data byte and returned %q, yet it went on to receive "+
					"all %d bytes (stats %s) and published the array: a renewed read deadline overrode "+
					"the past deadline that cancellation set", err, st.Bytes, st)
			}
		})

		t.Run(fmt.Sprintf("push/v%d", version), func(t *testing.T) {
			counter := countSendfile(t)
			local, remote := teststore.Temp(t), teststore.Temp(t)
			srv, addr := startServer(t, remote, "tcp", Config{})
			a := teststore.NewArray(t, local, "src", arrayx.Uint8, arrayx.Shape{sendChunk + 32*mib}, arrayx.OrderC, nil) // two sendfile chunks
			n := a.Header().NBytes
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// Version 1: cancel as the first 64 MiB chunk completes, inside
			// its last sendfile call, and give context.AfterFunc time to
			// run. Version 2 sends runs of its own sizes: cancel inside the
			// first, at 16 MiB; the runs that follow renew the deadline.
			at := int64(sendChunk)
			if version == 2 {
				at = 16 * mib
			}
			var once sync.Once
			counter.setOn(func(total int64) {
				if total >= at {
					once.Do(func() {
						cancel()
						time.Sleep(100 * time.Millisecond)
					})
				}
			})
			c := dial(t, addr, &DialOptions{MaxVersion: version})
			st, err := c.Push(ctx, a, "dst")
			counter.setOn(nil)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Push = %v, want an error wrapping context.Canceled", err)
			}
			waitIdle(t, srv)
			_, oerr := remote.Open("dst")
			if st.Bytes > sendChunk || oerr == nil {
				t.Errorf("Push was cancelled after %d bytes and returned %q, yet it sent %d of %d bytes (published remotely: %v): "+
					"a renewed write deadline overrode the past deadline that cancellation set",
					at, err, st.Bytes, n, oerr == nil)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Corruption in flight
// ---------------------------------------------------------------------------

// TestCorruptionInFlight flips one data byte in block 6 on the wire, every
// time the block passes: the receiver refuses the block with an error
// wrapping arrayx.ErrChecksum that names it (version 2 after fetching it
// maxBlockAttempts times), publishes nothing, and a direct transfer then
// fetches only what is missing: the bad block and what follows in version
// 1, the bad block alone in a version-2 pull. A version-2 push sends
// everything again: the server discards the partial of a transfer whose
// block failed every attempt (TestDamagedPushLeavesNoPartial).
func TestCorruptionInFlight(t *testing.T) {
	ctx := context.Background()
	const bad = 6
	for _, dir := range []string{"push", "pull"} {
		for _, version := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/v%d", dir, version), func(t *testing.T) {
				local, remote := teststore.Temp(t), teststore.Temp(t)
				srv, addr := startServer(t, remote, "tcp", Config{})
				src := local
				if dir == "pull" {
					src = remote
				}
				a := teststore.NewArray(t, src, "x", arrayx.Float64, arrayx.Shape{5 * mib}, arrayx.OrderC, nil) // 40 MiB, 10 blocks
				h := a.Header()
				bs := h.BlockSize
				p := newProxy(t, addr)
				flip := func(f *flow) {
					f.flipAt, f.flipSkip = dataAt(a, bad*bs+12345)
					f.flipEvery = true
				}
				opts := &DialOptions{MaxVersion: version}
				c := dial(t, p.addr, opts)
				var err error
				if dir == "push" {
					p.c2s.set(flip)
					_, err = c.Push(ctx, a, "x")
				} else {
					p.s2c.set(flip)
					_, err = c.Pull(ctx, "x", local, "")
				}
				t.Logf("%s through the corrupting proxy: %v", dir, err)
				if !errors.Is(err, arrayx.ErrChecksum) {
					t.Fatalf("got %v, want an error wrapping arrayx.ErrChecksum", err)
				}
				if !strings.Contains(err.Error(), fmt.Sprintf("block %d ", bad)) {
					t.Fatalf("error %q does not name block %d", err, bad)
				}
				if dir == "pull" {
					var ce *arrayx.ChecksumError
					if !errors.As(err, &ce) || ce.Block != bad || ce.Offset != bad*bs {
						t.Fatalf("pull error %v is not a ChecksumError for block %d", err, bad)
					}
				}
				p.close()
				waitIdle(t, srv)
				dst := remote
				if dir == "pull" {
					dst = local
				}
				notVisible(t, dst, "x")

				c = dial(t, addr, opts)
				var st Stats
				if dir == "push" {
					st, err = c.Push(ctx, a, "x")
				} else {
					st, err = c.Pull(ctx, "x", local, "")
				}
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("direct %s: %s", dir, st)
				// Version 1: the bad block and what follows. A version-2 pull:
				// the bad block, and at most the blocks in flight on the
				// connection when it gave up (two assignments, here of a block
				// each). A version-2 push: everything, its partial discarded.
				if version == 1 && (st.Resumed != bad*bs || st.Bytes != h.NBytes-bad*bs) ||
					version == 2 && dir == "pull" && (st.Resumed+st.Bytes != h.NBytes || st.Bytes < bs || st.Bytes > 3*bs) ||
					version == 2 && dir == "push" && (st.Resumed != 0 || st.Bytes != h.NBytes) {
					t.Fatalf("stats %+v: want the bad block sent again (and what follows it in version 1)", st)
				}
				sameArray(t, a, dst, "x")
			})
		}
	}
}

// TestServerDrainsRestOfBadPut: after refusing a bad block, the server reads
// and discards what the client still sends, so that a client that sends the
// whole array before reading the reply is not reset. Here a hand-written
// client sends 32 blocks with block 16 corrupt.
func TestServerDrainsRestOfBadPut(t *testing.T) {
	local, remote := teststore.Temp(t), teststore.Temp(t)
	_, addr := startServer(t, remote, "tcp", Config{})
	const blocks, bad = 32, 16
	a := teststore.NewArray(t, local, "x", arrayx.Uint8, arrayx.Shape{blocks * 4 * mib}, arrayx.OrderC, nil)
	bs := a.Header().BlockSize
	data := bytes.Clone(a.Bytes())
	data[bad*bs+100] ^= 1

	r := rawHandshake(t, addr, nil)
	if err := writeMsg(r.conn, Version1, kindPut, &body{Name: "x", Header: a.RawHeader()}); err != nil {
		t.Fatal(err)
	}
	rep := r.reply()
	if rep.Status != StatusOK || rep.Offset != 0 {
		t.Fatalf("PUT reply %+v", rep)
	}
	r.conn.SetDeadline(time.Now().Add(20 * time.Second))
	n, werr := r.conn.Write(data)
	rep, rerr := r.readReply()
	if rerr != nil || rep.Status != StatusChecksum || !strings.Contains(rep.Message, fmt.Sprintf("block %d ", bad)) {
		t.Errorf("after the data: reply %+v, %v; want status %d naming block %d", rep, rerr, StatusChecksum, bad)
	}
	if werr != nil {
		t.Errorf("the server reset the connection after taking %d of %d data bytes (%v); PROTOCOL.md: after a 422 it "+
			"reads and discards what the client still sends for up to 2 seconds. server.go handlePut drains "+
			"h.NBytes - p.Held() - n bytes, with n = p.Held() - start from recvData: NBytes - 2*Held + start, here "+
			"%d, while the client had about %d left to send",
			n, len(data), werr, max(int64(len(data))-2*bad*bs, 0), int64(len(data))-(bad+1)*bs)
	}
	notVisible(t, remote, "x")
}

// TestConcurrentPushOfOneArray: a second transfer of the array a first one is
// receiving is refused with mmapstore.ErrBusy; the first completes.
func TestConcurrentPushOfOneArray(t *testing.T) {
	ctx := context.Background()
	local, remote := teststore.Temp(t), teststore.Temp(t)
	_, addr := startServer(t, remote, "tcp", Config{})
	a := teststore.NewArray(t, local, "x", arrayx.Int16, arrayx.Shape{4 * mib}, arrayx.OrderC, nil) // 8 MiB
	p := newProxy(t, addr)
	p.c2s.holdData(a, mib)
	c1 := dial(t, p.addr, nil)
	done := make(chan error, 1)
	go func() {
		_, err := c1.Push(ctx, a, "x")
		done <- err
	}()
	p.c2s.waitReached(t)
	c2 := dial(t, addr, nil)
	_, err := c2.Push(ctx, a, "x")
	if !errors.Is(err, mmapstore.ErrBusy) {
		t.Fatalf("second push of the same array: %v, want mmapstore.ErrBusy", err)
	}
	// The refusal left c2 usable, and another name is not busy.
	b := teststore.NewArray(t, local, "y", arrayx.Int16, arrayx.Shape{100}, arrayx.OrderC, nil)
	if _, err := c2.Push(ctx, b, "y"); err != nil {
		t.Fatalf("push of another array while the first is held: %v", err)
	}
	p.c2s.release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sameArray(t, a, remote, "x")
	sameArray(t, b, remote, "y")
}

// TestPullLocalRefusals: a Pull refused locally (bad local name, too large,
// missing remote array) leaves the connection usable.
func TestPullLocalRefusals(t *testing.T) {
	ctx := context.Background()
	local, remote := teststore.Temp(t), teststore.Temp(t)
	_, addr := startServer(t, remote, "tcp", Config{})
	teststore.NewArray(t, remote, "x", arrayx.Uint16, arrayx.Shape{1 << 20}, arrayx.OrderC, nil) // 2 MiB
	c := dial(t, addr, &DialOptions{MaxArrayBytes: 1 << 20})
	cases := []struct {
		name, remote, as string
		want             error
	}{
		{"bad_local_name", "x", "../x", mmapstore.ErrInvalidName},
		{"too_large", "x", "ok", arrayx.ErrTooLarge},
		{"missing_remote", "nope", "", fs.ErrNotExist},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Pull(ctx, tc.remote, local, tc.as)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Pull = %v, want %v", err, tc.want)
			}
			if _, err := c.List(ctx, ""); err != nil {
				t.Fatalf("connection unusable after a refused pull: %v", err)
			}
			if names, _ := local.List(); len(names) != 0 {
				t.Fatalf("local store lists %v", names)
			}
		})
	}
}

// TestListAfterConnectionLost: every Client method returns an error, never
// panics, when the connection is gone.
func TestListAfterConnectionLost(t *testing.T) {
	ctx := context.Background()
	local, remote := teststore.Temp(t), teststore.Temp(t)
	_, addr := startServer(t, remote, "tcp", Config{IdleTimeout: 100 * time.Millisecond})
	a := teststore.NewArray(t, local, "x", arrayx.Uint8, arrayx.Shape{10}, arrayx.OrderC, nil)
	ops := map[string]func(c *Client) error{
		"List":   func(c *Client) error { _, err := c.List(ctx, ""); return err },
		"Stat":   func(c *Client) error { _, err := c.Stat(ctx, "x"); return err },
		"Delete": func(c *Client) error { return c.Delete(ctx, "x") },
		"Push":   func(c *Client) error { _, err := c.Push(ctx, a, "x"); return err },
		"Pull":   func(c *Client) error { _, err := c.Pull(ctx, "x", local, "y"); return err },
	}
	for _, op := range []string{"List", "Stat", "Delete", "Push", "Pull"} {
		t.Run(op+"/idle_timeout", func(t *testing.T) {
			c := dial(t, addr, nil)
			time.Sleep(300 * time.Millisecond) // the server closes the idle connection
			err := callNoPanic(t, op, func() error { return ops[op](c) })
			if err == nil {
				t.Fatalf("%s on a connection the server closed succeeded", op)
			}
		})
		t.Run(op+"/closed", func(t *testing.T) {
			c := dial(t, addr, nil)
			c.Close()
			if err := callNoPanic(t, op, func() error { return ops[op](c) }); err == nil {
				t.Fatalf("%s on a closed client succeeded", op)
			}
		})
	}
}

func callNoPanic(t *testing.T, op string, f func() error) (err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s panicked instead of returning an error: %v (client.go List: out = r.Arrays runs when request returned a nil reply)", op, r)
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return f()
}

// ---------------------------------------------------------------------------
// Shutdown
// ---------------------------------------------------------------------------

// TestShutdown covers Shutdown with a PUT in flight: interrupted at the
// deadline (and resumed by the next server on the store), or allowed to
// finish; and with a connection that has just completed its handshake.
func TestShutdown(t *testing.T) {
	ctx := context.Background()

	t.Run("deadline_interrupts_put_then_resume", func(t *testing.T) {
		local, remote := teststore.Temp(t), teststore.Temp(t)
		srv, addr := startServer(t, remote, "tcp", Config{})
		a := teststore.NewArray(t, local, "x", arrayx.Uint8, arrayx.Shape{10 * 4 * mib}, arrayx.OrderC, nil)
		bs := a.Header().BlockSize
		p := newProxy(t, addr)
		p.c2s.holdData(a, 2*bs+bs/2) // a slow client: stalls in block 2
		c := dial(t, p.addr, &DialOptions{Timeout: 5 * time.Second})
		done := make(chan error, 1)
		go func() {
			_, err := c.Push(ctx, a, "x")
			done <- err
		}()
		p.c2s.waitReached(t)
		sctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := srv.Shutdown(sctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown with a stalled PUT = %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Shutdown took %v with a 300 ms deadline", d)
		}
		select {
		case err := <-done:
			if err == nil {
				t.Fatal("the interrupted push succeeded")
			}
			t.Logf("interrupted push: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("push not interrupted by Shutdown")
		}
		p.close()
		waitIdle(t, srv)
		notVisible(t, remote, "x")

		_, addr2 := startServer(t, remote, "tcp", Config{})
		c2 := dial(t, addr2, nil)
		st, err := c2.Push(ctx, a, "x")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("push to the next server: %s", st)
		if st.Resumed != 2*bs {
			t.Fatalf("resumed %d, want %d (the 2 blocks received before the stall)", st.Resumed, 2*bs)
		}
		sameArray(t, a, remote, "x")
	})

	t.Run("waits_for_in_flight_put", func(t *testing.T) {
		local, remote := teststore.Temp(t), teststore.Temp(t)
		srv, addr := startServer(t, remote, "tcp", Config{})
		a := teststore.NewArray(t, local, "x", arrayx.Uint8, arrayx.Shape{10 * 4 * mib}, arrayx.OrderC, nil)
		p := newProxy(t, addr)
		p.c2s.holdData(a, 10*mib)
		c := dial(t, p.addr, nil)
		done := make(chan error, 1)
		go func() {
			_, err := c.Push(ctx, a, "x")
			done <- err
		}()
		p.c2s.waitReached(t)
		shut := make(chan error, 1)
		go func() {
			sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			shut <- srv.Shutdown(sctx)
		}()
		testutil.WaitFor(t, "Shutdown to start", srv.isClosing)
		p.c2s.release()
		if err := <-done; err != nil {
			t.Fatalf("the PUT in flight at Shutdown failed: %v", err)
		}
		sameArray(t, a, remote, "x")
		start := time.Now()
		if err := <-shut; err != nil {
			t.Errorf("Shutdown = %v %v after the in-flight PUT completed; want nil at once: the connection, idle "+
				"again, was never closed (the serve loop must stop after a request once Shutdown has "+
				"been asked, instead of waiting IdleTimeout for the next one)", err, time.Since(start).Round(time.Millisecond))
		}
	})

	t.Run("connection_idle_after_handshake", func(t *testing.T) {
		remote := teststore.Temp(t)
		gate := &gateHandler{msg: "connected", reached: make(chan struct{}), release: make(chan struct{})}
		srv, addr := startServer(t, remote, "tcp", Config{Logger: slog.New(gate)})
		dial(t, addr, nil) // the server is now between its handshake and its first read
		select {
		case <-gate.reached:
		case <-time.After(10 * time.Second):
			t.Fatal("the server never logged the connection")
		}
		shut := make(chan error, 1)
		go func() {
			sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			shut <- srv.Shutdown(sctx)
		}()
		testutil.WaitFor(t, "Shutdown to mark the connection", func() bool {
			srv.mu.Lock()
			defer srv.mu.Unlock()
			for c := range srv.conns {
				c.mu.Lock()
				s := c.shut
				c.mu.Unlock()
				if !s {
					return false
				}
			}
			return srv.closing
		})
		close(gate.release)
		start := time.Now()
		if err := <-shut; err != nil {
			t.Errorf("Shutdown = %v after %v with one idle connection; want nil at once: closeIfIdle's past read "+
				"deadline was overwritten by serve's SetReadDeadline(IdleTimeout) at the top of its loop",
				err, time.Since(start).Round(time.Millisecond))
		}
	})
}

// gateHandler is a slog.Handler that blocks the first record with message
// msg until release is closed.
type gateHandler struct {
	msg              string
	reached, release chan struct{}
	once             sync.Once
}

func (h *gateHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *gateHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(func() {
			close(h.reached)
			<-h.release
		})
	}
	return nil
}
func (h *gateHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *gateHandler) WithGroup(string) slog.Handler      { return h }

// ---------------------------------------------------------------------------
// Timeouts
// ---------------------------------------------------------------------------

// TestServerTimeouts: the server closes connections that stall in the
// handshake, between requests, or in the middle of data.
func TestServerTimeouts(t *testing.T) {
	ctx := context.Background()
	local, remote := teststore.Temp(t), teststore.Temp(t)
	cfg := Config{IdleTimeout: 300 * time.Millisecond, ReadTimeout: 300 * time.Millisecond}
	srv, addr := startServer(t, remote, "tcp", cfg)
	a := teststore.NewArray(t, local, "x", arrayx.Uint8, arrayx.Shape{3 * 4 * mib}, arrayx.OrderC, nil)

	expectClosed := func(t *testing.T, conn net.Conn, within time.Duration) {
		t.Helper()
		start := time.Now()
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			_, err := conn.Read(make([]byte, 4096))
			if err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatal("the server did not close the stalled connection within 10 s")
				}
				break
			}
		}
		if d := time.Since(start); d > within {
			t.Fatalf("closed after %v, want within %v", d, within)
		}
	}
	t.Run("handshake", func(t *testing.T) {
		conn := rawDial(t, addr)
		conn.Write(Magic[:4]) // half a magic, then nothing
		expectClosed(t, conn, 3*time.Second)
	})
	t.Run("idle", func(t *testing.T) {
		r := rawHandshake(t, addr, nil)
		expectClosed(t, r.conn, 3*time.Second)
	})
	t.Run("data", func(t *testing.T) {
		r := rawHandshake(t, addr, nil)
		if err := writeMsg(r.conn, Version1, kindPut, &body{Name: "x", Header: a.RawHeader()}); err != nil {
			t.Fatal(err)
		}
		if rep := r.reply(); rep.Status != StatusOK {
			t.Fatalf("PUT reply %+v", rep)
		}
		r.conn.Write(a.Bytes()[:a.Header().BlockSize+1000]) // one block and a bit, then stall
		expectClosed(t, r.conn, 3*time.Second)
		waitIdle(t, srv)
		notVisible(t, remote, "x")
		c := dial(t, addr, nil)
		st, err := c.Push(ctx, a, "x")
		if err != nil {
			t.Fatal(err)
		}
		if st.Resumed != a.Header().BlockSize {
			t.Fatalf("resumed %d after a stall in block 1, want %d", st.Resumed, a.Header().BlockSize)
		}
		sameArray(t, a, remote, "x")
	})
}

// rawClient speaks the protocol by hand.
type rawClient struct {
	t     testing.TB
	conn  net.Conn
	hello *body // the server's HELLO
}

func rawDial(t testing.TB, addr string) net.Conn {
	t.Helper()
	network, address := "tcp", addr
	if rest, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, address = "unix", rest
	}
	conn, err := net.DialTimeout(network, address, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { conn.Close() })
	return conn
}

// rawHandshake sends the magic and HELLO (hello, or a version-1 HELLO when
// nil) and reads the server's magic and HELLO.
func rawHandshake(t testing.TB, addr string, hello *body) *rawClient {
	t.Helper()
	if hello == nil {
		hello = &body{Version: Version1, Software: "test"}
	}
	conn := rawDial(t, addr)
	if _, err := conn.Write(Magic[:]); err != nil {
		t.Fatal(err)
	}
	if err := writeMsg(conn, Version1, kindHello, hello); err != nil {
		t.Fatal(err)
	}
	if err := readMagic(conn); err != nil {
		t.Fatal(err)
	}
	b, err := expect(conn, 4<<10, kindHello)
	if err != nil {
		t.Fatal(err)
	}
	return &rawClient{t: t, conn: conn, hello: b}
}

func (r *rawClient) readReply() (*body, error) {
	return expect(r.conn, 2<<20, kindReply)
}

func (r *rawClient) reply() *body {
	r.t.Helper()
	b, err := r.readReply()
	if err != nil {
		r.t.Fatalf("reading a reply: %v", err)
	}
	return b
}

// request sends one message and returns the reply.
func (r *rawClient) request(kind byte, b *body) *body {
	r.t.Helper()
	if err := writeMsg(r.conn, Version1, kind, b); err != nil {
		r.t.Fatal(err)
	}
	return r.reply()
}

// expectEOF checks that the server closes the connection without sending more.
func (r *rawClient) expectEOF() {
	r.t.Helper()
	r.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := io.Copy(io.Discard, r.conn)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		r.t.Fatalf("waiting for the server to close: %v", err)
	}
	if n != 0 {
		r.t.Fatalf("the server sent %d more bytes before closing", n)
	}
}
