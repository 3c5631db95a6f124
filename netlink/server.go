package netlink

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
)

// Config holds a server's limits and timeouts, the one place they are set.
// Zero values mean the defaults. The HTTP endpoint (HTTPServer) honours the
// ones it shares: MaxHeaderBytes, MaxConns, the three timeouts, Token and
// Logger.
type Config struct {
	// MaxHeaderBytes caps an array header (default 1 MiB, as for files); a
	// PUT message may be this plus 64 KiB.
	MaxHeaderBytes int
	// MaxArrayBytes refuses PUTs of arrays with more data bytes (default: no limit).
	MaxArrayBytes int64
	// MaxConns caps simultaneous connections (default 256); more are told
	// StatusUnavailable and closed.
	MaxConns int
	// MaxStreams caps the connections that may carry one transfer
	// (default 8). 1 turns joining off: the server does not offer
	// FeatureJoin.
	MaxStreams int
	// IdleTimeout closes a connection that sends no request for this long (default 5 min).
	IdleTimeout time.Duration
	// ReadTimeout bounds the handshake, reading one message once its first
	// byte has come, and each read of data without progress (default 30 s).
	ReadTimeout time.Duration
	// WriteTimeout bounds writing one message, and one chunk of data (default 30 s).
	WriteTimeout time.Duration
	// SendBuffer, when positive, sets the send buffer (SO_SNDBUF) of
	// accepted TCP connections, for pulls over long, fast links (see
	// DialOptions.SendBuffer).
	SendBuffer int
	// ForceCopy makes pulls read the array into a buffer and write it
	// instead of using sendfile (see DialOptions.ForceCopy).
	ForceCopy bool
	// NoRelay turns relaying off (FeatureRelay). A server relays only when
	// it has a Token, so only for clients that authenticated, and forwards
	// with that same token.
	NoRelay bool
	// MaxChain caps the hosts a relayed PUT may list after this one
	// (default DefaultMaxChain).
	MaxChain int
	// ReadOnly refuses PUT and DELETE.
	ReadOnly bool
	// Token, when set, is required from clients (HMAC challenge-response).
	Token []byte
	// Sync is the sync mode for arrays received by PUT (default SyncAuto).
	Sync mmapstore.SyncMode
	// PartialMaxAge governs the cleaning a server does when it starts
	// serving (unless ReadOnly): it removes the temporary files that crashed
	// writers left in the store (never a live writer's, in any process:
	// mmapstore.Store.Clean), and the partial files of interrupted transfers
	// last modified more than PartialMaxAge ago (default 24 h; negative keeps
	// them all). Younger partials stay, and the next transfer of the same
	// array resumes from them.
	PartialMaxAge time.Duration
	// CleanEvery is how often the server cleans again while it serves, as
	// at the start and by the same PartialMaxAge (default 10 min; negative:
	// only at the start), so that a long-lived server does not keep what
	// writers that died since left.
	CleanEvery time.Duration
	// Logger receives one line per connection and per request (default: discard).
	Logger *slog.Logger
	// TLS, when set, makes the server speak TLS 1.3 (at least) on every
	// connection, binary and HTTP; it needs a certificate. Data is then
	// copied through the cipher, not sent by sendfile.
	TLS *tls.Config
	// RelayTLS is the client configuration a relaying server dials the next
	// host with (nil: plaintext).
	RelayTLS *tls.Config
}

func (c Config) withDefaults() Config {
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = arrayx.DefaultMaxHeaderBytes
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 256
	}
	if c.MaxStreams <= 0 {
		c.MaxStreams = DefaultMaxStreams
	}
	if c.MaxChain <= 0 {
		c.MaxChain = DefaultMaxChain
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 5 * time.Minute
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 30 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.PartialMaxAge == 0 {
		c.PartialMaxAge = DefaultPartialMaxAge
	}
	if c.CleanEvery == 0 {
		c.CleanEvery = DefaultCleanEvery
	}
	return c
}

// DefaultPartialMaxAge is Config.PartialMaxAge's default.
const DefaultPartialMaxAge = 24 * time.Hour

