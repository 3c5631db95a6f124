package mmapstore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arrayx/arrayx/arrayx"
)

// TestTruncatedBehindOurBack truncates mapped files, as another process
// could, and checks that the library's own readers of the mapping (Verify,
// VerifyRange, RawHeader, Seal's checksums, a Partial's Verify) return
// ErrFault or nil instead of crashing the process with SIGBUS. Reads through
// raw slices (Bytes, typed views) cannot be protected: see the package
// documentation.
func TestTruncatedBehindOurBack(t *testing.T) {
	t.Run("array", func(t *testing.T) {
		s := newStore(t)
		a := create(t, s, "x", arrayx.Uint8, arrayx.Shape{4 << 22}, arrayx.OrderC) // 4 blocks
		h := a.Header()
		bs := h.BlockSize
		b, err := s.Open("x")
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		raw := b.RawHeader()
		path, _ := s.Path("x")

		// Cut inside block 2.
		if err := os.Truncate(path, h.DataOffset+2*bs+100); err != nil {
			t.Fatal(err)
		}
		for _, arr := range []*Array{a, b} {
			err := arr.Verify()
			if !errors.Is(err, ErrFault) || !strings.Contains(err.Error(), "block 2") {
				t.Fatalf("Verify of an array cut in block 2: %v, want ErrFault naming block 2", err)
			}
			t.Logf("Verify: %v", err)
			if err := arr.VerifyRange(0, 2*bs); err != nil {
				t.Fatalf("VerifyRange of the blocks still there: %v", err)
			}
			if err := arr.VerifyRange(3*bs, 10); !errors.Is(err, ErrFault) {
				t.Fatalf("VerifyRange of block 3, past the end: %v, want ErrFault", err)
			}
		}
		if !bytes.Equal(b.RawHeader(), raw) {
			t.Fatal("RawHeader changed while the header is still in the file")
		}

		// Cut to nothing: the header too.
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
		if got := b.RawHeader(); got != nil {
			t.Fatalf("RawHeader of a file truncated to 0: %d bytes, want nil", len(got))
		}
		if b.Bytes() == nil {
			t.Fatal("Bytes is nil for an array still open: callers cannot tell a fault from Close")
		}
		if err := b.Verify(); !errors.Is(err, ErrFault) || !strings.Contains(err.Error(), "block 0") {
			t.Fatalf("Verify of a file truncated to 0: %v, want ErrFault naming block 0", err)
		}
	})

	t.Run("writer", func(t *testing.T) {
		s := newStore(t)
		w, err := s.Create("x", arrayx.Uint8, arrayx.Shape{2 << 22}, arrayx.OrderC, nil)
		if err != nil {
			t.Fatal(err)
		}
		copy(w.Bytes(), bytes.Repeat([]byte{7}, len(w.Bytes())))
		if err := os.Truncate(filepath.Join(s.Dir(), w.tmp), w.Header().DataOffset+100); err != nil {
			t.Fatal(err)
		}
		_, err = w.Seal()
		if !errors.Is(err, ErrFault) {
			t.Fatalf("Seal of a truncated writer: %v, want ErrFault", err)
		}
		t.Logf("Seal: %v", err)
		if ents, _ := os.ReadDir(s.Dir()); len(ents) != 0 {
			t.Fatalf("a failed Seal left %v", ents)
		}
	})

	t.Run("partial", func(t *testing.T) {
		src := newStore(t)
		a := create(t, src, "x", arrayx.Uint8, arrayx.Shape{3 << 22}, arrayx.OrderC)
		hdr := headerOf(t, src, "x")
		dst := newStore(t)
		p, err := dst.Receive("x", hdr, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		receiveRun(t, p, a, 0, a.Header().NBytes)
		if err := os.Truncate(filepath.Join(dst.Dir(), p.file), 100); err != nil {
			t.Fatal(err)
		}
		if b, err := p.Complete(); !errors.Is(err, ErrFault) {
			t.Fatalf("Complete of a truncated partial: %v, want ErrFault", err)
			b.Close()
		}
		if names, _ := dst.List(); len(names) != 0 {
			t.Fatalf("a truncated partial was published: %v", names)
		}
	})
}
