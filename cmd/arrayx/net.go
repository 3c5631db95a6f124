package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/arrayx/arrayx/mmapstore"
	"github.com/arrayx/arrayx/netlink"
	"github.com/spf13/pflag"
)

// netFlags are the flags shared by the verbs that talk to a server.
type netFlags struct {
	tokenFile string
	sync      bool
	streams   int
	tls       bool
	tlsCA     string
	tlsName   string
	warnTo    io.Writer // where warnings go (stderr), once the verb runs
}

func (n *netFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&n.tokenFile, "token-file", "", "file holding the shared secret token (surrounding whitespace ignored)")
	fs.BoolVar(&n.tls, "tls", false, "speak TLS to the server, trusting the system's certificate authorities")
	fs.StringVar(&n.tlsCA, "tls-ca", "", "speak TLS to the server, trusting the certificate authorities in this PEM file")
	fs.StringVar(&n.tlsName, "tls-server-name", "", "the name the server's certificate must carry (default: the address's host)")
}

// setWarn is called with the verb's stderr before it runs.
func (n *netFlags) setWarn(w io.Writer) { n.warnTo = w }

func (n *netFlags) warn(format string, args ...any) {
	if n.warnTo != nil {
		fmt.Fprintf(n.warnTo, "arrayx: warning: "+format+"\n", args...)
	}
}

// tlsConfig is the client TLS configuration the flags ask for, or nil for
// plaintext.
func (n *netFlags) tlsConfig() (*tls.Config, error) {
	if !n.tls && n.tlsCA == "" && n.tlsName == "" {
		return nil, nil
	}
	cfg := &tls.Config{ServerName: n.tlsName}
	if n.tlsCA != "" {
		pem, err := os.ReadFile(n.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, usagef("--tls-ca %s holds no PEM certificate", n.tlsCA)
		}
	}
	return cfg, nil
}

// addSyncFlag is for the verbs that receive arrays.
func (n *netFlags) addSyncFlag(fs *pflag.FlagSet) {
	fs.BoolVar(&n.sync, "sync", false, "fsync received arrays (and their directory) before publishing them, even on tmpfs")
}

// addStreamsFlag is for the verbs that transfer arrays.
func (n *netFlags) addStreamsFlag(fs *pflag.FlagSet) {
	fs.IntVar(&n.streams, "streams", netlink.DefaultStreams,
		"TCP connections that carry the transfer (more help on long, fast links; needs a version-2 server)")
}

func (n *netFlags) syncMode() mmapstore.SyncMode {
	if n.sync {
		return mmapstore.SyncAlways
	}
	return mmapstore.SyncAuto
}

// token reads --token-file; no flag means no token.
func (n *netFlags) token() ([]byte, error) {
	if n.tokenFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(n.tokenFile)
	if err != nil {
		return nil, fmt.Errorf("--token-file: %w", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, usagef("--token-file %s is empty", n.tokenFile)
	}
	if fi, err := os.Stat(n.tokenFile); err == nil && fi.Mode().Perm()&0o077 != 0 && runtime.GOOS != "windows" {
		n.warn("token file %s is readable by others than its owner (mode %v): chmod 600 %s", n.tokenFile, fi.Mode().Perm(), n.tokenFile)
	}
	if len(b) < minTokenBytes {
		n.warn("the token in %s has %d bytes; use at least %d, e.g. head -c 32 /dev/urandom | base64 > %s", n.tokenFile, len(b), minTokenBytes, n.tokenFile)
	}
	return b, nil
}

// minTokenBytes is the shortest token that draws no warning: 16 random
// bytes make guessing it hopeless.
const minTokenBytes = 16

// dial connects to addr with the token and a progress bar over total bytes.
func (n *netFlags) dial(ctx context.Context, e *env, addr, desc string, total int64) (*netlink.Client, *progress, error) {
	bar := e.newProgress(desc, total)
	c, err := n.dialWith(ctx, addr, bar.add)
	if err != nil {
		bar.done()
		return nil, nil, err
	}
	return c, bar, nil
}

// dialWith connects to addr with the token, reporting progress to fn.
func (n *netFlags) dialWith(ctx context.Context, addr string, fn func(int64)) (*netlink.Client, error) {
	return n.dialOpts(ctx, addr, &netlink.DialOptions{Progress: fn})
}

// dialBars connects to addr with the token, showing each transfer on bars.
func (n *netFlags) dialBars(ctx context.Context, addr string, bars *transferBars) (*netlink.Client, error) {
	return n.dialOpts(ctx, addr, &netlink.DialOptions{Progress: bars.moved, Checked: bars.checked, Held: bars.held})
}

// dialOpts connects to addr with the token and the flags' options added to
// o's progress callbacks.
func (n *netFlags) dialOpts(ctx context.Context, addr string, o *netlink.DialOptions) (*netlink.Client, error) {
	tok, err := n.token()
	if err != nil {
		return nil, err
	}
	if n.streams < 0 || n.streams > 64 {
		return nil, usagef("--streams %d: want 1 to 64", n.streams)
	}
	target, err := parseAddr(addr)
	if err != nil {
		return nil, err
	}
	tc, err := n.tlsConfig()
	if err != nil {
		return nil, err
	}
	o.Token, o.Sync, o.Streams, o.TLS = tok, n.syncMode(), n.streams, tc
	cl, err := netlink.Dial(ctx, target, o)
	if err != nil {
		return nil, dialError(addr, n.tokenFile, err)
	}
	if cl.TokenUnused() {
		n.warn("the server at %s asks for no token (yours was not sent): anyone who reaches it can use it", addr)
	}
	return cl, nil
}

// summary is the one line every transfer ends with: the data phase's
// bytes, time and rate, and the command's wall time for the array (which
// includes checking what an interrupted transfer left).
func summary(verb, what string, st netlink.Stats, wall time.Duration) string {
	return fmt.Sprintf("%s %s: %s; wall time %.3f s", verb, what, st, wall.Seconds())
}
