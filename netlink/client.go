package netlink

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
)

// DialOptions tunes a client. The zero value (or nil) means the defaults.
type DialOptions struct {
	// Token answers the server's challenge when it requires one.
	Token []byte
	// Timeout bounds connecting, each message, and each block or chunk of
	// data without progress (default 30 s).
	Timeout time.Duration
	// MaxHeaderBytes caps headers accepted from the server (default 1 MiB).
	MaxHeaderBytes int
	// MaxArrayBytes refuses pulls of larger arrays (default: no limit).
	MaxArrayBytes int64
	// Recv chooses how pulled data reaches the store.
	Recv RecvOptions
	// Sync is the sync mode for pulled arrays (default: the store's).
	Sync mmapstore.SyncMode
	// Progress, when set, is called with the data bytes moved since its last
	// call, after each block received or chunk sent (from one goroutine).
	Progress func(n int64)
	// ForceCopy makes Push write from the mapping instead of using
	// sendfile (for comparisons; Stats reports the method either way).
	ForceCopy bool
}

// Client is a connection to a netlink server. Its methods may be called
// from several goroutines; requests run one at a time.
type Client struct {
	conn   net.Conn
	opts   DialOptions
	mu     sync.Mutex
	broken error
	// cancel is the running request's ctx.Done(): the data phase checks it
	// whenever it renews a deadline, which would undo a cancellation.
	cancel <-chan struct{}
}

// Dial connects to addr ("host:port" for TCP, "unix:/path" or a path
// starting with "/" for a Unix socket) and performs the handshake.
func Dial(ctx context.Context, addr string, opts *DialOptions) (*Client, error) {
	o := DialOptions{}
	if opts != nil {
		o = *opts
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = arrayx.DefaultMaxHeaderBytes
	}
	network, address := "tcp", addr
	if rest, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, address = "unix", rest
	} else if strings.HasPrefix(addr, "/") {
		network = "unix"
	}
	d := net.Dialer{Timeout: o.Timeout}
	conn, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, fmt.Errorf("netlink: dial %s: %w", addr, err)
	}
	c := &Client{conn: conn, opts: o}
	err = c.withContext(ctx, func() error { return c.handshake() })
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("netlink: dial %s: %w", addr, err)
	}
	return c, nil
}