// DefaultMaxStreams is Config.MaxStreams's default.
const DefaultMaxStreams = 8

// DefaultMaxChain is Config.MaxChain's default: a relayed push reaches at
// most 17 hosts.
const DefaultMaxChain = 16

// listPage is the most arrays a version-2 LIST reply carries.
const listPage = 1000

func (c *Config) limits() arrayx.Limits { return arrayx.Limits{MaxHeaderBytes: c.MaxHeaderBytes} }

// features is what the server offers in HELLO.
func (c *Config) features() []string {
	f := []string{FeatureEager}
	if c.MaxStreams > 1 {
		f = append(f, FeatureJoin)
	}
	if !c.NoRelay && len(c.Token) > 0 {
		f = append(f, FeatureRelay)
	}
	return f
}

// Server serves a store's arrays to netlink clients.
type Server struct {
	store *mmapstore.Store
	cfg   Config

	cleanOnce sync.Once
	cleanStop chan struct{} // closed to stop the periodic cleaning (s.mu)

	mu        sync.Mutex
	listeners map[net.Listener]bool
	conns     map[*serverConn]bool
	closing   bool
	done      chan struct{} // closed when the last connection ends after Shutdown
	recvs     map[string]*recvTransfer
	sends     map[string]*sendTransfer
	// ctx ends at Close: relays pushing down their chains stop then.
	ctx    context.Context
	cancel context.CancelFunc
	// tls is Config.TLS at 1.3 at least; handshakes bounds the TLS
	// handshakes under way.
	tls        *tls.Config
	handshakes chan struct{}
}

// NewServer returns a server for store.
func NewServer(store *mmapstore.Store, cfg Config) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{store: store, cfg: cfg.withDefaults(),
		listeners: map[net.Listener]bool{}, conns: map[*serverConn]bool{},
		recvs: map[string]*recvTransfer{}, sends: map[string]*sendTransfer{}, ctx: ctx, cancel: cancel}
	if cfg.TLS != nil {
		s.tls = minTLS(cfg.TLS)
		s.handshakes = make(chan struct{}, s.cfg.MaxConns)
	}
	return s
}

// Serve accepts connections on l until Shutdown or Close, and returns
// ErrServerClosed then.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[l] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	s.cleanOnce.Do(s.startCleaning)
	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.isClosing() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) ||
				errors.Is(err, errTooManyFiles) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second) // back off, as net/http does
				s.cfg.Logger.Warn("accept", "err", err, "retry_in", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		if s.tls == nil {
			s.start(nc)
			continue
		}
		// The TLS handshake runs on its own goroutine, at most MaxConns at
		// once, so that a slow client does not hold up the others.
		select {
		case s.handshakes <- struct{}{}:
			go func() {
				defer func() { <-s.handshakes }()
				tc, err := s.startTLS(nc)
				if err != nil {
					s.cfg.Logger.Info("TLS handshake failed", "remote", nc.RemoteAddr().String(), "err", err)
					nc.Close()
					return
				}
				s.start(tc)
			}()
		default:
			nc.Close()
		}
	}
}

// start serves a connection, or refuses it when the server is full or
// closing.
func (s *Server) start(nc net.Conn) {
	c := s.newConn(nc)
	if !s.track(c) {
		go c.refuse()
		return
	}
	go c.serve()
}

// newConn wraps an accepted connection.
func (s *Server) newConn(nc net.Conn) *serverConn {
	if tc, ok := nc.(*net.TCPConn); ok && s.cfg.SendBuffer > 0 {
		tc.SetWriteBuffer(s.cfg.SendBuffer)
	}
	return &serverConn{srv: s, c: newConn(nc, s.cfg.ReadTimeout, s.cfg.WriteTimeout, s.cfg.MaxHeaderBytes),
		log: s.cfg.Logger.With("remote", nc.RemoteAddr().String())}
}

