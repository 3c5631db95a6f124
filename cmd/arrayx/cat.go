package main

import (
	"context"

	"github.com/spf13/pflag"
)

// catCmd prints an array as numpy's print(a) does (see format.go).
type catCmd struct {
	limit int64
}

func (c *catCmd) usage() (string, string) {
	return "NAME [--limit N]", "print an array like numpy's print(a), summarized with ... when large"
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
	return formatArray(e.stdout, a.Header(), a.Bytes(), c.limit)
}
