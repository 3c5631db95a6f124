package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/arrayx/arrayx/mmapstore"
	"github.com/spf13/pflag"
)

// cpCmd copies an array between stores, or to or from an .arx file, with
// the kernel's copies (reflink, copy_file_range, sendfile), verified before
// it is published.
type cpCmd struct {
	to   string
	sync bool
}

func (c *cpCmd) usage() (string, string) {
	return "SRC DST [--to DIR] [--sync]",
		"copy an array (a NAME in the store, or a path ending in .arx) in the kernel, verified, published atomically"
}

func (c *cpCmd) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.to, "to", "", "store directory DST is named in (default: --store)")
	fs.BoolVar(&c.sync, "sync", false, "fsync the copy (and its directory) before publishing it, even on tmpfs")
}

// isFilePath says whether a cp argument is a file path rather than a name.
func isFilePath(arg string) bool { return strings.HasSuffix(arg, mmapstore.Ext) }

func (c *cpCmd) run(ctx context.Context, e *env, args []string) error {
	if len(args) != 2 {
		return usagef("want SRC and DST, got %d arguments", len(args))
	}
	src, dst := args[0], args[1]
	for _, arg := range args {
		if !isFilePath(arg) {
			if err := mmapstore.ValidateName(arg); err != nil {
				return usagef("%s (a file path must end in %s)", strings.TrimPrefix(err.Error(), "mmapstore: "), mmapstore.Ext)
			}
		}
	}
	if c.to != "" && isFilePath(dst) {
		return usagef("--to names a store, but DST %q is a file path", dst)
	}

	var a *mmapstore.Array
	var err error
	if isFilePath(src) {
		a, err = openFile(src)
	} else {
		a, err = e.openArray([]string{src})
	}
	if err != nil {
		return err
	}
	defer a.Close()

	opts := &mmapstore.CopyOptions{}
	if c.sync {
		opts.Sync = mmapstore.SyncAlways
	}
	var b *mmapstore.Array
	var st mmapstore.CopyStats
	where := dst
	if isFilePath(dst) {
		b, st, err = mmapstore.CopyTo(a, dst, opts)
		err = writeFileError(dst, err)
	} else {
		dir := c.to
		if dir == "" {
			dir = e.storeDir
		}
		var store *mmapstore.Store
		if store, err = mmapstore.OpenStore(dir, nil); err != nil {
			return err
		}
		defer store.Close()
		b, st, err = store.Copy(a, dst, opts)
		where = fmt.Sprintf("%s in %s", dst, store.Dir())
	}
	if err != nil {
		return err
	}
	b.Close()
	secs := st.Duration.Seconds()
	_, err = fmt.Fprintf(e.status(), "copied %s to %s: %d bytes in %.3f s, %s, verified\n", src, where, st.Bytes, secs, st.Method)
	return err
}
