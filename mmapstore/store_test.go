package mmapstore

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/arrayx/arrayx/arrayx"
)

// newStore opens a store in a fresh temporary directory.
func newStore(t testing.TB) *Store {
	t.Helper()
	s, err := OpenStore(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// create makes, fills with bytes i*7+1 and seals an array.
func create(t testing.TB, s *Store, name string, dt arrayx.DType, shape arrayx.Shape, order arrayx.Order) *Array {
	t.Helper()
	w, err := s.Create(name, dt, shape, order, &CreateOptions{Attrs: map[string]any{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for i, b := 0, w.Bytes(); i < len(b); i++ {
		b[i] = byte(i*7 + 1)
	}
	a, err := w.Seal()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func TestRoundTripAllDTypes(t *testing.T) {
	s := newStore(t)
	shapes := []arrayx.Shape{{}, {0}, {3, 0, 2}, {5}, {3, 4}, {2, 3, 4}}
	for _, dt := range arrayx.DTypes() {
		for _, order := range []arrayx.Order{arrayx.OrderC, arrayx.OrderF} {
			for _, shape := range shapes {
				name := dt.String() + "/" + order.String() + "/" + strings.Trim(strings.ReplaceAll(shape.String(), ", ", "x"), "(),")
				if len(shape) == 0 {
					name += "scalar"
				}
				t.Run(name, func(t *testing.T) {
					sealed := create(t, s, name, dt, shape, order)
					a, err := s.Open(name)
					if err != nil {
						t.Fatal(err)
					}
					defer a.Close()
					h := a.Header()
					n, _ := shape.NumElements()
					if h.DType != dt || h.Order != order || !h.Shape.Equal(shape) || h.NBytes != n*int64(dt.ItemSize()) {
						t.Fatalf("header %+v", h)
					}
					if h.Attrs["k"] != "v" || !h.Sealed {
						t.Fatalf("attrs %v sealed %v", h.Attrs, h.Sealed)
					}
					if !slices.Equal(a.Bytes(), sealed.Bytes()) {
						t.Fatal("data differs between Seal's array and Open's")
					}
					for i, b := range a.Bytes() {
						if b != byte(i*7+1) {
							t.Fatalf("byte %d = %d", i, b)
						}
					}
					if err := a.Verify(); err != nil {
						t.Fatal(err)
					}
				})
			}
		}
	}
}

func TestTypedViewOverMapping(t *testing.T) {
	s := newStore(t)
	w, err := s.Create("v", arrayx.Float64, arrayx.Shape{1000, 3}, arrayx.OrderC, nil)
	if err != nil {
		t.Fatal(err)
	}
	x, err := arrayx.Data[float64](w)
	if err != nil {
		t.Fatal(err)
	}
	for i := range x {
		x[i] = float64(i) / 4
	}
	a, err := w.Seal()
	if err != nil {
		t.Fatal(err)
	}
	y, err := arrayx.Data[float64](a)
	if err != nil {
		t.Fatal(err)
	}
	if len(y) != 3000 || y[2999] != 2999.0/4 {
		t.Fatalf("len %d last %v", len(y), y[len(y)-1])
	}
	if _, err := arrayx.Data[float32](a); !errors.Is(err, arrayx.ErrView) {
		t.Fatalf("float32 view of float64: %v", err)
	}
	a.Close()
	a.Close() // idempotent
	if a.Bytes() != nil {
		t.Fatal("Bytes after Close is not nil")
	}
	if _, err := arrayx.Data[float64](a); !errors.Is(err, arrayx.ErrView) {
		t.Fatalf("view after Close: %v", err)
	}
	if err := a.Verify(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Verify after Close: %v", err)
	}
}

// TestNothingVisibleBeforeSeal checks the publication rule: until Seal, the
// name neither opens nor lists; Abort leaves no file behind.
func TestNothingVisibleBeforeSeal(t *testing.T) {
	s := newStore(t)
	w, err := s.Create("sub/a", arrayx.Int32, arrayx.Shape{100}, arrayx.OrderC, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open("sub/a"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open before Seal: %v", err)
	}
	if _, err := s.Stat("sub/a"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat before Seal: %v", err)
	}
	if names, _ := s.List(); len(names) != 0 {
		t.Fatalf("List before Seal: %v", names)
	}
	// The temporary file exists, is unsealed, and opening it by path says so.
	tmps, _ := filepath.Glob(filepath.Join(s.Dir(), "sub", ".*"))
	if len(tmps) != 1 {
		t.Fatalf("temporary files: %v", tmps)
	}
	if _, err := Open(tmps[0], nil); !errors.Is(err, arrayx.ErrNotSealed) {
		t.Fatalf("Open of the temporary file: %v", err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal("second Abort:", err)
	}
	if _, err := w.Seal(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Seal after Abort: %v", err)
	}
	if left, _ := os.ReadDir(filepath.Join(s.Dir(), "sub")); len(left) != 0 {
		t.Fatalf("Abort left %v", left)
	}
}

func TestSealReplacesAndListSorts(t *testing.T) {
	s := newStore(t)
	for _, n := range []string{"b", "a/z", "a/b.c", "c-1", "b"} {
		create(t, s, n, arrayx.Uint8, arrayx.Shape{10}, arrayx.OrderC)
	}
	// Noise that must never be listed.
	os.WriteFile(filepath.Join(s.Dir(), "notes.txt"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(s.Dir(), ".hidden.arx"), []byte("x"), 0o644)
	os.MkdirAll(filepath.Join(s.Dir(), ".cache"), 0o755)
	os.WriteFile(filepath.Join(s.Dir(), ".cache", "x.arx"), []byte("x"), 0o644)
	w, _ := s.Create("pending", arrayx.Uint8, arrayx.Shape{10}, arrayx.OrderC, nil)
	defer w.Abort()

	names, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a/b.c", "a/z", "b", "c-1"}; !slices.Equal(names, want) {
		t.Fatalf("List = %v, want %v", names, want)
	}
	h, err := s.Stat("a/z")
	if err != nil || h.NBytes != 10 {
		t.Fatalf("Stat: %v %v", h, err)
	}
	if err := s.Remove("a/z"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("a/z"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("second Remove: %v", err)
	}
}

func TestValidateName(t *testing.T) {
	good := []string{"a", "A.b_c-9", "x/y/z", "a..b", strings.Repeat("n", 229), strings.Repeat("n", 229) + "/" + strings.Repeat("m", 25), "x.arx", "a.arxb/c"}
	bad := []string{"", ".", "..", "../x", "a/../b", "/abs", "a/", "a//b", ".hidden", "a/.b",
		"sp ace", "nul\x00", "back\\slash", "uni\u00e9", "colon:", strings.Repeat("n", 256), strings.Repeat("n", 230), "a/./b", "~", "a.arx/b", "x/y.arx/z"}
	for _, n := range good {
		if err := ValidateName(n); err != nil {
			t.Errorf("ValidateName(%q) = %v", n, err)
		}
	}
	s := newStore(t)
	for _, n := range good { // the filesystem must hold every valid name
		create(t, s, n, arrayx.Uint8, arrayx.Shape{1}, arrayx.OrderC)
	}
	for _, n := range bad {
		if err := ValidateName(n); !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidateName(%q) = %v, want ErrInvalidName", n, err)
		}
		if _, err := s.Create(n, arrayx.Uint8, arrayx.Shape{1}, arrayx.OrderC, nil); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Create(%q) = %v", n, err)
		}
		if _, err := s.Open(n); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Open(%q) = %v", n, err)
		}
	}
}

func TestVerifyNamesCorruptBlock(t *testing.T) {
	s := newStore(t)
	// 3 blocks of 4 MiB and a short fourth one.
	a := create(t, s, "c", arrayx.Uint8, arrayx.Shape{3<<22 + 100}, arrayx.OrderC)
	h := a.Header()
	if h.NumBlocks() != 4 {
		t.Fatalf("%d blocks", h.NumBlocks())
	}
	path, _ := s.Path("c")
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	off := h.DataOffset + 2*h.BlockSize + 12345
	var b [1]byte
	f.ReadAt(b[:], off)
	b[0] ^= 0x40
	f.WriteAt(b[:], off)
	f.Close()

	// The already-open array shares the page cache, so it sees the flip too.
	for _, arr := range []*Array{a, mustOpen(t, s, "c")} {
		err := arr.Verify()
		var ce *arrayx.ChecksumError
		if !errors.As(err, &ce) || !errors.Is(err, arrayx.ErrChecksum) || ce.Block != 2 || ce.Offset != 2*h.BlockSize {
			t.Fatalf("Verify = %v", err)
		}
		if !strings.Contains(err.Error(), "block 2") {
			t.Fatalf("message does not name the block: %v", err)
		}
		if err := arr.VerifyRange(0, 2*h.BlockSize); err != nil {
			t.Fatalf("blocks 0-1: %v", err)
		}
		if err := arr.VerifyRange(3*h.BlockSize, 100); err != nil {
			t.Fatalf("block 3: %v", err)
		}
		if err := arr.VerifyRange(2*h.BlockSize-1, 2); !errors.As(err, &ce) || ce.Block != 2 {
			t.Fatalf("range over blocks 1-2: %v", err)
		}
	}
	for _, r := range [][2]int64{{-1, 1}, {0, -1}, {0, h.NBytes + 1}, {h.NBytes, 1}, {1 << 62, 1 << 62}} {
		if err := a.VerifyRange(r[0], r[1]); !errors.Is(err, ErrRange) {
			t.Errorf("VerifyRange(%d, %d) = %v", r[0], r[1], err)
		}
	}
}

func mustOpen(t testing.TB, s *Store, name string) *Array {
	t.Helper()
	a, err := s.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func TestOpenRejectsBadFiles(t *testing.T) {
	s := newStore(t)
	a := create(t, s, "good", arrayx.Int16, arrayx.Shape{10}, arrayx.OrderC)
	good, _ := os.ReadFile(filepath.Join(s.Dir(), "good.arx"))
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, arrayx.ErrTruncated},
		{"magic", append([]byte("NOTARRAY"), good[8:]...), arrayx.ErrBadMagic},
		{"truncated", good[:len(good)-1], arrayx.ErrTruncated},
		{"trailing", append(slices.Clone(good), 0), arrayx.ErrTrailingBytes},
		{"header-cut", good[:20], arrayx.ErrTruncated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			os.WriteFile(filepath.Join(s.Dir(), c.name+".arx"), c.data, 0o644)
			if _, err := s.Open(c.name); !errors.Is(err, c.want) {
				t.Fatalf("Open = %v, want %v", err, c.want)
			}
			if _, err := s.Stat(c.name); !errors.Is(err, c.want) {
				t.Fatalf("Stat = %v, want %v", err, c.want)
			}
		})
	}
	_ = a
	t.Run("directory", func(t *testing.T) {
		os.Mkdir(filepath.Join(s.Dir(), "dir.arx"), 0o755)
		if _, err := s.Open("dir"); !errors.Is(err, ErrNotRegular) {
			t.Fatalf("Open = %v", err)
		}
	})
	t.Run("fifo", func(t *testing.T) {
		if err := syscall.Mkfifo(filepath.Join(s.Dir(), "fifo.arx"), 0o644); err != nil {
			t.Skip("no mkfifo here:", err)
		}
		done := make(chan error, 1)
		go func() { _, err := s.Open("fifo"); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, ErrNotRegular) {
				t.Fatalf("Open = %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Open of a FIFO hangs")
		}
	})
	t.Run("symlink-out-of-store", func(t *testing.T) {
		outside := filepath.Join(t.TempDir(), "secret.arx")
		os.WriteFile(outside, good, 0o644)
		if err := os.Symlink(outside, filepath.Join(s.Dir(), "link.arx")); err != nil {
			t.Skip(err)
		}
		if _, err := s.Open("link"); err == nil {
			t.Fatal("Open followed a symlink out of the store")
		}
		os.Symlink(filepath.Dir(outside), filepath.Join(s.Dir(), "linkdir"))
		if _, err := s.Open("linkdir/secret"); err == nil {
			t.Fatal("Open followed a directory symlink out of the store")
		}
		if _, err := s.Create("linkdir/new", arrayx.Uint8, arrayx.Shape{1}, arrayx.OrderC, nil); err == nil {
			t.Fatal("Create wrote through a symlink out of the store")
		}
		if names, _ := s.List(); slices.Contains(names, "link") || slices.Contains(names, "linkdir/secret") {
			t.Fatalf("List shows symlinks: %v", names)
		}
	})
}

func TestWait(t *testing.T) {
	s := newStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	t.Run("already-there", func(t *testing.T) {
		create(t, s, "here", arrayx.Uint8, arrayx.Shape{1}, arrayx.OrderC)
		a, err := s.Wait(ctx, "here")
		if err != nil {
			t.Fatal(err)
		}
		a.Close()
	})
	t.Run("appears-in-new-subdirectory", func(t *testing.T) {
		got := make(chan error, 1)
		go func() {
			a, err := s.Wait(ctx, "deep/er/x")
			if err == nil {
				if a.Header().Shape[0] != 7 {
					err = errors.New("wrong array")
				}
				a.Close()
			}
			got <- err
		}()
		time.Sleep(50 * time.Millisecond)
		w, err := s.Create("deep/er/x", arrayx.Uint8, arrayx.Shape{7}, arrayx.OrderC, nil)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // the temp file appears first; Wait must not return on it
		select {
		case err := <-got:
			t.Fatalf("Wait returned before Seal: %v", err)
		default:
		}
		a, err := w.Seal()
		if err != nil {
			t.Fatal(err)
		}
		a.Close()
		if err := <-got; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		c, cancel := context.WithCancel(ctx)
		time.AfterFunc(30*time.Millisecond, cancel)
		start := time.Now()
		_, err := s.Wait(c, "never")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("cancel took %v", d)
		}
	})
	t.Run("bad-name", func(t *testing.T) {
		if _, err := s.Wait(ctx, "../x"); !errors.Is(err, ErrInvalidName) {
			t.Fatalf("Wait = %v", err)
		}
	})
}

func TestCreateErrors(t *testing.T) {
	s := newStore(t)
	if _, err := s.Create("x", arrayx.DType(0), arrayx.Shape{1}, arrayx.OrderC, nil); !errors.Is(err, arrayx.ErrDType) {
		t.Errorf("bad dtype: %v", err)
	}
	if _, err := s.Create("x", arrayx.Float64, arrayx.Shape{1 << 40, 1 << 40}, arrayx.OrderC, nil); !errors.Is(err, arrayx.ErrTooLarge) {
		t.Errorf("overflowing shape: %v", err)
	}
	big := map[string]any{"blob": strings.Repeat("x", arrayx.MaxAttrsBytes)}
	if _, err := s.Create("x", arrayx.Float64, arrayx.Shape{1}, arrayx.OrderC, &CreateOptions{Attrs: big}); !errors.Is(err, arrayx.ErrAttrsTooLarge) {
		t.Errorf("huge attrs: %v", err)
	}
	if names, _ := s.List(); len(names) != 0 {
		t.Errorf("failed creates left %v", names)
	}
	if left, _ := os.ReadDir(s.Dir()); len(left) != 0 {
		t.Errorf("failed creates left files: %v", left)
	}
}

func TestPathLevelAPI(t *testing.T) {
	p := filepath.Join(t.TempDir(), "plain.arx")
	w, err := Create(p, arrayx.Complex128, arrayx.Shape{4, 4}, arrayx.OrderF, &CreateOptions{Sync: SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	z, _ := arrayx.Data[complex128](w)
	z[5] = 1 + 2i
	a, err := w.Seal()
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	b, err := Open(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	off, _ := b.Header().Offset(1, 1) // F order: (1,1) is flat index 5
	z2, _ := arrayx.Data[complex128](b)
	if off != 5*16 || z2[5] != 1+2i {
		t.Fatalf("offset %d value %v", off, z2[5])
	}
	if _, err := Open(p, &OpenOptions{Limits: arrayx.Limits{MaxHeaderBytes: 8}}); !errors.Is(err, arrayx.ErrHeaderTooLarge) {
		t.Fatalf("tiny header limit: %v", err)
	}
}

// TestReviewRegressions covers defects found in review.
func TestReviewRegressions(t *testing.T) {
	t.Run("attrs-edited-after-create", func(t *testing.T) {
		s := newStore(t)
		attrs := map[string]any{"note": "short"}
		w, err := s.Create("x", arrayx.Uint8, arrayx.Shape{8}, arrayx.OrderC, &CreateOptions{Attrs: attrs})
		if err != nil {
			t.Fatal(err)
		}
		attrs["note"] = strings.Repeat("long ", 2000) // would not fit the reserved room
		a, err := w.Seal()
		if err != nil {
			t.Fatal("Seal after the caller edited its attrs map:", err)
		}
		defer a.Close()
		if a.Header().Attrs["note"] != "short" {
			t.Fatalf("attrs = %v", a.Header().Attrs)
		}
	})
	t.Run("wait-across-directory-recreated", func(t *testing.T) {
		s := newStore(t)
		os.MkdirAll(filepath.Join(s.Dir(), "runs", "r1"), 0o755)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		got := make(chan error, 1)
		go func() {
			a, err := s.Wait(ctx, "runs/r1/x")
			if err == nil {
				a.Close()
			}
			got <- err
		}()
		time.Sleep(50 * time.Millisecond)
		os.RemoveAll(filepath.Join(s.Dir(), "runs"))
		time.Sleep(50 * time.Millisecond)
		create(t, s, "runs/r1/x", arrayx.Uint8, arrayx.Shape{1}, arrayx.OrderC)
		if err := <-got; err != nil {
			t.Fatal(err)
		}
	})
}
