package mmapstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/arrayx/arrayx/arrayx"
)

// HiddenFile is a file in progress that List does not show: a writer's
// temporary file or a received array's partial file. Both take space (on a
// memory-backed store, RAM) until they are published or cleaned.
type HiddenFile struct {
	// Path is the file, as a store-relative slash path.
	Path string
	// Name is the array it is for.
	Name string
	// Partial says it is a partial file of a transfer; else it is a
	// writer's temporary file.
	Partial bool
	// Size is the file's size, ModTime its last modification.
	Size    int64
	ModTime time.Time
	// Live says a writer or transfer holds it (where there are no file
	// locks: it was modified less than 24 hours ago). Clean removes only
	// files that are not live.
	Live bool
	// NBytes is a partial's data bytes, Verified those of them in blocks
	// that match its header's CRC table: what a resumed transfer keeps.
	// Both are 0 for a partial whose header cannot be read.
	NBytes, Verified int64
}

// Hidden lists the temporary and partial files in the store, in the order
// of a walk (lexical), the way Clean finds them (same names, same walk). Each file is
// locked for an instant to tell whether it is live, so a transfer resuming
// that very file at that instant fails once with ErrBusy, as with Clean.
// A partial's blocks are read and checked (without a lock): this costs a
// read of every partial.
func (s *Store) Hidden() ([]HiddenFile, error) {
	var out []HiddenFile
	var errs []error
	err := s.walkTemps(func(p string, kind int) {
		hf, err := s.hiddenFile(p, kind)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// sealed, completed or cleaned meanwhile
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
		default:
			out = append(out, hf)
		}
	})
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return out, fmt.Errorf("mmapstore: hidden files of %s: %w", s.dir, err)
	}
	return out, nil
}

// hiddenFile describes the temporary or partial file p.
func (s *Store) hiddenFile(p string, kind int) (HiddenFile, error) {
	dir, base := path.Split(p)
	stem := strings.TrimPrefix(base, tempPrefix)
	stem = stem[:strings.LastIndex(stem, Ext+".")]
	hf := HiddenFile{Path: p, Name: dir + stem, Partial: kind == partialFile}
	name := filepath.FromSlash(p)
	f, err := s.root.OpenFile(name, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return hf, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return hf, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return hf, fmt.Errorf("%w (replaced since the walk)", ErrNotRegular)
	}
	hf.Size, hf.ModTime = fi.Size(), fi.ModTime()
	if locksWork {
		err := lockExclusive(f)
		hf.Live = errors.Is(err, ErrBusy)
		if err != nil && !hf.Live {
			f.Close()
			return hf, err
		}
	} else {
		hf.Live = time.Since(hf.ModTime) < unlockedMinAge
	}
	// Closing drops the lock at once: the check of the blocks below must
	// not keep a resuming transfer waiting.
	f.Close()
	if hf.Partial {
		hf.NBytes, hf.Verified = s.verifiedBytes(name, fi.Size())
	}
	return hf, nil
}

// verifiedBytes reads a partial's header (its first byte zeroed, section 5
// of STORE.md) and returns its data bytes and those in blocks that match
// the CRC table, or zeros if the header is unreadable or the file has
// another size than the header gives.
func (s *Store) verifiedBytes(name string, size int64) (nbytes, verified int64) {
	f, err := s.root.OpenFile(name, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	pre := make([]byte, arrayx.PrefixSize)
	if _, err := f.ReadAt(pre, 0); err != nil {
		return 0, 0
	}
	pre[0] = arrayx.Magic[0]
	px, err := arrayx.ParsePrefix(pre, s.opts.Limits)
	if err != nil {
		return 0, 0
	}
	raw := make([]byte, arrayx.PrefixSize+int(px.HeaderLen))
	if _, err := f.ReadAt(raw, 0); err != nil {
		return 0, 0
	}
	raw[0] = arrayx.Magic[0]
	h, err := arrayx.Unmarshal(raw, s.opts.Limits)
	if err != nil || !h.Sealed || h.FileSize() != size {
		return 0, 0
	}
	good := make([]bool, h.NumBlocks())
	df := dataFile{f: f, base: h.DataOffset, size: h.NBytes, name: name}
	err = df.scanBlocks(h, 0, len(good), h.XXH128 != nil, func(i int, sum arrayx.BlockSum) error {
		good[i] = h.CheckSum(i, sum) == nil // each i is one goroutine's alone
		return nil
	})
	if err != nil {
		return h.NBytes, 0
	}
	for i, ok := range good {
		if ok {
			_, n := h.Block(i)
			verified += n
		}
	}
	return h.NBytes, verified
}
