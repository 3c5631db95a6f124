package mmapstore

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Orphaned temporary files.
//
// A writer's temporary file (".NAME.arx.tmp-" and 16 hex digits) is
// abandoned when its process dies before Seal or Abort; a partial file
// (".NAME.arx.part-" and 16 hex digits) stays behind, on purpose, when a
// transfer is interrupted, so that the next one resumes. Neither is ever
// listed or opened by name, but both take space. Every live writer and
// transfer holds an exclusive flock(2) on its file for as long as it uses it,
// so Clean can tell the live from the dead across processes: it removes a file
// only after taking that lock itself, and only if the name still leads to
// the file it locked.
//
// The creator's side of the handshake: Clean may lock and remove a file in
// the instant between its creation and its creator's lock. The creator
// therefore checks, once it holds the lock, that the name still leads to its
// file, and starts over if not (createTemp, openPartialFile).

// CleanOptions tunes Store.Clean. The zero value (or nil) removes orphaned
// writer temporary files and keeps every partial file.
type CleanOptions struct {
	// PartialsOlderThan, when positive, also removes partial files of
	// interrupted transfers that no transfer holds and that were last
	// modified at least this long ago. Zero keeps every partial: the next
	// transfer of the same array resumes from it.
	PartialsOlderThan time.Duration
	// DryRun removes nothing: the result lists what would be removed (each
	// file was locked and checked as for a removal, then left alone).
	DryRun bool
}

// CleanResult says what Store.Clean found.
type CleanResult struct {
	// Removed lists the files removed (or, with DryRun, that would be), as
	// store-relative slash paths.
	Removed []string
	// Sizes holds the size of each file in Removed.
	Sizes []int64
	// Bytes is their total size.
	Bytes int64
	// InUse counts temporary and partial files kept because a live writer or
	// transfer holds them.
	InUse int
	// Kept counts the partial files kept because they are younger than
	// PartialsOlderThan, or, when it is zero, all of them.
	Kept int
}

// unlockedMinAge is how old a temporary file must be for Clean to remove it
// on platforms without file locks, where a live writer cannot be told from a
// dead one otherwise.
const unlockedMinAge = 24 * time.Hour

// Clean removes the temporary files that crashed writers left in the store
// and, if opts asks, partial files of interrupted transfers older than
// opts.PartialsOlderThan. It is safe to run at any time, from any process,
// while other processes create, seal and receive arrays in the same store:
// files held by a live writer or transfer are never touched (see the
// package documentation). On platforms without flock (other than Linux
// here), it removes only files not modified for 24 hours. Published arrays
// and anything not named like a temporary file are never removed, and
// symlinks are not followed. Errors on single files do not stop the walk;
// they are joined in the returned error.
func (s *Store) Clean(opts *CleanOptions) (CleanResult, error) {
	if opts == nil {
		opts = &CleanOptions{}
	}
	var res CleanResult
	var errs []error
	err := s.walkTemps(func(p string, kind int) {
		outcome, size, err := s.cleanFile(filepath.FromSlash(p), kind, opts)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
		case outcome == cleanRemoved:
			res.Removed = append(res.Removed, p)
			res.Sizes = append(res.Sizes, size)
			res.Bytes += size
		case outcome == cleanInUse:
			res.InUse++
		case outcome == cleanKept:
			res.Kept++
		}
	})
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("mmapstore: clean %s: %w", s.dir, err)
	}
	return res, nil
}

// walkTemps calls fn with the store-relative slash path and kind of every
// regular file named like a writer's temporary file or a partial, outside
// hidden directories (names never have them). Entries that vanish or
// cannot be read during the walk are skipped: not ours to judge.
func (s *Store) walkTemps(fn func(p string, kind int)) error {
	return fs.WalkDir(s.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return err
			}
			return nil
		}
		if d.IsDir() {
			if p != "." && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if kind := tempKind(d.Name()); kind != notTemp && d.Type().IsRegular() {
			fn(p, kind)
		}
		return nil
	})
}

const (
	notTemp = iota
	writerTemp
	partialFile
)

// What cleanFile did with a file.
const (
	cleanGone    = iota // vanished, or its name leads elsewhere now
	cleanRemoved        // removed
	cleanInUse          // kept: a live writer or transfer holds it
	cleanKept           // kept: a partial younger than the age asked for
)

// tempKind classifies a file name: ".BASE.arx.tmp-" or ".BASE.arx.part-"
// followed by 16 lowercase hex digits, BASE non-empty.
func tempKind(base string) int {
	rest, ok := strings.CutPrefix(base, tempPrefix)
	if !ok || len(rest) < 16 {
		return notTemp
	}
	digits := rest[len(rest)-16:]
	for _, c := range []byte(digits) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return notTemp
		}
	}
	rest = rest[:len(rest)-16]
	for _, k := range []struct {
		suffix string
		kind   int
	}{{Ext + tempSuffix, writerTemp}, {Ext + partialSuffix, partialFile}} {
		if stem, ok := strings.CutSuffix(rest, k.suffix); ok && stem != "" {
			return k.kind
		}
	}
	return notTemp
}

