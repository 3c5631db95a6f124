package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"text/tabwriter"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/spf13/pflag"
)

// lsCmd lists the store's arrays, sorted by name, with their headers.
type lsCmd struct {
	json bool
}

func (c *lsCmd) usage() (string, string) {
	return "[--json]", "list the arrays in the store"
}

func (c *lsCmd) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&c.json, "json", false, "print a JSON array of the objects info --json prints")
}

func (c *lsCmd) run(ctx context.Context, e *env, args []string) error {
	if len(args) != 0 {
		return usagef("takes no arguments, got %q", args)
	}
	st, err := e.openStore()
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
	if c.json {
		err = writeJSON(e.stdout, infos)
	} else {
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		for _, a := range infos {
			fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", a.Name, a.DType, arrayx.Shape(a.Shape), humanBytes(a.NBytes))
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
