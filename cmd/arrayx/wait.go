package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/pflag"
)

// waitCmd blocks until an array of the store is sealed: the consumer's half
// of a handoff, for shell pipelines (arrayx wait x && arrayx cat x).
type waitCmd struct {
	timeout time.Duration
}

func (c *waitCmd) usage() (string, string) {
	return "NAME [--timeout D]", "wait until a sealed array NAME is in the store, then exit 0 (prints nothing)"
}

func (c *waitCmd) addFlags(fs *pflag.FlagSet) {
	fs.DurationVar(&c.timeout, "timeout", 0, "give up, exit 1, after this long (30s, 5m; 0: wait for ever)")
}

func (c *waitCmd) run(ctx context.Context, e *env, args []string) error {
	if c.timeout < 0 {
		return usagef("invalid --timeout %v: want a duration of 0 or more", c.timeout)
	}
	st, name, err := e.namedStore(args)
	if err != nil {
		return err
	}
	defer st.Close()
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, c.timeout, errWaitTimeout)
		defer cancel()
	}
	a, err := st.Wait(ctx, name)
	if errors.Is(err, errWaitTimeout) {
		return fmt.Errorf("no array %q sealed in store %s within %v", name, st.Dir(), c.timeout)
	}
	if err != nil {
		return arrayError(st, name, err)
	}
	return a.Close()
}
