package mmapstore

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// cloneFile makes dst a reflink of src (FICLONE): no data is copied, the
// extents are shared copy-on-write. Filesystems without reflinks (tmpfs,
// ext4) refuse, and the caller copies instead.
func cloneFile(dst, src *os.File) error {
	return unix.IoctlFileClone(int(dst.Fd()), int(src.Fd()))
}

// copyRange copies the first size bytes of src to dst with copy_file_range,
// at explicit offsets (src's descriptor offset is shared and left alone).
// done is false, with no error, when the kernel cannot do it between these
// files (across filesystems, or an old kernel): the caller writes instead.
func copyRange(dst, src *os.File, size int64) (done bool, err error) {
	var off int64
	for off < size {
		roff, woff := off, off
		n, err := unix.CopyFileRange(int(src.Fd()), &roff, int(dst.Fd()), &woff, int(min(size-off, 1<<30)), 0)
		switch {
		case err == unix.EINTR:
			continue
		case errors.Is(err, unix.EXDEV), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EOPNOTSUPP),
			errors.Is(err, unix.EINVAL), errors.Is(err, unix.EBADF):
			return false, nil
		case err != nil:
			return false, noSpace(fmt.Errorf("copy_file_range: %w", err))
		case n == 0:
			return false, fmt.Errorf("%w: the source ended after %d of %d bytes (truncated behind our back?)", ErrFault, off, size)
		}
		off += int64(n)
	}
	return true, nil
}

// sendRange copies the first size bytes of src to dst, which must be at
// offset 0, with sendfile(2): also in the kernel, and allowed between
// filesystems where copy_file_range is not. done is false, with no error,
// when the kernel refuses it here.
func sendRange(dst, src *os.File, size int64) (done bool, err error) {
	var off int64
	for off < size {
		n, err := unix.Sendfile(int(dst.Fd()), int(src.Fd()), &off, int(min(size-off, 1<<30)))
		switch {
		case err == unix.EINTR:
			continue
		case off == 0 && (errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP)):
			return false, nil
		case err != nil:
			return false, noSpace(fmt.Errorf("sendfile: %w", err))
		case n == 0:
			return false, fmt.Errorf("%w: the source ended after %d of %d bytes (truncated behind our back?)", ErrFault, off, size)
		}
	}
	return true, nil
}

// noSpace marks a full filesystem (or file size limit) as ErrNoSpace.
func noSpace(err error) error {
	if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) || errors.Is(err, unix.EFBIG) {
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	}
	return err
}
