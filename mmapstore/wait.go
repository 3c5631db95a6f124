package mmapstore

import (
	"context"
	"time"
)

// watcher wakes Store.Wait when the directories on the way to an array
// change: inotify on Linux, polling elsewhere or when inotify is exhausted.
type watcher interface {
	watch(dir string) error
	wait(ctx context.Context) error // returns on a change, a poll tick, or ctx's end
	close()
}

// poller rechecks every few milliseconds, backing off to pollMax.
type poller struct{ delay time.Duration }

const (
	pollMin = 2 * time.Millisecond
	pollMax = 100 * time.Millisecond
)

func newPoller() *poller { return &poller{delay: pollMin} }

func (*poller) watch(string) error { return nil }

func (w *poller) wait(ctx context.Context) error {
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

func (*poller) close() {}
