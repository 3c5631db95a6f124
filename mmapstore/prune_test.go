package mmapstore

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/arrayx/arrayx/arrayx"
)

// dirsOf lists the directories under the store's root, relative to it.
func dirsOf(t testing.TB, s *Store) []string {
	t.Helper()
	var dirs []string
	filepath.WalkDir(s.Dir(), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && p != s.Dir() {
			rel, _ := filepath.Rel(s.Dir(), p)
			dirs = append(dirs, filepath.ToSlash(rel))
		}
		return nil
	})
	return dirs
}

func TestRemoveAndAbortPruneEmptyDirectories(t *testing.T) {
	s := newStore(t)
	create(t, s, "a/b/c", arrayx.Int8, arrayx.Shape{4}, arrayx.OrderC).Close()
	create(t, s, "a/d", arrayx.Int8, arrayx.Shape{4}, arrayx.OrderC).Close()
	if err := s.Remove("a/b/c"); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(dirsOf(t, s)); got != "[a]" {
		t.Errorf("after removing a/b/c: directories %s, want [a] (a/d keeps a)", got)
	}
	if err := s.Remove("a/d"); err != nil {
		t.Fatal(err)
	}
	if got := dirsOf(t, s); len(got) != 0 {
		t.Errorf("after removing a/d: directories %v, want none", got)
	}
	if _, err := os.Stat(s.Dir()); err != nil {
		t.Errorf("the store's own directory went too: %v", err)
	}

	w, err := s.Create("x/y/z", arrayx.Int8, arrayx.Shape{4}, arrayx.OrderC, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if got := dirsOf(t, s); len(got) != 0 {
		t.Errorf("after Abort: directories %v, want none", got)
	}

	p, err := s.Receive("r/s", sealedHeader(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Discard(); err != nil {
		t.Fatal(err)
	}
	if got := dirsOf(t, s); len(got) != 0 {
		t.Errorf("after Discard: directories %v, want none", got)
	}
}

// sealedHeader is the raw header of a small sealed array, as a sender has.
func sealedHeader(t testing.TB) []byte {
	t.Helper()
	src := newStore(t)
	a := create(t, src, "h", arrayx.Int8, arrayx.Shape{4}, arrayx.OrderC)
	defer a.Close()
	return a.RawHeader()
}

// Creates race Removes that prune the very directories they need: every
// Create, Copy and Receive must still succeed (they make the directories
// again when they vanish under them).
func TestCreateRacesPrune(t *testing.T) {
	s := newStore(t)
	src := create(t, newStore(t), "src", arrayx.Int8, arrayx.Shape{4}, arrayx.OrderC)
	header := sealedHeader(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				name := fmt.Sprintf("d/e/n%d-%d", g, i)
				switch i % 3 {
				case 0:
					w, err := s.Create(name, arrayx.Int8, arrayx.Shape{4}, arrayx.OrderC, nil)
					if err != nil {
						errs <- err
						return
					}
					a, err := w.Seal()
					if err != nil {
						errs <- err
						return
					}
					a.Close()
				case 1:
					a, _, err := s.Copy(src, name, nil)
					if err != nil {
						errs <- err
						return
					}
					a.Close()
				case 2:
					p, err := s.Receive(name, header, nil)
					if err != nil {
						errs <- err
						return
					}
					p.Discard()
					continue
				}
				if err := s.Remove(name); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := dirsOf(t, s); len(got) != 0 {
		t.Errorf("directories left: %v", got)
	}
}

// Pruning removes empty directories only: a symlink or a file where a
// directory was expected stays, whatever fails around it.
func TestPruneRemovesOnlyDirectories(t *testing.T) {
	s := newStore(t)
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(s.Dir(), "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir(), "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"link/x", "file/x"} {
		if _, err := s.Create(name, arrayx.Int8, arrayx.Shape{4}, arrayx.OrderC, nil); err == nil {
			t.Errorf("Create %s succeeded through a symlink or a file", name)
		}
		if _, err := s.Receive(name, sealedHeader(t), nil); err == nil {
			t.Errorf("Receive %s succeeded through a symlink or a file", name)
		}
		s.Remove(name)
		s.pruneDirs(name)
	}
	if fi, err := os.Lstat(filepath.Join(s.Dir(), "link")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink is gone or changed: %v %v", fi, err)
	}
	if fi, err := os.Lstat(filepath.Join(s.Dir(), "file")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("the file is gone or changed: %v %v", fi, err)
	}
}

// Clean removing a crashed writer's file alone in its directory prunes the
// directory too.
func TestCleanPrunes(t *testing.T) {
	if !locksWork {
		t.Skip("without flock, Clean only removes files a day old")
	}
	s := newStore(t)
	dir := filepath.Join(s.Dir(), "c", "d")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".x.arx.tmp-0123456789abcdef"), []byte("orphan"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := s.Clean(nil)
	if err != nil || len(res.Removed) != 1 {
		t.Fatalf("Clean: %+v %v", res, err)
	}
	if got := dirsOf(t, s); len(got) != 0 {
		t.Errorf("directories left after Clean: %v", got)
	}
}
