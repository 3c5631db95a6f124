package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
	"github.com/arrayx/arrayx/netlink"
)

// The arrayx network roles: push (the client sends to a server that
// receives into a store) and pull (the client fetches from a server that
// serves the source store), each with its options from the case table.

// netOpts are an arrayx network process's options, from Proc.Opt: a
// comma-separated list of "copy" (DialOptions.ForceCopy), "streams=N"
// (DialOptions.Streams) and "sockbuf" (DialOptions.SendBuffer set to
// --sockbuf on a client; on a server, SO_SNDBUF set to it on the listener,
// which its connections inherit).
type netOpts struct {
	Copy    bool
	Streams int // 0: the library's default
	SockBuf bool
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

// dialOptions are the client's DialOptions for o.
func (c *child) dialOptions(o netOpts) *netlink.DialOptions {
	d := &netlink.DialOptions{ForceCopy: o.Copy, Streams: o.Streams}
	if o.SockBuf {
		d.SendBuffer = c.SocketBuffer
	}
	return d
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
	srv := netlink.NewServer(st, netlink.Config{})
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
	cl, err := netlink.Dial(ctx, c.Addr, c.dialOptions(o))
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
	if st.Bytes != c.NBytes || st.ZeroCopy == o.Copy {
		return fmt.Errorf("bench: push stats %+v, want %d bytes, zero-copy %v", st, c.NBytes, !o.Copy)
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
	cl, err := netlink.Dial(ctx, c.Addr, c.dialOptions(o))
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
