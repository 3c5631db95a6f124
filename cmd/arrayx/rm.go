package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"
)

// rmCmd removes an array from the store. Processes that have it open keep
// their mapping until they close it.
type rmCmd struct{}

func (c *rmCmd) usage() (string, string) {
	return "NAME", "remove an array from the store"
}

func (c *rmCmd) addFlags(*pflag.FlagSet) {}

func (c *rmCmd) run(ctx context.Context, e *env, args []string) error {
	st, name, err := e.namedStore(args)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Remove(name); err != nil {
		return arrayError(st, name, err)
	}
	_, err = fmt.Fprintf(e.stdout, "removed %s\n", name)
	return err
}
