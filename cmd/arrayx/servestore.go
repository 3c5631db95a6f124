package main

import (
	"github.com/arrayx/arrayx/mmapstore"
)

// openStore opens the store serve serves: with its --max-store-bytes limit,
// and, read-only, only if it exists (a server that can receive nothing
// has no reason to make a directory).
func (c *serveCmd) openStore(e *env) (*mmapstore.Store, error) {
	opts := &mmapstore.Options{NoCreate: c.readOnly}
	switch c.maxStore {
	case "":
	case "none":
		opts.MaxBytes = -1
	default:
		n, err := parseSize(c.maxStore)
		if err != nil || n == 0 {
			return nil, usagef("--max-store-bytes %q: want a size like 200GiB, or none", c.maxStore)
		}
		opts.MaxBytes = n
	}
	return e.openStoreWith(opts)
}
