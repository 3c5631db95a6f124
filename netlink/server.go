package netlink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
)

// Config holds a server's limits and timeouts. Zero values mean the defaults.
type Config struct {
	// MaxHeaderBytes caps an array header (default 1 MiB, as for files).
	MaxHeaderBytes int
	// MaxArrayBytes refuses PUTs of arrays with more data bytes (default: no limit).
	MaxArrayBytes int64
	// MaxConns caps simultaneous connections (default 256); more are told
	// StatusUnavailable and closed.
	MaxConns int
	// IdleTimeout closes a connection that sends no request for this long (default 5 min).
	IdleTimeout time.Duration
	// ReadTimeout bounds reading one message, and one block of data (default 30 s).
	ReadTimeout time.Duration
	// WriteTimeout bounds writing one message, and one chunk of data (default 30 s).
	WriteTimeout time.Duration
	// ReadOnly refuses PUT and DELETE.
	ReadOnly bool
	// Token, when set, is required from clients (HMAC challenge-response).
	Token []byte
	// Recv chooses how PUT data reaches the store.
	Recv RecvOptions
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
	// Logger receives one line per connection and per request (default: discard).
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = arrayx.DefaultMaxHeaderBytes
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 256
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
	return c
}

// DefaultPartialMaxAge is Config.PartialMaxAge's default.
const DefaultPartialMaxAge = 24 * time.Hour

// maxMessage is the body limit for a given header limit: the header plus
// room for the name and keys.
func maxMessage(maxHeader int) int { return maxHeader + 64<<10 }

// Server serves a store's arrays to netlink clients.
type Server struct {
	store *mmapstore.Store
	cfg   Config

	cleanOnce sync.Once

	mu        sync.Mutex
	listeners map[net.Listener]bool
	conns     map[*serverConn]bool
	closing   bool
	done      chan struct{} // closed when the last connection ends after Shutdown
}

// NewServer returns a server for store.
func NewServer(store *mmapstore.Store, cfg Config) *Server {
	return &Server{store: store, cfg: cfg.withDefaults(),
		listeners: map[net.Listener]bool{}, conns: map[*serverConn]bool{}}
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
	s.cleanOnce.Do(s.clean)
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
		c := &serverConn{srv: s, conn: nc, log: s.cfg.Logger.With("remote", nc.RemoteAddr().String())}
		if !s.track(c) {
			go c.refuse()
			continue
		}
		go c.serve()
	}
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
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing = true
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		c.conn.SetDeadline(time.Unix(1, 0))
		c.conn.Close()
	}
	return nil
}

// serverConn is one client connection, served sequentially.
type serverConn struct {
	srv  *Server
	conn net.Conn
	log  *slog.Logger

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
		c.conn.SetReadDeadline(time.Unix(1, 0)) // wakes the idle read
	}
}

// refuse tells a connection over the limit why, and closes it.
func (c *serverConn) refuse() {
	c.conn.SetDeadline(time.Now().Add(time.Second))
	c.conn.Write(Magic[:])
	writeMsg(c.conn, kindReply, &body{Status: StatusUnavailable, Message: "too many connections, or shutting down"})
	if cw, ok := c.conn.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	io.CopyN(io.Discard, c.conn, 64<<10)
	c.conn.Close()
}

func (c *serverConn) serve() {
	defer c.srv.untrack(c)
	defer c.conn.Close()
	start := time.Now()
	if err := c.handshake(); err != nil {
		c.log.Info("handshake failed", "err", err)
		return
	}
	c.log.Debug("connected")
	cfg := &c.srv.cfg
	for {
		c.mu.Lock()
		if c.shut {
			c.mu.Unlock()
			return
		}
		c.busy = false
		c.conn.SetReadDeadline(time.Now().Add(cfg.IdleTimeout))
		c.mu.Unlock()
		kind, b, err := readMsg(c.conn, maxMessage(cfg.MaxHeaderBytes))
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, net.ErrClosed) {
				c.log.Info("bad request", "err", err)
				c.reply(&body{Status: statusOf(err), Message: err.Error()})
			}
			c.log.Debug("disconnected", "after", time.Since(start))
			return
		}
		if !c.begin() {
			return
		}
		keep := c.handle(kind, b)
		if !keep {
			return
		}
	}
}

// handshake exchanges magic and HELLO, and checks the token if one is set.
func (c *serverConn) handshake() error {
	cfg := &c.srv.cfg
	c.conn.SetDeadline(time.Now().Add(cfg.ReadTimeout))
	defer c.conn.SetDeadline(time.Time{})
	if err := readMagic(c.conn); err != nil {
		return err
	}
	hello, err := expect(c.conn, 4<<10, kindHello)
	if err != nil {
		return err
	}
	var nonce []byte
	if len(cfg.Token) > 0 {
		nonce = newNonce()
	}
	if _, err := c.conn.Write(Magic[:]); err != nil {
		return err
	}
	if err := writeMsg(c.conn, kindHello, &body{Version: Version, Software: "arrayx", Nonce: nonce}); err != nil {
		return err
	}
	if hello.Version != Version {
		err := fmt.Errorf("%w: client speaks version %d, server %d", ErrProtocol, hello.Version, Version)
		c.reply(&body{Status: StatusBadRequest, Message: err.Error()})
		return err
	}
	if nonce == nil {
		return nil
	}
	auth, err := expect(c.conn, 4<<10, kindAuth)
	if err != nil {
		return err
	}
	if !checkMAC(cfg.Token, nonce, auth.MAC) {
		c.reply(&body{Status: StatusUnauthorized, Message: "wrong or missing token"})
		return ErrUnauthorized
	}
	return c.reply(&body{Status: StatusOK})
}