// clean removes what crashed writers and old interrupted transfers left in
// the store (Config.PartialMaxAge), once, before the first connection.
func (s *Server) clean() {
	if s.cfg.ReadOnly {
		return
	}
	opts := &mmapstore.CleanOptions{}
	if s.cfg.PartialMaxAge > 0 {
		opts.PartialsOlderThan = s.cfg.PartialMaxAge
	}
	res, err := s.store.Clean(opts)
	if err != nil {
		s.cfg.Logger.Warn("cleaning the store", "err", err)
	}
	if len(res.Removed) > 0 || res.InUse > 0 || res.Kept > 0 {
		s.cfg.Logger.Info("cleaned the store", "removed", len(res.Removed), "bytes", res.Bytes,
			"in_use", res.InUse, "partials_kept", res.Kept)
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// track registers a connection; false means over the limit or closing.
func (s *Server) track(c *serverConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing || len(s.conns) >= s.cfg.MaxConns {
		return false
	}
	s.conns[c] = true
	return true
}

func (s *Server) untrack(c *serverConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if s.closing && len(s.conns) == 0 && s.done != nil {
		close(s.done)
		s.done = nil
	}
}

// Shutdown stops accepting, closes idle connections, and waits for requests
// in progress to finish. When ctx ends first, it interrupts them (partial
// PUTs stay on disk and resume with the next PUT of the same array) and
// returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.stopCleaning()
	for l := range s.listeners {
		l.Close()
	}
	done := make(chan struct{})
	if len(s.conns) == 0 {
		close(done)
	} else {
		s.done = done
	}
	for c := range s.conns {
		c.closeIfIdle()
	}
	s.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// Close stops the server at once, interrupting transfers in progress.
func (s *Server) Close() error {
	s.cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing = true
	s.stopCleaning()
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		c.c.stop(ErrServerClosed)
		c.c.nc.Close()
	}
	return nil
}

// The transfers in progress, by id, so that other connections can join them.

func (s *Server) addRecv(t *recvTransfer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recvs[string(t.id)] = t
}

// dropRecv forgets t once no connection carries it, closing its partial
// (kept on disk for a resume) unless it was published. A connection
// joining meanwhile keeps it.
func (s *Server) dropRecv(t *recvTransfer) {
	s.mu.Lock()
	t.mu.Lock()
	last := len(t.conns) == 0
	if last {
		t.finishing = true // no join may attach from now on
		delete(s.recvs, string(t.id))
	}
	t.mu.Unlock()
	s.mu.Unlock()
	if last {
		t.closePartial()
	}
}

func (s *Server) lookupRecv(id []byte) *recvTransfer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recvs[string(id)]
}

func (s *Server) addSend(t *sendTransfer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sends[string(t.id)] = t
}

// joinSend takes a reference to the send transfer id, if it is still on.
func (s *Server) joinSend(id []byte, name string) (*sendTransfer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.sends[string(id)]
	if t == nil {
		return nil, fmt.Errorf("netlink: no transfer %x in progress: %w", id, fs.ErrNotExist)
	}
	if t.name != name {
		return nil, fmt.Errorf("%w: transfer %x sends another array", ErrProtocol, id)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.refs >= s.cfg.MaxStreams {
		return nil, fmt.Errorf("%w: transfer %x already has %d streams, the most this server allows", mmapstore.ErrBusy, id, t.refs)
	}
	t.refs++
	return t, nil
}

// dropSend releases a reference; the last one closes the array.
func (s *Server) dropSend(t *sendTransfer) {
	s.mu.Lock()
	t.mu.Lock()
	t.refs--
	last := t.refs == 0
	if last {
		delete(s.sends, string(t.id))
	}
	t.mu.Unlock()
	s.mu.Unlock()
	if last {
		t.close()
	}
}

// serverConn is one client connection, served sequentially.
type serverConn struct {
	srv *Server
	c   *conn
	log *slog.Logger

	mu   sync.Mutex
	busy bool // a request is in progress
	shut bool // shutdown asked the connection to stop when idle
}

// begin marks a request in progress; false means shutdown came first.
func (c *serverConn) begin() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.shut {
		return false
	}
	c.busy = true
	return true
}

