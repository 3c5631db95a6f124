package mmapstore

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/arrayx/arrayx/arrayx"
)

// eachBlock calls a function for every block number in [first, last), on up
// to GOMAXPROCS goroutines. newWorker is called once per goroutine and
// returns that goroutine's function (so that it can own a buffer) and what
// to do when it is done. After a failure no more blocks are handed out, and
// the error of the lowest-numbered block that failed is returned, so
// results do not depend on scheduling.
func eachBlock(first, last int, newWorker func() (fn func(i int) error, done func())) error {
	n := last - first
	if n <= 0 {
		return nil
	}
	var (
		next    atomic.Int64
		stop    atomic.Bool
		mu      sync.Mutex
		errAt   = last
		errSeen error
		wg      sync.WaitGroup
	)
	next.Store(int64(first))
	work := func() {
		defer wg.Done()
		fn, done := newWorker()
		defer done()
		for !stop.Load() {
			i := int(next.Add(1) - 1)
			if i >= last {
				return
			}
			if err := fn(i); err != nil {
				stop.Store(true)
				mu.Lock()
				if i < errAt {
					errAt, errSeen = i, err
				}
				mu.Unlock()
				return
			}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), n)
	wg.Add(workers)
	for range workers - 1 {
		go work()
	}
	work()
	wg.Wait()
	return errSeen
}

// forBlocks calls fn for each block in [first, last) of an array's data in
// memory (a mapping), in parallel (eachBlock). A memory fault while reading
// the mapping (a file truncated behind our back) becomes ErrFault instead
// of crashing the process.
func forBlocks(h *arrayx.Header, data []byte, first, last int, fn func(i int, block []byte) error) error {
	return eachBlock(first, last, func() (func(int) error, func()) {
		return func(i int) (err error) {
			defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
			defer func() {
				if r := recover(); r != nil {
					if f, ok := r.(interface{ Addr() uintptr }); ok { // the fault SetPanicOnFault turned into a panic
						r = fmt.Sprintf("fault at address %#x", f.Addr())
					}
					err = fmt.Errorf("%w: block %d: %v", ErrFault, i, r)
				}
			}()
			off, size := h.Block(i)
			return fn(i, data[off:off+size])
		}, func() {}
	})
}

// computeSums returns the CRC-32C table of data and, for an array of at
// most arrayx.MaxDigestBlocks blocks, its XXH3-128 table (else nil),
// computed in parallel.
func computeSums(h *arrayx.Header, data []byte) ([]uint32, [][16]byte, error) {
	crcs, xxhs := newSumTables(h)
	err := forBlocks(h, data, 0, len(crcs), func(i int, block []byte) error {
		s := arrayx.SumBlock(block, xxhs != nil)
		crcs[i] = s.CRC32C
		if xxhs != nil {
			xxhs[i] = s.XXH128
		}
		return nil
	})
	return crcs, xxhs, err
}

// newSumTables allocates the tables a writer seals h with.
func newSumTables(h *arrayx.Header) ([]uint32, [][16]byte) {
	nb := h.NumBlocks()
	if nb > arrayx.MaxDigestBlocks {
		return make([]uint32, nb), nil
	}
	return make([]uint32, nb), make([][16]byte, nb)
}
