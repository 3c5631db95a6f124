package main

import (
	"sync"
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

// transferBars shows transfers on a terminal, one array at a time: first
// the check of the blocks an interrupted transfer left, when there are any,
// then the transfer itself, from what the receiver already holds (counted
// as done at once) to the whole array. Its methods are the DialOptions
// callbacks, and safe for concurrent use.
type transferBars struct {
	e           *env
	verb        string // "pull", "push"
	mu          sync.Mutex
	name        string
	total       int64
	check, data *progress
	counted     [2]int64 // bytes the check and the transfer bars counted
}

// testHookBars, when set, sees what the bars of each array counted.
var testHookBars func(name string, checked, done, total int64)

// start begins an array of total bytes.
func (b *transferBars) start(name string, total int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.name, b.total, b.counted = name, total, [2]int64{}
}

func (b *transferBars) checked(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.check == nil {
		b.check = b.e.newProgress("check "+b.name, b.total)
	}
	b.check.add(n)
	b.counted[0] += n
}

func (b *transferBars) held(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.check.done()
	b.check = nil
	b.dataBar().add(n)
	b.counted[1] += n
}

func (b *transferBars) moved(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dataBar().add(n)
	b.counted[1] += n
}

// dataBar is the transfer's bar, made on first use; b.mu is held.
func (b *transferBars) dataBar() *progress {
	if b.data == nil {
		b.data = b.e.newProgress(b.verb+" "+b.name, b.total)
	}
	return b.data
}

// done clears the array's bars.
func (b *transferBars) done() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.check.done()
	b.data.done()
	b.check, b.data = nil, nil
	if testHookBars != nil {
		testHookBars(b.name, b.counted[0], b.counted[1], b.total)
	}
}