func (c *serverConn) closeIfIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shut = true
	if !c.busy {
		c.c.stop(ErrServerClosed) // wakes the idle read
	}
}

// refuse tells a connection over the limit why, and closes it.
func (c *serverConn) refuse() {
	nc := c.c.nc
	nc.SetDeadline(time.Now().Add(time.Second))
	nc.Write(Magic[:])
	writeMsg(nc, Version1, kindReply, &replyBody{Status: StatusUnavailable, Code: "unavailable", Message: "too many connections, or shutting down"})
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	io.CopyN(io.Discard, nc, 64<<10)
	nc.Close()
}

func (c *serverConn) serve() {
	defer c.srv.untrack(c)
	defer c.c.nc.Close()
	start := time.Now()
	if err := c.handshake(); err != nil {
		c.log.Info("handshake failed", "err", err)
		return
	}
	c.log.Debug("connected", "version", c.c.version, "features", c.c.features)
	cfg := &c.srv.cfg
	for {
		c.mu.Lock()
		if c.shut {
			c.mu.Unlock()
			return
		}
		c.busy = false
		c.mu.Unlock()
		f, err := c.c.recv(cfg.IdleTimeout)
		if err != nil {
			var bf *errBeforeFrame
			switch {
			case errors.As(err, &bf), errors.Is(err, ErrServerClosed), errors.Is(err, net.ErrClosed):
				c.log.Debug("disconnected", "after", time.Since(start), "err", err)
				return
			case errors.Is(err, ErrUnsupported) && c.c.version >= Version2:
				// The whole frame was read: say so and go on.
				if !c.fail(err) {
					return
				}
				continue
			}
			c.log.Info("bad request", "err", err)
			c.fail(err)
			return
		}
		if !c.begin() {
			return
		}
		if !c.handle(f) {
			return
		}
	}
}

// handshake exchanges magic and HELLO, agrees on a version and features,
// and checks the token if one is set.
func (c *serverConn) handshake() error {
	cfg := &c.srv.cfg
	nc := c.c.nc
	nc.SetDeadline(time.Now().Add(cfg.ReadTimeout))
	defer nc.SetDeadline(time.Time{})
	var m [len(Magic)]byte
	if _, err := io.ReadFull(nc, m[:]); err != nil {
		return err
	}
	if m[0] == tlsHandshakeRecord && m[1] == tlsMajor && c.srv.tls == nil {
		err := fmt.Errorf("%w: this server does not use TLS, and the client spoke TLS", ErrTLS)
		refuseBeforeHello(nc, err)
		return err
	}
	if m != Magic {
		return fmt.Errorf("%w: not an arrayx peer (first bytes % x)", ErrProtocol, m)
	}
	f, err := readFrame(nc, func(byte) int { return 4 << 10 })
	if err != nil {
		return err
	}
	if f.version != Version1 || f.kind != kindHello {
		return fmt.Errorf("%w: the connection must open with a version-1 HELLO frame, not %s version %d", ErrProtocol, kindName(f.kind), f.version)
	}
	var hello helloBody
	if err := f.decode(&hello, false); err != nil {
		return err
	}
	theirs := hello.Versions
	if len(theirs) == 0 {
		theirs = []int{hello.Version}
	}
	v, feats := agree(theirs, hello.Features, cfg.features())
	var nonce []byte
	if len(cfg.Token) > 0 {
		nonce = newNonce()
	}
	if _, err := nc.Write(Magic[:]); err != nil {
		return err
	}
	if err := writeMsg(nc, Version1, kindHello, &helloBody{Version: max(v, Version1), Versions: versions,
		Features: feats, Software: "arrayx", Nonce: nonce}); err != nil {
		return err
	}
	if v == 0 {
		err := fmt.Errorf("%w: the client speaks versions %v, the server %v", ErrProtocol, theirs, versions)
		writeMsg(nc, Version1, kindReply, &replyBody{Status: StatusBadRequest, Code: "protocol", Message: err.Error()})
		return err
	}
	c.c.version, c.c.features = v, feats
	if nonce == nil {
		return nil
	}
	var auth authBody
	if err := c.c.expect(kindAuth, &auth); err != nil {
		return err
	}
	if !checkMAC(cfg.Token, nonce, auth.MAC) {
		c.reply(&replyBody{Status: StatusUnauthorized, Code: "unauthorized", Message: "wrong or missing token"})
		return ErrUnauthorized
	}
	return c.reply(&replyBody{Status: StatusOK})
}

