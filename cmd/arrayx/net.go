package main

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"github.com/arrayx/arrayx/mmapstore"
	"github.com/arrayx/arrayx/netlink"
	"github.com/spf13/pflag"
)

// netFlags are the flags shared by the verbs that talk to a server.
type netFlags struct {
	tokenFile string
	sync      bool
	streams   int
}

func (n *netFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&n.tokenFile, "token-file", "", "file holding the shared secret token (surrounding whitespace ignored)")
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
	return b, nil
}

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
	cl, err := netlink.Dial(ctx, target, &netlink.DialOptions{Token: tok, Progress: fn, Sync: n.syncMode(), Streams: n.streams})
	if err != nil {
		return nil, dialError(addr, n.tokenFile, err)
	}
	return cl, nil
}

// summary is the one line every transfer ends with.
func summary(verb, what string, st netlink.Stats) string {
	return fmt.Sprintf("%s %s: %s", verb, what, st)
}
