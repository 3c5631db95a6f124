package netlink

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
)

// DialOptions tunes a client: its limits, timeouts and transfers, the one
// place they are set. The zero value (or nil) means the defaults.
type DialOptions struct {
	// Token answers the server's challenge when it requires one.
	Token []byte
	// Timeout bounds connecting, each message, and each read of data or
	// chunk of data written without progress (default 30 s).
	Timeout time.Duration
	// MaxHeaderBytes caps headers accepted from the server (default 1 MiB).
	MaxHeaderBytes int
	// MaxArrayBytes refuses pulls of larger arrays (default: no limit).
	MaxArrayBytes int64
	// Sync is the sync mode for pulled arrays (default: the store's).
	Sync mmapstore.SyncMode
	// Streams is how many connections carry one Push or Pull (default
	// DefaultStreams). Extra connections are opened for the transfer and
	// closed after it; they need a version-2 server offering FeatureJoin,
	// and are not opened for transfers too small to share (under 64 MiB a
	// stream).
	Streams int
	// SendBuffer, when positive, sets the send buffer (SO_SNDBUF) of the
	// client's TCP connections instead of leaving it to the kernel's
	// autotuning, which stops at net.ipv4.tcp_wmem's maximum (4 MiB by
	// default): on a long, fast link one push then has more data in
	// flight. The kernel caps it at net.core.wmem_max. The receive buffer
	// is left to autotuning, whose maximum is usually larger.
	SendBuffer int
	// MaxVersion makes the client speak at most this protocol version
	// (default: Version), to talk to a peer as an older client would.
	MaxVersion int
	// Progress, when set, is called with the data bytes moved since its last
	// call, after each block received or chunk sent (one call at a time).
	Progress func(n int64)
	// Checked, when set, is called as a pull checks the blocks an
	// interrupted pull left, with the bytes checked since its last call
	// (from several goroutines); Held, once a transfer's receiver has said
	// how many bytes it holds already (resumed, or copied from its previous
	// version), which will not move. A progress display counts both.
	Checked, Held func(n int64)
	// TLS, when set, makes the client speak TLS 1.3 (at least) to the
	// server, verifying its certificate against TLS.RootCAs (nil: the
	// system's roots) for TLS.ServerName (empty: the address's host).
	TLS *tls.Config
	// ForceCopy makes Push read the array into a buffer and write it instead
	// of using sendfile (Stats reports the method either way). On the
	// project's PVM guest this was 1.3-1.5x faster over loopback and veth,
	// where the kernel's per-page work for sendfile costs more than copying
	// (bench/RESULTS.md); between real hosts sendfile spares the sender's
	// CPU.
	ForceCopy bool
}

// DefaultStreams is DialOptions.Streams's default, chosen from one
// interleaved run of the bench harness (bench/RESULTS.md, 1 GiB): two
// streams took 0.52-0.53x the time of one across namespaces with 20 and 50
// ms of round trip (one connection's 4 MiB send buffer was the limit), 0.84-
// 0.90x on loopback and between namespaces without delay, and the same time
// on a 1 Gbit/s link with 20 ms (one stream already filled it). Four
// streams gained more on the long uncapped link (0.30x) but cost the
// receiver twice the CPU and were slower for pull on loopback (1.25x) on
// this 2-core machine. Transfers under 128 MiB use one stream whatever the
// setting (an extra stream needs 64 MiB to carry).
const DefaultStreams = 2

func (o DialOptions) withDefaults() DialOptions {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = arrayx.DefaultMaxHeaderBytes
	}
	if o.Streams <= 0 {
		o.Streams = DefaultStreams
	}
	if o.MaxVersion <= 0 || o.MaxVersion > Version {
		o.MaxVersion = Version
	}
	return o
}

// Client is a connection to a netlink server. Its methods may be called
// from several goroutines; requests run one at a time.
type Client struct {
	addr        string
	opts        DialOptions
	mu          sync.Mutex
	c           *conn
	broken      error
	tokenUnused bool // the server asked for no token, and ours was not sent
}

// TokenUnused reports that the client has a token and the server asked for
// none: anyone may use that server, which its operator may not intend.
func (cl *Client) TokenUnused() bool { return cl.tokenUnused }

