//go:build linux

package zerocopy

import (
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// refused reports the errnos that mean "not this way": the kernel, the
// filesystems or a seccomp filter do not allow the call here.
func refused(err error) bool {
	switch err {
	case unix.EXDEV, unix.EINVAL, unix.ENOSYS, unix.EOPNOTSUPP, unix.EPERM, unix.EBADF:
		return true
	}
	return false
}

// sendRound bounds the bytes one write of SendFile moves before the
// connection's deadline is checked again.
const sendRound = 4 << 20

// SendFile writes n bytes of src, from offset off, to the socket dst with
// sendfile(2). It waits for writability through dst's runtime poller, so
// dst's write deadline bounds it (the error is then os.ErrDeadlineExceeded).
// handled is false, with nothing sent, when dst has no descriptor to send to
// (a TLS connection, a pipe from net.Pipe).
func SendFile(dst syscall.Conn, src *os.File, off, n int64) (written int64, handled bool, err error) {
	out, err := dst.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	in, err := src.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	handled = true
	var serr error
	cerr := in.Control(func(infd uintptr) {
		// A round at a time: the poller checks the deadline when a write
		// begins and when it waits, and a fast reader may never make it
		// wait, so a deadline set in the past (a cancellation) must be able
		// to stop the send between rounds.
		for written < n && handled && serr == nil {
			end := min(n, written+sendRound)
			werr := out.Write(func(outfd uintptr) bool {
				for written < end {
					pos := off + written
					w, err := unix.Sendfile(int(outfd), int(infd), &pos, int(min(end-written, maxRound)))
					if w > 0 {
						written += int64(w)
						report(OpSendfile, int64(w))
					}
					switch {
					case err == unix.EAGAIN:
						return false // wait until writable (or the deadline)
					case err == unix.EINTR:
					case err != nil && refused(err):
						handled = false
						return true
					case err != nil:
						serr = os.NewSyscallError("sendfile", err)
						return true
					case w == 0:
						handled = false // the source ended, or the kernel stopped
						return true
					}
				}
				return true
			})
			if werr != nil && serr == nil {
				serr = werr
			}
		}
	})
	if cerr != nil && serr == nil {
		serr = cerr
	}
	if serr != nil {
		handled = true
	}
	if written == 0 && !handled {
		return 0, false, nil
	}
	return written, handled, serr
}

// CopyFileRange copies n bytes from src at srcOff to dst at dstOff with
// copy_file_range(2): the kernel moves the pages, or shares extents or asks
// the server to copy where the filesystem can. Linux refuses it between
// filesystems of different types (EXDEV); handled is then false.
func CopyFileRange(dst *os.File, dstOff int64, src *os.File, srcOff, n int64) (int64, bool, error) {
	if !copyFileRangeWorks() {
		return 0, false, nil
	}
	return fileLoop(OpCopyFileRange, dst, src, n, func(dfd, sfd int, done int64, max int) (int, error) {
		roff, woff := srcOff+done, dstOff+done
		return unix.CopyFileRange(sfd, &roff, dfd, &woff, max, 0)
	})
}

// SendFileToFile copies n bytes from src at srcOff to dst at dstOff with
// sendfile(2): in the kernel too, and allowed between filesystems where
// copy_file_range is not (a .npy on disk into a store on tmpfs). sendfile
// writes at dst's own offset, so this sets it: dst must be the caller's
// alone (a temporary file nobody else writes).
func SendFileToFile(dst *os.File, dstOff int64, src *os.File, srcOff, n int64) (int64, bool, error) {
	if _, err := dst.Seek(dstOff, io.SeekStart); err != nil {
		return 0, false, nil
	}
	return fileLoop(OpSendfile, dst, src, n, func(dfd, sfd int, done int64, max int) (int, error) {
		roff := srcOff + done
		return unix.Sendfile(dfd, sfd, &roff, max)
	})
}

// fileLoop runs step on two regular files' descriptors until n bytes are
// moved, under the package's policy.
func fileLoop(op string, dst, src *os.File, n int64, step func(dfd, sfd int, done int64, max int) (int, error)) (done int64, handled bool, err error) {
	if n <= 0 {
		return 0, true, nil
	}
	sc, err := src.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	dc, err := dst.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	handled = true
	var ferr error
	cerr := sc.Control(func(sfd uintptr) {
		// Not ferr = dc.Control(...): that would overwrite the error the
		// loop sets with Control's nil.
		if err := dc.Control(func(dfd uintptr) {
			for done < n {
				c, err := step(int(dfd), int(sfd), done, int(min(n-done, maxRound)))
				if c > 0 {
					done += int64(c)
					report(op, int64(c))
				}
				switch {
				case err == unix.EINTR || err == unix.EAGAIN:
				case err != nil && refused(err), err == unix.EIO && done == 0 && op == OpCopyFileRange:
					// EIO before anything moved: some FUSE and network
					// filesystems answer copy_file_range so.
					handled = false
					return
				case err != nil:
					ferr = os.NewSyscallError(op, err)
					return
				case c == 0:
					handled = false
					return
				}
			}
		}); err != nil && ferr == nil {
			ferr = err
		}
	})
	if cerr != nil && ferr == nil {
		ferr = cerr
	}
	if ferr != nil {
		return done, true, ferr
	}
	return done, handled, nil
}

// Reflink makes bytes [dstOff, dstOff+n) of dst share src's extents at
// [srcOff, srcOff+n) (FICLONERANGE; the whole file with FICLONE when both
// offsets and n are 0, and dst then takes src's size): nothing is copied
// until either file is written. btrfs and XFS can; tmpfs and ext4 refuse,
// and handled is false. Offsets and n must be multiples of the filesystem
// block size, except that the range may end at src's end of file; a
// misaligned range is refused the same way (EINVAL), so the caller copies it.
func Reflink(dst *os.File, dstOff int64, src *os.File, srcOff, n int64) (handled bool, err error) {
	dc, err := dst.SyscallConn()
	if err != nil {
		return false, nil
	}
	sc, err := src.SyscallConn()
	if err != nil {
		return false, nil
	}
	whole := dstOff == 0 && srcOff == 0 && n == 0
	op := "ioctl FICLONERANGE"
	if whole {
		op = "ioctl FICLONE"
	}
	var ierr, cerr error
	if err := sc.Control(func(sfd uintptr) {
		cerr = dc.Control(func(dfd uintptr) {
			for {
				if whole {
					ierr = unix.IoctlFileClone(int(dfd), int(sfd))
				} else {
					ierr = unix.IoctlFileCloneRange(int(dfd), &unix.FileCloneRange{
						Src_fd: int64(sfd), Src_offset: uint64(srcOff), Src_length: uint64(n), Dest_offset: uint64(dstOff)})
				}
				if ierr != unix.EINTR {
					return
				}
			}
		})
	}); err != nil {
		cerr = err
	}
	switch {
	case cerr != nil:
		return true, cerr // a closed file: a failure, as in the other adapters
	case ierr == nil:
		if n == 0 {
			// FICLONE, or a range to src's end: the kernel gives no count,
			// so the hook sees what src holds from srcOff.
			if fi, err := src.Stat(); err == nil {
				n = fi.Size() - srcOff
			}
		}
		report(OpReflink, n)
		return true, nil
	case refused(ierr), ierr == unix.ENOTTY: // ENOTSUP is EOPNOTSUPP on Linux
		return false, nil
	}
	return true, os.NewSyscallError(op, ierr)
}
