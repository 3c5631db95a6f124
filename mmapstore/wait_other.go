//go:build !linux

package mmapstore

// WaitMethod says how Store.Wait learns of new arrays on this platform.
const WaitMethod = "polling"

func newWatcher() (watcher, error) { return newPoller(), nil }

func newChangeWatcher() (watcher, error) { return newPoller(), nil }
