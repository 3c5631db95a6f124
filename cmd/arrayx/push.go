package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"
)

// pushCmd sends a local array to a server with sendfile.
type pushCmd struct {
	as string
	netFlags
}

func (c *pushCmd) usage() (string, string) {
	return "NAME ADDR [--as NAME2] [--token-file F] [--streams N]", "send a local array to a server (sendfile; resumes an interrupted push)"
}

func (c *pushCmd) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.as, "as", "", "name on the server (default: NAME)")
	c.netFlags.addFlags(fs)
	c.netFlags.addStreamsFlag(fs)
}

func (c *pushCmd) run(ctx context.Context, e *env, args []string) error {
	if len(args) != 2 {
		return usagef("want NAME and ADDR, got %d arguments", len(args))
	}
	a, err := e.openArray(args[:1])
	if err != nil {
		return err
	}
	defer a.Close()
	as := c.as
	if as == "" {
		as = args[0]
	}
	cl, bar, err := c.dial(ctx, e, args[1], "push "+args[0], a.Header().NBytes)
	if err != nil {
		return err
	}
	defer cl.Close()
	st, err := cl.Push(ctx, a, as)
	bar.done()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(e.stdout, summary("pushed", fmt.Sprintf("%s to %s as %s", args[0], args[1], as), st))
	return err
}
