//go:build !linux

package mmapstore

import (
	"context"
	"time"
)

// WaitMethod says how Store.Wait learns of new arrays on this platform.
const WaitMethod = "polling"

// watcher polls: without inotify, Wait rechecks the name every few
// milliseconds, backing off to pollMax.
type watcher struct{ delay time.Duration }

const (
	pollMin = 2 * time.Millisecond
	pollMax = 100 * time.Millisecond
)

func newWatcher() (*watcher, error) { return &watcher{delay: pollMin}, nil }

func (w *watcher) watch(string) error { return nil }

func (w *watcher) wait(ctx context.Context) error {
	t := time.NewTimer(w.delay)
	defer t.Stop()
	w.delay = min(2*w.delay, pollMax)
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (w *watcher) close() {}