func (c *serverConn) reply(b *body) error {
	c.conn.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
	return writeMsg(c.conn, kindReply, b)
}

// fail replies with err's status and message.
func (c *serverConn) fail(err error) bool {
	return c.reply(&body{Status: statusOf(err), Message: err.Error()}) == nil
}

// handle serves one request; false closes the connection.
func (c *serverConn) handle(kind byte, b *body) bool {
	cfg := &c.srv.cfg
	st := c.srv.store
	log := c.log.With("op", kindNames[kind], "name", b.Name)
	switch kind {
	case kindStat:
		a, err := st.Open(b.Name)
		if err != nil {
			return c.fail(err)
		}
		defer a.Close()
		raw := a.RawHeader()
		if raw == nil {
			return c.fail(fmt.Errorf("%w: %s: reading its header", mmapstore.ErrFault, b.Name))
		}
		return c.reply(&body{Status: StatusOK, Header: raw}) == nil
	case kindList:
		names, err := st.List()
		if err != nil {
			return c.fail(err)
		}
		entries := make([]Entry, 0, len(names))
		for _, n := range names {
			h, err := st.Stat(n)
			if err != nil {
				continue // removed or replaced meanwhile
			}
			entries = append(entries, Entry{Name: n, DType: h.DType.String(), Shape: h.Shape, Order: h.Order.String(), NBytes: h.NBytes})
		}
		return c.reply(&body{Status: StatusOK, Arrays: entries}) == nil
	case kindDelete:
		if cfg.ReadOnly {
			return c.fail(ErrReadOnly)
		}
		if err := st.Remove(b.Name); err != nil {
			return c.fail(err)
		}
		log.Info("deleted")
		return c.reply(&body{Status: StatusOK}) == nil
	case kindGet:
		return c.handleGet(b, log)
	case kindPut:
		return c.handlePut(b, log)
	}
	return c.fail(fmt.Errorf("%w: %s is not a request", ErrProtocol, kindNames[kind]))
}

func (c *serverConn) handleGet(b *body, log *slog.Logger) bool {
	cfg := &c.srv.cfg
	a, err := c.srv.store.Open(b.Name)
	if err != nil {
		return c.fail(err)
	}
	defer a.Close()
	method := "write"
	if canSendfile(c.conn) {
		method = "sendfile"
	}
	raw := a.RawHeader()
	if raw == nil {
		return c.fail(fmt.Errorf("%w: %s: reading its header", mmapstore.ErrFault, b.Name))
	}
	if c.reply(&body{Status: StatusOK, Header: raw, Method: method}) != nil {
		return false
	}
	c.conn.SetReadDeadline(time.Now().Add(cfg.ReadTimeout))
	from, err := expect(c.conn, 4<<10, kindFrom)
	if err != nil {
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
	t := time.Now()
	n, zc, err := sendData(c.conn, a.File(), a.Bytes(), h.DataOffset, from.Offset, h.NBytes-from.Offset, cfg.WriteTimeout, false, nil, nil)
	if err != nil {
		log.Info("GET failed", "sent", n, "err", err)
		return false
	}
	log.Info("sent", "bytes", n, "from", from.Offset, "seconds", time.Since(t).Seconds(), "zero_copy", zc)
	return true
}

func (c *serverConn) handlePut(b *body, log *slog.Logger) bool {
	cfg := &c.srv.cfg
	if cfg.ReadOnly {
		return c.fail(ErrReadOnly)
	}
	if _, err := arrayx.ParsePrefix(b.Header, arrayx.Limits{MaxHeaderBytes: cfg.MaxHeaderBytes}); err != nil {
		return c.fail(err)
	}
	p, err := c.srv.store.Receive(b.Name, b.Header, &mmapstore.ReceiveOptions{MaxBytes: cfg.MaxArrayBytes, Sync: cfg.Sync})
	if err != nil {
		return c.fail(err)
	}
	defer p.Close()
	if c.reply(&body{Status: StatusOK, Offset: p.Held()}) != nil {
		return false
	}
	t := time.Now()
	n, method, err := recvData(c.conn, p, cfg.Recv, cfg.ReadTimeout, nil, nil)
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
	log.Info("received", "bytes", n, "resumed", p.Resumed(), "seconds", time.Since(t).Seconds(), "method", method)
	return c.reply(&body{Status: StatusOK, Bytes: n, Method: method}) == nil
}

// drain discards what the client still sends after a failed PUT, for a
// moment, so that it can read the error reply before the connection closes
// (closing with unread data would reset the connection and lose the reply).
func (c *serverConn) drain() {
	if tc, ok := c.conn.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite()
	}
	c.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	io.Copy(io.Discard, c.conn)
}
