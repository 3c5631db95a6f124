package netlink

import (
	"io"
	"net"
	"os"
	"time"

	"github.com/arrayx/arrayx/mmapstore"
)

// RecvMethod chooses how a receiver moves data from the socket to the file.
type RecvMethod string

const (
	// RecvMmap reads the socket straight into the destination's writable
	// mapping (recv into the page cache pages: one kernel copy, none in user
	// space), verifying each block as it completes.
	RecvMmap RecvMethod = "mmap"
	// RecvSplice moves socket data into the file with splice(2) (Go's
	// io.Copy from a TCP connection to a file), then verifies each block
	// through the mapping.
	RecvSplice RecvMethod = "splice"
)

// RecvOptions tunes the receiving side of a transfer.
type RecvOptions struct {
	// Method is the receive path. The default chooses by filesystem, from
	// the benchmarks in bench/RESULTS.md: splice on tmpfs (no user mapping
	// to populate, page by page, before the data can land), the mapping on
	// disks.
	Method RecvMethod
	// Prefault populates each block's pages (MADV_POPULATE_WRITE) one block
	// ahead of the socket, so the receive does not take a page fault per page.
	Prefault bool
}

// resolve picks the method for a destination.
func (o RecvOptions) resolve(p *mmapstore.Partial) RecvOptions {
	if o.Method == "" {
		o.Method = RecvMmap
		if p.InMemory() {
			o.Method = RecvSplice
		}
	}
	return o
}

// String names the method as Stats reports it.
func (o RecvOptions) String() string {
	s := string(o.Method)
	if s == "" {
		s = "auto"
	}
	if o.Prefault {
		s += "+prefault"
	}
	return s
}

// testHookRecv, when set, sees the receive method of every data phase.
var testHookRecv func(method string)

// verifyAhead is how many received blocks may wait for verification while
// the socket is read on: enough to keep reading during a block's CRC.
const verifyAhead = 4

// recvData receives the data bytes from p.Held() to the end into p. One
// goroutine reads the socket block by block while another verifies each
// completed block's CRC-32C in order (still hot in cache), so the socket is
// drained during verification and the sender never stalls on it. A
// checksum mismatch stops the reader at once and is returned, naming the
// block; what was verified before it stays held for a resumed transfer.
func recvData(conn net.Conn, p *mmapstore.Partial, opts RecvOptions, timeout time.Duration, progress func(int64), cancel <-chan struct{}) (int64, string, error) {
	opts = opts.resolve(p)
	method := opts.String()
	if testHookRecv != nil {
		testHookRecv(method)
	}
	h := p.Header()
	data := p.Bytes()
	start := p.Held()
	blockEnd := func(off int64) int64 { return min(off+h.BlockSize-off%h.BlockSize, h.NBytes) }

	var prefaulted chan struct{}
	stop := make(chan struct{})
	defer close(stop)
	if opts.Prefault {
		prefaulted = make(chan struct{}, 1)
		go func() { // stays at most one block ahead of the socket
			for off := start; off < h.NBytes; off = blockEnd(off) {
				mmapstore.Prefault(data[off:blockEnd(off)])
				select {
				case prefaulted <- struct{}{}:
				case <-stop:
					return
				}
			}
		}()
	}

	received := make(chan int64, verifyAhead) // ends of received blocks, in order
	verr := make(chan error, 1)
	go func() {
		var err error
		prev := start
		for end := range received {
			if err == nil {
				if err = p.Verify(end); err != nil {
					conn.SetReadDeadline(time.Unix(1, 0)) // stop the reader now
				} else if progress != nil {
					progress(end - prev)
				}
				prev = end
			}
		}
		verr <- err
	}()

	var file *os.File
	if opts.Method == RecvSplice {
		file = p.File()
	}
	pos := start
	var rerr error
	for pos < h.NBytes {
		end := blockEnd(pos)
		if prefaulted != nil {
			<-prefaulted
		}
		conn.SetReadDeadline(time.Now().Add(timeout))
		select { // a renewed deadline would undo a cancellation
		case <-cancel:
			rerr = os.ErrDeadlineExceeded
		default:
		}
		if rerr != nil {
			break
		}
		if file != nil {
			// os.File.ReadFrom of a LimitedReader over a TCP connection is
			// Go's splice path; the file offset is this partial's alone.
			if _, rerr = file.Seek(h.DataOffset+pos, io.SeekStart); rerr == nil {
				var got int64
				got, rerr = file.ReadFrom(io.LimitReader(conn, end-pos))
				if rerr == nil && got < end-pos {
					rerr = io.ErrUnexpectedEOF
				}
			}
		} else {
			_, rerr = io.ReadFull(conn, data[pos:end])
		}
		if rerr != nil {
			break
		}
		pos = end
		received <- end
	}
	close(received)
	if err := <-verr; err != nil {
		return p.Held() - start, method, err // the checksum error explains a reader error too
	}
	if rerr != nil {
		return pos - start, method, noEOF(rerr)
	}
	return pos - start, method, nil
}
