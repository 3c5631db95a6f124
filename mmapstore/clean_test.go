package mmapstore

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
)

// writerEnv makes the test binary a writer in another process (TestMain):
// "DIR|NAME" creates NAME in the store DIR, fills it, prints its temporary
// file's store-relative path, waits for stdin to close, then seals it and
// prints "sealed".
const writerEnv = "ARRAYX_TEST_WRITER"

func writerHelper(spec string) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "writer helper:", err)
		return 1
	}
	dir, name, _ := strings.Cut(spec, "|")
	s, err := OpenStore(dir, &Options{Sync: SyncNever})
	if err != nil {
		return fail(err)
	}
	w, err := s.Create(name, arrayx.Uint8, arrayx.Shape{1 << 20}, arrayx.OrderC, nil)
	if err != nil {
		return fail(err)
	}
	for i, b := 0, w.Bytes(); i < len(b); i++ {
		b[i] = byte(i*13 + 5)
	}
	fmt.Println(filepath.ToSlash(w.tmp))
	io.Copy(io.Discard, os.Stdin)
	a, err := w.Seal()
	if err != nil {
		return fail(err)
	}
	if err := a.Verify(); err != nil {
		return fail(err)
	}
	fmt.Println("sealed")
	return 0
}

// writerProc is a writer running in a child process.
type writerProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
	tmp   string // its temporary file, relative to the store
}

func startWriterProc(t *testing.T, dir, name string) *writerProc {
	t.Helper()
	cmd := testutil.Child(t, writerEnv+"="+dir+"|"+name)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	wp := &writerProc{cmd: cmd, stdin: stdin, out: bufio.NewScanner(out)}
	if !wp.out.Scan() {
		t.Fatalf("writer process for %s said nothing: %v", name, wp.out.Err())
	}
	wp.tmp = wp.out.Text()
	if tempKind(filepath.Base(wp.tmp)) != writerTemp {
		t.Fatalf("writer process reported temporary file %q", wp.tmp)
	}
	return wp
}

