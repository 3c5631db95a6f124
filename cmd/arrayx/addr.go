package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/arrayx/arrayx/netlink"
)

// defaultPort is the port of a server address given without one: the port
// arrayx serve listens on by default.
const defaultPort = "7070"

// scheme optionally prefixes a server address: arrayx://host:port.
const scheme = "arrayx://"

// parseAddr turns a server address as users write it into what
// netlink.Dial takes: HOST, HOST:PORT, [IPv6]:PORT, each optionally as
// arrayx://...; unix:/path and /path name Unix sockets. A missing port is
// defaultPort.
func parseAddr(s string) (string, error) {
	if strings.HasPrefix(s, "unix:") || strings.HasPrefix(s, "/") {
		return s, nil
	}
	if i := strings.Index(s, "://"); i >= 0 && !strings.HasPrefix(s, scheme) {
		if sch := s[:i]; sch == "http" || sch == "https" {
			return "", usagef("address %q: arrayx commands speak the arrayx protocol, not HTTP (write HOST:PORT or arrayx://HOST:PORT; the HTTP interface is for curl and browsers)", s)
		}
		return "", usagef("address %q: unknown scheme %q (write HOST:PORT or arrayx://HOST:PORT)", s, s[:i+3])
	}
	hostport := strings.TrimSuffix(strings.TrimPrefix(s, scheme), "/")
	if hostport == "" || strings.Contains(hostport, "/") {
		return "", usagef("address %q: want HOST, HOST:PORT or arrayx://HOST:PORT", s)
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		// No port: a bare host, a bracketed IPv6 address, or a bare IPv6
		// address (more than one colon).
		host, port = strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), defaultPort
		if strings.Count(hostport, ":") == 1 {
			return "", usagef("address %q: want HOST, HOST:PORT or arrayx://HOST:PORT", s)
		}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", usagef("address %q: port %q is not a number from 1 to 65535", s, port)
	}
	if host == "" {
		return "", usagef("address %q: no host (write 127.0.0.1:%s for this machine)", s, port)
	}
	return net.JoinHostPort(host, port), nil
}

// dialError says in a sentence why addr could not be reached or refused
// us; errors it has no sentence for are returned as they are.
func dialError(addr string, tokenFile string, err error) error {
	var dns *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("cannot connect to %s: nothing listens there (connection refused); is arrayx serve running, on that port?", addr)
	case errors.As(err, &dns) && dns.IsNotFound:
		return fmt.Errorf("cannot connect to %s: unknown host %q", addr, dns.Name)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("cannot connect to %s: no answer (timed out)", addr)
	case errors.Is(err, netlink.ErrProtocol) && strings.Contains(err.Error(), "(first bytes 48 54 54 50 "):
		// The server answered "HTTP": most likely arrayx serve --http.
		return fmt.Errorf("%s is an HTTP server (the --http port of arrayx serve?): arrayx commands talk to the --listen port, %s by default", addr, defaultPort)
	case errors.Is(err, netlink.ErrProtocol) && strings.Contains(err.Error(), "not an arrayx peer"):
		return fmt.Errorf("%s is not an arrayx server (it does not speak the protocol)", addr)
	case errors.Is(err, netlink.ErrUnauthorized) && tokenFile == "":
		return fmt.Errorf("%s requires a token: give --token-file", addr)
	case errors.Is(err, netlink.ErrUnauthorized):
		return fmt.Errorf("%s refused the token in %s", addr, tokenFile)
	}
	return err
}
