//go:build !linux

package testnet

import (
	"fmt"
	"runtime"
)

// Network namespaces, veths, tbf and NFQUEUE are Linux's; elsewhere the
// package builds, so its importers do, and reports itself unavailable.

type delayer struct{}

// DelayStats count a host's delayer's work (Linux only).
type DelayStats struct {
	Packets, Verdicts, QueueDropped, UserDropped uint64
	Err                                          error
}

// Available reports that no network can be built on this platform.
func Available(opts Options) error {
	return fmt.Errorf("%w: network namespaces are Linux's, this is %s", ErrUnavailable, runtime.GOOS)
}

// Setup fails on this platform; see Available.
func Setup(opts Options) (*Net, error) { return nil, Available(opts) }

// Close does nothing: no Net is ever built here.
func (n *Net) Close() error { return nil }

// Do fails on this platform.
func (h *Host) Do(fn func() error) error { return Available(Options{}) }

// LinkBytes fails on this platform.
func (h *Host) LinkBytes() (rx, tx int64, err error) { return 0, 0, Available(Options{}) }

// DelayStats fails on this platform.
func (h *Host) DelayStats() (DelayStats, error) { return DelayStats{}, Available(Options{}) }
