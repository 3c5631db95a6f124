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
	Method RecvMethod // default RecvMmap
	// Prefault populates each block's pages (MADV_POPULATE_WRITE) one block
	// ahead of the socket, so the receive does not take a page fault per page.
	Prefault bool
}

func (o RecvOptions) method() RecvMethod {
	if o.Method == "" {
		return RecvMmap
	}
	return o.Method
}

// String names the method as Stats reports it.
func (o RecvOptions) String() string {
	s := string(o.method())
	if o.Prefault {
		s += "+prefault"
	}
	return s
}

// testHookRecv, when set, sees the receive method of every data phase.
var testHookRecv func(method string)

// recvData receives the data bytes from p.Held() to the end into p,
// verifying every block as it completes. A checksum mismatch returns at
// once, naming the block; what was verified before it stays held.
func recvData(conn net.Conn, p *mmapstore.Partial, opts RecvOptions, timeout time.Duration, progress func(int64)) (int64, error) {
	if testHookRecv != nil {
		testHookRecv(opts.String())
	}
	h := p.Header()
	data := p.Bytes()
	start := p.Held()
	var prefaulted chan struct{}
	if opts.Prefault {
		prefaulted = make(chan struct{}, 1)
		stop := make(chan struct{})
		defer close(stop)
		go func() { // stays at most one block ahead of the socket
			for off := start; off < h.NBytes; off += h.BlockSize - off%h.BlockSize {
				end := min(off+h.BlockSize-off%h.BlockSize, h.NBytes)
				mmapstore.Prefault(data[off:end])
				select {
				case prefaulted <- struct{}{}:
				case <-stop:
					return
				}
			}
		}()
	}
	var file *os.File
	if opts.method() == RecvSplice {
		file = p.File()
	}
	pos := start
	for pos < h.NBytes {
		end := min(pos+h.BlockSize-pos%h.BlockSize, h.NBytes)
		if prefaulted != nil {
			<-prefaulted
		}
		conn.SetReadDeadline(time.Now().Add(timeout))
		var err error
		if file != nil {
			// os.File.ReadFrom of a LimitedReader over a TCP connection is
			// Go's splice path; the file offset is this partial's alone.
			if _, err = file.Seek(h.DataOffset+pos, io.SeekStart); err == nil {
				var got int64
				got, err = file.ReadFrom(io.LimitReader(conn, end-pos))
				if err == nil && got < end-pos {
					err = io.ErrUnexpectedEOF
				}
			}
		} else {
			_, err = io.ReadFull(conn, data[pos:end])
		}
		if err != nil {
			return pos - start, noEOF(err)
		}
		moved := end - pos
		pos = end
		if err := p.Verify(pos); err != nil {
			return pos - start, err
		}
		if progress != nil {
			progress(moved)
		}
	}
	return pos - start, nil
}
