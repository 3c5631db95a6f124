package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"syscall"

	"github.com/arrayx/arrayx/arrayx"
	"golang.org/x/sys/unix"
)

// Network cases over TCP, on loopback or between two network namespaces
// (where.go). The sender's window is the wall time:
// from just before its first data byte (connection and handshake already
// made) until the receiver has acknowledged holding all of the data. For
// arrayx that is Push returning (the server has verified every block and
// published the array); for the raw cases the receiver writes one byte back
// after its last read. The receiver's window runs from its ready line to
// that moment, for its CPU and context switches. Servers verify what they
// received only when the harness tells them to stop (the client has exited),
// so that verifying never competes with the timed side for the CPUs.

// bufSize is the buffer of the plain read/write loops and of the discarding
// reader.
const bufSize = 1 << 20

// listen opens the listener a server child announces: on loopback, or on
// its namespace host's address.
func listen(c *child) (net.Listener, error) {
	return net.Listen("tcp4", net.JoinHostPort(c.listenHost(), "0"))
}

// ackByte is the receiver's one-byte acknowledgement of the whole transfer.
const ackByte = 'k'

func readAck(conn net.Conn) error {
	var b [1]byte
	if _, err := io.ReadFull(conn, b[:]); err != nil {
		return fmt.Errorf("bench: waiting for the receiver's acknowledgement: %w", err)
	}
	if b[0] != ackByte {
		return fmt.Errorf("bench: bad acknowledgement %q", b[0])
	}
	return nil
}

// ceilingSend is the raw kernel ceiling: the source array's data region
// sent with sendfile(2) from the page cache, exactly as netlink's sender does
// (explicit offsets, 64 MiB calls through the runtime poller), with no
// protocol around it.
func ceilingSend(c *child) error {
	f, conn, err := openAndDial(c)
	if err != nil {
		return err
	}
	defer f.Close()
	defer conn.Close()
	c.begin()
	if err := sendfile(conn.(*net.TCPConn), f, c.DataOffset, c.NBytes); err != nil {
		return err
	}
	err = readAck(conn)
	c.end()
	c.recordTCP()
	c.rep.Method = "sendfile"
	c.rep.Verified = "the receiver checks values"
	return err
}

// openAndDial opens the source array's file and connects to the receiver,
// the two things every plain sender does first.
func openAndDial(c *child) (*os.File, net.Conn, error) {
	f, err := os.Open(c.ArxPath)
	if err != nil {
		return nil, nil, err
	}
	conn, err := net.Dial("tcp4", c.Addr)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, conn, nil
}

