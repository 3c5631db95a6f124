package mmapstore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arrayx/arrayx/internal/testutil"
)

func TestCheckPrivate(t *testing.T) {
	open := func(t *testing.T, dir string) error {
		root, err := os.OpenRoot(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		return checkPrivate(dir, root)
	}
	t.Run("own and private", func(t *testing.T) {
		dir := t.TempDir()
		os.Chmod(dir, 0o755)
		if err := open(t, dir); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("writable by others", func(t *testing.T) {
		for _, mode := range []os.FileMode{0o775, 0o757, 0o777 | os.ModeSticky} {
			dir := t.TempDir()
			os.Chmod(dir, mode)
			if err := open(t, dir); !errors.Is(err, ErrNotPrivate) || !strings.Contains(err.Error(), "writable by others") {
				t.Errorf("mode %v: %v", mode, err)
			}
		}
	})
	t.Run("a symlink", func(t *testing.T) {
		target, link := t.TempDir(), filepath.Join(t.TempDir(), "arrayx")
		os.Symlink(target, link)
		if err := open(t, link); !errors.Is(err, ErrNotPrivate) || !strings.Contains(err.Error(), "symlink") {
			t.Errorf("symlink: %v", err)
		}
	})
	t.Run("another user's", func(t *testing.T) {
		testutil.NeedRoot(t, "giving a directory to another user")
		dir := t.TempDir()
		os.Chmod(dir, 0o755)
		if err := os.Chown(dir, 12345, 12345); err != nil {
			t.Fatal(err)
		}
		if err := open(t, dir); !errors.Is(err, ErrNotPrivate) || !strings.Contains(err.Error(), "uid 12345") {
			t.Errorf("another user's directory: %v", err)
		}
	})
}

func TestImplicitDefault(t *testing.T) {
	def := platformDefaultDir()
	if def == "" {
		t.Fatal("no /dev/shm here: the Linux default store is /dev/shm/arrayx")
	}
	t.Setenv(EnvStore, "")
	os.Unsetenv(EnvStore)
	if !implicitDefault(def) || !implicitDefault(def+"/") || implicitDefault(t.TempDir()) {
		t.Error("implicitDefault should hold for the platform default only")
	}
	t.Setenv(EnvStore, def)
	if implicitDefault(def) {
		t.Error("with $ARRAYX_STORE set, the choice is deliberate: no check")
	}
}

// TestOpenStoreRefusesSharedDefault opens the real default store, when
// nothing is there yet, and checks that a world-writable one is refused.
func TestOpenStoreRefusesSharedDefault(t *testing.T) {
	def := platformDefaultDir()
	if _, err := os.Lstat(def); err == nil {
		t.Skipf("%s exists already; not touching a store that may be in use", def)
	}
	t.Setenv(EnvStore, "")
	os.Unsetenv(EnvStore)
	t.Cleanup(func() { os.RemoveAll(def) })
	s, err := OpenStore(DefaultDir(), nil)
	if err != nil {
		t.Fatalf("a fresh default store: %v", err)
	}
	s.Close()
	if err := os.Chmod(def, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStore(DefaultDir(), nil); !errors.Is(err, ErrNotPrivate) {
		t.Fatalf("a world-writable default store: %v, want ErrNotPrivate", err)
	}
}
