package netlink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
)

// Eager PUTs (FeatureEager) carry their array's data right behind them,
// and a client sends the next request without waiting for the reply: the
// server answers in order. A sync of many small arrays then streams them
// over one connection at the link's rate instead of paying a round trip or
// two each. Only whole arrays of at most MaxEagerBytes go this way; larger
// ones, and changed arrays whose unchanged blocks are worth skipping, use
// the NEED-driven transfer.

// eagerWindow bounds the eager PUTs a client has sent and not yet seen
// answered: enough to cover a round trip of small arrays, few enough that a
// connection lost midway has little to send again.
const eagerWindow = 32

// handleEager receives a PUT whose data follows it. Every one of the
// b.Eager bytes is read whatever happens (a refusal, a bad block, a full
// disk), so that the connection stays in step for the requests pipelined
// behind it; the one REPLY comes after them. A block that fails its check
// fails the PUT (422) and is not asked for again: the blocks that verified
// stay in the partial, so a plain PUT of the same array sends only the rest.
func (c *serverConn) handleEager(b *putBody) bool {
	if b.Eager < 0 || b.Eager > MaxEagerBytes {
		c.fail(fmt.Errorf("%w: an eager PUT of %d bytes (at most %d)", ErrProtocol, b.Eager, MaxEagerBytes))
		return false
	}
	rd := &eagerReader{c: c.c, left: b.Eager}
	start := time.Now()
	p, seeded, err := c.eagerPartial(b)
	if err == nil {
		err = landEager(p, rd)
		if err == nil {
			var a *mmapstore.Array
			if a, err = p.Complete(); err == nil {
				err = a.Close()
			}
		}
		p.Close()
	}
	if err := rd.discard(); err != nil {
		c.log.Info("eager PUT lost its connection", "name", b.Name, "err", err)
		return false
	}
	if err != nil {
		c.log.Info("eager PUT failed", "name", b.Name, "err", err)
		return c.fail(err)
	}
	c.log.Info("received", "name", b.Name, "eager", true, "bytes", b.Eager, "seeded", seeded,
		"seconds", time.Since(start).Seconds())
	return c.reply(&replyBody{Status: StatusOK, Bytes: b.Eager, Seeded: seeded, Method: recvMethod}) == nil
}

// eagerPartial checks an eager PUT and prepares its partial.
func (c *serverConn) eagerPartial(b *putBody) (*mmapstore.Partial, int64, error) {
	switch {
	case !c.c.has(FeatureEager):
		return nil, 0, fmt.Errorf("%w: eager PUT (feature %q was not agreed)", ErrUnsupported, FeatureEager)
	case len(b.Transfer) > 0 || b.Streams > 1 || len(b.Chain) > 0:
		return nil, 0, fmt.Errorf("%w: an eager PUT cannot join a transfer, announce streams or carry a chain", ErrProtocol)
	}
	// The length is checked before the partial is prepared, so that the
	// refusal leaves nothing behind.
	h, err := arrayx.Unmarshal(b.Header, c.srv.cfg.limits())
	if err != nil {
		return nil, 0, err
	}
	if h.NBytes != b.Eager {
		return nil, 0, fmt.Errorf("%w: an eager PUT of %d bytes for an array of %d", ErrProtocol, b.Eager, h.NBytes)
	}
	return c.receive(b)
}

// landEager lands every block from rd into p, in order, checking each: the
// blocks p holds already are read and dropped. A bad block does not stop
// the others from landing; its error is returned at the end.
func landEager(p *mmapstore.Partial, rd *eagerReader) error {
	h := p.Header()
	var bad error
	for i := range h.NumBlocks() {
		off, n := h.Block(i)
		if err := rd.c.blockDeadline(); err != nil {
			return err
		}
		_, err := p.ReceiveAt(rd, off, n)
		var ce *arrayx.ChecksumError
		switch {
		case errors.As(err, &ce):
			if bad == nil {
				bad = err
			}
		case err != nil:
			return err
		}
	}
	return bad
}

// eagerReader reads an eager PUT's data: at most left bytes, recording a
// failure of the connection (as opposed to one of the store) in err.
type eagerReader struct {
	c    *conn
	left int64
	err  error
}

func (r *eagerReader) Read(b []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > r.left {
		b = b[:r.left]
	}
	n, err := dataReader{r.c}.Read(b)
	r.left -= int64(n)
	if err != nil {
		r.err = err
	}
	return n, err
}