func (c *serverConn) reply(b *replyBody) error { return c.c.send(kindReply, b) }

// fail replies with err's status, code and message (without the server's
// paths); false means the reply could not be sent.
func (c *serverConn) fail(err error) bool {
	status, code := classify(err)
	return c.reply(&replyBody{Status: status, Code: code, Message: publicMessage(err, c.srv.store.Dir())}) == nil
}

// decode decodes a request's body: strictly in version 2.
func (c *serverConn) decode(f frame, v any) error { return f.decode(v, c.c.version >= Version2) }

// handle serves one request; false closes the connection.
func (c *serverConn) handle(f frame) bool {
	cfg := &c.srv.cfg
	st := c.srv.store
	strict := c.c.version >= Version2
	// A body that does not decode leaves a version-2 connection in step (the
	// frame was read whole); version 1 closes, as it always did.
	bad := func(err error) bool { return c.fail(err) && strict }
	switch f.kind {
	case kindStat:
		var b nameBody
		if err := c.decode(f, &b); err != nil {
			return bad(err)
		}
		a, err := st.OpenWith(b.Name, &mmapstore.OpenOptions{Limits: cfg.limits()})
		if err != nil {
			return c.fail(err)
		}
		defer a.Close()
		raw := a.RawHeader()
		if raw == nil {
			return c.fail(fmt.Errorf("%w: %s: reading its header", mmapstore.ErrFault, b.Name))
		}
		return c.reply(&replyBody{Status: StatusOK, Header: raw}) == nil
	case kindList:
		var b listBody
		if err := c.decode(f, &b); err != nil {
			return bad(err)
		}
		return c.handleList(&b)
	case kindDelete:
		var b nameBody
		if err := c.decode(f, &b); err != nil {
			return bad(err)
		}
		if cfg.ReadOnly {
			return c.fail(ErrReadOnly)
		}
		if err := st.Remove(b.Name); err != nil {
			return c.fail(err)
		}
		c.log.Info("deleted", "name", b.Name)
		return c.reply(&replyBody{Status: StatusOK}) == nil
	case kindGet:
		var b getBody
		if err := c.decode(f, &b); err != nil {
			return bad(err)
		}
		switch {
		case c.c.version == Version1:
			return c.handleGetV1(&b)
		case b.Eager:
			return c.handleEagerGet(&b)
		}
		return c.handleGet(&b)
	case kindPut:
		var b putBody
		if err := c.decode(f, &b); err != nil {
			return bad(err)
		}
		switch {
		case c.c.version == Version1:
			return c.handlePutV1(&b)
		case b.Eager != 0:
			return c.handleEager(&b)
		}
		return c.handlePut(&b)
	case kindData:
		// Raw bytes follow it that no request expects: the stream is lost.
		c.fail(fmt.Errorf("%w: DATA outside a transfer", ErrProtocol))
		return false
	}
	return bad(fmt.Errorf("%w: %s is not a request", ErrProtocol, kindName(f.kind)))
}

