package mmapstore

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// DefaultMemoryPercent is the share of physical memory a store on a
// memory-backed filesystem may fill when Options.MaxBytes is zero. Every
// byte there is RAM (or swap) taken from the processes that use the
// arrays; half is the kernel's own default size for a tmpfs, so a default
// /dev/shm is no smaller, while a tmpfs mounted without a size limit (a
// Kubernetes emptyDir of medium Memory, size=100%) is never filled to the
// point where the machine runs out of memory.
const DefaultMemoryPercent = 50

// maxBytes resolves Options.MaxBytes for the store root opens, and says
// whether the store is memory-backed.
func maxBytes(root *os.Root, opt int64) (limit int64, inMemory bool) {
	if d, err := root.Open("."); err == nil {
		inMemory = inMemoryFS(d)
		d.Close()
	}
	switch {
	case opt > 0:
		return opt, inMemory
	case opt < 0 || !inMemory:
		return 0, inMemory
	}
	return physicalMemory() / 100 * DefaultMemoryPercent, inMemory
}

// MaxBytes returns the most bytes the store's files may take (Options.MaxBytes
// resolved), or 0 for no limit.
func (s *Store) MaxBytes() int64 { return s.maxBytes }

// Usage returns the bytes the store's files take, by their sizes: published
// arrays and the temporary and partial files of writers and transfers,
// live or not. Other files, hidden directories and symlinks are not counted.
func (s *Store) Usage() (int64, error) { return s.usage("") }

// usage is Usage without the file skip (a store-relative path).
func (s *Store) usage(skip string) (int64, error) {
	var n int64
	err := fs.WalkDir(s.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return err
			}
			return nil // vanished or unreadable
		}
		base := d.Name()
		if d.IsDir() {
			if p != "." && strings.HasPrefix(base, ".") {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || filepath.FromSlash(p) == skip {
			return nil
		}
		if tempKind(base) == notTemp && (strings.HasPrefix(base, ".") || !strings.HasSuffix(base, Ext)) {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			n += fi.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("mmapstore: usage of %s: %w", s.dir, err)
	}
	return n, nil
}

// reserve checks that a file of size bytes for op (the operation and the
// array's name, for errors) fits under the store's limit, not counting the
// file skip (a partial about to be reused), and counts it as pending until
// the caller calls release, once the file is allocated: the writers and
// receivers of this process see each other without waiting for each other.
// (Other processes may still overshoot the limit together: the check is
// not a reservation on disk.)
func (s *Store) reserve(op string, size int64, skip string) (release func(), err error) {
	if s.maxBytes <= 0 {
		return func() {}, nil
	}
	if size > s.maxBytes {
		return nil, fmt.Errorf("mmapstore: %s: %w: %d bytes, over the store's limit of %d", op, ErrNoSpace, size, s.maxBytes)
	}
	s.quota.Lock()
	defer s.quota.Unlock()
	// The filesystem's used bytes bound the store's on a memory-backed
	// filesystem, where every file is allocated in full: when they leave
	// room, no walk of the store is needed.
	used, ok := s.fsUsed()
	if !ok || used+s.pending+size > s.maxBytes {
		if used, err = s.usage(skip); err != nil {
			return nil, err
		}
	}
	if used+s.pending+size > s.maxBytes {
		return nil, fmt.Errorf("mmapstore: %s: %w: %d bytes more would take the store to %d, over its limit of %d",
			op, ErrNoSpace, size, used+s.pending+size, s.maxBytes)
	}
	s.pending += size
	var once sync.Once
	return func() {
		once.Do(func() {
			s.quota.Lock()
			s.pending -= size
			s.quota.Unlock()
		})
	}, nil
}

// fsUsed returns the bytes used on a memory-backed store's filesystem.
func (s *Store) fsUsed() (int64, bool) {
	if !s.inMemory {
		return 0, false
	}
	d, err := s.root.Open(".")
	if err != nil {
		return 0, false
	}
	defer d.Close()
	return usedSpace(d)
}
