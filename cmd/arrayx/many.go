package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/arrayx/arrayx/mmapstore"
)

// eachName runs fn on every name, like rm(1): one that fails does not stop
// the others, and fails the command, naming the first failure. done is the
// participle of the message ("removed"). An interruption stops at once.
func eachName(ctx context.Context, names []string, done string, fn func(name string) error) error {
	var (
		firstErr error
		failed   int
	)
	for _, n := range names {
		err := fn(n)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return err
		}
		if firstErr == nil {
			firstErr = err
		}
		failed++
	}
	switch {
	case failed == 1 && len(names) == 1:
		return firstErr
	case failed > 0:
		return fmt.Errorf("%d of %d arrays not %s, the first: %w", failed, len(names), done, firstErr)
	}
	return nil
}

// withPrefix lists the store's arrays whose names start with prefix.
func withPrefix(st *mmapstore.Store, prefix string) ([]string, error) {
	all, err := st.List()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, n := range all {
		if strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	return names, nil
}
