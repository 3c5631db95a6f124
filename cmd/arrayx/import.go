package main

import (
	"context"
	"fmt"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
	"github.com/arrayx/arrayx/npy"
	"github.com/spf13/pflag"
)

// importCmd reads a numpy .npy file into a new array of the store.
type importCmd struct {
	attrs []string
	forceFlag
}

func (c *importCmd) usage() (string, string) {
	return "FILE.npy|- NAME [--attr key=value ...] [--force]",
		"import a numpy .npy file as an array (- reads it from stdin; copy_file_range where possible; refuses an existing NAME unless --force)"
}

func (c *importCmd) addFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&c.attrs, "attr", nil, "a string attribute key=value (repeatable)")
	c.addForceFlag(fs)
}

func (c *importCmd) run(ctx context.Context, e *env, args []string) error {
	if len(args) != 2 {
		return usagef("want FILE.npy and NAME, got %d arguments", len(args))
	}
	file, name := args[0], args[1]
	if _, err := arrayName(args[1:]); err != nil {
		return err
	}
	attrs, err := parseAttrs(c.attrs)
	if err != nil {
		return err
	}
	st, err := e.openStore()
	if err != nil {
		return err
	}
	defer st.Close()
	if err := c.checkLocal(st, name); err != nil {
		return err
	}
	opts := &npy.ImportOptions{Attrs: attrs}
	var a *mmapstore.Array
	var stats npy.Stats
	if file == "-" {
		a, stats, err = npy.ImportFrom(st, name, e.stdin, opts)
	} else {
		a, stats, err = npy.Import(st, name, file, opts)
		err = readFileError(file, err)
	}
	if err != nil {
		return err
	}
	h := a.Header()
	if err := a.Close(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.status(), "imported %s as %s: %s\n", file, name, npySummary(h, stats))
	return err
}

// npySummary is the part of the import and export lines after the colon:
// "float64 (1000, 1000) C, 7.6 MiB, copy_file_range".
func npySummary(h *arrayx.Header, st npy.Stats) string {
	return fmt.Sprintf("%v %v %v, %s, %s", h.DType, h.Shape, h.Order, humanBytes(st.Bytes), st.Method)
}
