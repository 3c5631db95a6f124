package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"
)

// pullCmd fetches an array from a server into the local store.
type pullCmd struct {
	as string
	netFlags
	forceFlag
}

func (c *pullCmd) usage() (string, string) {
	return "ADDR NAME [--as NAME2] [--token-file F] [--streams N] [--sync] [--force]",
		"fetch an array from a server into the store (resumes an interrupted pull; refuses an existing local name unless --force)"
}

func (c *pullCmd) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.as, "as", "", "local name (default: NAME)")
	c.netFlags.addFlags(fs)
	c.netFlags.addStreamsFlag(fs)
	c.netFlags.addSyncFlag(fs)
	c.addForceFlag(fs)
}

func (c *pullCmd) run(ctx context.Context, e *env, args []string) error {
	if len(args) != 2 {
		return usagef("want ADDR and NAME, got %d arguments", len(args))
	}
	addr, name := args[0], args[1]
	as := c.as
	if as == "" {
		as = name
	}
	for _, n := range []string{name, as} {
		if err := storeName(n); err != nil {
			return err
		}
	}
	st, err := e.openStore()
	if err != nil {
		return err
	}
	defer st.Close()
	if err := c.checkLocal(st, as); err != nil {
		return err
	}
	var bar *progress // sized once Stat has told the array's size
	cl, err := c.dialWith(ctx, addr, func(n int64) { bar.add(n) })
	if err != nil {
		return err
	}
	defer cl.Close()
	h, err := cl.Stat(ctx, name)
	if err != nil {
		return remoteArrayError(addr, name, err)
	}
	bar = e.newProgress("pull "+name, h.NBytes)
	stats, err := cl.Pull(ctx, name, st, as)
	bar.done()
	if err != nil {
		return remoteArrayError(addr, name, err)
	}
	_, err = fmt.Fprintln(e.status(), summary("pulled", fmt.Sprintf("%s from %s as %s", name, addr, as), stats))
	return err
}
