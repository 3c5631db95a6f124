package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
	"github.com/spf13/pflag"
)

// createCmd creates an array, fills it through the writer's mapping and
// seals it.
type createCmd struct {
	fs    *pflag.FlagSet
	dtype string
	shape string
	order string
	fill  string
	seed  decimalUint64
	attrs []string
	forceFlag
}

func (c *createCmd) usage() (string, string) {
	return "NAME --shape D1,D2,... [--dtype T] [--order C|F] [--fill zeros|ones|arange|random] [--seed N] [--attr key=value ...] [--force]",
		"create, fill and seal an array (refuses an existing NAME unless --force)"
}

func (c *createCmd) addFlags(fs *pflag.FlagSet) {
	c.fs = fs
	fs.StringVar(&c.dtype, "dtype", "float64", "element type: an arrayx name (float64, bfloat16, ...) or a numpy type string (<f8, i4, ?)")
	fs.StringVar(&c.shape, "shape", "", "dimensions, comma-separated (1000,1000); \"\" or () for a 0-d array (required)")
	fs.StringVar(&c.order, "order", "C", "memory layout: C (row-major) or F (column-major)")
	fs.StringVar(&c.fill, "fill", fillZeros, "contents: zeros, ones, arange (element i in memory order is i) or random")
	fs.Var(&c.seed, "seed", "seed of --fill random, in decimal: the same seed gives the same data")
	fs.StringArrayVar(&c.attrs, "attr", nil, "a string attribute key=value (repeatable)")
	c.addForceFlag(fs)
}

func (c *createCmd) run(ctx context.Context, e *env, args []string) error {
	name, err := arrayName(args)
	if err != nil {
		return err
	}
	dt, err := arrayx.ParseDType(c.dtype)
	if err != nil {
		return usagef("invalid --dtype %q: want an arrayx name (float64, int32, bool, bfloat16, ...) or a numpy type string (<f8, i4, ?)", c.dtype)
	}
	if c.fs != nil && !c.fs.Changed("shape") {
		return usagef("--shape is required")
	}
	shape, err := arrayx.ParseShape(c.shape)
	if err != nil {
		return usagef("invalid --shape: %s", strings.TrimPrefix(err.Error(), arrayx.ErrInvalidHeader.Error()+": "))
	}
	order, err := arrayx.ParseOrder(c.order)
	if err != nil {
		return usagef("invalid --order %q: want C or F", c.order)
	}
	if err := checkFill(c.fill, dt); err != nil {
		return usagef("%v", err)
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
	var opts *mmapstore.CreateOptions
	if attrs != nil {
		opts = &mmapstore.CreateOptions{Attrs: attrs}
	}
	w, err := st.Create(name, dt, shape, order, opts)
	if err != nil {
		return err
	}
	defer w.Abort()
	h := w.Header()

	bar := e.newProgress("fill "+name, h.NBytes)
	err = fill(ctx, w, c.fill, uint64(c.seed), bar)
	bar.done()
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	a, err := w.Seal()
	if err != nil {
		return err
	}
	if err := a.Close(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.status(), "created %s: %v %v %v, %d bytes\n", name, h.DType, h.Shape, h.Order, h.NBytes)
	return err
}

// parseAttrs turns repeated key=value flags into string attrs; nil if none.
func parseAttrs(kvs []string) (map[string]any, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	attrs := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		switch {
		case !ok:
			return nil, usagef("invalid --attr %q: want key=value", kv)
		case k == "":
			return nil, usagef("invalid --attr %q: empty key", kv)
		}
		if _, dup := attrs[k]; dup {
			return nil, usagef("duplicate --attr key %q", k)
		}
		attrs[k] = v
	}
	return attrs, nil
}