func exists(t testing.TB, path string) bool {
	t.Helper()
	_, err := os.Lstat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

func age(t testing.TB, path string, d time.Duration) {
	t.Helper()
	then := time.Now().Add(-d)
	if err := os.Chtimes(path, then, then); err != nil {
		t.Fatal(err)
	}
}

// TestCleanRemovesOnlyOrphans: Clean removes a writer's temporary file once
// its process has been killed, never one a live writer holds (in another
// process or in this one), keeps partials unless asked, then removes only
// the unheld ones older than asked, and touches nothing else: published
// arrays, look-alike names, hidden directories, symlinks.
func TestCleanRemovesOnlyOrphans(t *testing.T) {
	s := newStore(t)
	dir := s.Dir()

	// Writers: one in a process killed with SIGKILL (its orphan is the only
	// thing to remove), one in a live process, one in this process.
	live := startWriterProc(t, dir, "live/x")
	dead := startWriterProc(t, dir, "dead")
	dead.cmd.Process.Signal(syscall.SIGKILL)
	dead.cmd.Wait()
	if !exists(t, filepath.Join(dir, dead.tmp)) {
		t.Fatalf("the killed writer left no temporary file %s", dead.tmp)
	}
	age(t, filepath.Join(dir, dead.tmp), 48*time.Hour)
	age(t, filepath.Join(dir, live.tmp), 48*time.Hour) // old, but alive
	w, err := s.Create("inproc", arrayx.Uint8, arrayx.Shape{1000}, arrayx.OrderC, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()

	// Partials: one abandoned long ago, one abandoned just now, one old but
	// in a transfer that is still going on.
	src := newStore(t)
	a := create(t, src, "p", arrayx.Uint8, arrayx.Shape{3 << 22}, arrayx.OrderC) // 3 blocks
	hdr := headerOf(t, src, "p")
	bs := a.Header().BlockSize
	partial := func(name string, old, keepOpen bool) string {
		p, err := s.Receive(name, hdr, nil)
		if err != nil {
			t.Fatal(err)
		}
		receiveRun(t, p, a, 0, bs)
		path := filepath.Join(dir, p.file)
		if keepOpen {
			t.Cleanup(func() { p.Close() })
		} else {
			p.Close() // what a crashed receiver leaves
		}
		if old {
			age(t, path, 2*time.Hour)
		}
		return path
	}
	oldPart := partial("old", true, false)
	youngPart := partial("young", false, false)
	busyPart := partial("busy", true, true)

	// Bystanders.
	create(t, s, "pub", arrayx.Uint8, arrayx.Shape{10}, arrayx.OrderC)
	outside := filepath.Join(t.TempDir(), "outside.arx")
	if err := os.WriteFile(outside, []byte("not the store's"), 0o644); err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, name := range []string{
		".x.arx.tmp-0123456789abcdeg",        // not hex
		".x.arx.tmp-0123456789ABCDEF",        // not lowercase hex
		".x.arx.tmp-0123456789abcde",         // 15 digits
		"x.arx.tmp-0123456789abcdef",         // not hidden
		".arx.tmp-0123456789abcdef",          // no array name
		".x.arx.old-0123456789abcdef",        // another suffix
		".cache/.x.arx.tmp-0123456789abcdef", // inside a hidden directory
		"notes.txt",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		age(t, p, 48*time.Hour)
		keep = append(keep, p)
	}
	for _, name := range []string{".y.arx.tmp-0123456789abcdef", ".y.arx.part-0123456789abcdef"} {
		p := filepath.Join(dir, name)
		if err := os.Symlink(outside, p); err != nil {
			t.Fatal(err)
		}
		keep = append(keep, p)
	}
	hiddenDir := filepath.Join(dir, ".d.arx.tmp-0123456789abcdef")
	if err := os.Mkdir(hiddenDir, 0o755); err != nil {
		t.Fatal(err)
	}
	keep = append(keep, hiddenDir, filepath.Join(dir, "pub.arx"), oldPart, youngPart, busyPart,
		filepath.Join(dir, live.tmp), filepath.Join(dir, w.tmp))

	// Default options: only the dead writer's file goes; partials are kept.
	res, err := s.Clean(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Clean(nil): %+v", res)
	if !slices.Equal(res.Removed, []string{dead.tmp}) || res.InUse != 2 || res.Kept != 3 || res.Bytes <= 1<<20 {
		t.Fatalf("Clean(nil) = %+v; want only %s removed (over 1 MiB), 2 writers in use, 3 partials kept", res, dead.tmp)
	}
	for _, p := range keep {
		if !exists(t, p) {
			t.Fatalf("Clean(nil) removed %s", p)
		}
	}

	// Partials older than an hour: only the abandoned old one goes.
	res, err = s.Clean(&CleanOptions{PartialsOlderThan: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Clean(1h): %+v", res)
	rel, _ := filepath.Rel(dir, oldPart)
	if !slices.Equal(res.Removed, []string{filepath.ToSlash(rel)}) || res.InUse != 3 || res.Kept != 1 {
		t.Fatalf("Clean(PartialsOlderThan 1h) = %+v; want only %s removed, 3 in use (2 writers, 1 transfer), 1 kept", res, rel)
	}
	for _, p := range keep {
		if p != oldPart && !exists(t, p) {
			t.Fatalf("Clean(PartialsOlderThan 1h) removed %s", p)
		}
	}
	if b, err := os.ReadFile(outside); err != nil || string(b) != "not the store's" {
		t.Fatalf("the symlinks' target outside the store: %q, %v", b, err)
	}
	if names, err := s.List(); err != nil || !slices.Equal(names, []string{"pub"}) {
		t.Fatalf("List = %v, %v; want only pub", names, err)
	}

	// What Clean kept still works: the young partial resumes, both writers seal.
	p, err := s.Receive("young", hdr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Held() != bs {
		t.Fatalf("the partial Clean kept resumes from %d, want %d", p.Held(), bs)
	}
	p.Close()
	live.stdin.Close()
	if !live.out.Scan() || live.out.Text() != "sealed" {
		t.Fatalf("the live writer process, after Clean: %q %v", live.out.Text(), live.out.Err())
	}
	if err := live.cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	b, err := s.Open("live/x")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Verify(); err != nil {
		t.Fatal(err)
	}
	c, err := w.Seal()
	if err != nil {
		t.Fatalf("the in-process writer, after Clean: %v", err)
	}
	c.Close()
}

func TestTempKind(t *testing.T) {
	for name, want := range map[string]int{
		".x.arx.tmp-0123456789abcdef":       writerTemp,
		".a.b-c_d.arx.tmp-ffffffffffffffff": writerTemp,
		".x.arx.part-0123456789abcdef":      partialFile,
		".x.arx.arx.part-0123456789abcdef":  partialFile,
		".x.arx.part-0123456789abcdef0":     notTemp,
		".x.arx.tmp-0123456789abcdeF":       notTemp,
		".arx.part-0123456789abcdef":        notTemp,
		"x.arx.tmp-0123456789abcdef":        notTemp,
		".x.tmp-0123456789abcdef":           notTemp,
		"x.arx":                             notTemp,
		".":                                 notTemp,
		"":                                  notTemp,
	} {
		if got := tempKind(name); got != want {
			t.Errorf("tempKind(%q) = %d, want %d", name, got, want)
		}
	}
}

// TestCleanBetweenCreateAndLock plays Clean's half of the race it can have
// with a writer or a receiver that has created or opened its file but not
// yet locked it: the file is removed under it. The creator's lock then finds
// the name gone and it starts over, so nothing is written to a file that no
// longer has a name.
func TestCleanBetweenCreateAndLock(t *testing.T) {
	s := newStore(t)
	name := ".x.arx.tmp-0123456789abcdef"
	f, err := s.root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := s.root.Remove(name); err != nil { // Clean, in between
		t.Fatal(err)
	}
	if err := lockLinked(s.root, name, f); !errors.Is(err, errUnlinked) {
		t.Fatalf("lockLinked on a removed file: %v, want errUnlinked", err)
	}
	// Another file now under the name: still not ours.
	g, err := s.root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := lockLinked(s.root, name, f); !errors.Is(err, errUnlinked) {
		t.Fatalf("lockLinked on a replaced file: %v, want errUnlinked", err)
	}
	// A name held by someone else: busy.
	if err := lockLinked(s.root, name, g); err != nil {
		t.Fatal(err)
	}
	h, err := s.root.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := lockLinked(s.root, name, h); !errors.Is(err, ErrBusy) {
		t.Fatalf("lockLinked on a held file: %v, want ErrBusy", err)
	}
	// openPartialFile: a partial that is busy stays busy; a missing one is created.
	if _, _, err := openPartialFile(s.root, name); !errors.Is(err, ErrBusy) {
		t.Fatalf("openPartialFile on a held file: %v, want ErrBusy", err)
	}
	pf, created, err := openPartialFile(s.root, ".y.arx.part-0123456789abcdef")
	if err != nil || !created {
		t.Fatalf("openPartialFile of a new name: created %v, %v", created, err)
	}
	pf.Close()
}

// TestReceiveLeavesNothingOnRefusal: a Receive refused after it created its
// partial file (here: a 64 TiB array, more than the filesystem has free)
// removes it. A refusal of a transfer already in progress keeps the other's
// file.
func TestReceiveLeavesNothingOnRefusal(t *testing.T) {
	h, err := arrayx.NewHeader(arrayx.Uint8, arrayx.Shape{1 << 46}, arrayx.OrderC, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.Sealed, h.CRC32C = true, make([]uint32, h.NumBlocks())
	huge, err := h.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	dst := newStore(t)
	if _, err := dst.Receive("huge", huge, nil); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Receive of a 64 TiB array: %v, want ErrNoSpace", err)
	}
	if ents, err := os.ReadDir(dst.Dir()); err != nil || len(ents) != 0 {
		t.Fatalf("a Receive refused for space left %v (%v) in the store", ents, err)
	}

	src := newStore(t)
	create(t, src, "x", arrayx.Uint8, arrayx.Shape{1 << 20}, arrayx.OrderC)
	hdr := headerOf(t, src, "x")
	p, err := dst.Receive("x", hdr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := dst.Receive("x", hdr, nil); !errors.Is(err, ErrBusy) {
		t.Fatalf("second Receive of one array: %v, want ErrBusy", err)
	}
	if !exists(t, filepath.Join(dst.Dir(), p.file)) {
		t.Fatal("a refused second Receive removed the first one's partial file")
	}
}
