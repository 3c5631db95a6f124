//go:build linux

package mmapstore

import (
	"context"
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// WaitMethod says how Store.Wait learns of new arrays on this platform.
const WaitMethod = "inotify"

// watcher wakes Wait when entries appear in watched directories. On Linux it
// is an inotify descriptor read through the runtime poller, so a context
// deadline interrupts the read.
type inotifyWatcher struct {
	f    *os.File
	mask uint32
}

// newWatcher returns an inotify watcher of arrivals (IN_MOVED_TO is how a
// sealed array arrives; IN_CREATE covers new subdirectories on the way to
// it), or a poller when no inotify instance can be had (the per-user
// limit is often 128).
func newWatcher() (watcher, error) {
	return newInotify(unix.IN_MOVED_TO | unix.IN_CREATE | unix.IN_ONLYDIR)
}

// newChangeWatcher is newWatcher for Store.Watch: departures too.
func newChangeWatcher() (watcher, error) {
	return newInotify(unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_CREATE | unix.IN_DELETE | unix.IN_CLOSE_WRITE | unix.IN_ONLYDIR)
}

func newInotify(mask uint32) (watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return newPoller(), nil
	}
	return &inotifyWatcher{f: os.NewFile(uintptr(fd), "inotify"), mask: mask}, nil
}

// watch adds (or refreshes: the call is idempotent) a watch on dir. It is
// called on every pass, so a directory removed and made again is watched anew.
func (w *inotifyWatcher) watch(dir string) error {
	conn, err := w.f.SyscallConn()
	if err != nil {
		return err
	}
	var werr error
	if err := conn.Control(func(fd uintptr) {
		_, werr = unix.InotifyAddWatch(int(fd), dir, w.mask)
	}); err != nil {
		return err
	}
	if werr != nil {
		return os.NewSyscallError("inotify_add_watch "+dir, werr)
	}
	return nil
}

// wait blocks until an event arrives or ctx ends.
func (w *inotifyWatcher) wait(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { w.f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	var buf [4096]byte
	_, err := w.f.Read(buf[:]) // any event means "look again"
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, os.ErrDeadlineExceeded) {
			return context.Cause(ctx)
		}
		return err
	}
	return nil
}

// close releases the inotify descriptor in the background: the kernel waits
// for an SRCU grace period when it destroys the watch group, which measured
// 14-20 ms here, and a consumer that has its array should not wait for it.
func (w *inotifyWatcher) close() { go w.f.Close() }
