package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/arrayx/arrayx/netlink"
	"github.com/spf13/pflag"
)

// pushCmd sends a local array to a server with sendfile, or to many servers
// at once through a relay chain.
type pushCmd struct {
	as     string
	prefix string
	netFlags
	forceFlag
}

func (c *pushCmd) usage() (string, string) {
	return "NAME|--prefix P ADDR [ADDR2 ...] [--as NAME2] [--token-file F] [--streams N] [--force]",
		"send a local array to a server (sendfile; resumes an interrupted push); with several ADDRs, " +
			"send it once and have each server relay it to the next; refuses a name a server holds unless --force"
}

func (c *pushCmd) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.as, "as", "", "name on the server (default: NAME)")
	fs.StringVar(&c.prefix, "prefix", "", "push every array of the store whose name starts with P, under the same names (then every argument is an ADDR)")
	c.netFlags.addFlags(fs)
	c.netFlags.addStreamsFlag(fs)
	c.addForceFlag(fs)
}

func (c *pushCmd) run(ctx context.Context, e *env, args []string) error {
	var names []string
	if c.prefix == "" {
		if len(args) < 2 {
			return usagef("want NAME and at least one ADDR, got %d arguments", len(args))
		}
		names, args = args[:1], args[1:]
	} else {
		if len(args) < 1 {
			return usagef("want at least one ADDR")
		}
		if c.as != "" {
			return usagef("--as names one array: give a NAME, not --prefix")
		}
	}
	first, chain := args[0], slices.Clone(args[1:])
	// The servers dial the relayed hosts: they get the addresses whole.
	for i, host := range chain {
		var err error
		if chain[i], err = parseAddr(host); err != nil {
			return err
		}
	}
	if c.prefix != "" {
		var err error
		if names, err = e.prefixed(c.prefix); err != nil {
			return err
		}
	}
	bars := &transferBars{e: e, verb: "push"}
	var cl *netlink.Client // dialled once the first array is open
	defer func() {
		if cl != nil {
			cl.Close()
		}
	}()
	return eachName(ctx, names, "pushed", func(name string) error {
		a, err := e.openArray([]string{name})
		if err != nil {
			return err
		}
		defer a.Close()
		as := c.as
		if as == "" {
			as = name
			if isFilePath(name) {
				as = fileArrayName(name)
			}
		}
		if err := storeName(as); err != nil {
			return err
		}
		start := time.Now()
		if cl == nil {
			if cl, err = c.dialBars(ctx, first, bars); err != nil {
				return err
			}
		}
		if err := c.checkRemote(ctx, cl, first, as); err != nil {
			return err
		}
		if err := c.checkChain(ctx, chain, as); err != nil {
			return err
		}
		bars.start(name, a.Header().NBytes)
		st, hosts, err := cl.PushChain(ctx, a, as, chain)
		bars.done()
		if err != nil {
			return remoteArrayError(first, as, err)
		}
		what := fmt.Sprintf("%s to %s as %s", name, first, as)
		if _, err := fmt.Fprintln(e.status(), summary("pushed", what, st, time.Since(start))); err != nil {
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
			if _, err := fmt.Fprintln(e.status(), line); err != nil {
				return err
			}
		}
		if len(hosts) < len(chain) { // the chain ended early without reporting (an old server)
			failed = append(failed, chain[len(hosts):]...)
		}
		if len(failed) > 0 {
			return fmt.Errorf("push %s: %d of %d hosts did not get it: %s (the others did)", name, len(failed), len(args), strings.Join(failed, ", "))
		}
		return nil
	})
}

// prefixed lists the store's arrays whose names start with prefix; none is
// an error.
func (e *env) prefixed(prefix string) ([]string, error) {
	st, err := e.openExistingStore()
	if err != nil {
		return nil, err
	}
	defer st.Close()
	names, err := withPrefix(st, prefix)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no array name starts with %q in store %s", prefix, st.Dir())
	}
	return names, nil
}

// checkChain refuses the push if a relayed host holds as already, unless
// --force. Each host is asked from here; one this machine cannot reach is
// left unchecked, as the relay may still reach it (and a dead host must not
// stop the push to the others).
func (c *pushCmd) checkChain(ctx context.Context, chain []string, as string) error {
	if c.force {
		return nil
	}
	for _, host := range chain {
		cl, err := c.dialWith(ctx, host, nil)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		}
		err = c.checkRemote(ctx, cl, host, as)
		cl.Close()
		if err != nil {
			return err
		}
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
