package netlink

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/internal/testutil/teststore"
	"github.com/arrayx/arrayx/mmapstore"
)

// dataset fills st with n small arrays under prefix and one of 4 blocks
// (16 MiB), "big".
func dataset(t *testing.T, st *mmapstore.Store, prefix string, n int) {
	t.Helper()
	for i := range n {
		teststore.NewArray(t, st, fmt.Sprintf("%ss%02d", prefix, i), arrayx.Float64, arrayx.Shape{1000}, arrayx.OrderC, nil)
	}
	teststore.NewArray(t, st, prefix+"big", arrayx.Float32, arrayx.Shape{1024, 4096}, arrayx.OrderC, richAttrs("big"))
}

// rewrite replaces name in st with its data changed by change.
func rewrite(t *testing.T, st *mmapstore.Store, name string, shape arrayx.Shape, change func(old, new []byte)) {
	t.Helper()
	old, err := st.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	h := old.Header()
	w, err := st.Create(name, h.DType, shape, h.Order, &mmapstore.CreateOptions{Attrs: h.Attrs})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	change(old.Bytes(), w.Bytes())
	a, err := w.Seal()
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
}

// sameStores checks that dst under dp holds exactly src's arrays under sp,
// byte for byte.
func sameStores(t *testing.T, src *mmapstore.Store, sp string, dst *mmapstore.Store, dp string) {
	t.Helper()
	under := func(st *mmapstore.Store, p string) []string {
		names, err := st.List()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range names {
			if rel, ok := cutPrefix(n, p); ok {
				out = append(out, rel)
			}
		}
		return out
	}
	a, b := under(src, sp), under(dst, dp)
	if !slices.Equal(a, b) {
		t.Fatalf("source holds %v, destination %v", a, b)
	}
	for _, rel := range a {
		x, y := fileOf(t, src, sp+rel), fileOf(t, dst, dp+rel)
		if !slices.Equal(x, y) {
			t.Fatalf("%s differs at byte %d", rel, firstDiff(x, y))
		}
	}
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) < len(p) || s[:len(p)] != p {
		return "", false
	}
	return s[len(p):], true
}

