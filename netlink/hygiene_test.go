package netlink

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/internal/testutil/teststore"
	"github.com/arrayx/arrayx/mmapstore"
)

// TestPutOverQuota: a PUT that would take the store past its limit is
// answered 507 (no_space) before any data moves, and leaves nothing in the
// store: no partial, no directory.
func TestPutOverQuota(t *testing.T) {
	ctx := context.Background()
	local := teststore.Temp(t)
	a := teststore.NewArray(t, local, "x", arrayx.Float64, arrayx.Shape{1 << 20}, arrayx.OrderC, nil) // 8 MiB
	dir := t.TempDir()
	remote, err := mmapstore.OpenStore(dir, &mmapstore.Options{Sync: mmapstore.SyncNever, MaxBytes: a.Header().FileSize() - 1})
	if err != nil {
		t.Fatal(err)
	}
	defer remote.Close()
	srv, addr := startServer(t, remote, "tcp", Config{})
	for _, version := range []int{1, 2} {
		c := dial(t, addr, &DialOptions{MaxVersion: version})
		st, err := c.Push(ctx, a, "in/x")
		var se *RemoteError
		if !errors.Is(err, mmapstore.ErrNoSpace) || !errors.As(err, &se) || se.Status != StatusNoSpace {
			t.Fatalf("v%d: push over the quota: %v; want status 507 wrapping mmapstore.ErrNoSpace", version, err)
		}
		if st.Bytes != 0 {
			t.Fatalf("v%d: %d bytes were sent before the refusal", version, st.Bytes)
		}
		c.Close()
	}
	waitIdle(t, srv)
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("the refused PUTs left %v in the store", entries)
	}
}

// TestPeriodicClean: a serving server cleans again, not only at the start:
// the temporary file of a writer that died after the server started goes.
func TestPeriodicClean(t *testing.T) {
	remote := teststore.Temp(t)
	srv, addr := startServer(t, remote, "tcp", Config{CleanEvery: 20 * time.Millisecond})
	dial(t, addr, nil) // served: the first clean is over
	// Nobody holds its lock: what a writer killed at this point leaves.
	orphan := filepath.Join(remote.Dir(), ".late.arx.tmp-0123456789abcdef")
	if err := os.WriteFile(orphan, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	if !testutil.Eventually(10*time.Second, func() bool {
		_, err := os.Lstat(orphan)
		return errors.Is(err, os.ErrNotExist)
	}) {
		t.Fatal("the server did not clean the dead writer's file while serving")
	}
	srv.Shutdown(context.Background())
	srv.mu.Lock()
	running := srv.cleanStop != nil
	srv.mu.Unlock()
	if running {
		t.Fatal("Shutdown left the periodic cleaning running")
	}
}

// TestDamagedPushLeavesNoPartial: a push whose block fails every attempt
// (the sender's copy is damaged, or every pass of it) fails, and the server
// discards the partial: resuming it would fail the same way, and it would
// hold the array's size in the store until it is cleaned.
func TestDamagedPushLeavesNoPartial(t *testing.T) {
	ctx := context.Background()
	local, remote := teststore.Temp(t), teststore.Temp(t)
	srv, addr := startServer(t, remote, "tcp", Config{})
	a := teststore.NewArray(t, local, "x", arrayx.Float64, arrayx.Shape{5 * mib}, arrayx.OrderC, nil) // 10 blocks
	p := newProxy(t, addr)
	p.c2s.set(func(f *flow) {
		f.flipAt, f.flipSkip = dataAt(a, 6*a.Header().BlockSize+12345)
		f.flipEvery = true
	})
	c := dial(t, p.addr, &DialOptions{MaxVersion: 2})
	if _, err := c.Push(ctx, a, "x"); !errors.Is(err, arrayx.ErrChecksum) {
		t.Fatalf("got %v, want an error wrapping arrayx.ErrChecksum", err)
	}
	p.close()
	waitIdle(t, srv)
	hidden, err := remote.Hidden()
	if err != nil {
		t.Fatal(err)
	}
	if len(hidden) != 0 {
		t.Fatalf("the failed push left %+v", hidden)
	}
	notVisible(t, remote, "x")
}

// TestEagerPutOverQuota: an eager PUT past the store's limit is answered
// 507 (no_space); its data, already sent, is read and dropped, so the
// connection stays in step, and nothing is left in the store.
func TestEagerPutOverQuota(t *testing.T) {
	raw, data := smallBlockArray(t, 3*arrayx.MinBlockSize, 6)
	dir := t.TempDir()
	st, err := mmapstore.OpenStore(dir, &mmapstore.Options{Sync: mmapstore.SyncNever, MaxBytes: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	storeSmallBlockArray(t, st, "good", 100, 1) // what r.usable lists
	_, addr := startServer(t, st, "tcp", Config{})
	r := v2Dial(t, addr, v2Hello(FeatureEager))
	if err := r.write(eagerPut("in/x", raw, data)); err != nil {
		t.Fatal(err)
	}
	r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if kind, rep, err := r.read(); err != nil || kind != kindReply || rep.Status != StatusNoSpace || rep.Code != "no_space" {
		t.Fatalf("eager PUT over the quota: %s %+v, %v; want 507 no_space", kindName(kind), rep, err)
	}
	r.usable("an eager PUT over the quota")
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("the refused eager PUT left %v", entries)
	}
}
