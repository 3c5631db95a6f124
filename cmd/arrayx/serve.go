package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/arrayx/arrayx/netlink"
	"github.com/spf13/pflag"
)

// serveCmd serves the store over the network until SIGINT or SIGTERM.
type serveCmd struct {
	listen    string
	http      string
	readOnly  bool
	maxBytes  string
	maxConns  int
	streams   int
	logFormat string
	grace     time.Duration
	partials  time.Duration
	noRelay   bool
	maxChain  int
	tlsCert   string
	tlsKey    string
	maxStore  string
	netFlags
}

func (c *serveCmd) usage() (string, string) {
	return "[--listen 127.0.0.1:7070] [--http 127.0.0.1:8080] [--read-only] [--token-file F] [--tls-cert F --tls-key F] [--max-bytes N] [--max-store-bytes N|none] [--max-conns N] [--no-relay] [--sync]",
		"serve the store to push, pull and ls --remote, and read-only over HTTP (SIGINT/SIGTERM stop it gracefully)"
}

func (c *serveCmd) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.listen, "listen", "127.0.0.1:7070", "TCP address, or unix:/path for a Unix socket, of the binary protocol (\"\" for none)")
	fs.StringVar(&c.http, "http", "", "also serve the store read-only over HTTP on this TCP address (GET /v1/arrays/...)")
	fs.BoolVar(&c.readOnly, "read-only", false, "refuse push and delete")
	fs.StringVar(&c.maxBytes, "max-bytes", "", "refuse pushed arrays larger than this (e.g. 64GiB; default no limit)")
	fs.StringVar(&c.maxStore, "max-store-bytes", "", "refuse pushes (507) that would take the store past this size, e.g. 200GiB, or \"none\" "+
		"(default: half of physical memory on a memory-backed store, else none)")
	fs.IntVar(&c.maxConns, "max-conns", 256, "most simultaneous connections")
	fs.IntVar(&c.streams, "max-streams", netlink.DefaultMaxStreams, "most connections one transfer may use (1: no joining)")
	fs.BoolVar(&c.noRelay, "no-relay", false, "refuse to relay pushes to further hosts (relaying needs --token-file)")
	fs.IntVar(&c.maxChain, "max-chain", netlink.DefaultMaxChain, "most further hosts a relayed push may name after this one")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format on stderr: text or json")
	fs.DurationVar(&c.grace, "grace", 30*time.Second, "on SIGINT/SIGTERM, how long transfers in progress may take to finish")
	fs.DurationVar(&c.partials, "partial-max-age", netlink.DefaultPartialMaxAge,
		"at start, remove interrupted transfers' partial files older than this (negative: keep them all; 0: 24h)")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "serve over TLS with this PEM certificate (chain), binary and HTTP; needs --tls-key")
	fs.StringVar(&c.tlsKey, "tls-key", "", "the PEM private key of --tls-cert")
	c.netFlags.addFlags(fs) // their --tls flags are for dialling the next hosts of a relay
	c.netFlags.addSyncFlag(fs)
}

// serverTLS loads --tls-cert and --tls-key; nil without them. A TLS server
// relays over TLS too, trusting --tls-ca (or the system's authorities).
func (c *serveCmd) serverTLS(cfg *netlink.Config) error {
	if c.tlsCert == "" && c.tlsKey == "" {
		return nil
	}
	if c.tlsCert == "" || c.tlsKey == "" {
		return usagef("--tls-cert and --tls-key go together")
	}
	pair, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
	if err != nil {
		return fmt.Errorf("--tls-cert %s, --tls-key %s: %w", c.tlsCert, c.tlsKey, err)
	}
	cfg.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	if cfg.RelayTLS, err = c.tlsConfig(); err != nil {
		return err
	}
	if cfg.RelayTLS == nil {
		cfg.RelayTLS = &tls.Config{}
	}
	return nil
}

