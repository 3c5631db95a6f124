package mmapstore

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Watch calls fn with the names of the arrays published, replaced or
// removed in the store since the last call, sorted, as they happen, until
// ctx ends (it then returns ctx's cause). A burst of changes is gathered
// for debounce after the first, so a producer sealing many arrays at once
// gives one call. fn runs on Watch's goroutine; changes made meanwhile come
// in the next call. It uses inotify on Linux, on every directory of the
// store, and polling elsewhere; either way it compares what it sees with
// what it saw (name, file identity, size and time), so a lost event costs
// nothing but a moment.
func (s *Store) Watch(ctx context.Context, debounce time.Duration, fn func(names []string)) error {
	w, err := newChangeWatcher()
	if err != nil {
		return err
	}
	defer w.close()
	prev, err := s.scan(w)
	if err != nil {
		return err
	}
	for {
		if err := w.wait(ctx); err != nil {
			return err
		}
		if debounce > 0 {
			t := time.NewTimer(debounce)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return context.Cause(ctx)
			}
		}
		cur, err := s.scan(w)
		if err != nil {
			return err
		}
		var changed []string
		for name, st := range cur {
			if p, ok := prev[name]; !ok || p != st {
				changed = append(changed, name)
			}
		}
		for name := range prev {
			if _, ok := cur[name]; !ok {
				changed = append(changed, name)
			}
		}
		prev = cur
		if len(changed) > 0 {
			slices.Sort(changed)
			fn(changed)
		}
	}
}

// fileState is what tells one version of an array's file from another.
type fileState struct {
	ino, size int64
	mtime     time.Time
}

// scan lists the store's arrays with their file states, and (re)watches
// every directory, hidden ones aside.
func (s *Store) scan(w watcher) (map[string]fileState, error) {
	out := map[string]fileState{}
	err := filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path != s.dir && errors.Is(err, fs.ErrNotExist) {
				return nil // removed while we walked
			}
			return err
		}
		base := d.Name()
		if path != s.dir && strings.HasPrefix(base, ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if err := w.watch(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(base, Ext) {
			return nil
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return nil // removed while we walked: the next scan says so
		}
		rel, err := filepath.Rel(s.dir, path)
		if err != nil {
			return err
		}
		out[strings.TrimSuffix(filepath.ToSlash(rel), Ext)] = fileState{ino: fileID(fi), size: fi.Size(), mtime: fi.ModTime()}
		return nil
	})
	return out, err
}
