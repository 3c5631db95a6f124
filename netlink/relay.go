package netlink

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"syscall"
	"time"

	"github.com/arrayx/arrayx/mmapstore"
)

// Relaying (FeatureRelay): a PUT may name a chain of further hosts. The
// server receives the array as usual and, in parallel, pushes it to the
// first host of the chain (which gets the rest of the chain): every block
// goes on by sendfile from the server's own partial file as soon as it is
// verified, so the whole chain finishes at about the time one transfer
// takes. A host that fails is cut out: its upstream neighbour pushes to the
// next one, which asks only for what it lacks. Each host reports the hosts
// after it, so the client learns how every host fared.

// HostStats is how a relayed push fared on one host of its chain.
type HostStats struct {
	Host      string  `msgpack:"host"`
	Status    int     `msgpack:"status"` // 200: published; else the error's status
	Code      string  `msgpack:"code,omitempty"`
	Message   string  `msgpack:"message,omitempty"`
	Bytes     int64   `msgpack:"bytes,omitempty"`     // data bytes its upstream sent it
	Refetched int     `msgpack:"refetched,omitempty"` // blocks it asked for again after a bad CRC
	Seconds   float64 `msgpack:"seconds,omitempty"`   // from its upstream's PUT to its final reply
	ZeroCopy  bool    `msgpack:"zero_copy,omitempty"` // its upstream sent it every byte by sendfile
}

// Err returns the host's error, or nil if it published the array.
func (h HostStats) Err() error {
	if h.Status == StatusOK {
		return nil
	}
	return fmt.Errorf("netlink: relay to %s: %w", h.Host, &RemoteError{Status: h.Status, Code: h.Code, Message: h.Message})
}

// relay is a transfer's forwarding down its chain.
type relay struct {
	done  chan struct{}
	hosts []HostStats // once done
}

// busyRetry bounds how long a relay waits for a next host still busy with
// the same array: the upstream that fed it may just have died, and the
// host lets go of its partial once it notices.
const busyRetry = 5 * time.Second

// checkChain refuses a chain this server will not relay down, before
// anything is prepared for the PUT.
func (c *serverConn) checkChain(chain []string) error {
	if len(chain) == 0 {
		return nil
	}
	cfg := &c.srv.cfg
	if !c.c.has(FeatureRelay) {
		return fmt.Errorf("%w: relaying (feature %q was not agreed)", ErrUnsupported, FeatureRelay)
	}
	if len(chain) > cfg.MaxChain {
		return fmt.Errorf("%w: a chain of %d more hosts; this server relays down at most %d", ErrRelay, len(chain), cfg.MaxChain)
	}
	for i, h := range chain {
		if h == "" || len(h) > 255 {
			return fmt.Errorf("%w: chain entry %d is not a host address", ErrRelay, i)
		}
		if slices.Contains(chain[:i], h) {
			return fmt.Errorf("%w: %s comes twice in the chain (a loop)", ErrRelay, h)
		}
		if c.srv.isOwnAddr(h) {
			return fmt.Errorf("%w: %s is this server (a loop)", ErrRelay, h)
		}
	}
	return nil
}

// isOwnAddr reports whether addr is one this server listens or was reached on.
func (s *Server) isOwnAddr(addr string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for l := range s.listeners {
		if l.Addr().String() == addr {
			return true
		}
	}
	for c := range s.conns {
		if c.c.nc.LocalAddr().String() == addr {
			return true
		}
	}
	return false
}

// startRelay starts forwarding t down chain, from a source of its own on
// t's partial.
func (s *Server) startRelay(t *recvTransfer, chain []string, log *slog.Logger) error {
	src, err := t.p.Source()
	if err != nil {
		return err
	}
	t.relay = &relay{done: make(chan struct{})}
	go func() {
		defer src.Close()
		hosts := s.forward(t, src, chain, log)
		t.relay.hosts = hosts
		close(t.relay.done)
	}()
	return nil
}

// forward pushes t down chain: to its first host, or, when that one fails,
// to the next, and so on. It returns how each host fared.
func (s *Server) forward(t *recvTransfer, src *mmapstore.PartialSource, chain []string, log *slog.Logger) []HostStats {
	var out []HostStats
	for k, host := range chain {
		hs, rest, err := s.forwardTo(t, src, host, chain[k+1:])
		out = append(out, hs)
		if err == nil {
			return append(out, rest...)
		}
		log.Info("relay failed; cutting the host out", "host", host, "err", err)
	}
	return out
}