// TestSyncPush replicates a dataset to a server and keeps it replicated:
// the first sync sends everything, an unchanged one nothing, a changed
// element one block, a grown array its new blocks, a deletion a deletion;
// a dry run predicts exactly what the real run then moves.
func TestSyncPush(t *testing.T) {
	ctx := context.Background()
	local, remote := teststore.Temp(t), teststore.Temp(t)
	_, addr := startServer(t, remote, "tcp", Config{})
	dataset(t, local, "sim/", 20)
	teststore.NewArray(t, local, "other/x", arrayx.Uint8, arrayx.Shape{10}, arrayx.OrderC, nil)
	c := dial(t, addr, nil)
	counter := countSendfile(t)
	sync := func(o SyncOptions) SyncReport {
		t.Helper()
		o.SrcPrefix, o.DstPrefix = "sim", "replica/sim"
		r, err := c.SyncPush(ctx, local, &o)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v", r)
		return r
	}
	bs := int64(4 << 20)
	big := int64(1024 * 4096 * 4)
	small := int64(8000)

	r := sync(SyncOptions{})
	if r.Checked != 21 || r.Whole != 21 || r.Identical != 0 || r.Bytes != 20*small+big {
		t.Fatalf("first sync: %v", r)
	}
	sameStores(t, local, "sim/", remote, "replica/sim/")
	if names, _ := remote.List(); slices.Contains(names, "replica/other/x") || slices.Contains(names, "other/x") {
		t.Fatal("an array outside the prefix was sent")
	}

	// Nothing changed: nothing moves, not even by sendfile.
	counter.reset()
	r = sync(SyncOptions{})
	if r.Checked != 21 || r.Identical != 21 || r.Bytes != 0 || len(r.Items) != 0 {
		t.Fatalf("unchanged sync: %v", r)
	}
	if calls, total, _ := counter.snapshot(); calls != 0 || total != 0 {
		t.Fatalf("an unchanged sync sent %d bytes in %d sendfile calls", total, calls)
	}

	// One element of the big array changed: one block moves. A dry run
	// says so first and changes nothing.
	rewrite(t, local, "sim/big", arrayx.Shape{1024, 4096}, func(old, new []byte) {
		copy(new, old)
		new[2*bs+100] ^= 0xff
	})
	dry := sync(SyncOptions{DryRun: true})
	if !dry.DryRun || dry.Delta != 1 || dry.Bytes != bs || dry.Items[0].Reused != big-bs {
		t.Fatalf("dry run over one changed block: %v", dry)
	}
	if h, err := remote.Stat("replica/sim/big"); err != nil || h.XXH128[2] == [16]byte{} {
		t.Fatalf("the dry run touched the destination: %v", err)
	}
	r = sync(SyncOptions{})
	if r.Delta != 1 || r.Identical != 20 || r.Bytes != bs || r.Items[0].Name != "big" || r.Items[0].Reused != big-bs {
		t.Fatalf("sync of one changed block: %v", r)
	}
	sameStores(t, local, "sim/", remote, "replica/sim/")

	// Axis 0 grows in C order: the old blocks keep their places, and only
	// the new ones move.
	rewrite(t, local, "sim/big", arrayx.Shape{1280, 4096}, func(old, new []byte) {
		copy(new, old)
		teststore.Fill(new[len(old):], 7, false)
	})
	r = sync(SyncOptions{})
	if r.Delta != 1 || r.Bytes != bs || r.Items[0].Reused != big {
		t.Fatalf("sync of an appended block: %v", r)
	}
	sameStores(t, local, "sim/", remote, "replica/sim/")

	// Selection and deletion: s00 goes from the source; an excluded s01
	// changes; --delete removes s00 on the destination and leaves the
	// excluded names alone.
	if err := local.Remove("sim/s00"); err != nil {
		t.Fatal(err)
	}
	rewrite(t, local, "sim/s01", arrayx.Shape{1000}, func(old, new []byte) { new[0] = 1 })
	r = sync(SyncOptions{Delete: true, Exclude: []string{"s01", "big"}})
	if r.Checked != 18 || r.Deleted != 1 || r.Bytes != 0 || len(r.Items) != 1 || r.Items[0].Name != "s00" {
		t.Fatalf("sync with --delete and excludes: %v", r)
	}
	if _, err := remote.Stat("replica/sim/s00"); err == nil {
		t.Fatal("s00 was not deleted")
	}
	r = sync(SyncOptions{Include: []string{"s0*"}})
	if r.Checked != 9 || r.Whole != 1 || r.Items[0].Name != "s01" || r.Bytes != small {
		t.Fatalf("sync of s0*: %v", r)
	}
	sameStores(t, local, "sim/", remote, "replica/sim/")
	if _, err := c.SyncPush(ctx, local, &SyncOptions{Include: []string{"["}}); err == nil {
		t.Fatal("a bad pattern was accepted")
	}
}

