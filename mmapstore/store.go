package mmapstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/arrayx/arrayx/arrayx"
)

// EnvStore names the environment variable that overrides DefaultDir.
const EnvStore = "ARRAYX_STORE"

// DefaultDir returns the default store directory: $ARRAYX_STORE if set, else
// /dev/shm/arrayx on Linux where /dev/shm exists (memory-backed, so local
// handoff never touches a disk), else os.TempDir()/arrayx. OpenStore checks
// that an implicit /dev/shm/arrayx is this user's alone (ErrNotPrivate).
func DefaultDir() string {
	if d := os.Getenv(EnvStore); d != "" {
		return d
	}
	if d := platformDefaultDir(); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "arrayx")
}

// Options tunes a Store. The zero value means the defaults.
type Options struct {
	Limits arrayx.Limits // header limits for Open, Stat and Wait
	Sync   SyncMode      // default sync mode for Create
	// NoCreate refuses a directory that does not exist (an error wrapping
	// fs.ErrNotExist) instead of creating it: for readers, so that a
	// mistyped store is reported rather than made.
	NoCreate bool
	// MaxBytes caps the bytes the store's files may take, published arrays
	// and files in progress together (see Usage): Create, Receive and Copy
	// refuse an array that would take the store past it with ErrNoSpace,
	// before anything is allocated. Zero means the default: on a memory-backed
	// filesystem (tmpfs or ramfs, Linux), DefaultMemoryPercent of physical
	// memory; elsewhere no limit. Negative means no limit.
	MaxBytes int64
}

// Store is a directory of named arrays, each in a file NAME.arx. All access
// goes through an os.Root, so no name or symlink reaches outside the
// directory. A Store is safe for concurrent use by goroutines and processes.
type Store struct {
	dir      string
	root     *os.Root
	opts     Options
	maxBytes int64      // the effective limit, 0 for none
	quota    sync.Mutex // guards pending
	pending  int64      // bytes passed by reserve and not yet allocated (quota.go)
	inMemory bool       // on a memory-backed filesystem (quota.go)
}