func (c *serverConn) handleList(b *listBody) bool {
	names, err := c.srv.store.List()
	if err != nil {
		return c.fail(err)
	}
	if c.c.version == Version1 {
		entries := make([]Entry, 0, len(names))
		for _, n := range names {
			if e, ok := c.entry(n); ok {
				entries = append(entries, e)
			}
		}
		return c.reply(&replyBody{Status: StatusOK, Arrays: entries}) == nil
	}
	limit := b.Limit
	if limit <= 0 || limit > listPage {
		limit = listPage
	}
	i := sort.SearchStrings(names, b.After)
	if i < len(names) && names[i] == b.After {
		i++
	}
	var r replyBody
	r.Status = StatusOK
	for ; i < len(names); i++ {
		n := names[i]
		if !strings.HasPrefix(n, b.Prefix) {
			if n > b.Prefix {
				break // sorted: no later name has the prefix
			}
			continue
		}
		if len(r.Arrays) == limit {
			r.Next = r.Arrays[len(r.Arrays)-1].Name
			break
		}
		if e, ok := c.entry(n); ok {
			r.Arrays = append(r.Arrays, e)
		}
	}
	return c.reply(&r) == nil
}

// entry describes one array for LIST; false if it went away meanwhile.
func (c *serverConn) entry(name string) (Entry, bool) {
	info, err := c.srv.store.Info(name)
	if err != nil {
		return Entry{}, false // removed or replaced meanwhile, or not an array we can read
	}
	h := info.Header
	return Entry{Name: name, DType: h.DType.String(), Shape: h.Shape, Order: h.Order.String(), NBytes: h.NBytes, Digest: info.Digest}, true
}

// sendMethod is how this server sends data on its connection.
func (c *serverConn) sendMethod() string {
	if canSendfile(c.c.nc) && !c.srv.cfg.ForceCopy {
		return "sendfile"
	}
	return "write"
}

// receive prepares the partial for a PUT: the header within our limits,
// then the store's own checks, then the blocks the receiver's previous
// version of the array already has.
func (c *serverConn) receive(b *putBody) (*mmapstore.Partial, int64, error) {
	cfg := &c.srv.cfg
	if cfg.ReadOnly {
		return nil, 0, ErrReadOnly
	}
	if _, err := arrayx.ParsePrefix(b.Header, cfg.limits()); err != nil {
		return nil, 0, err
	}
	p, err := c.srv.store.Receive(b.Name, b.Header, &mmapstore.ReceiveOptions{MaxBytes: cfg.MaxArrayBytes, Sync: cfg.Sync})
	if err != nil {
		return nil, 0, err
	}
	return p, seedFrom(c.srv.store, p, b.Name, c.log), nil
}

// seedFrom copies into p the blocks the store's current array of that name
// holds unchanged, so that only the others cross the network.
func seedFrom(st *mmapstore.Store, p *mmapstore.Partial, name string, log *slog.Logger) int64 {
	if p.Held() == p.Header().NBytes {
		return 0
	}
	old, err := st.Open(name)
	if err != nil {
		return 0
	}
	defer old.Close()
	n, method, err := p.Seed(old)
	if err != nil {
		log.Info("seeding from the previous version failed", "name", name, "err", err)
	}
	if n > 0 {
		log.Info("seeded from the previous version", "name", name, "bytes", n, "method", method)
	}
	return n
}

