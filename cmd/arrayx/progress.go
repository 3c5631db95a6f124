package main

import (
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress is a byte-counting progress bar on stderr showing throughput and
// the time left. A nil *progress is a no-op: newProgress returns nil unless
// stderr is a terminal and --quiet is not set, so callers never check.
type progress struct{ bar *progressbar.ProgressBar }

// newProgress starts a bar for total bytes of work, labelled desc.
func (e *env) newProgress(desc string, total int64) *progress {
	if !e.tty || e.quiet || total <= 0 {
		return nil
	}
	return &progress{bar: progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(e.stderr),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionShowCount(), // bytes done of total, then bytes per second
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionClearOnFinish(),
	)}
}

// add records n more bytes done. It is safe for concurrent use.
func (p *progress) add(n int64) {
	if p != nil {
		_ = p.bar.Add64(n)
	}
}

// done erases the bar, finished or not, so the command's own output starts
// on a clean line. Call it once, after the last add.
func (p *progress) done() {
	if p != nil {
		_ = p.bar.Clear()
	}
}
