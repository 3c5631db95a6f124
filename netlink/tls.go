package netlink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// TLS. A server with Config.TLS speaks TLS 1.3 on every connection, a
// client with DialOptions.TLS too; the protocol inside is unchanged. The
// data is then encrypted in user space: every byte is copied once through
// the cipher instead of going by sendfile, and Stats says so (ZeroCopy
// false, TLS true). Kernel TLS would keep sendfile, but Go's crypto/tls
// does not offer it (and the project's test kernel lacks CONFIG_TLS).
//
// A peer of the other kind is told in terms it understands: a TLS server
// answers a plaintext client's magic with its own magic and a REPLY (400,
// code "tls"); a plaintext server answers a TLS ClientHello the same way,
// which a TLS client reads as a record that is not TLS and that begins with
// the magic. Either way the client's error wraps ErrTLS and names the
// mismatch.

// tlsHandshakeRecord is the first byte of a TLS ClientHello.
const tlsHandshakeRecord = 0x16

// minTLS makes a TLS configuration require TLS 1.3, without changing the
// caller's.
func minTLS(c *tls.Config) *tls.Config {
	c = c.Clone()
	c.MinVersion = max(c.MinVersion, tls.VersionTLS13)
	return c
}

// startTLS runs the server's side of TLS on an accepted connection, within
// the read timeout. A plaintext arrayx client is told that TLS is required.
func (s *Server) startTLS(nc net.Conn) (net.Conn, error) {
	nc.SetDeadline(time.Now().Add(s.cfg.ReadTimeout))
	var first [1]byte
	if _, err := io.ReadFull(nc, first[:]); err != nil {
		return nil, err
	}
	if first[0] != tlsHandshakeRecord {
		err := fmt.Errorf("%w: this server requires TLS, and the client spoke plaintext", ErrTLS)
		if first[0] == Magic[0] {
			refuseBeforeHello(nc, err)
		}
		return nil, err
	}
	tc := tls.Server(&peekedConn{Conn: nc, first: first[0], has: true}, s.tls)
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.ReadTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("netlink: TLS handshake: %w", err)
	}
	nc.SetDeadline(time.Time{})
	return tc, nil
}

// refuseBeforeHello answers a client that has sent (or is sending) its
// magic and HELLO with the server's magic and a REPLY saying why not, and
// lets it read them before the connection closes.
func refuseBeforeHello(nc net.Conn, why error) {
	status, code := classify(why)
	nc.Write(Magic[:])
	writeMsg(nc, Version1, kindReply, &replyBody{Status: status, Code: code, Message: publicMessage(why, "")})
	if tc, ok := nc.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite()
	}
	// Closing with the client's bytes unread would reset the connection
	// and could lose the reply.
	nc.SetReadDeadline(time.Now().Add(time.Second))
	io.Copy(io.Discard, io.LimitReader(nc, 64<<10))
}

// peekedConn gives back the byte read to tell TLS from plaintext.
type peekedConn struct {
	net.Conn
	first byte
	has   bool
}

func (c *peekedConn) Read(p []byte) (int, error) {
	if c.has && len(p) > 0 {
		p[0], c.has = c.first, false
		return 1, nil
	}
	return c.Conn.Read(p)
}

// clientTLS runs the client's side of TLS on a new connection to addr.
func clientTLS(ctx context.Context, nc net.Conn, cfg *tls.Config, addr string, timeout time.Duration) (net.Conn, error) {
	cfg = minTLS(cfg)
	if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
		if host, _, err := net.SplitHostPort(addr); err == nil {
			cfg.ServerName = host
		}
	}
	tc := tls.Client(nc, cfg)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		var rh tls.RecordHeaderError
		if errors.As(err, &rh) && rh.RecordHeader[0] == Magic[0] && string(rh.RecordHeader[1:4]) == string(Magic[1:4]) {
			return nil, fmt.Errorf("%w: the server does not use TLS (it answered in plaintext arrayx)", ErrTLS)
		}
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return tc, nil
}

// isTLS reports a connection that encrypts in user space.
func isTLS(nc net.Conn) bool {
	_, ok := nc.(*tls.Conn)
	return ok
}
