package main

import (
	"context"
	"fmt"

	"github.com/arrayx/arrayx/npy"
	"github.com/spf13/pflag"
)

// exportCmd writes an array of the store as a numpy .npy file.
type exportCmd struct{}

func (c *exportCmd) usage() (string, string) {
	return "NAME FILE.npy|-", "write an array as a numpy .npy file (verified first, written atomically; copy_file_range where possible), or to stdout with -"
}

func (c *exportCmd) addFlags(*pflag.FlagSet) {}

func (c *exportCmd) run(ctx context.Context, e *env, args []string) error {
	if len(args) != 2 {
		return usagef("want NAME and FILE.npy, got %d arguments", len(args))
	}
	name, file := args[0], args[1]
	a, err := e.openArray(args[:1])
	if err != nil {
		return err
	}
	defer a.Close()
	// A corrupt array is refused, as cp and push refuse it, rather than
	// written out as a .npy that nothing will ever check again.
	if err := verifyData(ctx, e, a, name); err != nil {
		return err
	}
	if file == "-" { // stdout carries the data: no summary line
		_, err = npy.ExportTo(e.stdout, a)
		return err
	}
	stats, err := npy.Export(a, file, nil)
	if err != nil {
		return writeFileError(file, err)
	}
	_, err = fmt.Fprintf(e.status(), "exported %s to %s: %s\n", name, file, npySummary(a.Header(), stats))
	return err
}
