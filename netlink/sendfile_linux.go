//go:build linux

package netlink

import (
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/arrayx/arrayx/mmapstore"
	"golang.org/x/sys/unix"
)

// maxSendfile is the kernel's per-call cap (MAX_RW_COUNT): a larger request
// is silently shortened, so larger arrays take several calls.
const maxSendfile = 0x7ffff000

// testHookSendfile, when set, sees the byte count of every sendfile call.
var testHookSendfile func(n int)

// canSendfile reports whether sendFile can serve conn.
func canSendfile(conn net.Conn) bool {
	switch conn.(type) {
	case *net.TCPConn, *net.UnixConn:
		return true
	}
	return false
}

// sendFile sends n bytes of f starting at file offset pos with sendfile(2),
// through the runtime poller (EAGAIN waits for writability and honours
// deadlines). handled is false, with nothing sent, when conn cannot take
// sendfile (not a TCP or Unix socket, e.g. TLS).
func sendFile(conn net.Conn, f *os.File, pos, n int64, timeout time.Duration, progress func(int64), cancel <-chan struct{}) (sent int64, handled bool, err error) {
	sc, ok := conn.(syscall.Conn)
	if !ok || !canSendfile(conn) {
		return 0, false, nil
	}
	out, err := sc.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	in, err := f.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	var serr error
	cerr := in.Control(func(infd uintptr) {
		for sent < n && serr == nil {
			conn.SetWriteDeadline(time.Now().Add(timeout))
			select { // a renewed deadline would undo a cancellation
			case <-cancel:
				serr = os.ErrDeadlineExceeded
				return
			default:
			}
			chunk := min(n-sent, sendChunk, maxSendfile)
			var done int64
			werr := out.Write(func(outfd uintptr) bool {
				for done < chunk {
					off := pos + sent + done
					w, err := unix.Sendfile(int(outfd), int(infd), &off, int(chunk-done))
					if w > 0 {
						done += int64(w)
						if testHookSendfile != nil {
							testHookSendfile(w)
						}
					}
					switch {
					case err == unix.EAGAIN:
						return false // wait until writable
					case err == unix.EINTR:
						continue
					case err != nil:
						serr = os.NewSyscallError("sendfile", err)
						return true
					case w == 0: // the file is shorter than its header says
						serr = fmt.Errorf("%w: sendfile found the end of the file at offset %d", mmapstore.ErrFault, off)
						return true
					}
				}
				return true
			})
			sent += done
			progress(done)
			if werr != nil && serr == nil {
				serr = werr
			}
		}
	})
	if cerr != nil {
		return sent, true, cerr
	}
	return sent, true, serr
}