// TestSyncPull replicates the other way, into a local store, and sends
// again an array whose header has no per-block digests (format 1.0): its
// CRCs alone are not trusted to say it is unchanged.
func TestSyncPull(t *testing.T) {
	ctx := context.Background()
	local, remote := teststore.Temp(t), teststore.Temp(t)
	_, addr := startServer(t, remote, "tcp", Config{})
	dataset(t, remote, "", 5)
	c := dial(t, addr, nil)
	o := func() *SyncOptions { return &SyncOptions{DstPrefix: "mirror", Delete: true} }
	r, err := c.SyncPull(ctx, local, o())
	if err != nil || r.Whole != 6 {
		t.Fatalf("first pull-sync: %v %v", r, err)
	}
	sameStores(t, remote, "", local, "mirror/")
	rewrite(t, remote, "big", arrayx.Shape{1024, 4096}, func(old, new []byte) {
		copy(new, old)
		new[len(new)-1] ^= 1
	})
	if err := remote.Remove("s03"); err != nil {
		t.Fatal(err)
	}
	r, err = c.SyncPull(ctx, local, o())
	if err != nil || r.Delta != 1 || r.Deleted != 1 || r.Identical != 4 || r.Bytes != 4<<20 {
		t.Fatalf("pull-sync of one changed block and a removal: %v %v", r, err)
	}
	sameStores(t, remote, "", local, "mirror/")

	// The same 1.0 file on both sides is sent again all the same.
	a, err := remote.Open("s00")
	if err != nil {
		t.Fatal(err)
	}
	h10 := a.Header().Clone()
	h10.XXH128 = nil
	raw, err := h10.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	file := append(append(raw, make([]byte, h10.DataOffset-int64(len(raw)))...), a.Bytes()...)
	a.Close()
	for _, p := range []string{filepath.Join(remote.Dir(), "old"+mmapstore.Ext), filepath.Join(local.Dir(), "mirror", "old"+mmapstore.Ext)} {
		if err := os.WriteFile(p, file, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err = c.SyncPull(ctx, local, o())
	if err != nil || r.Whole != 1 || r.Items[0].Name != "old" || r.Bytes != h10.NBytes || r.Identical != 5 {
		t.Fatalf("pull-sync of a 1.0 array: %v %v", r, err)
	}
}

// TestSyncWatch follows a store: the catch-up sync, then every seal,
// replacement and removal as it happens, and 100 successive seals of one
// array ending equal.
func TestSyncWatch(t *testing.T) {
	local, remote := teststore.Temp(t), teststore.Temp(t)
	_, addr := startServer(t, remote, "tcp", Config{})
	dataset(t, local, "", 3)
	c := dial(t, addr, nil)
	ctx, cancel := context.WithCancel(context.Background())
	reports := make(chan SyncReport, 256)
	done := make(chan error, 1)
	go func() {
		done <- c.SyncWatch(ctx, local, &SyncOptions{Delete: true}, 20*time.Millisecond, func(r SyncReport, err error) {
			if err != nil && ctx.Err() == nil { // a round cut short by the end is no failure
				t.Errorf("round: %v", err)
			}
			reports <- r
		})
	}()
	until := untilEqual(t, reports, local, remote)
	if r := until("catch-up"); r[0].Whole != 4 {
		t.Fatalf("catch-up: %v", r[0])
	}
	teststore.NewArray(t, local, "new/one", arrayx.Int16, arrayx.Shape{100}, arrayx.OrderC, nil)
	if r := until("a seal"); r[len(r)-1].Whole != 1 || r[len(r)-1].Items[0].Name != "new/one" {
		t.Fatalf("a seal: %v", r)
	}
	rewrite(t, local, "big", arrayx.Shape{1024, 4096}, func(old, new []byte) {
		copy(new, old)
		new[5] ^= 1
	})
	if r := until("a replacement"); r[len(r)-1].Delta != 1 || r[len(r)-1].Bytes != 4<<20 {
		t.Fatalf("a replacement: %v", r)
	}
	if err := local.Remove("s01"); err != nil {
		t.Fatal(err)
	}
	if r := until("a removal"); r[len(r)-1].Deleted != 1 {
		t.Fatalf("a removal: %v", r)
	}
	for i := range 100 {
		rewrite(t, local, "s00", arrayx.Shape{1000}, func(old, new []byte) {
			copy(new, old)
			new[0] = byte(i)
		})
	}
	until("100 seals")
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("SyncWatch ended with %v", err)
	}
}

// TestSyncFollow keeps a local store following a server's: the catch-up,
// then a seal, a replacement sent as a delta, a removal, and 30 seals of
// one array in quick succession on the server; every round that finds
// nothing changed moves nothing.
func TestSyncFollow(t *testing.T) {
	local, remote := teststore.Temp(t), teststore.Temp(t)
	_, addr := startServer(t, remote, "tcp", Config{})
	dataset(t, remote, "", 3)
	c := dial(t, addr, nil)
	ctx, cancel := context.WithCancel(context.Background())
	reports := make(chan SyncReport, 1024)
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		done <- c.SyncFollow(ctx, local, &SyncOptions{Delete: true}, 10*time.Millisecond, func(r SyncReport, err error) {
			if err != nil && ctx.Err() == nil {
				t.Errorf("round: %v", err)
			}
			reports <- r
		})
	}()
	t.Cleanup(func() { cancel(); <-finished }) // before the client closes
	until := untilEqual(t, reports, remote, local)
	if r := until("catch-up"); r[len(r)-1].Whole+r[len(r)-1].Identical != 4 {
		t.Fatalf("catch-up: %v", r)
	}
	teststore.NewArray(t, remote, "new/one", arrayx.Int16, arrayx.Shape{100}, arrayx.OrderC, nil)
	if r := until("a seal"); r[len(r)-1].Whole != 1 || r[len(r)-1].Items[0].Name != "new/one" {
		t.Fatalf("a seal: %v", r)
	}
	rewrite(t, remote, "big", arrayx.Shape{1024, 4096}, func(old, new []byte) {
		copy(new, old)
		new[5] ^= 1
	})
	if r := until("a replacement"); r[len(r)-1].Delta != 1 || r[len(r)-1].Bytes != 4<<20 {
		t.Fatalf("a replacement: %v", r)
	}
	if err := remote.Remove("s01"); err != nil {
		t.Fatal(err)
	}
	if r := until("a removal"); r[len(r)-1].Deleted != 1 {
		t.Fatalf("a removal: %v", r)
	}
	for i := range 30 {
		rewrite(t, remote, "s00", arrayx.Shape{1000}, func(old, new []byte) {
			copy(new, old)
			new[0] = byte(i)
		})
	}
	until("30 seals")
	// Nothing changes now. The reports lag the stores (rounds that ran
	// while s00 was being rewritten may still be queued, and the round that
	// made the stores equal reports just after): the rounds reported a
	// second on started after it, and must find nothing to do.
	equal := time.Now()
	for n := 0; n < 3; {
		r := <-reports
		if time.Since(equal) < time.Second {
			continue
		}
		if r.Bytes != 0 || len(r.Items) != 0 || r.Identical != r.Checked {
			t.Fatalf("a round with nothing changed: %v", r)
		}
		n++
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("SyncFollow ended with %v", err)
	}
}