func (c *Client) handshake() error {
	c.conn.SetDeadline(time.Now().Add(c.opts.Timeout))
	defer c.conn.SetDeadline(time.Time{})
	if _, err := c.conn.Write(Magic[:]); err != nil {
		return err
	}
	if err := writeMsg(c.conn, kindHello, &body{Version: Version, Software: "arrayx"}); err != nil {
		return err
	}
	if err := readMagic(c.conn); err != nil {
		return err
	}
	kind, b, err := readMsg(c.conn, 4<<10)
	if err != nil {
		return err
	}
	if kind == kindReply { // refused before the handshake: busy or bad version
		return replyErr(b)
	}
	if kind != kindHello {
		return fmt.Errorf("%w: got %s, want HELLO", ErrProtocol, kindNames[kind])
	}
	if len(b.Nonce) == 0 {
		return nil
	}
	if len(c.opts.Token) == 0 {
		return fmt.Errorf("%w: the server requires a token", ErrUnauthorized)
	}
	if err := writeMsg(c.conn, kindAuth, &body{MAC: authMAC(c.opts.Token, b.Nonce)}); err != nil {
		return err
	}
	r, err := expect(c.conn, 4<<10, kindReply)
	if err != nil {
		return err
	}
	return replyErr(r)
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// withContext runs fn with ctx able to interrupt it: cancellation sets a
// deadline in the past, and the error then says the context ended.
func (c *Client) withContext(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
	c.cancel = ctx.Done()
	err := fn()
	c.cancel = nil
	if !stop() && ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// do runs one request: it serializes requests and marks the connection
// broken when fn leaves it in an unknown state.
func (c *Client) do(ctx context.Context, op, name string, fn func() error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken != nil {
		return fmt.Errorf("netlink: %s %s: %w: %v", op, name, ErrBroken, c.broken)
	}
	err := c.withContext(ctx, fn)
	if err == nil {
		return nil
	}
	var re *RemoteError
	var le *localError
	if !errors.As(err, &le) && (!errors.As(err, &re) || re.Status == StatusChecksum) {
		c.broken = err
		c.conn.Close()
	}
	return fmt.Errorf("netlink: %s %s: %w", op, name, err)
}

// request writes a request and reads its reply.
func (c *Client) request(kind byte, b *body) (*body, error) {
	c.conn.SetDeadline(time.Now().Add(c.opts.Timeout))
	defer c.conn.SetDeadline(time.Time{})
	if err := writeMsg(c.conn, kind, b); err != nil {
		return nil, err
	}
	r, err := expect(c.conn, maxMessage(c.opts.MaxHeaderBytes)+64<<20, kindReply)
	if err != nil {
		return nil, err
	}
	return r, replyErr(r)
}

// Stat returns the header of the named remote array.
func (c *Client) Stat(ctx context.Context, name string) (*arrayx.Header, error) {
	var h *arrayx.Header
	err := c.do(ctx, "stat", name, func() error {
		r, err := c.request(kindStat, &body{Name: name})
		if err != nil {
			return err
		}
		h, err = arrayx.Unmarshal(r.Header, arrayx.Limits{MaxHeaderBytes: c.opts.MaxHeaderBytes})
		if err != nil {
			return &localError{err}
		}
		return nil
	})
	return h, err
}

// List returns the remote store's arrays, sorted by name.
func (c *Client) List(ctx context.Context) ([]Entry, error) {
	var out []Entry
	err := c.do(ctx, "list", "", func() error {
		r, err := c.request(kindList, &body{})
		if r != nil {
			out = r.Arrays
		}
		return err
	})
	return out, err
}

// Delete removes the named remote array.
func (c *Client) Delete(ctx context.Context, name string) error {
	return c.do(ctx, "delete", name, func() error {
		_, err := c.request(kindDelete, &body{Name: name})
		return err
	})
}

// Push sends a sealed local array to the server, which publishes it under
// name once every block has verified. If the server holds part of this exact
// array from an interrupted transfer, only the rest is sent.
func (c *Client) Push(ctx context.Context, a *mmapstore.Array, name string) (Stats, error) {
	var st Stats
	err := c.do(ctx, "push", name, func() error {
		raw := a.RawHeader()
		if raw == nil {
			if a.Bytes() == nil {
				return &localError{mmapstore.ErrClosed}
			}
			return &localError{fmt.Errorf("%w: reading its header", mmapstore.ErrFault)}
		}
		r, err := c.request(kindPut, &body{Name: name, Header: raw})
		if err != nil {
			return err
		}
		h := a.Header()
		if r.Offset < 0 || r.Offset > h.NBytes || r.Offset%h.BlockSize != 0 && r.Offset != h.NBytes {
			return fmt.Errorf("%w: server asked for data from offset %d", ErrProtocol, r.Offset)
		}
		st.Resumed = r.Offset
		// The server may reject the data early (a bad block): watch for its
		// reply while sending, and stop sending when it comes.
		replyc := make(chan error, 1)
		var recvMethod string
		// No read deadline while the data goes out (the reply comes after the
		// last block); it is cleared here, not in the goroutine, so that it
		// cannot undo the deadline set below once sending is done.
		c.conn.SetReadDeadline(time.Time{})
		go func() {
			b, err := expect(c.conn, 64<<10, kindReply)
			if err == nil {
				recvMethod = b.Method
				err = replyErr(b)
			}
			if err != nil {
				c.conn.SetWriteDeadline(time.Unix(1, 0))
			}
			replyc <- err
		}()
		t := time.Now()
		n, zc, serr := sendData(c.conn, a.File(), a.Bytes(), h.DataOffset, r.Offset, h.NBytes-r.Offset, c.opts.Timeout, c.opts.ForceCopy, c.opts.Progress, c.cancel)
		st.Bytes, st.ZeroCopy = n, zc
		if serr != nil {
			c.conn.SetReadDeadline(time.Now().Add(time.Second))
			if rerr := <-replyc; rerr != nil && !errors.Is(rerr, os.ErrDeadlineExceeded) {
				return rerr // the server's reason beats our broken pipe
			}
			return serr
		}
		c.conn.SetReadDeadline(time.Now().Add(c.opts.Timeout))
		err = <-replyc
		c.conn.SetReadDeadline(time.Time{})
		st.Duration = time.Since(t)
		st.Method = map[bool]string{true: "sendfile", false: "write"}[zc] + "->" + recvMethod
		return err
	})
	return st, err
}

// Pull fetches the named remote array into store under the name as (name
// when empty), verifying every block as it arrives and publishing it
// atomically. A partial copy left by an interrupted Pull of the same array
// is resumed.
func (c *Client) Pull(ctx context.Context, name string, store *mmapstore.Store, as string) (Stats, error) {
	if as == "" {
		as = name
	}
	var st Stats
	err := c.do(ctx, "pull", name, func() error {
		r, err := c.request(kindGet, &body{Name: name})
		if err != nil {
			return err
		}
		// Our header limit first: Receive applies only the store's.
		_, err = arrayx.ParsePrefix(r.Header, arrayx.Limits{MaxHeaderBytes: c.opts.MaxHeaderBytes})
		var p *mmapstore.Partial
		if err == nil {
			p, err = store.Receive(as, r.Header, &mmapstore.ReceiveOptions{MaxBytes: c.opts.MaxArrayBytes, Sync: c.opts.Sync})
		}
		if err != nil {
			// Tell the server not to send; the connection stays usable.
			if werr := writeMsg(c.conn, kindFrom, &body{Cancel: true}); werr != nil {
				return werr
			}
			return &localError{err}
		}
		defer p.Close()
		st.Resumed = p.Held()
		if err := writeMsg(c.conn, kindFrom, &body{Offset: p.Held()}); err != nil {
			return err
		}
		t := time.Now()
		var method string
		st.Bytes, method, err = recvData(c.conn, p, c.opts.Recv, c.opts.Timeout, c.opts.Progress, c.cancel)
		st.Duration = time.Since(t)
		st.ZeroCopy = r.Method == "sendfile"
		st.Method = r.Method + "->" + method
		if err != nil {
			return err
		}
		a, err := p.Complete()
		if err != nil {
			return &localError{err}
		}
		return a.Close()
	})
	return st, err
}

// localError is a failure on our side that left the connection in sync.
type localError struct{ err error }

func (e *localError) Error() string { return e.err.Error() }
func (e *localError) Unwrap() error { return e.err }
