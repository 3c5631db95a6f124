package mmapstore

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/arrayx/arrayx/arrayx"
)

// forBlocks calls fn for each block in [first, last) of an array's data, on up
// to GOMAXPROCS goroutines. It returns the error of the lowest-numbered block
// that failed, so results do not depend on scheduling. A memory fault while
// reading the mapping (a file truncated behind our back) becomes ErrFault
// instead of crashing the process.
func forBlocks(h *arrayx.Header, data []byte, first, last int, fn func(i int, block []byte) error) error {
	n := last - first
	if n <= 0 {
		return nil
	}
	workers := min(runtime.GOMAXPROCS(0), n)
	var (
		next    atomic.Int64
		stop    atomic.Bool
		mu      sync.Mutex
		errAt   = last
		errSeen error
		wg      sync.WaitGroup
	)
	next.Store(int64(first))
	fail := func(i int, err error) {
		stop.Store(true)
		mu.Lock()
		if i < errAt {
			errAt, errSeen = i, err
		}
		mu.Unlock()
	}
	work := func() {
		defer wg.Done()
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		i := -1
		defer func() {
			if r := recover(); r != nil {
				if f, ok := r.(interface{ Addr() uintptr }); ok { // the fault SetPanicOnFault turned into a panic
					r = fmt.Sprintf("fault at address %#x", f.Addr())
				}
				fail(i, fmt.Errorf("%w: block %d: %v", ErrFault, i, r))
			}
		}()
		for {
			i = int(next.Add(1) - 1)
			if i >= last || stop.Load() {
				return
			}
			off, size := h.Block(i)
			if err := fn(i, data[off:off+size]); err != nil {
				fail(i, err)
				return
			}
		}
	}
	wg.Add(workers)
	for range workers - 1 {
		go work()
	}
	work()
	wg.Wait()
	return errSeen
}

// computeCRCs returns the CRC-32C table of data, computed in parallel.
func computeCRCs(h *arrayx.Header, data []byte) ([]uint32, error) {
	crcs := make([]uint32, h.NumBlocks())
	err := forBlocks(h, data, 0, len(crcs), func(i int, block []byte) error {
		crcs[i] = arrayx.CRC32C(block)
		return nil
	})
	return crcs, err
}
