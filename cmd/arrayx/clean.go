package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/arrayx/arrayx/mmapstore"
	"github.com/arrayx/arrayx/netlink"
	"github.com/spf13/pflag"
)

// cleanCmd removes what dead writers and abandoned transfers left in the
// store, as a server does when it starts and while it serves.
type cleanCmd struct {
	dryRun   bool
	partials time.Duration
}

func (c *cleanCmd) usage() (string, string) {
	return "[--dry-run] [--partials-older-than 24h]",
		"remove dead writers' temporary files and abandoned partial transfers, with their sizes"
}

func (c *cleanCmd) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&c.dryRun, "dry-run", false, "say what would be removed, and remove nothing")
	fs.DurationVar(&c.partials, "partials-older-than", netlink.DefaultPartialMaxAge,
		"also remove partial files no transfer holds, untouched for this long (0: all of them; negative: keep them all)")
}

func (c *cleanCmd) run(ctx context.Context, e *env, args []string) error {
	if len(args) != 0 {
		return usagef("takes no arguments, got %q", args)
	}
	st, err := e.openExistingStore()
	if err != nil {
		return err
	}
	defer st.Close()
	opts := &mmapstore.CleanOptions{DryRun: c.dryRun, PartialsOlderThan: c.partials}
	switch {
	case c.partials == 0:
		opts.PartialsOlderThan = time.Nanosecond // any age: every unheld partial
	case c.partials < 0:
		opts.PartialsOlderThan = 0 // CleanOptions' "keep every partial"
	}
	res, cerr := st.Clean(opts)
	verb := "removed"
	if c.dryRun {
		verb = "would remove"
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	for i, p := range res.Removed {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", verb, p, humanBytes(res.Sizes[i]))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Kept: live files, and partials younger than asked (or all of them).
	fmt.Fprintf(e.stdout, "%s %d %s, %s; kept %d in use and %d %s\n", verb, len(res.Removed), plural(len(res.Removed), "file"),
		humanBytes(res.Bytes), res.InUse, res.Kept, plural(res.Kept, "partial"))
	return cerr
}

// plural returns word, with an s unless n is 1.
func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