// exposed reports a TCP listening address that other hosts may reach: not
// a loopback address, nor a Unix socket.
func exposed(addr string) bool {
	if strings.HasPrefix(addr, "unix:") {
		return false
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return true
	}
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// warnExposed says what an operator would want to know before other hosts
// can reach the server.
func (c *serveCmd) warnExposed(cfg *netlink.Config) {
	for _, addr := range []string{c.listen, c.http} {
		if addr == "" || !exposed(addr) {
			continue
		}
		if len(cfg.Token) == 0 {
			what := "read and write the store"
			if c.readOnly || addr == c.http {
				what = "read the store"
			}
			c.warn("serving on %s without a token: anyone who can reach it can %s (--token-file)", addr, what)
		}
		if cfg.TLS == nil {
			c.warn("serving on %s without TLS: arrays and requests cross the network unencrypted (--tls-cert, --tls-key)", addr)
		}
	}
}

func (c *serveCmd) run(ctx context.Context, e *env, args []string) error {
	if len(args) != 0 {
		return usagef("takes no arguments, got %q", args)
	}
	cfg := netlink.Config{ReadOnly: c.readOnly, MaxConns: c.maxConns, MaxStreams: c.streams, Sync: c.syncMode(), PartialMaxAge: c.partials,
		NoRelay: c.noRelay, MaxChain: c.maxChain}
	if c.maxConns < 1 {
		return usagef("--max-conns %d: want at least 1", c.maxConns)
	}
	if c.streams < 1 {
		return usagef("--max-streams %d: want at least 1", c.streams)
	}
	if c.maxChain < 1 {
		return usagef("--max-chain %d: want at least 1 (--no-relay turns relaying off)", c.maxChain)
	}
	if c.maxBytes != "" {
		n, err := parseSize(c.maxBytes)
		if err != nil {
			return usagef("--max-bytes: %v", err)
		}
		cfg.MaxArrayBytes = n
	}
	switch c.logFormat {
	case "text":
		cfg.Logger = slog.New(slog.NewTextHandler(e.stderr, nil))
	case "json":
		cfg.Logger = slog.New(slog.NewJSONHandler(e.stderr, nil))
	default:
		return usagef("--log-format %q: want text or json", c.logFormat)
	}
	tok, err := c.token()
	if err != nil {
		return err
	}
	cfg.Token = tok
	if err := c.serverTLS(&cfg); err != nil {
		return err
	}
	c.warnExposed(&cfg)
	st, err := c.openStore(e)
	if err != nil {
		return err
	}
	defer st.Close()
	var servers []server
	if c.listen != "" {
		network, addr := "tcp", c.listen
		if rest, ok := strings.CutPrefix(c.listen, "unix:"); ok {
			network, addr = "unix", rest
			os.Remove(addr) // a stale socket from an earlier run
		}
		l, err := net.Listen(network, addr)
		if err != nil {
			return err
		}
		servers = append(servers, server{netlink.NewServer(st, cfg), l})
		fmt.Fprintf(e.stdout, "serving %s on %s\n", st.Dir(), l.Addr())
	}
	if c.http != "" {
		l, err := net.Listen("tcp", c.http)
		if err != nil {
			closeAll(servers)
			return err
		}
		servers = append(servers, server{netlink.NewHTTPServer(st, cfg), l})
		scheme := "http"
		if cfg.TLS != nil {
			scheme = "https"
		}
		fmt.Fprintf(e.stdout, "serving %s over HTTP on %s://%s/v1/arrays\n", st.Dir(), scheme, l.Addr())
	}
	if len(servers) == 0 {
		return usagef("--listen \"\" and no --http: nothing to serve")
	}
	cfg.Logger.Info("serving", "store", st.Dir(), "listen", c.listen, "http", c.http, "read_only", c.readOnly,
		"auth", len(tok) > 0, "tls", cfg.TLS != nil, "relay", len(tok) > 0 && !c.noRelay)
	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() { errc <- s.Serve(s.l) }()
	}
	var err1 error
	pending := len(servers)
	select {
	case err1 = <-errc: // a listener failed: stop the others too
		pending--
	case <-ctx.Done():
	}
	cfg.Logger.Info("shutting down", "grace", c.grace)
	sctx, cancel := context.WithTimeout(context.Background(), c.grace)
	defer cancel()
	var wg sync.WaitGroup
	shutErr := make([]error, len(servers))
	for i, s := range servers {
		wg.Go(func() {
			if shutErr[i] = s.Shutdown(sctx); shutErr[i] != nil {
				s.Close()
			}
		})
	}
	wg.Wait()
	for range pending {
		if serr := <-errc; err1 == nil && !errors.Is(serr, netlink.ErrServerClosed) {
			err1 = serr
		}
	}
	if err1 != nil && !errors.Is(err1, netlink.ErrServerClosed) {
		return err1
	}
	if err := errors.Join(shutErr...); err != nil {
		return fmt.Errorf("transfers still running after %v were interrupted (they resume): %w", c.grace, err)
	}
	return nil
}

// server is one of the servers serve runs, binary or HTTP, with its listener.
type server struct {
	netServer
	l net.Listener
}

// netServer is what netlink.Server and netlink.HTTPServer have in common.
type netServer interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
}

func closeAll(servers []server) {
	for _, s := range servers {
		s.l.Close()
	}
}
