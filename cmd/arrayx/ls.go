package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"text/tabwriter"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
	"github.com/arrayx/arrayx/netlink"
	"github.com/spf13/pflag"
)

// lsCmd lists the store's arrays, sorted by name, with their headers.
type lsCmd struct {
	json    bool
	all     bool
	remote  string
	digests bool
	netFlags
}

func (c *lsCmd) usage() (string, string) {
	return "[--json] [--all] [--digests] [--remote ADDR [--token-file F]]", "list the arrays in the store, or on a server"
}

func (c *lsCmd) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&c.json, "json", false, "print a JSON array of the objects info --json prints (with --remote: name, dtype, shape, order, nbytes)")
	fs.BoolVar(&c.all, "all", false, "also list temporary and partial files, with their sizes (what they hold in RAM on a memory-backed store)")
	fs.StringVar(&c.remote, "remote", "", "list a server's arrays instead (HOST[:PORT], port 7070 by default, or unix:/path)")
	fs.BoolVar(&c.digests, "digests", false, "add each array's digest, which changes with its content (the one sync compares)")
	c.netFlags.addFlags(fs)
}

func (c *lsCmd) run(ctx context.Context, e *env, args []string) error {
	if len(args) != 0 {
		return usagef("takes no arguments, got %q", args)
	}
	if c.remote != "" {
		if c.all {
			return usagef("--all lists a local store's files; not with --remote")
		}
		return c.runRemote(ctx, e)
	}
	st, err := e.openExistingStore()
	if err != nil {
		return err
	}
	defer st.Close()
	names, err := st.List()
	if err != nil {
		return err
	}
	infos := make([]*arrayInfo, 0, len(names))
	var (
		firstErr error
		failed   int
	)
	for _, name := range names {
		h, err := st.Stat(name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // removed since List
		case err != nil:
			if firstErr == nil {
				firstErr = err
			}
			failed++
			continue
		}
		infos = append(infos, newArrayInfo(name, h))
	}
	if c.digests {
		addDigests(st, infos)
	}
	if c.all {
		err = c.listAll(e, st, infos)
	} else if c.json {
		err = writeJSON(e.stdout, infos)
	} else {
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		for _, a := range infos {
			fmt.Fprintf(tw, "%s\t%s\t%v\t%s%s\n", a.Name, a.DType, arrayx.Shape(a.Shape), humanBytes(a.NBytes), digestColumn(c.digests, a.Digest))
		}
		err = tw.Flush()
	}
	if err != nil {
		return err
	}
	if firstErr != nil {
		return fmt.Errorf("%d of %d arrays could not be read, the first: %w", failed, len(names), firstErr)
	}
	return nil
}

// humanBytes formats a byte count with binary units: "512 B", "7.6 MiB".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	i := -1
	for v >= unit && i < 5 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[i])
}

// runRemote lists a server's arrays.
func (c *lsCmd) runRemote(ctx context.Context, e *env) error {
	cl, _, err := c.dial(ctx, e, c.remote, "", 0)
	if err != nil {
		return err
	}
	defer cl.Close()
	list, err := cl.List(ctx, "")
	if err != nil {
		return err
	}
	if c.json {
		if list == nil {
			list = []netlink.Entry{}
		}
		return writeJSON(e.stdout, list)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	for _, a := range list {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s%s\n", a.Name, a.DType, arrayx.Shape(a.Shape), humanBytes(a.NBytes), digestColumn(c.digests, a.Digest))
	}
	return tw.Flush()
}

// digestColumn is the last column of ls --digests: "-" for an array that
// has none (listed by a version-1 server).
func digestColumn(on bool, digest string) string {
	switch {
	case !on:
		return ""
	case digest == "":
		return "\t-"
	}
	return "\t" + digest
}

// addDigests fills in the digests of ls --digests; an array removed since
// it was listed keeps none.
func addDigests(st *mmapstore.Store, infos []*arrayInfo) {
	for _, a := range infos {
		if info, err := st.Info(a.Name); err == nil {
			a.Digest = info.Digest
		}
	}
}
