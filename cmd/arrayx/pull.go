package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/pflag"
)

// pullCmd fetches an array from a server into the local store.
type pullCmd struct {
	as     string
	prefix string
	netFlags
	forceFlag
}

func (c *pullCmd) usage() (string, string) {
	return "ADDR NAME [NAME2 ...] | ADDR --prefix P [--as NAME2] [--token-file F] [--streams N] [--sync] [--force]",
		"fetch arrays from a server into the store, named or every one whose name starts with P " +
			"(resumes an interrupted pull; refuses an existing local name unless --force)"
}

func (c *pullCmd) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.as, "as", "", "local name (default: NAME; with one NAME only)")
	fs.StringVar(&c.prefix, "prefix", "", "pull every array of the server whose name starts with P, under the same names")
	c.netFlags.addFlags(fs)
	c.netFlags.addStreamsFlag(fs)
	c.netFlags.addSyncFlag(fs)
	c.addForceFlag(fs)
}

func (c *pullCmd) run(ctx context.Context, e *env, args []string) error {
	switch {
	case len(args) == 0:
		return usagef("want ADDR and NAME, got no arguments")
	case c.prefix == "" && len(args) < 2:
		return usagef("want ADDR and NAME (or --prefix P), got 1 argument")
	case c.prefix != "" && len(args) > 1:
		return usagef("give NAMEs or --prefix, not both")
	case c.as != "" && (len(args) > 2 || c.prefix != ""):
		return usagef("--as names one array: give one NAME")
	}
	addr, names := args[0], args[1:]
	for _, n := range append([]string{c.as}, names...) {
		if n == "" {
			continue
		}
		if err := storeName(n); err != nil {
			return err
		}
	}
	st, err := e.openStore()
	if err != nil {
		return err
	}
	defer st.Close()
	bars := &transferBars{e: e, verb: "pull"}
	cl, err := c.dialBars(ctx, addr, bars)
	if err != nil {
		return err
	}
	defer cl.Close()
	if c.prefix != "" {
		list, err := cl.List(ctx, c.prefix)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			return fmt.Errorf("no array name starts with %q on %s", c.prefix, addr)
		}
		for _, a := range list {
			names = append(names, a.Name)
		}
	}
	return eachName(ctx, names, "pulled", func(name string) error {
		as := c.as
		if as == "" {
			as = name
		}
		if err := c.checkLocal(st, as); err != nil {
			return err
		}
		start := time.Now()
		h, err := cl.Stat(ctx, name)
		if err != nil {
			return remoteArrayError(addr, name, err)
		}
		bars.start(name, h.NBytes)
		stats, err := cl.Pull(ctx, name, st, as)
		bars.done()
		if err != nil {
			return remoteArrayError(addr, name, err)
		}
		_, err = fmt.Fprintln(e.status(), summary("pulled", fmt.Sprintf("%s from %s as %s", name, addr, as), stats, time.Since(start)))
		return err
	})
}