// forwardTo pushes t to host, which is to relay to rest, and returns how
// it fared and how the hosts after it did.
func (s *Server) forwardTo(t *recvTransfer, src *mmapstore.PartialSource, host string, rest []string) (HostStats, []HostStats, error) {
	hs := HostStats{Host: host}
	start := time.Now()
	fail := func(err error) (HostStats, []HostStats, error) {
		err = hostLost(err)
		hs.Status, hs.Code = classify(err)
		hs.Message = publicMessage(err, "")
		hs.Seconds = time.Since(start).Seconds()
		return hs, nil, err
	}
	cl := &Client{addr: host, opts: DialOptions{Token: s.cfg.Token, Timeout: s.cfg.ReadTimeout,
		MaxHeaderBytes: s.cfg.MaxHeaderBytes, TLS: s.cfg.RelayTLS}.withDefaults()}
	var c *conn
	var r *replyBody
	for {
		var err error
		if c, err = cl.dial(s.ctx); err != nil {
			return fail(err)
		}
		switch {
		case s.isOwnAddr(c.nc.RemoteAddr().String()):
			err = fmt.Errorf("%w: %s is this server", ErrRelay, host)
		case c.version < Version2:
			err = fmt.Errorf("%w: %s speaks protocol version %d; relaying needs 2", ErrUnsupported, host, c.version)
		case len(rest) > 0 && !c.has(FeatureRelay):
			err = fmt.Errorf("%w: %s does not relay (no token, or relaying turned off)", ErrUnsupported, host)
		default:
			r, err = c.request(kindPut, &putBody{Name: t.name, Header: t.header, Chain: rest})
		}
		if err == nil {
			break
		}
		c.nc.Close()
		if !errors.Is(err, mmapstore.ErrBusy) || time.Since(start) > busyRetry {
			return fail(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	defer c.nc.Close()
	release := c.watch(s.ctx)
	defer release()
	st := newSendTransfer(r.Transfer, t.name, src, s.cfg.ForceCopy, nil)
	st.chained = len(rest) > 0
	res, err := st.serve(c, true)
	hs.Bytes, hs.ZeroCopy = res.bytes, res.zeroCopy
	if err != nil {
		return fail(err)
	}
	hs.Status, hs.Refetched = StatusOK, res.final.Refetched
	hs.Seconds = time.Since(start).Seconds()
	return hs, res.final.Hosts, nil
}

// relayed waits, once t is published here, for its chain to finish, and
// returns how each host fared (nil without a chain). Meanwhile it sends
// keepalives on c (empty NEEDs), so that the upstream sender, with nothing
// left to send, keeps waiting.
func (t *recvTransfer) relayed(c *conn) ([]HostStats, error) {
	if t.relay == nil {
		return nil, nil
	}
	tick := time.NewTicker(max(min(c.readTimeout, c.writeTimeout)/3, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-t.relay.done:
			return t.relay.hosts, nil
		case <-tick.C:
			if err := c.send(kindNeed, &needBody{Transfer: t.id}); err != nil {
				return nil, err
			}
		case <-c.ctx.Done():
			return nil, c.stopCause()
		}
	}
}

// recvByName returns a receive in progress of the named array, if any: a
// GET of an array still arriving is served from its partial, block by
// block as they are verified.
func (s *Server) recvByName(name string) *recvTransfer {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.recvs {
		if t.name == name {
			return t
		}
	}
	return nil
}

// hostLost names a failure to reach a host, or the loss of its connection,
// in a sentence: a host's report goes to a user, not the syscall's text.
func hostLost(err error) error {
	var re *RemoteError
	var ne net.Error
	switch {
	case errors.As(err, &re):
		return err
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w: connection refused (no server listening there)", ErrHostLost)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return fmt.Errorf("%w: connection reset (the host died or dropped it)", ErrHostLost)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: connection closed by the host mid-transfer", ErrHostLost)
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%w: timed out", ErrHostLost)
	case errors.As(err, &ne):
		return fmt.Errorf("%w: %v", ErrHostLost, err)
	}
	return err
}
