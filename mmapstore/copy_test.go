package mmapstore

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/internal/zerocopy"
)

// storeIn opens a store in a fresh directory under parent ("" for the
// test's temporary directory).
func storeIn(t testing.TB, parent string) *Store {
	t.Helper()
	dir := t.TempDir()
	if parent != "" {
		var err error
		if dir, err = os.MkdirTemp(parent, "store-"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	s, err := OpenStore(dir, &Options{Sync: SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// sameFile checks that the array name in dst is a byte-exact copy of src.
func sameFile(t testing.TB, src *Store, srcName string, dst *Store, name string) {
	t.Helper()
	sp, _ := src.Path(srcName)
	want, err := os.ReadFile(sp)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := dst.Path(name)
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the copy differs from the source (%d and %d bytes)", len(got), len(want))
	}
}

// noTemps fails if dir holds anything but the named files.
func noTemps(t testing.TB, s *Store, want ...string) {
	t.Helper()
	var got []string
	filepath.WalkDir(s.Dir(), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(s.Dir(), p)
			got = append(got, filepath.ToSlash(rel))
		}
		return nil
	})
	if len(got) != len(want) || !equalStrings(got, want) {
		t.Fatalf("store holds %q, want exactly %q", got, want)
	}
}

func equalStrings(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

func TestCopy(t *testing.T) {
	// copy_file_range works within a filesystem; between two of different
	// types Linux refuses it (EXDEV), and sendfile does the copy.
	wantMethod, crossFSMethod := "copy_file_range", "sendfile"
	if runtime.GOOS != "linux" {
		wantMethod, crossFSMethod = "write", "write"
	}
	temp := func(t testing.TB) string { return t.TempDir() }
	for _, tc := range []struct {
		name       string
		src, dst   func(testing.TB) string // parent directories
		forceWrite bool
		method     string
	}{
		{"disk to disk", temp, temp, false, wantMethod},
		{"tmpfs to tmpfs", testutil.ShmDir, testutil.ShmDir, false, wantMethod},
		{"tmpfs to disk", testutil.ShmDir, testutil.DiskDir, false, crossFSMethod},
		{"forced write", temp, temp, true, "write"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := storeIn(t, tc.src(t)), storeIn(t, tc.dst(t))
			// Several blocks, so verification has blocks to check.
			a := create(t, src, "in/x", arrayx.Float64, arrayx.Shape{3, 1 << 20}, arrayx.OrderF)
			kernel := watchKernel(t)
			b, st, err := dst.Copy(a, "out/y", &CopyOptions{ForceWrite: tc.forceWrite})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if st.Method != tc.method || st.Bytes != a.Header().FileSize() || st.Duration <= 0 {
				t.Errorf("stats %+v, want method %s and %d bytes", st, tc.method, a.Header().FileSize())
			}
			// What the kernel did, not only what Copy says it did.
			want := st.Bytes
			if tc.method == "write" {
				want = 0
			}
			if !kernel.only(tc.method, want) {
				t.Errorf("kernel calls %v, want %s moving %d bytes", kernel.seen(), tc.method, want)
			}
			if !bytes.Equal(b.Bytes(), a.Bytes()) || b.Path() != "out/y" {
				t.Errorf("the returned array differs from the source (path %q)", b.Path())
			}
			sameFile(t, src, "in/x", dst, "out/y")
			noTemps(t, dst, "out/y.arx")
			if err := b.Verify(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestCopyReplacesAtomically(t *testing.T) {
	s := storeIn(t, "")
	a := create(t, s, "a", arrayx.Int32, arrayx.Shape{1000}, arrayx.OrderC)
	old := create(t, s, "b", arrayx.Uint8, arrayx.Shape{10}, arrayx.OrderC)
	b, _, err := s.Copy(a, "b", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if old.Header().DType != arrayx.Uint8 || len(old.Bytes()) != 10 {
		t.Error("a reader of the replaced array lost its mapping")
	}
	if h, err := s.Stat("b"); err != nil || h.DType != arrayx.Int32 {
		t.Errorf("b after the copy: %v %v", h, err)
	}
	noTemps(t, s, "a.arx", "b.arx")
}

func TestCopyTo(t *testing.T) {
	s := storeIn(t, "")
	a := create(t, s, "a", arrayx.Complex64, arrayx.Shape{7, 9}, arrayx.OrderC)
	dir := t.TempDir()
	b, st, err := CopyTo(a, filepath.Join(dir, "copy.arx"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if st.Bytes != a.Header().FileSize() {
		t.Errorf("stats %+v", st)
	}
	c, err := Open(filepath.Join(dir, "copy.arx"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !bytes.Equal(c.Bytes(), a.Bytes()) {
		t.Error("the copy's data differs")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("the destination directory holds %d entries, want only the copy", len(ents))
	}
}

// kernelCalls records what internal/zerocopy's test hook sees.
type kernelCalls struct {
	mu    sync.Mutex
	ops   []string
	bytes map[string]int64
}

// watchKernel records every kernel copy until the test ends.
func watchKernel(t testing.TB) *kernelCalls {
	k := &kernelCalls{bytes: map[string]int64{}}
	t.Cleanup(zerocopy.SetTestHook(func(op string, n int64) {
		k.mu.Lock()
		defer k.mu.Unlock()
		k.ops = append(k.ops, op)
		k.bytes[op] += n
	}))
	return k
}

func (k *kernelCalls) seen() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.ops...)
}

// only reports whether the kernel calls moved n bytes, all by op (none at
// all when n is 0).
func (k *kernelCalls) only(op string, n int64) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if n == 0 {
		return len(k.ops) == 0
	}
	return len(k.bytes) == 1 && k.bytes[op] == n
}

// A source whose file was cut short behind its back is ErrFault, whichever
// way the copy goes (the kernel stops at the end, the read path finds it
// short), never a SIGBUS, and nothing appears at the destination.
func TestCopyTruncatedSource(t *testing.T) {
	for _, force := range []bool{false, true} {
		src, dst := storeIn(t, ""), storeIn(t, "")
		a := create(t, src, "x", arrayx.Uint8, arrayx.Shape{3 << 20}, arrayx.OrderC)
		p, _ := src.Path("x")
		if err := os.Truncate(p, a.Header().FileSize()/2); err != nil {
			t.Fatal(err)
		}
		_, _, err := dst.Copy(a, "y", &CopyOptions{ForceWrite: force})
		if !errors.Is(err, ErrFault) {
			t.Fatalf("copy of a truncated source (force write %v): %v, want ErrFault", force, err)
		}
		noTemps(t, dst)
	}
}

// A source corrupted on disk after sealing is refused, the block named, and
// nothing appears at the destination.
func TestCopyRefusesCorruptSource(t *testing.T) {
	for _, force := range []bool{false, true} {
		src, dst := storeIn(t, ""), storeIn(t, "")
		a := create(t, src, "x", arrayx.Uint8, arrayx.Shape{10 << 20}, arrayx.OrderC)
		if a.Header().NumBlocks() < 2 {
			t.Fatalf("%d blocks: the test needs several", a.Header().NumBlocks())
		}
		p, _ := src.Path("x")
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		off := a.Header().DataOffset + a.Header().BlockSize + 5 // in block 1
		if _, err := f.WriteAt([]byte{^a.Bytes()[a.Header().BlockSize+5]}, off); err != nil {
			t.Fatal(err)
		}
		f.Close()
		_, _, err = dst.Copy(a, "y", &CopyOptions{ForceWrite: force})
		var ce *arrayx.ChecksumError
		if !errors.As(err, &ce) || ce.Block != 1 {
			t.Fatalf("copy of a corrupt source (force write %v): %v, want a checksum error in block 1", force, err)
		}
		noTemps(t, dst)
	}
}

func TestCopyErrors(t *testing.T) {
	s := storeIn(t, "")
	a := create(t, s, "a", arrayx.Int8, arrayx.Shape{4}, arrayx.OrderC)
	if _, _, err := s.Copy(a, "../escape", nil); !errors.Is(err, ErrInvalidName) {
		t.Errorf("bad name: %v", err)
	}
	a.Close()
	if _, _, err := s.Copy(a, "b", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("closed source: %v", err)
	}
	// A refused copy into a nested name leaves no directory behind.
	if _, _, err := s.Copy(a, "deep/er/b", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("closed source, nested name: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "deep")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused copy left its directories: %v", err)
	}
	noTemps(t, s, "a.arx")
}

// TestCopyReflink mounts a small XFS filesystem (reflink=1) on a loop device
// and checks that a copy within it is a reflink: the copy shares the
// source's extents, so the filesystem's used space does not grow by the
// array's size.
func TestCopyReflink(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reflinks are only attempted on Linux")
	}
	mnt := testutil.XFS(t)
	s := storeIn(t, mnt)
	a := create(t, s, "x", arrayx.Float64, arrayx.Shape{8 << 20}, arrayx.OrderC) // 64 MiB
	syncFS(t, mnt)
	before := usedBytes(t, mnt)
	kernel := watchKernel(t)
	b, st, err := s.Copy(a, "y", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	syncFS(t, mnt)
	grew := usedBytes(t, mnt) - before
	if st.Method != "reflink" || grew > 8<<20 {
		t.Fatalf("copy on XFS: method %q, used space grew by %d bytes; want a reflink sharing the 64 MiB", st.Method, grew)
	}
	if !kernel.only("reflink", st.Bytes) {
		t.Errorf("kernel calls %v, want one reflink of %d bytes", kernel.seen(), st.Bytes)
	}
	sameFile(t, s, "x", s, "y")
	t.Logf("reflink copy of 64 MiB in %v; used space grew by %d KiB", st.Duration, grew>>10)
}

func syncFS(t testing.TB, dir string) {
	t.Helper()
	if out, err := exec.Command("sync", "-f", dir).CombinedOutput(); err != nil {
		t.Fatalf("sync -f: %v: %s", err, out)
	}
}
