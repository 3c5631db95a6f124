//go:build unix

package mmapstore

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// dupFile returns a second descriptor of f's open file: it stays valid
// when f is closed. It is close-on-exec from the start (F_DUPFD_CLOEXEC),
// so a concurrent fork never inherits it.
func dupFile(f *os.File) (*os.File, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var fd int
	var derr error
	if err := rc.Control(func(old uintptr) { fd, derr = unix.FcntlInt(old, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, os.NewSyscallError("fcntl(F_DUPFD_CLOEXEC)", derr)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// fileID returns the file's inode number: a replaced file gets another.
func fileID(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int64(st.Ino)
	}
	return 0
}
