package mmapstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/internal/zerocopy"
)

// headerOf returns the first 16+H bytes of a sealed array's file.
func headerOf(t testing.TB, s *Store, name string) []byte {
	t.Helper()
	path, _ := s.Path(name)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = arrayx.Unmarshal(b, arrayx.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	pre, _ := arrayx.ParsePrefix(b, arrayx.Limits{})
	return b[:arrayx.PrefixSize+int(pre.HeaderLen)]
}

// receiveRun lands data bytes [off, off+n) of a into p.
func receiveRun(t testing.TB, p *Partial, a *Array, off, n int64) {
	t.Helper()
	got, err := p.ReceiveAt(bytes.NewReader(a.Bytes()[off:off+n]), off, n)
	if err != nil || got != n {
		t.Fatalf("ReceiveAt(%d, %d): %d, %v", off, n, got, err)
	}
}

// partialPathOf returns the path of the partial file of name in s.
func partialPathOf(t testing.TB, s *Store, name string) string {
	t.Helper()
	dir, base := filepath.Split(filepath.Join(s.Dir(), filepath.FromSlash(name)))
	parts, _ := filepath.Glob(filepath.Join(dir, "."+base+".arx.part-*"))
	if len(parts) != 1 {
		t.Fatalf("partial files of %s: %v", name, parts)
	}
	return parts[0]
}

func TestReceiveResumes(t *testing.T) {
	src := newStore(t)
	a := create(t, src, "x", arrayx.Uint8, arrayx.Shape{3<<22 + 77}, arrayx.OrderC) // 4 blocks
	hdr := headerOf(t, src, "x")
	bs, nbytes := a.Header().BlockSize, a.Header().NBytes
	dst := newStore(t)

	p, err := dst.Receive("in/x", hdr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Held() != 0 || !slices.Equal(p.Missing(), []BlockRange{{0, 4}}) {
		t.Fatalf("new partial holds %d, misses %v", p.Held(), p.Missing())
	}
	// Blocks 1 and 3 arrive (out of order), then half of block 0.
	receiveRun(t, p, a, 3*bs, nbytes-3*bs)
	receiveRun(t, p, a, bs, bs)
	if got, err := p.ReceiveAt(bytes.NewReader(a.Bytes()[:bs/2]), 0, bs); !errors.Is(err, io.ErrUnexpectedEOF) || got != bs/2 {
		t.Fatalf("half a block: %d, %v", got, err)
	}
	if want := []BlockRange{{0, 1}, {2, 3}}; !slices.Equal(p.Missing(), want) || p.Held() != bs+nbytes-3*bs {
		t.Fatalf("missing %v, held %d; want %v", p.Missing(), p.Held(), want)
	}
	if _, err := p.Complete(); err == nil {
		t.Fatal("Complete accepted an incomplete array")
	}
	p.Close()
	if names, _ := dst.List(); len(names) != 0 {
		t.Fatalf("partial listed: %v", names)
	}
	if _, err := dst.Open("in/x"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("partial opens under its name: %v", err)
	}
	part := partialPathOf(t, dst, "in/x")
	if _, err := Open(part, nil); !errors.Is(err, arrayx.ErrBadMagic) {
		t.Fatalf("a partial file opened by path: %v", err)
	}

	// Resume: every good block is found again, holes included; a block
	// damaged on disk meanwhile is not held.
	f, err := os.OpenFile(part, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	flip := a.Header().DataOffset + 3*bs + 5
	var b [1]byte
	f.ReadAt(b[:], flip)
	b[0] ^= 1
	f.WriteAt(b[:], flip)
	f.Close()
	p, err = dst.Receive("in/x", hdr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []BlockRange{{0, 1}, {2, 4}}; !slices.Equal(p.Missing(), want) || p.Held() != bs || p.Resumed() != bs {
		t.Fatalf("resumed missing %v, held %d, resumed %d; want %v and %d", p.Missing(), p.Held(), p.Resumed(), want, bs)
	}
	if _, err := dst.Receive("in/x", hdr, nil); !errors.Is(err, ErrBusy) {
		t.Fatalf("second concurrent Receive: %v", err)
	}
	// A run over held and missing blocks lands only the missing ones; a
	// corrupt block is refused by name and stays missing, and the rest of
	// its run stays unread.
	data := bytes.Clone(a.Bytes())
	data[2*bs+9] ^= 1
	r := bytes.NewReader(data)
	got, err := p.ReceiveAt(r, 0, nbytes)
	var ce *arrayx.ChecksumError
	if !errors.As(err, &ce) || ce.Block != 2 || got != 3*bs || r.Len() != int(nbytes-3*bs) {
		t.Fatalf("corrupt block 2: %d consumed, %v", got, err)
	}
	if want := []BlockRange{{2, 4}}; !slices.Equal(p.Missing(), want) {
		t.Fatalf("missing %v after the corrupt block, want %v", p.Missing(), want)
	}
	receiveRun(t, p, a, 2*bs, nbytes-2*bs)
	c, err := p.Complete()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !slices.Equal(c.Bytes(), a.Bytes()) || c.Verify() != nil {
		t.Fatal("received array differs")
	}
	got2, _ := os.ReadFile(filepath.Join(dst.Dir(), "in", "x.arx"))
	srcPath, _ := src.Path("x")
	want, _ := os.ReadFile(srcPath)
	if !slices.Equal(got2, want) {
		t.Fatal("published file is not byte-identical to the sender's")
	}
	if parts, _ := filepath.Glob(filepath.Join(dst.Dir(), "in", ".*")); len(parts) != 0 {
		t.Fatalf("left behind: %v", parts)
	}
	if _, err := p.ReceiveAt(bytes.NewReader(nil), 0, 0); !errors.Is(err, ErrClosed) && err != nil {
		t.Fatalf("ReceiveAt after Complete: %v", err)
	}
}

func TestReceiveAtRanges(t *testing.T) {
	src := newStore(t)
	a := create(t, src, "x", arrayx.Uint8, arrayx.Shape{2<<22 + 10}, arrayx.OrderC) // 3 blocks, the last 10 bytes
	bs, nbytes := a.Header().BlockSize, a.Header().NBytes
	p, err := newStore(t).Receive("x", headerOf(t, src, "x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, r := range [][2]int64{{-bs, bs}, {1, bs}, {0, bs - 1}, {0, bs + 1}, {0, nbytes + 1}, {nbytes + bs, 0},
		{2 * bs, 9}, {bs, -1}, {bs, math.MaxInt64}, {math.MaxInt64 - 1, 2}} {
		if n, err := p.ReceiveAt(bytes.NewReader(make([]byte, 64)), r[0], r[1]); !errors.Is(err, ErrRange) || n != 0 {
			t.Errorf("ReceiveAt(%d, %d): %d, %v; want ErrRange before reading", r[0], r[1], n, err)
		}
	}
	receiveRun(t, p, a, 2*bs, 10) // the short last block
	if p.Held() != 10 || !p.HasBlock(2) || p.HasBlock(1) {
		t.Fatalf("held %d after the last block", p.Held())
	}
}

// TestReceiveAtConcurrently fills one partial from many goroutines at once,
// with overlapping runs: every block lands once, verified.
func TestReceiveAtConcurrently(t *testing.T) {
	src := newStore(t)
	a := create(t, src, "x", arrayx.Uint8, arrayx.Shape{16 << 20}, arrayx.OrderC) // 4 blocks
	bs, nbytes := a.Header().BlockSize, a.Header().NBytes
	dst := newStore(t)
	p, err := dst.Receive("x", headerOf(t, src, "x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			first := int64(g % 4)
			receiveRun(t, p, a, first*bs, nbytes-first*bs)
		})
	}
	wg.Wait()
	if p.Held() != nbytes {
		t.Fatalf("held %d of %d", p.Held(), nbytes)
	}
	c, err := p.Complete()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !slices.Equal(c.Bytes(), a.Bytes()) {
		t.Fatal("received array differs")
	}
}

func TestWaitBlock(t *testing.T) {
	src := newStore(t)
	a := create(t, src, "x", arrayx.Uint8, arrayx.Shape{8 << 20}, arrayx.OrderC) // 2 blocks
	bs := a.Header().BlockSize
	p, err := newStore(t).Receive("x", headerOf(t, src, "x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	done := make(chan error, 1)
	go func() { done <- p.WaitBlock(context.Background(), 1) }()
	receiveRun(t, p, a, 0, bs)
	select {
	case err := <-done:
		t.Fatalf("WaitBlock(1) returned %v once block 0 landed", err)
	case <-time.After(50 * time.Millisecond):
	}
	receiveRun(t, p, a, bs, bs)
	if err := <-done; err != nil {
		t.Fatalf("WaitBlock(1): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if err := p.WaitBlock(ctx, 0); err != nil {
		t.Fatalf("WaitBlock of a held block: %v", err)
	}
	if err := p.WaitBlock(ctx, 2); !errors.Is(err, ErrRange) {
		t.Fatalf("WaitBlock(2) of 2 blocks: %v", err)
	}

	q, err := newStore(t).Receive("y", headerOf(t, src, "x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.WaitBlock(ctx, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitBlock past its context: %v", err)
	}
	go func() { done <- q.WaitBlock(context.Background(), 0) }()
	time.Sleep(10 * time.Millisecond)
	q.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("WaitBlock across Close: %v", err)
	}
}

// TestPartialSource reads a partial's blocks as they arrive, through a
// source that outlives the partial's publication: it sends only held
// blocks, waits for the others, and its bytes are the array's.
func TestPartialSource(t *testing.T) {
	src := newStore(t)
	a := create(t, src, "x", arrayx.Uint8, arrayx.Shape{12 << 20}, arrayx.OrderC) // 3 blocks
	bs := a.Header().BlockSize
	p, err := newStore(t).Receive("x", headerOf(t, src, "x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s, err := p.Source()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !bytes.Equal(s.RawHeader(), headerOf(t, src, "x")) || s.Header().NBytes != a.Header().NBytes {
		t.Fatal("the source's header is not the array's")
	}
	var out bytes.Buffer
	if _, _, err := s.SendData(&out, 0, bs); !errors.Is(err, ErrRange) {
		t.Fatalf("sending a block not held yet: %v, want ErrRange", err)
	}
	receiveRun(t, p, a, 0, 2*bs)
	ctx := context.Background()
	if n, err := s.HeldFrom(ctx, 0, 3); n != 2 || err != nil {
		t.Fatalf("HeldFrom(0, 3) = %d, %v; want the 2 held blocks", n, err)
	}
	late := make(chan int, 1)
	go func() {
		n, _ := s.HeldFrom(ctx, 2, 1)
		late <- n
	}()
	select {
	case n := <-late:
		t.Fatalf("HeldFrom(2) returned %d before block 2 landed", n)
	case <-time.After(50 * time.Millisecond):
	}
	receiveRun(t, p, a, 2*bs, a.Header().NBytes-2*bs)
	if n := <-late; n != 1 {
		t.Fatalf("HeldFrom(2, 1) = %d once it landed", n)
	}
	c, err := p.Complete() // published: the source's descriptor stays valid
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := s.CopyData(&out, 0, bs); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SendData(&out, bs, a.Header().NBytes-bs); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckFile(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), a.Bytes()) {
		t.Fatal("the source's bytes differ from the array's")
	}
	if _, err := p.Source(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Source of a published partial: %v, want ErrClosed", err)
	}
}

// changedCopy publishes name in s: a's dtype and shape with the bytes of
// a, changed at the given data offsets.
func changedCopy(t testing.TB, s *Store, name string, a *Array, at ...int64) *Array {
	t.Helper()
	h := a.Header()
	w, err := s.Create(name, h.DType, h.Shape, h.Order, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	copy(w.Bytes(), a.Bytes())
	for _, off := range at {
		w.Bytes()[off] ^= 0x5a
	}
	b, err := w.Seal()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestSeed(t *testing.T) {
	s := newStore(t)
	old := create(t, s, "v1", arrayx.Uint8, arrayx.Shape{5<<22 + 3}, arrayx.OrderC) // 6 blocks, the last 3 bytes
	bs := old.Header().BlockSize
	next := changedCopy(t, s, "v2", old, bs+1, 4*bs+bs-1) // blocks 1 and 4 change
	dst := newStore(t)
	base := changedCopy(t, dst, "x", old) // the receiver's old version, on its own store
	p, err := dst.Receive("x", headerOf(t, s, "v2"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var ops []string
	defer zerocopy.SetTestHook(func(op string, n int64) { ops = append(ops, op) })()
	n, method, err := p.Seed(base)
	if err != nil {
		t.Fatal(err)
	}
	if want := []BlockRange{{1, 2}, {4, 5}}; !slices.Equal(p.Missing(), want) || n != 3*bs+3 {
		t.Fatalf("seeded %d bytes, missing %v; want %d and %v", n, p.Missing(), 3*bs+3, want)
	}
	if method != "copy_file_range" && method != "reflink" || len(ops) == 0 {
		t.Fatalf("seeded by %q (kernel calls %v)", method, ops)
	}
	t.Logf("seeded %d bytes by %s", n, method)
	receiveRun(t, p, next, bs, bs)
	receiveRun(t, p, next, 4*bs, bs)
	got, err := p.Complete()
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if !slices.Equal(got.Bytes(), next.Bytes()) || got.Verify() != nil {
		t.Fatal("seeded and received array differs from the new version")
	}
	// The old version, still open, is undisturbed.
	if !slices.Equal(base.Bytes(), old.Bytes()) || base.Verify() != nil {
		t.Fatal("the old version changed under its reader")
	}

	// An old version damaged on disk seeds only its good blocks; one of
	// another block size seeds nothing.
	bad := changedCopy(t, dst, "bad", old)
	path, _ := dst.Path("bad")
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{0xff, 0xfe}, bad.Header().DataOffset+2*bs+7)
	f.Close()
	q, err := dst.Receive("y", headerOf(t, s, "v1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if n, _, err := q.Seed(bad); err != nil || n != 4*bs+3 || !slices.Equal(q.Missing(), []BlockRange{{2, 3}}) {
		t.Fatalf("seed from a damaged version: %d bytes, missing %v, %v", n, q.Missing(), err)
	}
	other := create(t, s, "small", arrayx.Uint8, arrayx.Shape{1000}, arrayx.OrderC)
	if n, _, err := q.Seed(other); n != 0 || err != nil {
		t.Fatalf("seed across block sizes: %d, %v", n, err)
	}
	other.Close()
	if _, _, err := q.Seed(other); !errors.Is(err, ErrClosed) {
		t.Fatalf("seed from a closed array: %v", err)
	}

	// An old version sealed by a format 1.0 writer (CRC-32Cs, no XXH3-128)
	// seeds nothing: equal CRCs are no proof of equal blocks.
	h10 := old.Header().Clone()
	h10.XXH128 = nil
	raw, err := h10.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	file := append(append(raw, make([]byte, h10.DataOffset-int64(len(raw)))...), old.Bytes()...)
	if err := os.WriteFile(filepath.Join(dst.Dir(), "v10"+Ext), file, 0o644); err != nil {
		t.Fatal(err)
	}
	v10, err := dst.Open("v10")
	if err != nil {
		t.Fatal(err)
	}
	defer v10.Close()
	if err := v10.Verify(); err != nil {
		t.Fatalf("a 1.0 array does not verify by its CRCs: %v", err)
	}
	r, err := dst.Receive("z", headerOf(t, s, "v1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if n, _, err := r.Seed(v10); n != 0 || err != nil || len(r.Missing()) != 1 {
		t.Fatalf("seed from a 1.0 array: %d bytes, missing %v, %v; want nothing seeded", n, r.Missing(), err)
	}
}

func TestReceiveRefuses(t *testing.T) {
	src := newStore(t)
	a := create(t, src, "x", arrayx.Float64, arrayx.Shape{1000}, arrayx.OrderC)
	hdr := headerOf(t, src, "x")
	_ = a
	dst := newStore(t)
	if _, err := dst.Receive("x", hdr, &ReceiveOptions{MaxBytes: 100}); !errors.Is(err, arrayx.ErrTooLarge) {
		t.Errorf("over MaxBytes: %v", err)
	}
	if _, err := dst.Receive("../x", hdr, nil); !errors.Is(err, ErrInvalidName) {
		t.Errorf("bad name: %v", err)
	}
	if _, err := dst.Receive("x", hdr[:20], nil); !errors.Is(err, arrayx.ErrTruncated) {
		t.Errorf("truncated header: %v", err)
	}
	w, _ := src.Create("unsealed", arrayx.Float64, arrayx.Shape{10}, arrayx.OrderC, nil)
	defer w.Abort()
	uh, _ := w.Header().Marshal()
	if _, err := dst.Receive("x", uh, nil); !errors.Is(err, arrayx.ErrNotSealed) {
		t.Errorf("unsealed header: %v", err)
	}
	if left, _ := os.ReadDir(dst.Dir()); len(left) != 0 {
		t.Errorf("refusals left %v", left)
	}
}

// TestSeedReflink seeds on XFS, where the unchanged blocks are shared as
// reflinks and verified from the old file; a block of the old file damaged
// on disk is caught and left to be received.
func TestSeedReflink(t *testing.T) {
	dir := testutil.XFS(t)
	src, err := OpenStore(filepath.Join(dir, "src"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := OpenStore(filepath.Join(dir, "dst"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	old := create(t, src, "v1", arrayx.Uint8, arrayx.Shape{5 << 22}, arrayx.OrderC) // 5 blocks
	bs := old.Header().BlockSize
	next := changedCopy(t, src, "v2", old, 3*bs+5) // block 3 changes
	base := changedCopy(t, dst, "x", old)
	path, _ := dst.Path("x")
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{0xee}, base.Header().DataOffset+bs+9) // block 1 damaged on disk
	f.Close()
	p, err := dst.Receive("x", headerOf(t, src, "v2"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	n, method, err := p.Seed(base)
	if err != nil || method != "reflink" {
		t.Fatalf("seed: %d bytes by %q, %v; want reflinks", n, method, err)
	}
	if want := []BlockRange{{1, 2}, {3, 4}}; !slices.Equal(p.Missing(), want) || n != 3*bs {
		t.Fatalf("seeded %d bytes, missing %v; want %d, %v", n, p.Missing(), 3*bs, want)
	}
	receiveRun(t, p, next, bs, bs)
	receiveRun(t, p, next, 3*bs, bs)
	got, err := p.Complete()
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if !slices.Equal(got.Bytes(), next.Bytes()) || got.Verify() != nil {
		t.Fatal("the reflinked and received array differs from the new version")
	}
}
