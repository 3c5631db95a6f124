package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"
)

// rmCmd removes arrays from the store, or from a server. Processes that
// have one open keep their mapping until they close it.
type rmCmd struct {
	prefix string
	remote string
	netFlags
}

func (c *rmCmd) usage() (string, string) {
	return "NAME [NAME2 ...] | --prefix P [--remote ADDR [--token-file F]]",
		"remove arrays, named or every one whose name starts with P, from the store or a server"
}

func (c *rmCmd) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.prefix, "prefix", "", "remove every array whose name starts with P (sim/ for all under sim)")
	fs.StringVar(&c.remote, "remote", "", "remove from a server's store instead (HOST[:PORT], port 7070 by default, or unix:/path)")
	c.netFlags.addFlags(fs)
}

// remover is one side's list and remove, with its way of naming a missing array.
type remover struct {
	list   func(prefix string) ([]string, error)
	remove func(name string) error
	where  string // "in store DIR", "on HOST"
}

func (c *rmCmd) run(ctx context.Context, e *env, args []string) error {
	switch {
	case c.prefix == "" && len(args) == 0:
		return usagef("missing array NAME (or --prefix P)")
	case c.prefix != "" && len(args) > 0:
		return usagef("give NAMEs or --prefix, not both")
	}
	for _, n := range args {
		if err := storeName(n); err != nil {
			return err
		}
	}
	var r remover
	if c.remote != "" {
		cl, _, err := c.dial(ctx, e, c.remote, "", 0)
		if err != nil {
			return err
		}
		defer cl.Close()
		r = remover{
			list: func(p string) ([]string, error) {
				list, err := cl.List(ctx, p)
				names := make([]string, len(list))
				for i, a := range list {
					names[i] = a.Name
				}
				return names, err
			},
			remove: func(n string) error { return remoteArrayError(c.remote, n, cl.Delete(ctx, n)) },
			where:  "on " + c.remote,
		}
	} else {
		st, err := e.openExistingStore()
		if err != nil {
			return err
		}
		defer st.Close()
		r = remover{
			list:   func(p string) ([]string, error) { return withPrefix(st, p) },
			remove: func(n string) error { return arrayError(st, n, st.Remove(n)) },
			where:  "in store " + st.Dir(),
		}
	}
	names := args
	if c.prefix != "" {
		var err error
		if names, err = r.list(c.prefix); err != nil {
			return err
		}
		if len(names) == 0 {
			return fmt.Errorf("no array name starts with %q %s", c.prefix, r.where)
		}
	}
	return eachName(ctx, names, "removed", func(n string) error {
		if err := r.remove(n); err != nil {
			return err
		}
		_, err := fmt.Fprintf(e.status(), "removed %s\n", n)
		return err
	})
}