func (c *serverConn) handlePut(b *putBody) bool {
	cfg := &c.srv.cfg
	var t *recvTransfer
	var seeded int64
	if len(b.Transfer) > 0 {
		var err error
		if t, err = c.joinRecv(b); err != nil {
			return c.fail(err)
		}
	} else {
		// Refused before the partial is prepared, so that the refusal
		// leaves nothing behind.
		if b.Streams > 1 && !c.c.has(FeatureJoin) {
			return c.fail(fmt.Errorf("%w: streams (feature %q was not agreed)", ErrUnsupported, FeatureJoin))
		}
		if err := c.checkChain(b.Chain); err != nil {
			return c.fail(err)
		}
		p, n, err := c.receive(b)
		if err != nil {
			return c.fail(err)
		}
		seeded = n
		t = newRecvTransfer(newTransferID(), b.Name, p.RawHeader(), p, nil)
		if b.Streams > 1 {
			t.expect = min(b.Streams, cfg.MaxStreams)
		}
		if len(b.Chain) > 0 {
			if err := c.srv.startRelay(t, b.Chain, c.log); err != nil {
				p.Close()
				return c.fail(err)
			}
		}
		t.attach(c.c, cfg.MaxStreams)
		c.srv.addRecv(t)
	}
	defer c.srv.dropRecv(t)
	log := c.log.With("op", "PUT", "name", b.Name, "transfer", fmt.Sprintf("%x", t.id[:4]))
	if c.reply(&replyBody{Status: StatusOK, Transfer: t.id, Held: t.p.Held(), Seeded: seeded, Method: recvMethod}) != nil {
		// serve, which detaches, will not run: detach here, or dropRecv
		// keeps the transfer (and its partial, locked) for good.
		t.detach(c.c, nil)
		return false
	}
	start := time.Now()
	err := t.serve(c.c)
	wire, refetched := t.stats()
	if err == nil {
		log.Info("received", "bytes", wire, "resumed", t.p.Resumed(), "seeded", seeded, "refetched", refetched,
			"seconds", time.Since(start).Seconds())
		hosts, err := t.relayed(c.c) // the chain's outcome, if there is one
		if err != nil {
			return false
		}
		return c.reply(&replyBody{Status: StatusOK, Bytes: wire, Refetched: refetched, Method: recvMethod, Hosts: hosts}) == nil
	}
	log.Info("PUT failed", "held", t.p.Held(), "err", err)
	if c.c.stopCause() == nil {
		// The client may still be sending what it was asked for: let it read
		// the reason before the connection closes.
		c.fail(err)
		c.drain()
	}
	return false
}

// joinRecv attaches this connection to a receive in progress.
func (c *serverConn) joinRecv(b *putBody) (*recvTransfer, error) {
	if !c.c.has(FeatureJoin) {
		return nil, fmt.Errorf("%w: joining a transfer (feature %q was not agreed)", ErrUnsupported, FeatureJoin)
	}
	t := c.srv.lookupRecv(b.Transfer)
	if t == nil {
		return nil, fmt.Errorf("netlink: no transfer %x in progress: %w", b.Transfer, fs.ErrNotExist)
	}
	if t.name != b.Name || !bytes.HasPrefix(b.Header, t.header) {
		return nil, fmt.Errorf("%w: transfer %x receives another array", ErrProtocol, b.Transfer)
	}
	if !t.attach(c.c, c.srv.cfg.MaxStreams) {
		return nil, fmt.Errorf("%w: transfer %x has ended, or has the %d streams this server allows", mmapstore.ErrBusy, b.Transfer, c.srv.cfg.MaxStreams)
	}
	return t, nil
}

func (c *serverConn) handleGet(b *getBody) bool {
	var t *sendTransfer
	if len(b.Transfer) > 0 {
		if !c.c.has(FeatureJoin) {
			return c.fail(fmt.Errorf("%w: joining a transfer (feature %q was not agreed)", ErrUnsupported, FeatureJoin))
		}
		var err error
		if t, err = c.srv.joinSend(b.Transfer, b.Name); err != nil {
			return c.fail(err)
		}
	} else {
		src, closeSrc, err := c.srv.openSource(b.Name)
		if err != nil {
			return c.fail(err)
		}
		t = newSendTransfer(newTransferID(), b.Name, src, c.srv.cfg.ForceCopy, nil)
		t.close = closeSrc
		c.srv.addSend(t)
	}
	defer c.srv.dropSend(t)
	raw := t.src.RawHeader()
	if raw == nil {
		return c.fail(fmt.Errorf("%w: %s: reading its header", mmapstore.ErrFault, b.Name))
	}
	if c.reply(&replyBody{Status: StatusOK, Header: raw, Transfer: t.id, Method: c.sendMethod()}) != nil {
		return false
	}
	start := time.Now()
	res, err := t.serve(c.c, false)
	log := c.log.With("op", "GET", "name", b.Name, "transfer", fmt.Sprintf("%x", t.id[:4]))
	if err != nil {
		log.Info("GET failed", "sent", res.bytes, "err", err)
		if errors.Is(err, ErrProtocol) && c.c.stopCause() == nil {
			c.fail(err)
		}
		return false
	}
	log.Info("sent", "bytes", res.bytes, "seconds", time.Since(start).Seconds(), "zero_copy", res.zeroCopy)
	return true
}