// Dial connects to addr ("host:port" for TCP, "unix:/path" or a path
// starting with "/" for a Unix socket) and performs the handshake.
func Dial(ctx context.Context, addr string, opts *DialOptions) (*Client, error) {
	var o DialOptions
	if opts != nil {
		o = *opts
	}
	cl := &Client{addr: addr, opts: o.withDefaults()}
	c, err := cl.dial(ctx)
	if err != nil {
		return nil, err
	}
	cl.c = c
	return cl, nil
}

// dial opens one connection and performs the handshake.
func (cl *Client) dial(ctx context.Context) (*conn, error) {
	o := &cl.opts
	network, address := "tcp", cl.addr
	if rest, ok := strings.CutPrefix(cl.addr, "unix:"); ok {
		network, address = "unix", rest
	} else if strings.HasPrefix(cl.addr, "/") {
		network = "unix"
	}
	d := net.Dialer{Timeout: o.Timeout}
	nc, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, fmt.Errorf("netlink: dial %s: %w", cl.addr, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok && o.SendBuffer > 0 {
		tc.SetWriteBuffer(o.SendBuffer)
	}
	if o.TLS != nil {
		raw := nc
		if nc, err = clientTLS(ctx, nc, o.TLS, address, o.Timeout); err != nil {
			raw.Close()
			return nil, fmt.Errorf("netlink: dial %s: %w", cl.addr, err)
		}
	}
	c, err := cl.start(ctx, nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("netlink: dial %s: %w", cl.addr, err)
	}
	return c, nil
}

// start performs the handshake on a new connection, within ctx.
func (cl *Client) start(ctx context.Context, nc net.Conn) (*conn, error) {
	c := newConn(nc, cl.opts.Timeout, cl.opts.Timeout, cl.opts.MaxHeaderBytes)
	release := c.watch(ctx)
	err := cl.handshake(c)
	if !release() && ctx.Err() != nil {
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	if err != nil {
		return nil, err
	}
	c.nc.SetDeadline(time.Time{})
	return c, nil
}

func (cl *Client) handshake(c *conn) error {
	if err := c.deadline(false, cl.opts.Timeout); err != nil {
		return err
	}
	if err := c.deadline(true, cl.opts.Timeout); err != nil {
		return err
	}
	hb := clientHello(cl.opts.MaxVersion)
	ours, feats := hb.Versions, hb.Features
	if _, err := c.nc.Write(Magic[:]); err != nil {
		return c.explain(err)
	}
	if err := writeMsg(c.nc, Version1, kindHello, hb); err != nil {
		return c.explain(err)
	}
	if err := readMagic(c.nc); err != nil {
		return c.explain(err)
	}
	f, err := readFrame(c.nc, func(byte) int { return 4 << 10 })
	if err != nil {
		return c.explain(err)
	}
	if f.version != Version1 {
		return fmt.Errorf("%w: HELLO frame of version %d", ErrProtocol, f.version)
	}
	if f.kind == kindReply { // refused before the handshake: busy or bad version
		var r replyBody
		if err := f.decode(&r, false); err != nil {
			return err
		}
		return replyErr(&r)
	}
	if f.kind != kindHello {
		return fmt.Errorf("%w: got %s, want HELLO", ErrProtocol, kindName(f.kind))
	}
	var hello helloBody
	if err := f.decode(&hello, false); err != nil {
		return err
	}
	v := hello.Version
	if len(hello.Versions) > 0 {
		if common, _ := agree(hello.Versions, nil, nil); common == 0 || !slices.Contains(ours, v) {
			// The server says why in a REPLY that follows.
			var r replyBody
			if err := c.expect(kindReply, &r); err == nil && replyErr(&r) != nil {
				return replyErr(&r)
			}
			return fmt.Errorf("%w: the server speaks versions %v, this client %v", ErrProtocol, hello.Versions, ours)
		}
	} else if v != Version1 {
		return fmt.Errorf("%w: a server without a versions list answered version %d", ErrProtocol, v)
	}
	c.version = v
	for _, x := range hello.Features {
		if slices.Contains(feats, x) {
			c.features = append(c.features, x)
		}
	}
	if len(hello.Nonce) == 0 {
		cl.tokenUnused = len(cl.opts.Token) > 0
		return nil
	}
	if len(cl.opts.Token) == 0 {
		return fmt.Errorf("%w: the server requires a token", ErrUnauthorized)
	}
	_, err = c.request(kindAuth, &authBody{MAC: authMAC(cl.opts.Token, hello.Nonce)})
	return err
}

// clientHello is the HELLO a client speaking at most maxVersion sends.
// version stays 1: a version-1 server refuses any other value, and reads
// versions and features as unknown keys it ignores.
func clientHello(maxVersion int) *helloBody {
	ours := slices.DeleteFunc(slices.Clone(versions), func(v int) bool { return v > maxVersion })
	var feats []string
	if maxVersion >= Version2 {
		feats = []string{FeatureJoin, FeatureRelay, FeatureEager}
	}
	return &helloBody{Version: Version1, Versions: ours, Features: feats, Software: "arrayx"}
}

// Version returns the protocol version agreed with the server.
func (cl *Client) Version() int { return cl.c.version }

// Reconnect replaces the client's connection with a new one to the same
// address, as Dial made it: after ErrBroken, or a server restart, a
// long-lived client carries on.
func (cl *Client) Reconnect(ctx context.Context) error {
	c, err := cl.dial(ctx)
	if err != nil {
		return err
	}
	cl.mu.Lock()
	old := cl.c
	cl.c, cl.broken = c, nil
	cl.mu.Unlock()
	old.nc.Close()
	return nil
}

// Close closes the connection.
func (cl *Client) Close() error { return cl.c.nc.Close() }

// do runs one request on the main connection: it serializes requests, lets
// ctx interrupt them, and marks the connection broken when fn leaves it in
// an unknown state.
func (cl *Client) do(ctx context.Context, op, name string, fn func(c *conn) error) error {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.broken != nil {
		return fmt.Errorf("netlink: %s %s: %w: %v", op, name, ErrBroken, cl.broken)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("netlink: %s %s: %w", op, name, err)
	}
	c := cl.c
	release := c.watch(ctx)
	err := fn(c)
	if !release() && ctx.Err() != nil && err != nil && !errors.Is(err, ctx.Err()) {
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	if err == nil {
		return nil
	}
	var re *RemoteError
	var le *localError
	if c.stopCause() != nil || !errors.As(err, &le) && (!errors.As(err, &re) || re.Status == StatusChecksum) {
		cl.broken = err
		c.nc.Close()
	}
	return fmt.Errorf("netlink: %s %s: %w", op, name, err)
}

// Stat returns the header of the named remote array.
func (cl *Client) Stat(ctx context.Context, name string) (*arrayx.Header, error) {
	var h *arrayx.Header
	err := cl.do(ctx, "stat", name, func(c *conn) error {
		r, err := c.request(kindStat, &nameBody{Name: name})
		if err != nil {
			return err
		}
		h, err = arrayx.Unmarshal(r.Header, arrayx.Limits{MaxHeaderBytes: cl.opts.MaxHeaderBytes})
		if err != nil {
			return &localError{err}
		}
		return nil
	})
	return h, err
}

// List returns the remote store's arrays whose names start with prefix
// ("" for all), sorted by name, with their digests (from a version-2
// server). A version-2 server answers in pages, fetched in turn.
func (cl *Client) List(ctx context.Context, prefix string) ([]Entry, error) {
	var out []Entry
	err := cl.do(ctx, "list", prefix, func(c *conn) error {
		if c.version == Version1 {
			r, err := c.request(kindList, &struct{}{})
			if err != nil {
				return err
			}
			for _, e := range r.Arrays {
				if strings.HasPrefix(e.Name, prefix) {
					out = append(out, e)
				}
			}
			return nil
		}
		after := ""
		for {
			r, err := c.request(kindList, &listBody{Prefix: prefix, After: after})
			if err != nil {
				return err
			}
			out = append(out, r.Arrays...)
			if r.Next == "" {
				return nil
			}
			if r.Next <= after {
				return fmt.Errorf("%w: LIST pages do not advance (next %q after %q)", ErrProtocol, r.Next, after)
			}
			after = r.Next
		}
	})
	return out, err
}

// Delete removes the named remote array.
func (cl *Client) Delete(ctx context.Context, name string) error {
	return cl.do(ctx, "delete", name, func(c *conn) error {
		_, err := c.request(kindDelete, &nameBody{Name: name})
		return err
	})
}

// streamMin is the least data worth a stream of its own: one assignment.
// A variable, so that tests can use several streams on small arrays.
var streamMin int64 = assignBytes

// streamsFor is how many connections a transfer of missing bytes gets on c.
func (cl *Client) streamsFor(c *conn, missing int64) int {
	if c.version < Version2 || !c.has(FeatureJoin) {
		return 1
	}
	return max(1, min(cl.opts.Streams, int(missing/streamMin)))
}

// extraStreams runs n more connections for a transfer: each is dialed,
// joins with join, and is closed after run. It returns a function that
// waits for them and reports how many carried data and the first error of
// one that failed other than by finding the transfer over.
func (cl *Client) extraStreams(ctx context.Context, n int, join func(c *conn) error, run func(c *conn) error) func() (int, error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	joined := 0
	var first error
	for range n {
		wg.Go(func() {
			c, err := cl.dial(ctx)
			if err == nil {
				defer c.nc.Close()
				release := c.watch(ctx)
				defer release()
				if err = join(c); err == nil {
					mu.Lock()
					joined++
					mu.Unlock()
					err = run(c)
				}
			}
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	return func() (int, error) {
		wg.Wait()
		return joined, first
	}
}

// Push sends a sealed local array to the server, which publishes it under
// name once every block has verified. Only the blocks the server lacks
// cross the network: those of an interrupted transfer it kept, and (from a
// version-2 server) those its previous version of the array holds
// unchanged. With DialOptions.Streams above 1, several connections carry
// the blocks; one that fails leaves its blocks to the others.
func (cl *Client) Push(ctx context.Context, a *mmapstore.Array, name string) (Stats, error) {
	st, _, err := cl.push(ctx, a, name, nil)
	return st, err
}

// PushChain pushes a to the server as Push does, and has it relayed down
// next, a chain of further hosts (host:port, as each host reaches the next):
// every host verifies each block, forwards it as soon as it has, and
// publishes the array; the client sends it once. The server needs
// FeatureRelay, which it offers when it has a token (the hosts share it)
// and relaying is on. The error is the first host's; how each host after
// it fared is in the HostStats, in chain order (HostStats.Err). A host that
// fails is cut out: the host before it carries on with the next.
func (cl *Client) PushChain(ctx context.Context, a *mmapstore.Array, name string, next []string) (Stats, []HostStats, error) {
	return cl.push(ctx, a, name, next)
}

func (cl *Client) push(ctx context.Context, a *mmapstore.Array, name string, chain []string) (Stats, []HostStats, error) {
	var st Stats
	var hosts []HostStats
	err := cl.do(ctx, "push", name, func(c *conn) error {
		raw := a.RawHeader()
		if raw == nil {
			if a.Bytes() == nil {
				return &localError{mmapstore.ErrClosed}
			}
			return &localError{fmt.Errorf("%w: reading its header", mmapstore.ErrFault)}
		}
		st.Version, st.TLS = c.version, isTLS(c.nc)
		if len(chain) > 0 && !c.has(FeatureRelay) {
			return &localError{fmt.Errorf("%w: the server does not relay (it needs a token, relaying on, protocol version 2)", ErrUnsupported)}
		}
		if c.version == Version1 {
			return cl.pushV1(c, a, name, raw, &st)
		}
		h := a.Header()
		// How many streams: all that the array could use; the server's
		// reply may show that fewer are worth opening.
		streams := cl.streamsFor(c, h.NBytes)
		pb := &putBody{Name: name, Header: raw, Chain: chain}
		if streams > 1 {
			pb.Streams = streams
		}
		r, err := c.request(kindPut, pb)
		if err != nil {
			return err
		}
		if len(r.Transfer) == 0 || r.Held < 0 || r.Held > h.NBytes || r.Seeded < 0 || r.Seeded > r.Held {
			return fmt.Errorf("%w: PUT reply with transfer %x, held %d, seeded %d", ErrProtocol, r.Transfer, r.Held, r.Seeded)
		}
		st.Resumed, st.Seeded = r.Held-r.Seeded, r.Seeded
		cl.held(r.Held)
		s := newSendTransfer(r.Transfer, name, arraySource{a}, cl.opts.ForceCopy, cl.opts.Progress)
		s.chained = len(chain) > 0
		var mu sync.Mutex
		published := false // a stream got the server's final 200
		recvMethod := ""
		stream := func(x *conn) error {
			res, err := s.serve(x, true)
			mu.Lock()
			defer mu.Unlock()
			st.add(res)
			if err == nil && res.final != nil {
				published, recvMethod = true, res.final.Method
				st.Refetched = res.final.Refetched
				hosts = res.final.Hosts
			}
			return err
		}
		start := time.Now()
		wait := cl.extraStreams(ctx, min(streams, cl.streamsFor(c, h.NBytes-r.Held))-1,
			func(x *conn) error {
				_, err := x.request(kindPut, &putBody{Name: name, Header: raw, Transfer: r.Transfer})
				return err
			}, stream)
		err = stream(c)
		joined, _ := wait()
		st.Streams = 1 + joined
		st.Duration = time.Since(start)
		st.Method = sendMethod(st.ZeroCopy) + "->" + recvMethod
		if err != nil && published {
			// The other streams finished the transfer; this connection is lost.
			cl.lose(c, err)
			return nil
		}
		if err != nil {
			cl.lose(c, err) // the server closes after a failed data phase
		}
		return err
	})
	return st, hosts, err
}

// held reports what a transfer's receiver holds already to DialOptions.Held.
func (cl *Client) held(n int64) {
	if cl.opts.Held != nil {
		cl.opts.Held(n)
	}
}

// lose marks the main connection broken while the request it carried
// succeeded on other streams.
func (cl *Client) lose(c *conn, err error) {
	cl.broken = err
	c.nc.Close()
}

func sendMethod(zeroCopy bool) string {
	if zeroCopy {
		return "sendfile"
	}
	return "write"
}

// add counts one stream's part of a push.
func (st *Stats) add(r sendResult) {
	if st.Streams == 0 {
		st.ZeroCopy = true
	}
	st.Streams++
	st.Bytes += r.bytes
	st.ZeroCopy = st.ZeroCopy && r.zeroCopy
}

func (cl *Client) pushV1(c *conn, a *mmapstore.Array, name string, raw []byte, st *Stats) error {
	r, err := c.request(kindPut, &putBody{Name: name, Header: raw})
	if err != nil {
		return err
	}
	h := a.Header()
	if r.Offset < 0 || r.Offset > h.NBytes || r.Offset%h.BlockSize != 0 && r.Offset != h.NBytes {
		return fmt.Errorf("%w: server asked for data from offset %d", ErrProtocol, r.Offset)
	}
	st.Resumed, st.Streams = r.Offset, 1
	cl.held(r.Offset)
	// The server may reject the data early (a bad block): watch for its
	// reply while sending, and stop sending when it comes.
	replyc := make(chan *replyBody, 1)
	errc := make(chan error, 1)
	if err := c.deadline(true, 0); err != nil { // no read deadline while the data goes out
		return err
	}
	go func() {
		var b replyBody
		f, err := c.read(c.nc) // the deadline is set below, once the data is out
		if err == nil && f.kind != kindReply {
			err = fmt.Errorf("%w: got %s, want REPLY", ErrProtocol, kindName(f.kind))
		}
		if err == nil {
			err = f.decode(&b, false)
		}
		if err == nil {
			err = replyErr(&b)
		}
		if err != nil {
			c.stop(err) // interrupts the send; its error becomes this one
		}
		replyc <- &b
		errc <- err
	}()
	start := time.Now()
	n, zc, serr := v1Send(c, a, r.Offset, cl.opts.ForceCopy, cl.opts.Progress)
	st.Bytes, st.ZeroCopy = n, zc
	if serr == nil {
		serr = c.deadline(true, cl.opts.Timeout) // now the reply must come
	}
	if serr != nil && c.stopCause() == nil {
		c.stop(serr)
	}
	b, rerr := <-replyc, <-errc
	st.Duration = time.Since(start)
	st.Method = sendMethod(zc) + "->" + b.Method
	if serr != nil && rerr == nil {
		return serr
	}
	return rerr // the server's reason beats our broken pipe
}

// Pull fetches the named remote array into store under the name as (name
// when empty), verifying every block as it arrives and publishing it
// atomically. Blocks the store already has are not fetched: those a pull
// interrupted earlier left, and those its current array of that name holds
// unchanged. With DialOptions.Streams above 1, several connections carry
// the blocks; one that fails leaves its blocks to the others.
func (cl *Client) Pull(ctx context.Context, name string, store *mmapstore.Store, as string) (Stats, error) {
	if as == "" {
		as = name
	}
	var st Stats
	err := cl.do(ctx, "pull", name, func(c *conn) error {
		st.Version, st.TLS = c.version, isTLS(c.nc)
		if c.version == Version1 {
			return cl.pullV1(c, name, store, as, &st)
		}
		r, err := c.request(kindGet, &getBody{Name: name})
		if err != nil {
			return err
		}
		if len(r.Transfer) == 0 {
			return fmt.Errorf("%w: GET reply without a transfer id", ErrProtocol)
		}
		p, err := cl.receive(store, as, r.Header)
		if err != nil {
			// Tell the server not to send; the connection stays usable.
			if werr := c.send(kindNeed, &needBody{Transfer: r.Transfer}); werr != nil {
				return werr
			}
			return &localError{err}
		}
		st.Seeded = seedFrom(store, p, as, nopLogger)
		st.Resumed = p.Resumed()
		cl.held(p.Held())
		t := newRecvTransfer(r.Transfer, as, p.RawHeader(), p, cl.opts.Progress)
		defer p.Close() // kept for a resume unless published
		streams := cl.streamsFor(c, p.Header().NBytes-p.Held())
		t.expect = streams
		t.attach(c, streams)
		start := time.Now()
		end := func(x *conn) error { return x.send(kindNeed, &needBody{Transfer: r.Transfer}) }
		wait := cl.extraStreams(ctx, streams-1,
			func(x *conn) error {
				xr, err := x.request(kindGet, &getBody{Name: name, Transfer: r.Transfer})
				if err == nil && !bytes.Equal(xr.Header, r.Header) {
					err = fmt.Errorf("%w: a joined GET sent another header", ErrProtocol)
				}
				if err == nil && !t.attach(x, streams) {
					err = fmt.Errorf("%w: the transfer is over", fs.ErrNotExist)
					end(x)
				}
				return err
			},
			func(x *conn) error {
				if err := t.serve(x); err != nil {
					return err
				}
				return end(x)
			})
		err = t.serve(c)
		switch {
		case err == nil:
			err = end(c)
		case t.ended() && t.result() == nil:
			cl.lose(c, err) // the other streams finished the transfer
			err = nil
		default:
			cl.lose(c, err) // blocks asked for may still be on their way
		}
		joined, _ := wait()
		st.Streams = 1 + joined
		st.Duration = time.Since(start)
		st.Bytes, st.Refetched = t.stats()
		st.ZeroCopy = r.Method == "sendfile"
		st.Method = r.Method + "->" + recvMethod
		return err
	})
	return st, err
}

// nopLogger discards; the client has no log.
var nopLogger = slog.New(slog.DiscardHandler)

// receive opens the partial for a pulled array: our header limit first
// (Receive applies only the store's), then the store's checks.
func (cl *Client) receive(store *mmapstore.Store, as string, header []byte) (*mmapstore.Partial, error) {
	if _, err := arrayx.ParsePrefix(header, arrayx.Limits{MaxHeaderBytes: cl.opts.MaxHeaderBytes}); err != nil {
		return nil, err
	}
	return store.Receive(as, header, &mmapstore.ReceiveOptions{MaxBytes: cl.opts.MaxArrayBytes, Sync: cl.opts.Sync,
		Checked: cl.opts.Checked})
}

func (cl *Client) pullV1(c *conn, name string, store *mmapstore.Store, as string, st *Stats) error {
	r, err := c.request(kindGet, &getBody{Name: name})
	if err != nil {
		return err
	}
	p, err := cl.receive(store, as, r.Header)
	if err != nil {
		if werr := c.send(kindFrom, &fromBody{Cancel: true}); werr != nil {
			return werr
		}
		return &localError{err}
	}
	defer p.Close()
	st.Seeded = seedFrom(store, p, as, nopLogger)
	st.Resumed, st.Streams = p.Resumed(), 1
	cl.held(p.Held())
	off := v1Offset(p)
	if err := c.send(kindFrom, &fromBody{Offset: off}); err != nil {
		return err
	}
	start := time.Now()
	st.Bytes, err = v1Recv(c, p, off, cl.opts.Progress)
	st.Duration = time.Since(start)
	st.ZeroCopy = r.Method == "sendfile"
	st.Method = r.Method + "->" + recvMethod
	if err != nil {
		return err
	}
	a, err := p.Complete()
	if err != nil {
		return &localError{err}
	}
	return a.Close()
}

// localError is a failure on our side that left the connection in step.
type localError struct{ err error }

func (e *localError) Error() string { return e.err.Error() }
func (e *localError) Unwrap() error { return e.err }
