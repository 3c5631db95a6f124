package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/arrayx/arrayx/netlink"
	"github.com/spf13/pflag"
)

// pushCmd sends a local array to a server with sendfile, or to many servers
// at once through a relay chain.
type pushCmd struct {
	as string
	netFlags
}

func (c *pushCmd) usage() (string, string) {
	return "NAME ADDR [ADDR2 ...] [--as NAME2] [--token-file F] [--streams N]",
		"send a local array to a server (sendfile; resumes an interrupted push); with several ADDRs, " +
			"send it once and have each server relay it to the next"
}

func (c *pushCmd) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.as, "as", "", "name on the server (default: NAME)")
	c.netFlags.addFlags(fs)
	c.netFlags.addStreamsFlag(fs)
}

func (c *pushCmd) run(ctx context.Context, e *env, args []string) error {
	if len(args) < 2 {
		return usagef("want NAME and at least one ADDR, got %d arguments", len(args))
	}
	name, first, chain := args[0], args[1], args[2:]
	a, err := e.openArray(args[:1])
	if err != nil {
		return err
	}
	defer a.Close()
	as := c.as
	if as == "" {
		as = name
	}
	cl, bar, err := c.dial(ctx, e, first, "push "+name, a.Header().NBytes)
	if err != nil {
		return err
	}
	defer cl.Close()
	st, hosts, err := cl.PushChain(ctx, a, as, chain)
	bar.done()
	if err != nil {
		return err
	}
	what := fmt.Sprintf("%s to %s as %s", name, first, as)
	if _, err := fmt.Fprintln(e.stdout, summary("pushed", what, st)); err != nil {
		return err
	}
	// One line per relayed host; the push fails if any host did.
	var failed []string
	for _, h := range hosts {
		line := fmt.Sprintf("relayed to %s: %s", h.Host, hostSummary(h))
		if h.Err() != nil {
			failed = append(failed, h.Host)
			line = fmt.Sprintf("relay to %s failed: %s", h.Host, h.Message)
		}
		if _, err := fmt.Fprintln(e.stdout, line); err != nil {
			return err
		}
	}
	if len(hosts) < len(chain) { // the chain ended early without reporting (an old server)
		failed = append(failed, chain[len(hosts):]...)
	}
	if len(failed) > 0 {
		return fmt.Errorf("push %s: %d of %d hosts did not get it: %s (the others did)", name, len(failed), len(args)-1, strings.Join(failed, ", "))
	}
	return nil
}

// hostSummary is a relayed host's outcome in the words of summary.
func hostSummary(h netlink.HostStats) string {
	rate := 0.0
	if h.Seconds > 0 {
		rate = float64(h.Bytes) / h.Seconds / 1e9
	}
	zc := "no: copied through user space"
	if h.ZeroCopy {
		zc = "yes"
	}
	out := fmt.Sprintf("%d bytes in %.3f s, %.2f GB/s, zero-copy: %s", h.Bytes, h.Seconds, rate, zc)
	if h.Refetched > 0 {
		out += fmt.Sprintf(", %d blocks sent again after a bad checksum", h.Refetched)
	}
	return out
}
