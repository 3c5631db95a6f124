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

// landEager lands every block from rd into p, in order, checking each (the
// blocks p holds already are read and dropped), publishes the array, and
// closes p. A bad block does not stop the others from landing; its error
// is returned at the end, and the good blocks stay in the partial.
func landEager(p *mmapstore.Partial, rd *eagerReader) error {
	defer p.Close()
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
	if bad != nil {
		return bad
	}
	a, err := p.Complete()
	if err != nil {
		return err
	}
	return a.Close()
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

// eagerSent is one request the pipeline's writer has finished sending (or
// could not send: err), for its reader to match with a reply.
type eagerSent struct {
	i     int
	slot  bool // it holds one of the window's slots
	st    Stats
	start time.Time
	err   error
}

// pipeline runs n requests on the client's connection without waiting for
// each reply: send(c, i) writes request i while the replies to earlier ones
// are read, in order, by recv(c, i, &st), at most eagerWindow unanswered.
// done(i, ...) reports each outcome, in order, from one goroutine. An error
// of send or recv that is neither the server's (a REPLY) nor a localError
// means the connection is lost: pipeline returns it, having reported it for
// every request not done.
func (cl *Client) pipeline(ctx context.Context, op string, n int, send func(c *conn, i int) (Stats, error),
	recv func(c *conn, i int, st *Stats) error, done func(i int, st Stats, err error)) error {
	return cl.do(ctx, op, fmt.Sprintf("(%d arrays, pipelined)", n), func(c *conn) error {
		if !c.has(FeatureEager) {
			return &localError{fmt.Errorf("%w: the server does not pipeline (feature %q)", ErrUnsupported, FeatureEager)}
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
				s.st, s.err = send(c, i)
				sent <- s
			}
		}()
		var connErr error
		for s := range sent {
			if s.err == nil && connErr == nil {
				s.err = recv(c, s.i, &s.st)
			}
			var re *RemoteError
			var le *localError
			if s.err != nil && connErr == nil && !errors.As(s.err, &re) && !errors.As(s.err, &le) {
				connErr = s.err
				c.stop(s.err) // the writer stops too, reporting what it had not sent
			}
			if s.slot {
				<-slots
				s.st.Duration = time.Since(s.start)
			}
			if s.err == nil && connErr != nil {
				s.err = connErr
			}
			done(s.i, s.st, s.err)
		}
		return connErr
	})
}

// pushEager pushes n arrays as eager PUTs, pipelined, their data by
// sendfile. open(i) returns array i and the name to publish it under; each
// must have 1 to MaxEagerBytes bytes of data.
func (cl *Client) pushEager(ctx context.Context, n int, open func(i int) (*mmapstore.Array, string, error),
	done func(i int, st Stats, err error)) error {
	return cl.pipeline(ctx, "push", n, func(c *conn, i int) (Stats, error) { return cl.sendEager(c, open, i) },
		func(c *conn, _ int, st *Stats) error {
			var r replyBody
			if err := c.expect(kindReply, &r); err != nil {
				return err
			}
			st.Seeded, st.Method = r.Seeded, st.Method+r.Method
			return replyErr(&r)
		}, done)
}