// cleanFile removes one temporary or partial file if it is abandoned. It
// returns what it did and the file's size.
func (s *Store) cleanFile(name string, kind int, opts *CleanOptions) (outcome int, size int64, err error) {
	if kind == partialFile && opts.PartialsOlderThan <= 0 {
		return cleanKept, 0, nil
	}
	f, err := s.root.OpenFile(name, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return cleanGone, 0, nil // sealed, aborted or completed meanwhile
		}
		return 0, 0, err
	}
	defer f.Close() // after the removal: the lock is held until then
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	if !fi.Mode().IsRegular() {
		return cleanGone, 0, nil
	}
	age := time.Since(fi.ModTime())
	if kind == partialFile && age < opts.PartialsOlderThan {
		// Kept whoever holds it, and judged without the lock: a transfer
		// resuming it at this instant must not find it busy (a server
		// cleans while it serves).
		return cleanKept, fi.Size(), nil
	}
	if locksWork {
		if err := lockExclusive(f); err != nil {
			if errors.Is(err, ErrBusy) {
				return cleanInUse, fi.Size(), nil
			}
			return 0, 0, err
		}
	} else if age < unlockedMinAge {
		return cleanInUse, fi.Size(), nil // cannot know: assume a live writer
	}
	// The name may lead elsewhere by now: a symlink planted under it, or a
	// file that replaced the one we locked.
	if li, err := s.root.Lstat(name); err != nil || !os.SameFile(fi, li) {
		return cleanGone, 0, nil
	}
	if opts.DryRun {
		return cleanRemoved, fi.Size(), nil
	}
	if err := s.root.Remove(name); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return cleanGone, 0, nil
		}
		return 0, 0, err
	}
	s.pruneDirs(name) // an orphan alone in its directory leaves none behind
	return cleanRemoved, fi.Size(), nil
}

// errUnlinked means a freshly created or opened temporary file was removed
// by Clean before its creator locked it.
var errUnlinked = errors.New("mmapstore: temporary file removed by a concurrent Clean")

// lockLinked takes the exclusive lock on f, opened under name in fsys, and
// checks that name still leads to f: Clean removes only files it has locked,
// so once both hold, f stays ours until it is closed. ErrBusy means another
// process holds the lock; errUnlinked means the file is gone.
func lockLinked(fsys dirFS, name string, f *os.File) error {
	if err := lockExclusive(f); err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	li, err := lstatIn(fsys, name)
	if errors.Is(err, fs.ErrNotExist) || err == nil && !os.SameFile(fi, li) {
		return errUnlinked
	}
	return err
}

// lstatIn is Lstat through a dirFS.
func lstatIn(fsys dirFS, name string) (os.FileInfo, error) {
	if r, ok := fsys.(*os.Root); ok {
		return r.Lstat(name)
	}
	return os.Lstat(name)
}

// createTemp creates and locks a new file named prefix followed by 16
// random hex digits, for a writer.
func createTemp(fsys dirFS, prefix string) (string, *os.File, error) {
	for attempt := 0; ; attempt++ {
		var rnd [8]byte
		rand.Read(rnd[:])
		name := prefix + hex.EncodeToString(rnd[:])
		f, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return "", nil, err
		}
		err = lockLinked(fsys, name, f)
		if err == nil {
			return name, f, nil
		}
		f.Close()
		// Busy or unlinked: a concurrent Clean took it for an orphan in the
		// instant before our lock, and removes it. Take another name.
		if !errors.Is(err, ErrBusy) && !errors.Is(err, errUnlinked) || attempt == 4 {
			return "", nil, err
		}
	}
}

// openPartialFile opens the partial file name, or creates it, and locks it.
// created reports that this call created it (it holds nothing from an
// earlier transfer). A transfer of the same array in progress is ErrBusy.
func openPartialFile(fsys dirFS, name string) (f *os.File, created bool, err error) {
	for attempt := 0; ; attempt++ {
		f, err = fsys.OpenFile(name, os.O_RDWR|openNonblock, 0)
		created = false
		if errors.Is(err, fs.ErrNotExist) {
			f, err = fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
			created = true
		}
		if err != nil {
			if errors.Is(err, fs.ErrExist) && attempt < 4 {
				continue // created by a concurrent transfer: open that one
			}
			return nil, false, err
		}
		err = lockLinked(fsys, name, f)
		if err == nil {
			return f, created, nil
		}
		f.Close()
		if !errors.Is(err, errUnlinked) || attempt == 4 {
			return nil, false, err // ErrBusy: a live transfer holds it
		}
		// Removed by Clean (or completed) after we opened it: start over.
	}
}