// discard reads and drops what is left of the data, a chunk per read
// timeout, and returns the connection's failure if it had one.
func (r *eagerReader) discard() error {
	for r.left > 0 && r.err == nil {
		if err := r.c.blockDeadline(); err != nil {
			return err
		}
		io.CopyN(io.Discard, r, min(r.left, 1<<20))
	}
	return r.err
}

// eagerSent is one eager PUT the pipeline's writer has finished sending
// (or could not send: err), for its reader to match with a reply.
type eagerSent struct {
	i     int
	slot  bool // it holds one of the window's slots
	st    Stats
	start time.Time
	err   error
}

// pushEager pushes n arrays as eager PUTs on the client's connection,
// pipelined: a writer sends one PUT and its data (by sendfile) after
// another while the replies are read as they come, at most eagerWindow
// unanswered. open(i) returns array i and the name to publish it under;
// each must have at most MaxEagerBytes of data. done(i, ...) reports each
// array's outcome, in order, from one goroutine. The error is the
// connection's: the arrays not done when it failed are reported with it.
func (cl *Client) pushEager(ctx context.Context, n int, open func(i int) (*mmapstore.Array, string, error),
	done func(i int, st Stats, err error)) error {
	return cl.do(ctx, "push", fmt.Sprintf("(%d arrays, pipelined)", n), func(c *conn) error {
		if !c.has(FeatureEager) {
			return &localError{fmt.Errorf("%w: the server does not take eager PUTs", ErrUnsupported)}
		}
		slots := make(chan struct{}, eagerWindow)
		sent := make(chan eagerSent, eagerWindow)
		go func() {
			defer close(sent)
			for i := range n {
				select {
				case slots <- struct{}{}:
				case <-c.ctx.Done():
					sent <- eagerSent{i: i, err: c.stopCause()}
					continue
				}
				s := eagerSent{i: i, slot: true, start: time.Now()}
				s.st, s.err = cl.sendEager(c, open, i)
				sent <- s
			}
		}()
		var connErr error
		for s := range sent {
			if s.err == nil && connErr == nil {
				var r *replyBody
				r, s.err = cl.eagerReply(c)
				if r != nil {
					s.st.Seeded, s.st.Method = r.Seeded, s.st.Method+r.Method
				}
			}
			var re *RemoteError
			var le *localError
			if s.err != nil && connErr == nil && !errors.As(s.err, &re) && !errors.As(s.err, &le) {
				connErr = s.err
				c.stop(s.err) // the writer stops too, reporting what it had not sent
			}
			if s.slot {
				<-slots
			}
			if s.err == nil && connErr != nil {
				s.err = connErr
			}
			if s.slot {
				s.st.Duration = time.Since(s.start)
			}
			done(s.i, s.st, s.err)
		}
		return connErr
	})
}

// sendEager writes array i's eager PUT. An array that cannot be opened is
// reported as a local error: nothing was sent for it.
func (cl *Client) sendEager(c *conn, open func(i int) (*mmapstore.Array, string, error), i int) (Stats, error) {
	st := Stats{Version: c.version, Streams: 1}
	a, name, err := open(i)
	if err != nil {
		return st, &localError{err}
	}
	defer a.Close()
	raw, h := a.RawHeader(), a.Header()
	if raw == nil {
		return st, &localError{fmt.Errorf("%w: %s: reading its header", mmapstore.ErrFault, name)}
	}
	if h.NBytes > MaxEagerBytes {
		return st, &localError{fmt.Errorf("netlink: %s: %d bytes is too large for an eager PUT", name, h.NBytes)}
	}
	if h.NBytes == 0 {
		// Nothing follows an empty array's PUT: it goes the usual way.
		return st, &localError{errors.New("netlink: an empty array has no eager PUT")}
	}
	if err := c.send(kindPut, &putBody{Name: name, Header: raw, Eager: h.NBytes}); err != nil {
		return st, err
	}
	var w int64
	if cl.opts.ForceCopy {
		w, err = a.CopyData(c.nc, 0, h.NBytes)
	} else {
		w, st.ZeroCopy, err = a.SendData(c.nc, 0, h.NBytes)
	}
	st.Bytes = w
	st.Method = sendMethod(st.ZeroCopy) + "->"
	if w > 0 && cl.opts.Progress != nil {
		cl.opts.Progress(w)
	}
	return st, c.explain(err)
}

// eagerReply reads the reply to the oldest eager PUT not yet answered.
func (cl *Client) eagerReply(c *conn) (*replyBody, error) {
	var r replyBody
	if err := c.expect(kindReply, &r); err != nil {
		return nil, err
	}
	return &r, replyErr(&r)
}
