package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"time"

	"github.com/arrayx/arrayx/mmapstore"
	"github.com/arrayx/arrayx/netlink"
	"github.com/spf13/pflag"
)

// syncCmd makes one side's arrays the other's: a local store and a server.
type syncCmd struct {
	include, exclude []string
	delete, dryRun   bool
	json             bool
	watch            bool
	debounce         time.Duration
	poll             time.Duration
	metrics          string
	transfers        int
	netFlags
}

func (c *syncCmd) usage() (string, string) {
	return "SRC DST [--include GLOB] [--exclude GLOB] [--delete] [--dry-run] [--json] [--watch [--poll D] [--metrics ADDR]] [--transfers N] [--token-file F] [--streams N]",
		"make DST hold exactly SRC's arrays: a store directory and a server (HOST:PORT[/PREFIX]), either way; " +
			"unchanged arrays cost their headers, changed ones their changed blocks"
}

func (c *syncCmd) addFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&c.include, "include", nil, "only names (relative to the prefixes) matching this glob; repeatable")
	fs.StringArrayVar(&c.exclude, "exclude", nil, "never names matching this glob; repeatable")
	fs.BoolVar(&c.delete, "delete", false, "remove what DST has and SRC does not, within the selection")
	fs.BoolVar(&c.dryRun, "dry-run", false, "say what would move and how many bytes, moving nothing")
	fs.BoolVar(&c.json, "json", false, "print the report as JSON")
	fs.IntVar(&c.transfers, "transfers", netlink.DefaultSyncTransfers, "large arrays sent at once, each on a connection of its own (small ones stream on one)")
	fs.BoolVar(&c.watch, "watch", false, "after the sync, keep DST following SRC until interrupted")
	fs.DurationVar(&c.debounce, "debounce", 200*time.Millisecond, "with --watch from a store: gather changes this long before syncing them")
	fs.DurationVar(&c.poll, "poll", netlink.DefaultSyncPoll, "with --watch from a server: list it this often")
	fs.StringVar(&c.metrics, "metrics", "", "with --watch: serve Prometheus metrics at http://ADDR/metrics")
	c.netFlags.addFlags(fs)
	c.netFlags.addStreamsFlag(fs)
}

// serverSide matches HOST:PORT[/PREFIX], and arrayx://HOST[:PORT][/PREFIX]
// (the scheme says it is a server, so the port may go: defaultPort).
var serverSide = regexp.MustCompile(`^(?:arrayx://([^/]+)|([^/]+:[0-9]+))(?:/(.*))?$`)

// syncSide is one side of a sync as given on the command line.
type syncSide struct {
	addr, prefix string // a server: its address and the prefix there
	dir          string // else a store directory
}

func parseSyncSide(s string) syncSide {
	if m := serverSide.FindStringSubmatch(s); m != nil {
		return syncSide{addr: m[1] + m[2], prefix: m[3]}
	}
	return syncSide{dir: s}
}

