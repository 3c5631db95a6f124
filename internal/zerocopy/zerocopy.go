// Package zerocopy moves bytes between descriptors inside the kernel:
// sendfile(2) from a file to a socket or to another file, copy_file_range(2)
// between files, and reflinks (FICLONE, FICLONERANGE) that share extents
// instead of copying them. Every call names explicit offsets: a file's own
// offset is never read or moved (except the destination of a file-to-file
// sendfile, which the caller owns), so several goroutines can send ranges of
// one file at once.
//
// One policy covers every adapter. Each returns (n, handled, err):
//   - n is what the kernel moved, whatever happened next;
//   - handled false means the kernel refused the path (not supported between
//     these descriptors, filesystems or on this kernel, blocked by a seccomp
//     filter) or stopped with a zero-byte return, possibly after n bytes: the
//     caller moves the rest another way. A zero-byte return is not taken for
//     the end of the source, because older kernels give it for refusals too;
//     the caller's portable path tells a source that really ended early apart;
//   - err is a real failure (no space, an I/O error, a deadline) after n
//     bytes; handled is then true.
//
// The hook installed by SetTestHook sees every successful call, reflinks
// included, so tests assert that the kernel path was taken rather than
// assume it.
package zerocopy

import "sync"

// Ops, as TestHook and callers' statistics name them.
const (
	OpSendfile      = "sendfile"
	OpCopyFileRange = "copy_file_range"
	OpReflink       = "reflink"
)

// maxRound is the kernel's per-call cap (MAX_RW_COUNT): a larger request is
// silently shortened, so large ranges take several calls.
const maxRound = 0x7ffff000

var hookMu sync.RWMutex
var hook func(op string, n int64)

// SetTestHook installs fn to see the op and byte count of every successful
// kernel call, in every goroutine, and returns a function restoring the
// previous hook. For tests only.
func SetTestHook(fn func(op string, n int64)) (restore func()) {
	hookMu.Lock()
	old := hook
	hook = fn
	hookMu.Unlock()
	return func() {
		hookMu.Lock()
		hook = old
		hookMu.Unlock()
	}
}

func report(op string, n int64) {
	hookMu.RLock()
	fn := hook
	hookMu.RUnlock()
	if fn != nil && n > 0 {
		fn(op, n)
	}
}