// sendfile sends n bytes of f from offset off to conn.
func sendfile(conn *net.TCPConn, f *os.File, off, n int64) error {
	out, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	in, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	cerr := in.Control(func(infd uintptr) {
		for n > 0 && serr == nil {
			chunk := min(n, 64<<20)
			werr := out.Write(func(outfd uintptr) bool {
				for chunk > 0 {
					w, err := unix.Sendfile(int(outfd), int(infd), &off, int(chunk))
					if w > 0 {
						chunk -= int64(w)
						n -= int64(w)
					}
					switch {
					case err == unix.EAGAIN:
						return false
					case err == unix.EINTR:
						continue
					case err != nil:
						serr = os.NewSyscallError("sendfile", err)
						return true
					case w == 0:
						serr = os.NewSyscallError("sendfile", unix.EIO)
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
	return errors.Join(cerr, serr)
}

// discardRecv is the ceiling's receiver: it reads into one reused 1 MiB
// buffer and throws the data away, checking one element per read (the first
// whole one in it) and the byte count.
func discardRecv(c *child) error {
	l, err := listen(c)
	if err != nil {
		return err
	}
	defer l.Close()
	buf := make([]byte, bufSize)
	c.ready(l.Addr().String())
	c.begin()
	conn, err := l.Accept()
	if err != nil {
		return err
	}
	defer conn.Close()
	var got int64
	samples := 0
	for got < c.NBytes {
		n, err := conn.Read(buf[:min(int64(len(buf)), c.NBytes-got)])
		if n > 0 {
			i := (got + 7) / 8 // the first whole element in this read
			if j := i*8 - got; j+8 <= int64(n) {
				v := math.Float64frombits(binary.LittleEndian.Uint64(buf[j:]))
				if want := float64(i + c.Shift); v != want {
					return fmt.Errorf("bench: element %d is %v, want %v", i, v, want)
				}
				samples++
			}
			got += int64(n)
		}
		if err != nil {
			return fmt.Errorf("bench: after %d of %d bytes: %w", got, c.NBytes, err)
		}
	}
	if _, err := conn.Write([]byte{ackByte}); err != nil {
		return err
	}
	c.end()
	c.recordTCP()
	if samples == 0 && c.N > 0 {
		return fmt.Errorf("bench: no element sampled")
	}
	c.rep.Verified = fmt.Sprintf("%d bytes; %d sampled elements exact (one per read), the rest discarded", got, samples)
	return nil
}

// rwSend is the plain loop: read(2) 1 MiB from the file, write(2) it to the
// socket. (Not io.Copy, which would take sendfile.)
func rwSend(c *child) error {
	f, conn, err := openAndDial(c)
	if err != nil {
		return err
	}
	defer f.Close()
	defer conn.Close()
	buf := make([]byte, bufSize)
	c.begin()
	if _, err := f.Seek(c.DataOffset, io.SeekStart); err != nil {
		return err
	}
	for left := c.NBytes; left > 0; {
		n, err := f.Read(buf[:min(int64(len(buf)), left)])
		if n > 0 {
			if _, werr := conn.Write(buf[:n]); werr != nil {
				return werr
			}
			left -= int64(n)
		}
		if err != nil {
			return fmt.Errorf("bench: reading %s: %w", c.ArxPath, err)
		}
	}
	err = readAck(conn)
	c.end()
	c.recordTCP()
	c.rep.Method = "read+write"
	c.rep.Verified = "the receiver checks values"
	return err
}

// rwRecv is the plain loop's receiver: read(2) 1 MiB from the socket,
// write(2) it to a file on /dev/shm, then acknowledge.
func rwRecv(c *child) error {
	l, err := listen(c)
	if err != nil {
		return err
	}
	defer l.Close()
	path := filepath.Join(c.Scratch, "x.bin")
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, bufSize)
	c.ready(l.Addr().String())
	c.begin()
	conn, err := l.Accept()
	if err != nil {
		return err
	}
	defer conn.Close()
	for got := int64(0); got < c.NBytes; {
		n, err := conn.Read(buf[:min(int64(len(buf)), c.NBytes-got)])
		if n > 0 {
			if _, werr := f.Write(buf[:n]); werr != nil {
				return werr
			}
			got += int64(n)
		}
		if err != nil {
			return fmt.Errorf("bench: after %d of %d bytes: %w", got, c.NBytes, err)
		}
	}
	if _, err := conn.Write([]byte{ackByte}); err != nil {
		return err
	}
	c.end()
	c.recordTCP()
	<-c.stop // verify once the sender is done, so as not to compete with it
	return c.verifyFile(f, 0)
}

// verifyFile maps the data at offset off of f and checks all of it.
func (c *child) verifyFile(f *os.File, off int64) error {
	if c.NBytes == 0 {
		return nil
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() != off+c.NBytes {
		return fmt.Errorf("bench: %s has %d bytes, want %d", f.Name(), fi.Size(), off+c.NBytes)
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return err
	}
	defer syscall.Munmap(m)
	x, err := arrayx.Cast[float64](m[off:])
	if err != nil {
		return err
	}
	k := newChecker(c.Params)
	if err := k.add(x); err != nil {
		return err
	}
	v, err := k.done()
	c.rep.Verified = v
	return err
}
