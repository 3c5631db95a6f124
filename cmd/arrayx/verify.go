package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
	"github.com/spf13/pflag"
)

// verifyCmd checks every block of an array against its CRC-32C table.
type verifyCmd struct{}

func (c *verifyCmd) usage() (string, string) {
	return "NAME", "check an array's data against its block checksums"
}

func (c *verifyCmd) addFlags(*pflag.FlagSet) {}

func (c *verifyCmd) run(ctx context.Context, e *env, args []string) error {
	a, err := e.openArray(args)
	if err != nil {
		return err
	}
	defer a.Close()
	name, h := a.Path(), a.Header()

	start := time.Now()
	if err := verifyData(ctx, e, a, name); err != nil {
		return err
	}

	rate := "-"
	if secs := time.Since(start).Seconds(); secs > 0 {
		rate = fmt.Sprintf("%.2f", float64(h.NBytes)/secs/1e9)
	}
	blocks := h.NumBlocks()
	plural := "s"
	if blocks == 1 {
		plural = ""
	}
	_, err = fmt.Fprintf(e.status(), "%s: ok (%d block%s, %s GB/s)\n", name, blocks, plural, rate)
	return err
}

// verifyData checks every block of a, with a progress bar, as verify, cp
// and export do before they trust the data; a mismatch is "NAME is
// corrupt: ..." naming the block.
func verifyData(ctx context.Context, e *env, a *mmapstore.Array, name string) error {
	h := a.Header()
	bar := e.newProgress("verify "+name, h.NBytes)
	defer bar.done()
	// Verify in chunks of whole blocks, a few per core so that each
	// VerifyRange keeps every core busy, to update the bar and notice ctx.
	chunk := h.BlockSize * int64(4*runtime.GOMAXPROCS(0))
	for off := int64(0); off < h.NBytes; off += chunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(chunk, h.NBytes-off)
		if err := a.VerifyRange(off, n); err != nil {
			return corruptError(name, err)
		}
		bar.add(n)
	}
	return nil
}

// corruptError names the array in a checksum mismatch; other errors pass.
func corruptError(name string, err error) error {
	if ce := (*arrayx.ChecksumError)(nil); errors.As(err, &ce) {
		return fmt.Errorf("%s is corrupt: %w", name, ce)
	}
	return err
}