// untilEqual returns a function that reads a following sync's reports
// until the replica holds the source's arrays, and returns those reports;
// it fails the test after 20 s.
func untilEqual(t *testing.T, reports <-chan SyncReport, src, replica *mmapstore.Store) func(what string) []SyncReport {
	return func(what string) []SyncReport {
		t.Helper()
		var got []SyncReport
		deadline := time.After(20 * time.Second)
		for {
			select {
			case r := <-reports:
				got = append(got, r)
				if equalStores(t, src, replica) {
					return got
				}
			case <-deadline:
				t.Fatalf("%s: the replica did not follow in 20 s (reports %v)", what, got)
			}
		}
	}
}

// equalStores reports whether both stores hold the same arrays, byte for
// byte, without failing the test.
func equalStores(t *testing.T, a, b *mmapstore.Store) bool {
	t.Helper()
	x, _ := a.List()
	y, _ := b.List()
	if !slices.Equal(x, y) {
		return false
	}
	for _, n := range x {
		ia, err1 := a.Info(n)
		ib, err2 := b.Info(n)
		if err1 != nil || err2 != nil || ia.Digest != ib.Digest {
			return false
		}
	}
	return true
}

// TestSyncWatchReconnect: the server goes away while a change waits; the
// watch reports the failure, dials again, and replicates the change once
// a server is back on the address.
func TestSyncWatchReconnect(t *testing.T) {
	defer func(d time.Duration) { retryEvery = d }(retryEvery)
	retryEvery = 50 * time.Millisecond
	local, remote := teststore.Temp(t), teststore.Temp(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	srv := NewServer(remote, Config{})
	go srv.Serve(l)
	teststore.NewArray(t, local, "a", arrayx.Uint8, arrayx.Shape{100}, arrayx.OrderC, nil)
	c := dial(t, addr, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var failures int
	rounds := make(chan struct{}, 64)
	go c.SyncWatch(ctx, local, &SyncOptions{}, 10*time.Millisecond, func(r SyncReport, err error) {
		mu.Lock()
		if err != nil {
			failures++
		}
		mu.Unlock()
		rounds <- struct{}{}
	})
	<-rounds // the catch-up
	if !equalStores(t, local, remote) {
		t.Fatal("the catch-up did not replicate")
	}
	srv.Close()
	teststore.NewArray(t, local, "b", arrayx.Uint8, arrayx.Shape{100}, arrayx.OrderC, nil)
	testutil.WaitFor(t, "a failed round", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return failures > 0
	})
	l2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv2 := NewServer(remote, Config{})
	go srv2.Serve(l2)
	defer srv2.Close()
	testutil.WaitFor(t, "the replica to follow after the server came back", func() bool { return equalStores(t, local, remote) })
}

// TestSyncConcurrent runs two syncs of different data into one server at
// once, five times: every array on the server is always one whole
// version, one source's or the other's, whichever was published last.
// (Two transfers of the same version would be one busy and one refused;
// two versions of a name land in partials of their own.)
func TestSyncConcurrent(t *testing.T) {
	ctx := context.Background()
	remote := teststore.Temp(t)
	_, addr := startServer(t, remote, "tcp", Config{})
	srcs := []*mmapstore.Store{teststore.Temp(t), teststore.Temp(t)}
	digests := map[string]map[string]bool{}
	for k, st := range srcs {
		for i := range 10 {
			name := fmt.Sprintf("c%d", i)
			data := make([]byte, 4<<20+100)
			teststore.Fill(data, uint64(100*k+i), false)
			a := teststore.Put(t, st, name, arrayx.Uint8, arrayx.Shape{int64(len(data))}, arrayx.OrderC, data)
			if digests[name] == nil {
				digests[name] = map[string]bool{}
			}
			digests[name][a.Digest()] = true
		}
	}
	var mu sync.Mutex
	busy := 0
	for range 5 {
		var wg sync.WaitGroup
		for _, st := range srcs {
			wg.Go(func() {
				c := dial(t, addr, nil)
				r, err := c.SyncPush(ctx, st, &SyncOptions{})
				for _, it := range r.Items {
					if it.Error != "" && !strings.Contains(it.Error, "busy") {
						t.Errorf("%s: %s, want only busy refusals", it.Name, it.Error)
					}
					if it.Error != "" {
						mu.Lock()
						busy++
						mu.Unlock()
					}
				}
				if err != nil && r.Failed == 0 {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		names, _ := remote.List()
		if len(names) != 10 {
			t.Fatalf("the server holds %v", names)
		}
		for _, name := range names {
			a, err := remote.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Verify(); err != nil || !digests[name][a.Digest()] {
				t.Fatalf("%s: verify %v, one of the two versions: %v", name, err, digests[name][a.Digest()])
			}
			a.Close()
		}
		noHidden(t, remote)
	}
	t.Logf("%d arrays were refused as busy over five rounds", busy)
}

// TestSyncTransfers: small arrays stream as eager PUTs on the client's
// connection alone; with NoEager they go on o.Transfers connections at
// once, the client's and more dialled as it was, and on the client's alone
// with 1; arrays too large to go eagerly go on the extra connections while
// the small ones stream.
func TestSyncTransfers(t *testing.T) {
	ctx := context.Background()
	local, remote := teststore.Temp(t), teststore.Temp(t)
	_, addr := startServer(t, remote, "tcp", Config{})
	for i := range 40 {
		teststore.NewArray(t, local, fmt.Sprintf("t%02d", i), arrayx.Float32, arrayx.Shape{1000}, arrayx.OrderC, nil)
	}
	p := newMultiProxy(t, addr, func(int, string, int64) bool { return false })
	conns := func() int {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.conns) / 2 // the proxy keeps both ends of each
	}
	c := dial(t, p.addr, nil)
	r, err := c.SyncPush(ctx, local, &SyncOptions{Transfers: 4})
	if err != nil || r.Whole != 40 || r.Bytes != 40*4000 {
		t.Fatalf("sync of 40 small arrays: %v %v", r, err)
	}
	sameStores(t, local, "", remote, "")
	if n := conns(); n != 1 {
		t.Fatalf("40 small arrays went on %d connections, want 1 (eager PUTs)", n)
	}

	for i := range 40 {
		rewrite(t, local, fmt.Sprintf("t%02d", i), arrayx.Shape{1000}, func(old, new []byte) { new[0] = old[0] + 1 })
	}
	if r, err := c.SyncPush(ctx, local, &SyncOptions{Transfers: 4, NoEager: true}); err != nil || r.Whole != 40 {
		t.Fatalf("sync on 4 transfers: %v %v", r, err)
	}
	sameStores(t, local, "", remote, "")
	if n := conns(); n != 4 {
		t.Fatalf("the sync used %d connections, want 4 (the client's and 3 more)", n)
	}
	rewrite(t, local, "t07", arrayx.Shape{1000}, func(old, new []byte) { new[0] = old[0] + 1 })
	if r, err := c.SyncPush(ctx, local, &SyncOptions{Transfers: 1, NoEager: true}); err != nil || r.Whole != 1 {
		t.Fatalf("sync on 1 transfer: %v %v", r, err)
	}
	if n := conns(); n != 4 {
		t.Fatalf("a sync on 1 transfer dialled %d more connections", n-4)
	}

	// Two arrays too large to go eagerly, among small ones: they go on
	// the extra connections, the small ones on the client's.
	big := arrayx.Shape{MaxEagerBytes/4 + 1}
	teststore.NewArray(t, local, "big1", arrayx.Float32, big, arrayx.OrderC, nil)
	teststore.NewArray(t, local, "big2", arrayx.Float32, big, arrayx.OrderC, nil)
	rewrite(t, local, "t03", arrayx.Shape{1000}, func(old, new []byte) { new[0] = old[0] + 1 })
	r, err = c.SyncPush(ctx, local, &SyncOptions{Transfers: 3})
	if err != nil || r.Whole != 3 {
		t.Fatalf("sync of two large and one small array: %v %v", r, err)
	}
	sameStores(t, local, "", remote, "")
	if n := conns(); n != 4+2 {
		t.Fatalf("two large arrays and one small went on %d new connections, want 2", n-4)
	}
}

// TestSyncDiskFull syncs more than the destination's filesystem holds: the
// sync stops at the first refusal for space, says so, publishes only whole
// arrays, leaves no partial or temporary file, and sends nothing after the
// refusal.
func TestSyncDiskFull(t *testing.T) {
	ctx := context.Background()
	dir := testutil.Tmpfs(t, "20m")
	remote := teststore.At(t, dir)
	local := teststore.Temp(t)
	_, addr := startServer(t, remote, "tcp", Config{})
	for i := range 10 {
		teststore.NewArray(t, local, fmt.Sprintf("f%d", i), arrayx.Uint8, arrayx.Shape{4<<20 + 1000}, arrayx.OrderC, nil)
	}
	c := dial(t, addr, nil)
	r, err := c.SyncPush(ctx, local, &SyncOptions{Transfers: 1})
	t.Logf("%v: %v", r, err)
	if !errors.Is(err, mmapstore.ErrNoSpace) || r.Failed == 0 || r.Whole+r.Failed != 10 || !strings.Contains(err.Error(), "no space") {
		t.Fatalf("sync into a full filesystem: %v, %v", r, err)
	}
	sent := 0
	for _, it := range r.Items {
		if it.Error == "" {
			sent++
			continue
		}
		if it.Bytes != 0 {
			t.Errorf("%s failed after sending %d bytes", it.Name, it.Bytes)
		}
	}
	names, _ := remote.List()
	if len(names) != sent || sent == 0 {
		t.Fatalf("the destination lists %v, the report says %d sent", names, sent)
	}
	for _, name := range names {
		a, err := remote.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Verify(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		a.Close()
	}
	noHidden(t, remote)
}