// pullEager pulls n arrays with eager GETs, pipelined: names(i) gives array
// i's remote name and the local one it is published under. Each must have
// at most MaxEagerBytes of data (an array that has grown since is refused
// with arrayx.ErrTooLarge, to be pulled the usual way).
func (cl *Client) pullEager(ctx context.Context, n int, names func(i int) (string, string), store *mmapstore.Store,
	done func(i int, st Stats, err error)) error {
	return cl.pipeline(ctx, "pull", n, func(c *conn, i int) (Stats, error) {
		name, _ := names(i)
		return Stats{Version: c.version, Streams: 1, TLS: isTLS(c.nc)}, c.send(kindGet, &getBody{Name: name, Eager: true})
	}, func(c *conn, i int, st *Stats) error {
		_, as := names(i)
		var r replyBody
		if err := c.expect(kindReply, &r); err != nil {
			return err
		}
		if err := replyErr(&r); err != nil {
			return err // nothing follows a refusal
		}
		// The header says how many bytes follow: one we cannot read leaves
		// the connection out of step.
		h, err := arrayx.Unmarshal(r.Header, arrayx.Limits{MaxHeaderBytes: cl.opts.MaxHeaderBytes})
		if err != nil {
			return fmt.Errorf("%w: an eager GET's header: %w", ErrProtocol, err)
		}
		if h.NBytes > MaxEagerBytes {
			return fmt.Errorf("%w: an eager GET of %d bytes (at most %d)", ErrProtocol, h.NBytes, MaxEagerBytes)
		}
		st.ZeroCopy, st.Method = r.Method == "sendfile", r.Method+"->"+recvMethod
		rd := &eagerReader{c: c, left: h.NBytes}
		p, err := cl.receive(store, as, r.Header)
		if err == nil {
			st.Seeded, st.Resumed = seedFrom(store, p, as, nopLogger), p.Resumed()
			err = landEager(p, rd)
		}
		if derr := rd.discard(); derr != nil {
			return derr
		}
		st.Bytes = h.NBytes
		if cl.opts.Progress != nil && h.NBytes > 0 {
			cl.opts.Progress(h.NBytes)
		}
		if err != nil {
			return &localError{err}
		}
		return nil
	}, done)
}

// sendEager writes array i's eager PUT. An array that cannot be opened is
// reported as a local error: nothing was sent for it.
func (cl *Client) sendEager(c *conn, open func(i int) (*mmapstore.Array, string, error), i int) (Stats, error) {
	st := Stats{Version: c.version, Streams: 1, TLS: isTLS(c.nc)}
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
		// eager 0 would be an ordinary PUT: an empty array goes that way.
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

// handleEagerGet sends an array's data right after the reply to its GET
// (FeatureEager), by sendfile where it can: the client, which pipelines
// such GETs, reads it without asking. Only a published array of at most
// MaxEagerBytes goes this way; a larger one is refused (413) and nothing
// follows, so that the client can pull it the usual way.
func (c *serverConn) handleEagerGet(b *getBody) bool {
	cfg := &c.srv.cfg
	if !c.c.has(FeatureEager) {
		return c.fail(fmt.Errorf("%w: eager GET (feature %q was not agreed)", ErrUnsupported, FeatureEager))
	}
	if len(b.Transfer) > 0 {
		return c.fail(fmt.Errorf("%w: an eager GET cannot join a transfer", ErrProtocol))
	}
	a, err := c.srv.store.OpenWith(b.Name, &mmapstore.OpenOptions{Limits: cfg.limits()})
	if err != nil {
		return c.fail(err)
	}
	defer a.Close()
	n := a.Header().NBytes
	if n > MaxEagerBytes {
		return c.fail(fmt.Errorf("%w: %s has %d bytes, over the %d an eager GET carries", arrayx.ErrTooLarge, b.Name, n, MaxEagerBytes))
	}
	raw := a.RawHeader()
	if raw == nil {
		return c.fail(fmt.Errorf("%w: %s: reading its header", mmapstore.ErrFault, b.Name))
	}
	if err := a.CheckFile(); err != nil {
		return c.fail(err)
	}
	method := c.sendMethod()
	if c.reply(&replyBody{Status: StatusOK, Header: raw, Method: method}) != nil {
		return false
	}
	start := time.Now()
	if method == "sendfile" {
		_, _, err = a.SendData(c.c.nc, 0, n)
	} else {
		_, err = a.CopyData(c.c.nc, 0, n)
	}
	if err != nil {
		c.log.Info("eager GET failed", "name", b.Name, "err", err)
		return false // the client cannot tell what is missing: it sees the end
	}
	c.log.Info("sent", "name", b.Name, "eager", true, "bytes", n, "seconds", time.Since(start).Seconds(), "zero_copy", method == "sendfile")
	return true
}
