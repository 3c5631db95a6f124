package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/mmapstore"
	"github.com/arrayx/arrayx/netlink"
)

// The arrayx network roles: push (the client sends to a server that
// receives into a store) and pull (the client fetches from a server that
// serves the source store), each with its options from the case table.

// netOpts are an arrayx network process's options, from Proc.Opt: a
// comma-separated list of "copy" (DialOptions.ForceCopy), "streams=N"
// (DialOptions.Streams), "tls" (TLS 1.3 with a certificate made for the
// run) and "sockbuf" (DialOptions.SendBuffer set to
// --sockbuf on a client; on a server, SO_SNDBUF set to it on the listener,
// which its connections inherit).
type netOpts struct {
	Copy    bool
	Streams int // 0: the library's default
	SockBuf bool
	TLS     bool // TLS 1.3, a certificate made for the run
}

func parseNetOpts(s string) (netOpts, error) {
	var o netOpts
	if s == "" {
		return o, nil
	}
	for _, f := range strings.Split(s, ",") {
		switch k, v, _ := strings.Cut(f, "="); k {
		case "copy":
			o.Copy = true
		case "sockbuf":
			o.SockBuf = true
		case "tls":
			o.TLS = true
		case "streams":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return o, fmt.Errorf("bench: option %q: want streams=N, N >= 1", f)
			}
			o.Streams = n
		default:
			return o, fmt.Errorf("bench: unknown option %q", f)
		}
	}
	return o, nil
}

// dialOptions are the client's DialOptions for o. With TLS, the client
// trusts the authority the server wrote into the run's scratch directory.
func (c *child) dialOptions(o netOpts) (*netlink.DialOptions, error) {
	d := &netlink.DialOptions{ForceCopy: o.Copy, Streams: o.Streams}
	if o.SockBuf {
		d.SendBuffer = c.SocketBuffer
	}
	if o.TLS {
		ca, err := os.ReadFile(filepath.Join(c.Scratch, "ca.pem"))
		if err != nil {
			return nil, err
		}
		d.TLS = &tls.Config{RootCAs: x509.NewCertPool()}
		if !d.TLS.RootCAs.AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("bench: no certificate in the server's ca.pem")
		}
	}
	return d, nil
}

// serverConfig is a netlink server's Config for o. With TLS, the server
// makes a certificate for its host and writes its authority where the
// client reads it.
func (c *child) serverConfig(o netOpts) (netlink.Config, error) {
	if !o.TLS {
		return netlink.Config{}, nil
	}
	f, err := testutil.WriteTLS(c.Scratch, c.listenHost())
	if err != nil {
		return netlink.Config{}, err
	}
	return netlink.Config{TLS: f.Server}, nil
}

// serverListener is a netlink server's listener on the run's host: every
// connection it accepts stays readable for recordTCP.
func (c *child) serverListener(o netOpts) (*trackingListener, error) {
	sndbuf := 0
	if o.SockBuf {
		sndbuf = c.SocketBuffer
	}
	return listenTCP(c, sndbuf)
}

// arrayxServer runs a netlink server on a store in the run's scratch
// directory (on /dev/shm) and waits for the array to be published there:
// the receiver of a push.
func arrayxServer(c *child) error {
	o, err := parseNetOpts(c.Opt)
	if err != nil {
		return err
	}
	st, err := mmapstore.OpenStore(filepath.Join(c.Scratch, "store"), nil)
	if err != nil {
		return err
	}
	defer st.Close()
	l, err := c.serverListener(o)
	if err != nil {
		return err
	}
	defer l.Close() // after the server: the duplicates of its connections
	cfg, err := c.serverConfig(o)
	if err != nil {
		return err
	}
	srv := netlink.NewServer(st, cfg)
	go srv.Serve(l)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-c.stop
		cancel()
	}()
	c.ready(l.Addr().String())
	c.begin()
	a, err := st.Wait(ctx, "x") // inotify: the moment the server publishes it
	c.end()
	c.recordTCP()
	if err != nil {
		return err
	}
	defer a.Close()
	<-c.stop // the client has its reply and has exited: verify now, and close the server only then
	x, err := arrayx.Data[float64](a)
	if err != nil {
		return err
	}
	k := newChecker(c.Params)
	if err := k.add(x); err != nil {
		return err
	}
	v, err := k.done()
	c.rep.Verified = v + " (the server also checked every block's CRC-32C)"
	return err
}

