package netlink

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/arrayx/arrayx/mmapstore"
)

// sendChunk bounds one step of the data phase: the write deadline is renewed
// per chunk, so a stalled peer fails after WriteTimeout.
const sendChunk = 64 << 20

// sendData writes data bytes [off, off+n) of an array to conn: with
// sendfile(2) from f at explicit offsets where the platform and connection
// allow (f's own offset is never used, so concurrent senders of one array do
// not interfere), else with writes from the mapping. It reports the method.
func sendData(conn net.Conn, f *os.File, data []byte, dataOffset, off, n int64, timeout time.Duration, forceCopy bool, progress func(int64), cancel <-chan struct{}) (sent int64, zeroCopy bool, err error) {
	if progress == nil {
		progress = func(int64) {}
	}
	if !forceCopy {
		sent, handled, err := sendFile(conn, f, dataOffset+off, n, timeout, progress, cancel)
		if handled {
			return sent, true, err
		}
	}
	for sent < n {
		m := min(n-sent, sendChunk)
		conn.SetWriteDeadline(time.Now().Add(timeout))
		select { // a renewed deadline would undo a cancellation
		case <-cancel:
			return sent, false, os.ErrDeadlineExceeded
		default:
		}
		w, err := conn.Write(data[off+sent : off+sent+m])
		sent += int64(w)
		progress(int64(w))
		if err != nil {
			if errors.Is(err, syscall.EFAULT) { // the kernel could not read the mapping
				err = fmt.Errorf("%w: at data offset %d: %w", mmapstore.ErrFault, off+sent, err)
			}
			return sent, false, err
		}
	}
	return sent, false, nil
}
