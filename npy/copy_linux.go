//go:build linux

package npy

import (
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// maxCopyRound is the kernel's per-call cap (MAX_RW_COUNT): a larger request
// is silently shortened, so larger arrays take several calls.
const maxCopyRound = 0x7ffff000

// copyFileRangeWorks: before Linux 5.3 copy_file_range could copy wrong data
// across filesystems and fail silently (golang.org/issue/42400), so older
// kernels take the portable path.
var copyFileRangeWorks = sync.OnceValue(func() bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	var major, minor int
	rel := u.Release[:]
	i := 0
	num := func() int {
		n := 0
		for ; i < len(rel) && '0' <= rel[i] && rel[i] <= '9'; i++ {
			n = n*10 + int(rel[i]-'0')
		}
		return n
	}
	major = num()
	if i < len(rel) && rel[i] == '.' {
		i++
		minor = num()
	}
	return major > 5 || major == 5 && minor >= 3
})

// copyFileRange copies n bytes from src at srcOff to dst at dstOff with
// copy_file_range(2): the kernel moves the pages (or shares extents, on
// filesystems that can), and no byte passes through user space. Neither
// file's offset moves. It returns how many bytes it copied; fewer than n
// with a nil error means the kernel path stopped being available (other
// filesystem, unsupported by the filesystem, blocked by a seccomp filter,
// or a zero-byte return that older kernels give for both EOF and failure),
// and the caller copies the rest another way, which also tells a source
// that really ended early apart.
func copyFileRange(dst *os.File, dstOff int64, src *os.File, srcOff, n int64) (int64, error) {
	if n == 0 || !copyFileRangeWorks() {
		return 0, nil
	}
	return copyLoop("copy_file_range", dst, src, n, func(rfd, wfd int, done int64, max int) (int, error) {
		roff, woff := srcOff+done, dstOff+done
		return unix.CopyFileRange(rfd, &roff, wfd, &woff, max, 0)
	})
}

// sendFileRange copies n bytes from src at srcOff to dst at dstOff with
// sendfile(2): in the kernel too, and allowed between filesystems, where
// copy_file_range gives EXDEV (a .npy on disk imported into a store on
// tmpfs). sendfile writes at dst's file offset, so that is set first; the
// destination is a writer's or a temporary file, whose offset nothing else
// uses. Like copyFileRange, it returns fewer than n bytes with a nil error
// when the kernel path stops being available.
func sendFileRange(dst *os.File, dstOff int64, src *os.File, srcOff, n int64) (int64, error) {
	if n == 0 {
		return 0, nil
	}
	if _, err := dst.Seek(dstOff, io.SeekStart); err != nil {
		return 0, nil
	}
	return copyLoop("sendfile", dst, src, n, func(rfd, wfd int, done int64, max int) (int, error) {
		roff := srcOff + done
		return unix.Sendfile(wfd, rfd, &roff, max)
	})
}

// copyLoop runs step on the two files' descriptors until n bytes are copied.
// It stops early, with a nil error, when the source ends (a zero-byte step)
// or the kernel refuses the path (across filesystems, unsupported, blocked
// by a seccomp filter): the caller copies the rest another way, which also
// tells a source that really ended early apart. step copies at most max
// bytes starting done bytes into the range.
func copyLoop(name string, dst, src *os.File, n int64, step func(rfd, wfd int, done int64, max int) (int, error)) (int64, error) {
	rc, err := src.SyscallConn()
	if err != nil {
		return 0, nil
	}
	wc, err := dst.SyscallConn()
	if err != nil {
		return 0, nil
	}
	var done int64
	var cerr error
	err = rc.Control(func(rfd uintptr) {
		err := wc.Control(func(wfd uintptr) {
			for done < n {
				c, err := step(int(rfd), int(wfd), done, int(min(n-done, maxCopyRound)))
				if c > 0 {
					done += int64(c)
				}
				switch err {
				case nil:
					if c == 0 {
						return
					}
				case unix.EINTR, unix.EAGAIN:
				case unix.EXDEV, unix.EINVAL, unix.ENOSYS, unix.EOPNOTSUPP, unix.EPERM, unix.EIO, unix.EBADF:
					return // the portable path takes over
				default:
					cerr = os.NewSyscallError(name, err)
					return
				}
			}
		})
		if err != nil && cerr == nil {
			cerr = err
		}
	})
	if err != nil && cerr == nil {
		cerr = err
	}
	return done, cerr
}
