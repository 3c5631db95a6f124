package main

import (
	"context"
	"maps"
	"slices"

	"github.com/arrayx/arrayx/mmapstore"

	"github.com/spf13/pflag"
)

// catCmd prints an array as numpy's print(a) does (see format.go).
type catCmd struct {
	limit int64
}

func (c *catCmd) usage() (string, string) {
	return "NAME [--limit N]", "print an array like numpy's print(a), summarized with ... when large (the blocks printed are verified first)"
}

func (c *catCmd) addFlags(fs *pflag.FlagSet) {
	fs.Int64Var(&c.limit, "limit", npThreshold, "summarize arrays of more than N elements, as numpy's threshold (-1: never)")
}

func (c *catCmd) run(ctx context.Context, e *env, args []string) error {
	if c.limit < -1 {
		return usagef("invalid --limit %d: want a count of elements, or -1 for no limit", c.limit)
	}
	a, err := e.openArray(args)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := verifyShown(a, args[0], c.limit); err != nil {
		return err
	}
	return formatArray(e.stdout, a.Header(), a.Bytes(), c.limit)
}

// verifyShown checks the blocks holding the elements cat prints, no more:
// the first and last few of a summarized array cost a block or a few, not
// the whole array.
func verifyShown(a *mmapstore.Array, name string, threshold int64) error {
	h := a.Header()
	n, err := h.Shape.NumElements()
	if err != nil {
		return err
	}
	if len(h.Shape) == 0 || threshold < 0 || n <= threshold {
		return corruptError(name, a.Verify()) // everything is printed
	}
	p := &arrayPrinter{shape: h.Shape, strides: h.Strides(), summarize: true}
	seen := make(map[int64]bool)
	p.eachShown(func(off int64) { seen[off/h.BlockSize] = true })
	for _, b := range slices.Sorted(maps.Keys(seen)) {
		off := b * h.BlockSize
		if err := a.VerifyRange(off, min(h.BlockSize, h.NBytes-off)); err != nil {
			return corruptError(name, err)
		}
	}
	return nil
}