func (c *syncCmd) run(ctx context.Context, e *env, args []string) error {
	if len(args) != 2 {
		return usagef("want SRC and DST, got %d arguments", len(args))
	}
	src, dst := parseSyncSide(args[0]), parseSyncSide(args[1])
	if (src.addr == "") == (dst.addr == "") {
		return usagef("one of SRC and DST must be a server (HOST:PORT[/PREFIX]) and the other a store directory")
	}
	push := dst.addr != ""
	if c.watch && (c.dryRun || c.json) {
		return usagef("--watch goes without --dry-run and --json")
	}
	if c.watch && c.poll <= 0 {
		return usagef("--poll %v: want a positive duration", c.poll)
	}
	if c.metrics != "" && !c.watch {
		return usagef("--metrics goes with --watch")
	}
	local, server := src, dst
	if !push {
		local, server = dst, src
	}
	// A source store must exist; a destination store is made if need be.
	if fi, err := os.Stat(local.dir); push && (err != nil || !fi.IsDir()) {
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("sync: no store at %s", local.dir)
		}
		return fmt.Errorf("sync: %w", err)
	}
	st, err := mmapstore.OpenStore(local.dir, &mmapstore.Options{Sync: c.syncMode()})
	if err != nil {
		return err
	}
	defer st.Close()
	if c.transfers < 1 || c.transfers > 64 {
		return usagef("--transfers %d: want 1 to 64", c.transfers)
	}
	o := netlink.SyncOptions{Include: c.include, Exclude: c.exclude, Delete: c.delete, DryRun: c.dryRun, Transfers: c.transfers}
	if push {
		o.DstPrefix = server.prefix
	} else {
		o.SrcPrefix = server.prefix
	}
	var bar *progress
	cl, err := c.dialWith(ctx, server.addr, func(n int64) { bar.add(n) })
	if err != nil {
		return err
	}
	defer cl.Close()
	if c.watch {
		return c.runWatch(ctx, e, cl, st, o, push, args)
	}
	do := func(o netlink.SyncOptions) (netlink.SyncReport, error) {
		if push {
			return cl.SyncPush(ctx, st, &o)
		}
		return cl.SyncPull(ctx, st, &o)
	}
	if e.tty && !e.quiet && !c.dryRun && !c.json {
		// On a terminal: plan first (headers only), for a progress bar
		// over the bytes the sync will move.
		dry := o
		dry.DryRun = true
		if plan, err := do(dry); err == nil && plan.Bytes > 0 {
			bar = e.newProgress("sync", plan.Bytes)
		}
	}
	r, err := do(o)
	bar.done()
	if err := c.print(e, r, args); err != nil {
		return err
	}
	if err != nil && r.Failed > 0 {
		return fmt.Errorf("sync: %d of %d arrays failed (listed above); running it again resumes them", r.Failed, r.Checked)
	}
	return err
}

// print writes a report: a line per array that moved, then the summary;
// or the JSON.
func (c *syncCmd) print(e *env, r netlink.SyncReport, args []string) error {
	if c.json {
		out, jerr := json.MarshalIndent(r, "", "  ")
		if jerr != nil {
			return jerr
		}
		if _, werr := fmt.Fprintf(e.stdout, "%s\n", out); werr != nil {
			return werr
		}
	} else {
		w := e.status() // a dry run's report is the answer it was asked for
		if c.dryRun {
			w = e.stdout
		}
		for _, it := range r.Items {
			line := fmt.Sprintf("%s %s: %d of %d bytes", it.Action, it.Name, it.Bytes, it.NBytes)
			if it.Action == netlink.SyncDelete {
				line = fmt.Sprintf("delete %s", it.Name)
			}
			if it.Error != "" {
				line += " FAILED: " + it.Error
			}
			fmt.Fprintln(w, line)
		}
		verb := "synced"
		if c.dryRun {
			verb = "dry run"
		}
		if _, werr := fmt.Fprintf(w, "%s %s -> %s: %s\n", verb, args[0], args[1], r); werr != nil {
			return werr
		}
	}
	return nil
}

// runWatch syncs, then follows the source until interrupted (a store by
// inotify, a server by listing it every --poll), printing every round and
// keeping the metrics.
func (c *syncCmd) runWatch(ctx context.Context, e *env, cl *netlink.Client, st *mmapstore.Store, o netlink.SyncOptions,
	push bool, args []string) error {
	m := newSyncMetrics()
	if c.metrics != "" {
		stop, err := m.serve(c.metrics)
		if err != nil {
			return err
		}
		defer stop()
		fmt.Fprintf(e.stdout, "metrics on http://%s/metrics\n", c.metrics)
	}
	round := func(r netlink.SyncReport, err error) {
		if push {
			m.record(st, o.SrcPrefix, r, err)
		} else {
			m.record(nil, "", r, err) // the server's seal times are unknown here: no lag
		}
		if push || len(r.Items) > 0 || err != nil { // a quiet poll says nothing
			c.print(e, r, args)
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "sync: %v (trying again)\n", err)
		}
	}
	var err error
	if push {
		err = cl.SyncWatch(ctx, st, &o, c.debounce, round)
	} else {
		err = cl.SyncFollow(ctx, st, &o, c.poll, round)
	}
	if ctx.Err() != nil {
		return nil // interrupted: the way a watch ends
	}
	return err
}