// OpenStore opens (creating it if needed, unless opts.NoCreate) the store in dir.
func OpenStore(dir string, opts *Options) (*Store, error) {
	if opts == nil {
		opts = &Options{}
	}
	if opts.NoCreate {
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("mmapstore: store %s does not exist: %w", dir, fs.ErrNotExist)
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("mmapstore: store %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("mmapstore: store %s: %w", dir, err)
	}
	if implicitDefault(dir) {
		if err := checkPrivate(dir, root); err != nil {
			root.Close()
			return nil, err
		}
	}
	s := &Store{dir: dir, root: root, opts: *opts}
	s.maxBytes, s.inMemory = maxBytes(root, opts.MaxBytes)
	return s, nil
}

// implicitDefault says whether dir is the platform's shared default
// (/dev/shm/arrayx), reached without $ARRAYX_STORE. That directory sits at a
// fixed name in a world-writable place, so another user could create it
// first; a store there must be checked to be this user's own. Setting
// $ARRAYX_STORE, even to the same path, is a deliberate choice and skips
// the check (a group may share a store on purpose).
func implicitDefault(dir string) bool {
	d := platformDefaultDir()
	return d != "" && filepath.Clean(dir) == d && os.Getenv(EnvStore) == ""
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// Close releases the store's directory handle. Arrays opened from it stay valid.
func (s *Store) Close() error { return s.root.Close() }

// Path returns the file path of the named array (which may not exist).
func (s *Store) Path(name string) (string, error) {
	if err := ValidateName(name); err != nil {
		return "", err
	}
	return filepath.Join(s.dir, filepath.FromSlash(name)+Ext), nil
}

func (s *Store) file(name string) (string, error) {
	if err := ValidateName(name); err != nil {
		return "", err
	}
	return filepath.FromSlash(name) + Ext, nil
}

// Create starts a new array that Seal publishes under name, replacing any
// array of that name. opts may be nil; its Sync defaults to the store's.
func (s *Store) Create(name string, dt arrayx.DType, shape arrayx.Shape, order arrayx.Order, opts *CreateOptions) (*Writer, error) {
	var o CreateOptions
	if opts != nil {
		o = *opts
	}
	o.Sync = s.syncMode(o.Sync)
	if h, err := arrayx.NewHeader(dt, shape, order, o.Attrs); s.maxBytes > 0 && err == nil {
		// Pending until allocated, so that this process's writers do not
		// all pass the check before any has allocated.
		release, err := s.reserve("create "+name, h.FileSize(), "")
		if err != nil {
			return nil, err
		}
		defer release()
	}
	var w *Writer
	err := s.retryVanished(name, func(file string) (err error) {
		w, err = createIn(s.root, file, name, dt, shape, order, &o)
		return err
	})
	if err != nil {
		return nil, err
	}
	w.prune = s.pruneDirs
	return w, nil
}

// maxVanished bounds the attempts of retryVanished: each failed one means
// another goroutine or process removed the directory in that instant.
const maxVanished = 16

// retryVanished makes name's directories and runs create with its file. A
// concurrent Remove may prune the directories it just made (pruneDirs)
// before create puts a file in them; then it makes them again and retries.
func (s *Store) retryVanished(name string, create func(file string) error) error {
	for attempt := 1; ; attempt++ {
		file, err := s.newFile(name)
		if err == nil {
			err = create(file)
		}
		if attempt < maxVanished && strings.Contains(name, "/") && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		return err
	}
}

// pruneDirs removes the directories of file that are now empty, innermost
// first, up to the store's own directory: a Remove or Abort leaves no empty
// directories behind. An entry in a directory (a writer's temporary file
// included) keeps it, and only directories are removed: never a symlink or
// a file planted where a directory was expected.
func (s *Store) pruneDirs(file string) {
	for dir := filepath.Dir(file); dir != "."; dir = filepath.Dir(dir) {
		if removeEmptyDir(s.root, dir) != nil {
			return
		}
	}
}

// newFile validates name and makes the directories its file goes in.
// Its errors name the array.
func (s *Store) newFile(name string) (string, error) {
	file, err := s.file(name)
	if err != nil {
		return "", err
	}
	if err := s.mkdirs(filepath.Dir(file)); err != nil {
		return "", fmt.Errorf("mmapstore: %s: %w", name, err)
	}
	return file, nil
}

// mkdirs makes dir and its parents in the store. os.Root.MkdirAll gives
// EEXIST when another goroutine or process makes one of the directories at
// the same moment (seen with Go 1.26; compare golang.org/issue/75114), and
// ENOENT when a concurrent Remove prunes a parent it just made; both mean
// "try again".
func (s *Store) mkdirs(dir string) error {
	if dir == "." {
		return nil
	}
	for attempt := 1; ; attempt++ {
		err := s.root.MkdirAll(dir, 0o755)
		if err == nil || attempt == maxVanished || !errors.Is(err, fs.ErrExist) && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
}

// syncMode is the mode an operation asked for, or the store's for SyncAuto.
func (s *Store) syncMode(m SyncMode) SyncMode {
	if m == SyncAuto {
		return s.opts.Sync
	}
	return m
}

// Open maps the named sealed array read-only. A missing array gives an
// error wrapping fs.ErrNotExist.
func (s *Store) Open(name string) (*Array, error) {
	file, err := s.file(name)
	if err != nil {
		return nil, err
	}
	return openIn(s.root, file, name, &OpenOptions{Limits: s.opts.Limits})
}

// OpenWith is Open with other options (a server's own header limit).
func (s *Store) OpenWith(name string, opts *OpenOptions) (*Array, error) {
	file, err := s.file(name)
	if err != nil {
		return nil, err
	}
	return openIn(s.root, file, name, opts)
}

// Stat reads and validates the named array's header without mapping it.
func (s *Store) Stat(name string) (*arrayx.Header, error) {
	info, err := s.Info(name)
	return info.Header, err
}

// Info describes a sealed array without mapping it.
type Info struct {
	Header *arrayx.Header
	// Digest identifies the content (see Digest).
	Digest string
}

// Info reads and validates the named array's header, without mapping it or
// reading any data, and returns it with the array's digest.
func (s *Store) Info(name string) (Info, error) {
	file, err := s.file(name)
	if err != nil {
		return Info{}, err
	}
	f, err := s.root.OpenFile(file, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return Info{}, fmt.Errorf("mmapstore: stat %s: %w", name, err)
	}
	defer f.Close()
	h, raw, err := readHeader(f, name, s.opts.Limits)
	if err != nil {
		return Info{}, err
	}
	return Info{Header: h, Digest: Digest(raw)}, nil
}

// Remove deletes the named array. Processes that have it open keep their
// mapping until they close it.
func (s *Store) Remove(name string) error {
	file, err := s.file(name)
	if err != nil {
		return err
	}
	if err := s.root.Remove(file); err != nil {
		return fmt.Errorf("mmapstore: remove %s: %w", name, err)
	}
	s.pruneDirs(file)
	return nil
}

// List returns the names of the store's arrays, sorted. Temporary files of
// writers in progress, hidden entries and files not named *.arx are never
// listed; symlinks are not followed.
func (s *Store) List() ([]string, error) {
	var names []string
	err := fs.WalkDir(s.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return err
			}
			return nil // an entry vanished or is unreadable: skip it, like ls
		}
		base := d.Name()
		if p != "." && strings.HasPrefix(base, ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(base, Ext) {
			return nil
		}
		name := strings.TrimSuffix(p, Ext)
		if ValidateName(name) == nil {
			names = append(names, name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mmapstore: list %s: %w", s.dir, err)
	}
	sort.Strings(names)
	return names, nil
}

// Wait returns the named array, mapped, as soon as a sealed array of that
// name exists: the consumer's half of a local handoff. It uses inotify on
// Linux and polling elsewhere, and gives up with ctx's error (wrapped) when
// ctx ends.
func (s *Store) Wait(ctx context.Context, name string) (*Array, error) {
	// The common case, the array is there already, needs no watch.
	if a, err := s.Open(name); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return a, err
	}
	w, err := newWatcher()
	if err != nil {
		return nil, fmt.Errorf("mmapstore: wait %s: %w", name, err)
	}
	defer w.close()
	for {
		// Watch first, then look: an array sealed in between still wakes us.
		if err := s.watchNearest(w, name); err != nil {
			return nil, fmt.Errorf("mmapstore: wait %s: %w", name, err)
		}
		a, err := s.Open(name)
		if err == nil {
			return a, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if err := w.wait(ctx); err != nil {
			return nil, fmt.Errorf("mmapstore: wait %s: %w", name, err)
		}
	}
}

// watchNearest watches the deepest existing directory on the way to name. A
// subdirectory created just before the watch took hold sends no event, so it
// looks again after each watch and goes deeper until nothing changed.
func (s *Store) watchNearest(w watcher, name string) error {
	for {
		dir := s.nearestDir(name)
		if err := w.watch(filepath.Join(s.dir, filepath.FromSlash(dir))); err != nil {
			return err
		}
		if s.nearestDir(name) == dir {
			return nil
		}
	}
}

// nearestDir returns the deepest existing directory (relative to the store,
// "." for the root) on the way to name's file.
func (s *Store) nearestDir(name string) string {
	dir := path.Dir(name)
	for dir != "." {
		if fi, err := s.root.Stat(filepath.FromSlash(dir)); err == nil && fi.IsDir() {
			break
		}
		dir = path.Dir(dir)
	}
	return dir
}
