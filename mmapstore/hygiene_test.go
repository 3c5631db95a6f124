package mmapstore

import (
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
	"github.com/arrayx/arrayx/internal/testutil"
)

// TestOpenStoreNoCreate: with NoCreate a missing store is an error that
// wraps fs.ErrNotExist and says so, and nothing is created; an existing
// one opens.
func TestOpenStoreNoCreate(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "typo", "store")
	s, err := OpenStore(dir, &Options{NoCreate: true})
	if err == nil {
		s.Close()
		t.Fatal("NoCreate opened a store that does not exist")
	}
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "store "+dir+" does not exist") {
		t.Fatalf("got %q; want an error wrapping fs.ErrNotExist saying the store does not exist", err)
	}
	if exists(t, filepath.Join(parent, "typo")) {
		t.Fatal("NoCreate made the store's parent directory")
	}
	s, err = OpenStore(parent, &Options{NoCreate: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// abandonedFiles leaves in s a dead writer's temporary file and a partial
// holding 1 of its 3 blocks, both as a crash leaves them, the partial two
// hours old; it returns their store-relative paths.
func abandonedFiles(t *testing.T, s *Store) (tmp, part string) {
	t.Helper()
	dead := startWriterProc(t, s.Dir(), "sub/dead")
	dead.cmd.Process.Signal(syscall.SIGKILL)
	dead.cmd.Wait()
	src := newStore(t)
	a := create(t, src, "p", arrayx.Uint8, arrayx.Shape{3 << 22}, arrayx.OrderC) // 3 blocks
	p, err := s.Receive("p", headerOf(t, src, "p"), nil)
	if err != nil {
		t.Fatal(err)
	}
	receiveRun(t, p, a, 0, a.Header().BlockSize)
	part = filepath.ToSlash(p.file)
	p.Close()
	age(t, filepath.Join(s.Dir(), part), 2*time.Hour)
	return dead.tmp, part
}

// TestCleanDryRun: a dry run reports exactly what a real clean then
// removes, with each file's size, and removes nothing.
func TestCleanDryRun(t *testing.T) {
	s := newStore(t)
	tmp, part := abandonedFiles(t, s)
	opts := &CleanOptions{PartialsOlderThan: time.Hour, DryRun: true}
	dry, err := s.Clean(opts)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{part, tmp}
	slices.Sort(want)
	if !slices.Equal(dry.Removed, want) || len(dry.Sizes) != 2 {
		t.Fatalf("dry run would remove %v (sizes %v); want %v", dry.Removed, dry.Sizes, want)
	}
	var sum int64
	for i, p := range dry.Removed {
		fi, err := os.Stat(filepath.Join(s.Dir(), p))
		if err != nil {
			t.Fatalf("the dry run removed %s: %v", p, err)
		}
		if dry.Sizes[i] != fi.Size() {
			t.Fatalf("dry run: %s is %d bytes, reported %d", p, fi.Size(), dry.Sizes[i])
		}
		sum += fi.Size()
	}
	if dry.Bytes != sum {
		t.Fatalf("dry run: %d bytes in all, the files hold %d", dry.Bytes, sum)
	}
	opts.DryRun = false
	res, err := s.Clean(opts)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Removed, dry.Removed) || res.Bytes != dry.Bytes {
		t.Fatalf("clean removed %v (%d bytes); the dry run said %v (%d)", res.Removed, res.Bytes, dry.Removed, dry.Bytes)
	}
	for _, p := range res.Removed {
		if exists(t, filepath.Join(s.Dir(), p)) {
			t.Fatalf("clean left %s", p)
		}
	}
}

// TestCleanYoungPartialUnlocked: a partial younger than the age asked for
// is kept without its lock being tried, so a live one counts as kept, not
// in use: a clean while transfers go on never makes one find its partial
// busy.
func TestCleanYoungPartialUnlocked(t *testing.T) {
	s := newStore(t)
	src := newStore(t)
	create(t, src, "p", arrayx.Uint8, arrayx.Shape{100}, arrayx.OrderC)
	p, err := s.Receive("p", headerOf(t, src, "p"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	res, err := s.Clean(&CleanOptions{PartialsOlderThan: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if res.Kept != 1 || res.InUse != 0 || len(res.Removed) != 0 {
		t.Fatalf("Clean: %+v; want the young live partial kept without trying its lock", res)
	}
	age(t, filepath.Join(s.Dir(), p.file), 2*time.Hour)
	if res, _ := s.Clean(&CleanOptions{PartialsOlderThan: time.Hour}); res.InUse != 1 || len(res.Removed) != 0 {
		t.Fatalf("Clean of the old live partial: %+v; want it in use", res)
	}
}

// TestHidden: Hidden lists temporary and partial files, tells live from
// dead across processes, and says how much of each partial verifies.
func TestHidden(t *testing.T) {
	s := newStore(t)
	tmp, part := abandonedFiles(t, s)
	live := startWriterProc(t, s.Dir(), "live")
	src := newStore(t)
	a := create(t, src, "q", arrayx.Uint8, arrayx.Shape{2<<22 + 5}, arrayx.OrderC) // 3 blocks
	busy, err := s.Receive("d/q", headerOf(t, src, "q"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	bs := a.Header().BlockSize
	receiveRun(t, busy, a, bs, bs)
	receiveRun(t, busy, a, 2*bs, 5)
	create(t, s, "pub", arrayx.Uint8, arrayx.Shape{10}, arrayx.OrderC)

	hidden, err := s.Hidden()
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]HiddenFile{}
	for _, h := range hidden {
		byPath[h.Path] = h
	}
	if len(hidden) != 4 {
		t.Fatalf("Hidden listed %+v; want 4 files", hidden)
	}
	check := func(path, name string, partial, isLive bool, nbytes, verified int64) {
		t.Helper()
		h, ok := byPath[path]
		if !ok {
			t.Fatalf("Hidden did not list %s: %+v", path, hidden)
		}
		fi, err := os.Stat(filepath.Join(s.Dir(), path))
		if err != nil {
			t.Fatal(err)
		}
		if h.Name != name || h.Partial != partial || h.Live != isLive || h.Size != fi.Size() ||
			!h.ModTime.Equal(fi.ModTime()) || h.NBytes != nbytes || h.Verified != verified {
			t.Fatalf("%s: got %+v; want name %s, partial %v, live %v, size %d, nbytes %d, verified %d",
				path, h, name, partial, isLive, fi.Size(), nbytes, verified)
		}
	}
	check(tmp, "sub/dead", false, false, 0, 0)
	check(live.tmp, "live", false, true, 0, 0)
	check(part, "p", true, false, 3*bs, bs)
	check(filepath.ToSlash(busy.file), "d/q", true, true, 2*bs+5, bs+5)

	// Looking took no lock that outlasts the look: the dead files can be
	// resumed and cleaned, the live transfer goes on.
	receiveRun(t, busy, a, 0, bs)
	if _, err := busy.Complete(); err != nil {
		t.Fatal(err)
	}
}

// TestQuota: an array that would take the store past MaxBytes is refused
// with ErrNoSpace before anything is made (no temporary or partial file, no
// directory); one that fits is not, and a partial being resumed is not
// counted twice.
func TestQuota(t *testing.T) {
	src := newStore(t)
	a := create(t, src, "x", arrayx.Uint8, arrayx.Shape{3 << 22}, arrayx.OrderC)
	hdr := headerOf(t, src, "x")
	size := a.Header().FileSize()

	dir := t.TempDir()
	s, err := OpenStore(dir, &Options{MaxBytes: size + 100})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.MaxBytes() != size+100 {
		t.Fatalf("MaxBytes %d; want %d", s.MaxBytes(), size+100)
	}
	small := create(t, s, "small", arrayx.Uint8, arrayx.Shape{10}, arrayx.OrderC)
	used, err := s.Usage()
	if err != nil {
		t.Fatal(err)
	}
	if want := small.Header().FileSize(); used != want {
		t.Fatalf("Usage %d; want %d, the one array's file", used, want)
	}
	// 10 data bytes and a header are in: x no longer fits.
	if _, err := s.Receive("in/x", hdr, nil); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Receive over the limit: %v; want ErrNoSpace", err)
	}
	if _, err := s.Create("in/y", arrayx.Uint8, arrayx.Shape{3 << 22}, arrayx.OrderC, nil); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Create over the limit: %v; want ErrNoSpace", err)
	}
	if _, _, err := s.Copy(a, "in/z", nil); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Copy over the limit: %v; want ErrNoSpace", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "small.arx" {
		t.Fatalf("refusals left %v in the store", entries)
	}

	// Room again, but taken by a creation of this process that has passed
	// the check and not yet allocated its file: x does not fit meanwhile.
	if err := s.Remove("small"); err != nil {
		t.Fatal(err)
	}
	release, err := s.reserve("create other", 200, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Receive("in/x", hdr, nil); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Receive while another file is pending: %v; want ErrNoSpace", err)
	}
	release()
	release() // idempotent

	// x fits now, is interrupted, and resumes although its partial and what
	// it still needs add up to more than the limit.
	p, err := s.Receive("in/x", hdr, nil)
	if err != nil {
		t.Fatal(err)
	}
	receiveRun(t, p, a, 0, a.Header().BlockSize)
	p.Close()
	if used, _ := s.Usage(); used != size {
		t.Fatalf("Usage with the partial %d; want %d", used, size)
	}
	p, err = s.Receive("in/x", hdr, nil)
	if err != nil {
		t.Fatalf("resuming within the limit: %v", err)
	}
	if p.Resumed() != a.Header().BlockSize {
		t.Fatalf("resumed %d", p.Resumed())
	}
	p.Close()
}

// TestQuotaDefault: a store on a memory-backed filesystem may fill
// DefaultMemoryPercent of physical memory unless told otherwise; a store on
// disk has no limit.
func TestQuotaDefault(t *testing.T) {
	shm := testutil.ShmDir(t)
	mem := physicalMemory()
	if mem <= 0 {
		t.Fatal("physicalMemory() found no memory")
	}
	for _, tc := range []struct {
		opt, want int64
	}{{0, mem / 100 * DefaultMemoryPercent}, {-1, 0}, {12345, 12345}} {
		s, err := OpenStore(shm, &Options{MaxBytes: tc.opt})
		if err != nil {
			t.Fatal(err)
		}
		if s.MaxBytes() != tc.want {
			t.Errorf("MaxBytes %d on tmpfs: %d; want %d", tc.opt, s.MaxBytes(), tc.want)
		}
		s.Close()
	}
	s, err := OpenStore(testutil.DiskDir(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.MaxBytes() != 0 {
		t.Fatalf("a store on disk has the default limit %d; want none", s.MaxBytes())
	}
}
