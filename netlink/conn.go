package netlink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// conn is one connection after its handshake, on either side. It is the
// one owner of the connection's deadlines: every goroutine that reads or
// writes renews them through it, and a stop (a bad block, a reply that ends
// the transfer, a cancelled context, a server shutting down) is recorded
// once, as a sticky cause, before the deadlines are set in the past. Every
// renewal checks the cause first, so a loop renewing its deadline can never
// undo a stop, and an I/O error caused by a stop is reported as its cause.
type conn struct {
	nc           net.Conn
	version      int
	features     []string
	maxHeader    int           // header limit of this side: bounds PUT and REPLY bodies
	readTimeout  time.Duration // per message, and per read of data without progress
	writeTimeout time.Duration // per message, and per chunk of data

	// ctx ends at the stop: waits that are not I/O on the connection (a
	// relay's block still arriving) end with it.
	ctx    context.Context
	cancel context.CancelFunc

	mu    sync.Mutex
	cause error
}

func newConn(nc net.Conn, readTimeout, writeTimeout time.Duration, maxHeader int) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	return &conn{nc: nc, version: Version1, maxHeader: maxHeader,
		readTimeout: readTimeout, writeTimeout: writeTimeout, ctx: ctx, cancel: cancel}
}

// stop records cause (the first one wins) and interrupts every read and
// write on the connection.
func (c *conn) stop(cause error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cause != nil {
		return
	}
	c.cause = cause
	c.cancel()
	c.nc.SetDeadline(time.Unix(1, 0))
}

// stopCause returns the cause of a stop, or nil.
func (c *conn) stopCause() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause
}

// deadline sets the read or write deadline d from now (none for d == 0),
// unless the connection was stopped: then it returns the cause.
func (c *conn) deadline(read bool, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cause != nil {
		return c.cause
	}
	var t time.Time
	if d > 0 {
		t = time.Now().Add(d)
	}
	if read {
		return c.nc.SetReadDeadline(t)
	}
	return c.nc.SetWriteDeadline(t)
}

// explain returns the stop's cause for an I/O error a stop provoked, and
// err otherwise.
func (c *conn) explain(err error) error {
	if err == nil {
		return nil
	}
	if cause := c.stopCause(); cause != nil {
		return cause
	}
	return err
}

// watch stops the connection when ctx ends; release forgets ctx.
func (c *conn) watch(ctx context.Context) (release func() bool) {
	return context.AfterFunc(ctx, func() { c.stop(ctx.Err()) })
}

// has reports whether the peer agreed to a feature.
func (c *conn) has(feature string) bool {
	for _, f := range c.features {
		if f == feature {
			return true
		}
	}
	return false
}

// send writes one message within the write timeout.
func (c *conn) send(kind byte, b any) error {
	if err := c.deadline(false, c.writeTimeout); err != nil {
		return err
	}
	return c.explain(writeMsg(c.nc, c.version, kind, b))
}

// limit is this side's body limit per kind.
func (c *conn) limit(kind byte) int { return bodyLimit(kind, c.maxHeader) }

// recv reads one message within d (the read timeout, or the idle timeout
// before a request's first byte: the rest of the frame then has the read
// timeout). Its version, kind and flags are checked against what the
// connection agreed. An error wrapping ErrUnsupported leaves the connection
// in step (the whole frame was read): a version-2 peer answers it and goes
// on.
func (c *conn) recv(d time.Duration) (frame, error) {
	if err := c.deadline(true, d); err != nil {
		return frame{}, err
	}
	r := io.Reader(c.nc)
	if d != c.readTimeout {
		r = &firstByteReader{c: c}
	}
	return c.read(r)
}

// read reads and checks one message from r, leaving deadlines to the
// caller.
func (c *conn) read(r io.Reader) (frame, error) {
	f, err := readFrame(r, c.limit)
	if err != nil {
		return f, c.explain(err)
	}
	switch {
	case f.version != c.version:
		return f, fmt.Errorf("%w: frame version %d on a connection that agreed on %d", ErrProtocol, f.version, c.version)
	case !kindIn(f.kind, c.version) && c.version >= Version2:
		return f, fmt.Errorf("%w: message %s", ErrUnsupported, kindName(f.kind))
	case !kindIn(f.kind, c.version):
		return f, fmt.Errorf("%w: unknown message kind %d", ErrProtocol, f.kind)
	case f.flags != 0 && c.version >= Version2:
		return f, fmt.Errorf("%w: %s with flags %#04x", ErrUnsupported, kindName(f.kind), f.flags)
	case f.flags != 0:
		return f, fmt.Errorf("%w: %s with unknown flags %#04x", ErrProtocol, kindName(f.kind), f.flags)
	}
	return f, nil
}

// firstByteReader switches to the read timeout once a frame's first byte
// has come: the idle timeout bounds the wait for a request, not its reading.
type firstByteReader struct {
	c       *conn
	started bool
}

func (r *firstByteReader) Read(p []byte) (int, error) {
	if r.started {
		if err := r.c.deadline(true, r.c.readTimeout); err != nil {
			return 0, err
		}
	}
	n, err := r.c.nc.Read(p)
	r.started = r.started || n > 0
	return n, err
}

// expect reads a message of kind want (or a REPLY, which may refuse) and
// decodes it into v.
func (c *conn) expect(want byte, v any) error {
	f, err := c.recv(c.readTimeout)
	if err != nil {
		return err
	}
	if f.kind != want {
		return fmt.Errorf("%w: got %s, want %s", ErrProtocol, kindName(f.kind), kindName(want))
	}
	return f.decode(v, c.version >= Version2)
}

// request sends a request and reads its reply, which must say 200.
func (c *conn) request(kind byte, b any) (*replyBody, error) {
	if err := c.send(kind, b); err != nil {
		return nil, err
	}
	var r replyBody
	if err := c.expect(kindReply, &r); err != nil {
		return nil, err
	}
	return &r, replyErr(&r)
}

// dataReader reads the data phase, reporting a stop's cause for the I/O
// error it provokes. The read timeout is renewed per block (blockDeadline),
// not per read: a block must arrive within it, so a peer trickling a byte at
// a time cannot hold the connection.
type dataReader struct{ c *conn }

func (r dataReader) Read(p []byte) (int, error) {
	n, err := r.c.nc.Read(p)
	return n, r.c.explain(err)
}

// blockDeadline gives the next block of data the read timeout.
func (c *conn) blockDeadline() error { return c.deadline(true, c.readTimeout) }

// isTimeout reports a deadline that passed (not a stop: a stop returns its
// cause).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}
