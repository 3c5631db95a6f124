package mmapstore

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/arrayx/arrayx/arrayx"
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

func TestReceiveResumes(t *testing.T) {
	src := newStore(t)
	a := create(t, src, "x", arrayx.Uint8, arrayx.Shape{3<<22 + 77}, arrayx.OrderC) // 4 blocks
	hdr := headerOf(t, src, "x")
	dst := newStore(t)

	p, err := dst.Receive("in/x", hdr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Held() != 0 {
		t.Fatalf("new partial holds %d", p.Held())
	}
	// Receive 2.5 blocks, verify, and stop.
	bs := a.Header().BlockSize
	copy(p.Bytes(), a.Bytes()[:2*bs+bs/2])
	if err := p.Verify(2*bs + bs/2); err != nil {
		t.Fatal(err)
	}
	if p.Held() != 2*bs {
		t.Fatalf("held %d after 2.5 blocks", p.Held())
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
	parts, _ := filepath.Glob(filepath.Join(dst.Dir(), "in", ".x.arx.part-*"))
	if len(parts) != 1 {
		t.Fatalf("partial files: %v", parts)
	}
	if _, err := Open(parts[0], nil); !errors.Is(err, arrayx.ErrBadMagic) {
		t.Fatalf("a partial file opened by path: %v", err)
	}

	// Resume: the held prefix is found again; a corrupted block is not held.
	p, err = dst.Receive("in/x", hdr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Held() != 2*bs || p.Resumed() != 2*bs {
		t.Fatalf("resumed at %d, want %d", p.Held(), 2*bs)
	}
	if _, err := dst.Receive("in/x", hdr, nil); !errors.Is(err, ErrBusy) {
		t.Fatalf("second concurrent Receive: %v", err)
	}
	copy(p.Bytes()[p.Held():], a.Bytes()[p.Held():])
	p.Bytes()[3*bs+5] ^= 1
	err = p.Verify(a.Header().NBytes)
	var ce *arrayx.ChecksumError
	if !errors.As(err, &ce) || ce.Block != 3 || p.Held() != 3*bs {
		t.Fatalf("corrupt block 3: %v, held %d", err, p.Held())
	}
	p.Bytes()[3*bs+5] ^= 1
	if err := p.Verify(a.Header().NBytes); err != nil {
		t.Fatal(err)
	}
	b, err := p.Complete()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !slices.Equal(b.Bytes(), a.Bytes()) || b.Verify() != nil {
		t.Fatal("received array differs")
	}
	got, _ := os.ReadFile(filepath.Join(dst.Dir(), "in", "x.arx"))
	srcPath, _ := src.Path("x")
	want, _ := os.ReadFile(srcPath)
	if !slices.Equal(got, want) {
		t.Fatal("published file is not byte-identical to the sender's")
	}
	if parts, _ := filepath.Glob(filepath.Join(dst.Dir(), "in", ".*")); len(parts) != 0 {
		t.Fatalf("left behind: %v", parts)
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