func (c *serverConn) handlePutV1(b *putBody) bool {
	p, seeded, err := c.receive(b)
	if err != nil {
		return c.fail(err)
	}
	defer p.Close()
	log := c.log.With("op", "PUT", "name", b.Name, "version", 1)
	off := v1Offset(p)
	if c.reply(&replyBody{Status: StatusOK, Offset: off}) != nil {
		return false
	}
	start := time.Now()
	n, err := v1Recv(c.c, p, off, nil)
	if err != nil {
		log.Info("PUT failed", "received", n, "held", p.Held(), "err", err)
		if errors.Is(err, arrayx.ErrChecksum) {
			c.fail(err)
			c.drain()
		}
		return false
	}
	a, err := p.Complete()
	if err != nil {
		return c.fail(err)
	}
	a.Close()
	log.Info("received", "bytes", n, "resumed", p.Resumed(), "seeded", seeded, "seconds", time.Since(start).Seconds())
	return c.reply(&replyBody{Status: StatusOK, Bytes: n, Method: recvMethod}) == nil
}

func (c *serverConn) handleGetV1(b *getBody) bool {
	a, err := c.srv.store.OpenWith(b.Name, &mmapstore.OpenOptions{Limits: c.srv.cfg.limits()})
	if err != nil {
		return c.fail(err)
	}
	defer a.Close()
	raw := a.RawHeader()
	if raw == nil {
		return c.fail(fmt.Errorf("%w: %s: reading its header", mmapstore.ErrFault, b.Name))
	}
	if c.reply(&replyBody{Status: StatusOK, Header: raw, Method: c.sendMethod()}) != nil {
		return false
	}
	log := c.log.With("op", "GET", "name", b.Name, "version", 1)
	var from fromBody
	if err := c.c.expect(kindFrom, &from); err != nil {
		log.Info("GET aborted", "err", err)
		return false
	}
	h := a.Header()
	if from.Cancel {
		return true
	}
	if from.Offset < 0 || from.Offset > h.NBytes {
		log.Info("GET with a bad offset", "offset", from.Offset)
		return false // the client expects data or nothing: close
	}
	start := time.Now()
	n, zc, err := v1Send(c.c, a, from.Offset, c.srv.cfg.ForceCopy, nil)
	if err != nil {
		log.Info("GET failed", "sent", n, "err", err)
		return false
	}
	log.Info("sent", "bytes", n, "from", from.Offset, "seconds", time.Since(start).Seconds(), "zero_copy", zc)
	return true
}

// openSource opens what a GET sends: the sealed array, or, if none is
// published under the name yet but one is arriving, the partial being
// received, block by block as each is verified.
func (s *Server) openSource(name string) (source, func() error, error) {
	a, err := s.store.OpenWith(name, &mmapstore.OpenOptions{Limits: s.cfg.limits()})
	if err == nil {
		return arraySource{a}, a.Close, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	t := s.recvByName(name)
	if t == nil {
		return nil, nil, err
	}
	src, serr := t.p.Source()
	if serr != nil { // published, or given up, in the meantime
		if a, err := s.store.OpenWith(name, &mmapstore.OpenOptions{Limits: s.cfg.limits()}); err == nil {
			return arraySource{a}, a.Close, nil
		}
		return nil, nil, err
	}
	return src, src.Close, nil
}

// drain discards what the client still sends after a failed PUT, for a
// moment, so that it can read the error reply before the connection closes
// (closing with unread data would reset the connection and lose the reply).
func (c *serverConn) drain() {
	nc := c.c.nc
	if tc, ok := nc.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite()
	}
	nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	io.Copy(io.Discard, nc)
}

// canSendfile reports whether the array's sends on nc can go by sendfile.
func canSendfile(nc net.Conn) bool {
	if sendfileWorks {
		switch nc.(type) {
		case *net.TCPConn, *net.UnixConn:
			return true
		}
	}
	return false
}