// arrayxPush pushes the sealed source array to the server, with sendfile or,
// with the option "copy", with writes from the mapping (DialOptions.ForceCopy).
func arrayxPush(c *child) error {
	o, err := parseNetOpts(c.Opt)
	if err != nil {
		return err
	}
	a, err := mmapstore.Open(c.ArxPath, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	ctx := context.Background()
	opts, err := c.dialOptions(o)
	if err != nil {
		return err
	}
	cl, err := netlink.Dial(ctx, c.Addr, opts)
	if err != nil {
		return err
	}
	defer cl.Close()
	c.begin()
	st, err := cl.Push(ctx, a, "x")
	c.end()
	c.recordTCP() // the main connection; the extra streams are closed
	if err != nil {
		return err
	}
	c.rep.Method, c.rep.Streams = st.Method, st.Streams
	if st.Bytes != c.NBytes || st.ZeroCopy == (o.Copy || o.TLS) || st.TLS != o.TLS {
		return fmt.Errorf("bench: push stats %+v, want %d bytes, zero-copy %v, tls %v", st, c.NBytes, !o.Copy && !o.TLS, o.TLS)
	}
	c.rep.Verified = "the server acknowledged every block's CRC-32C"
	return nil
}

// arrayxSource serves the source store read-only: the sender of a pull. Its
// window runs from its ready line until the harness tells it to stop (the
// client has pulled, verified and exited); only the client's window is
// timed.
func arrayxSource(c *child) error {
	o, err := parseNetOpts(c.Opt)
	if err != nil {
		return err
	}
	st, err := mmapstore.OpenStore(c.SrcStore, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	l, err := c.serverListener(o)
	if err != nil {
		return err
	}
	defer l.Close()
	srv := netlink.NewServer(st, netlink.Config{ReadOnly: true})
	go srv.Serve(l)
	defer srv.Close()
	c.ready(l.Addr().String())
	c.begin()
	<-c.stop
	c.end()
	c.recordTCP()
	c.rep.Verified = "the client checks values"
	return nil
}

// arrayxPull pulls the source array into a store in the run's scratch
// directory: the receiver, and the timed side, from Pull's start until it
// returns (every block verified, the array published).
func arrayxPull(c *child) error {
	o, err := parseNetOpts(c.Opt)
	if err != nil {
		return err
	}
	if o.Copy {
		return fmt.Errorf("bench: a pull cannot force a copy: the server sends")
	}
	st, err := mmapstore.OpenStore(filepath.Join(c.Scratch, "store"), nil)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := context.Background()
	opts, err := c.dialOptions(o)
	if err != nil {
		return err
	}
	cl, err := netlink.Dial(ctx, c.Addr, opts)
	if err != nil {
		return err
	}
	defer cl.Close()
	c.begin()
	stats, err := cl.Pull(ctx, "x", st, "x")
	c.end()
	c.recordTCP()
	if err != nil {
		return err
	}
	c.rep.Method, c.rep.Streams = stats.Method, stats.Streams
	if stats.Bytes != c.NBytes || !stats.ZeroCopy {
		return fmt.Errorf("bench: pull stats %+v, want %d bytes, zero-copy", stats, c.NBytes)
	}
	a, err := st.Open("x")
	if err != nil {
		return err
	}
	defer a.Close()
	x, err := arrayx.Data[float64](a)
	if err != nil {
		return err
	}
	k := newChecker(c.Params)
	if err := k.add(x); err != nil {
		return err
	}
	v, err := k.done()
	c.rep.Verified = v + " (Pull also checked every block's CRC-32C)"
	return err
}
