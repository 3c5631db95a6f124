package mmapstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
)

// genData is what generation gen of an array holds: n bytes of a pattern
// that starts at a gen-dependent offset, so that data of one generation
// never compares equal to another's, and a header paired with the wrong
// data (or data mixing two writers) is caught.
var genBase = sync.OnceValue(func() []byte { // not at init: TestMain's helpers measure their heap
	b := make([]byte, 6<<20+256)
	for i := range b {
		b[i] = byte(i*7 + i>>9)
	}
	return b
})

func genData(gen int64, n int) []byte {
	off := int(gen % 251)
	return genBase()[off : off+n]
}

// genShape gives each generation its own size: 1 to 2 blocks.
func genShape(gen int64) arrayx.Shape {
	return arrayx.Shape{int64(1<<20 + (gen%5)*(1<<20))}
}

// TestConcurrentReadersWritersCleaner: writers create, fill, seal (or abort)
// and so replace arrays of a few names, and remove them now and then;
// receivers publish the same names from partials; readers open, wait for and
// verify them; a cleaner runs Store.Clean (removing even partials as young
// as a nanosecond) in a loop. No reader may ever see a partial, torn or
// unsealed array (every array it opens verifies, and its data is the
// generation its header names); no writer or receiver may fail, whatever
// the cleaner does; List never shows anything but the names.
func TestConcurrentReadersWritersCleaner(t *testing.T) {
	s, err := OpenStore(testutil.ShmOrTempDir(t), &Options{Sync: SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	names := []string{"a", "b", "dir/c", "dir/sub/d"}
	// It runs 1.5 s, and on a busy machine on until enough has happened to
	// mean something (at most 20 s): the counts, not the time, matter.
	const run, longest = 1500 * time.Millisecond, 20 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var (
		gen                                         atomic.Int64
		seals, aborts, removes, receives            atomic.Int64
		opens, verified, waits, lists, cleans, gone atomic.Int64
		cleanedFiles                                atomic.Int64
		errs                                        = make(chan error, 100)
		wg                                          sync.WaitGroup
	)
	report := func(format string, args ...any) {
		select {
		case errs <- fmt.Errorf(format, args...):
		default:
		}
		cancel()
	}

	// Headers of sealed arrays for the receivers, made in another store.
	src, err := OpenStore(t.TempDir(), &Options{Sync: SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	type prepared struct {
		gen  int64
		hdr  []byte
		data []byte
	}
	var recvSrc []prepared
	for range 3 {
		g := gen.Add(1)
		w, err := src.Create("p", arrayx.Uint8, genShape(g), arrayx.OrderC, &CreateOptions{Attrs: map[string]any{"gen": g}})
		if err != nil {
			t.Fatal(err)
		}
		copy(w.Bytes(), genData(g, len(w.Bytes())))
		a, err := w.Seal()
		if err != nil {
			t.Fatal(err)
		}
		recvSrc = append(recvSrc, prepared{g, headerOf(t, src, "p"), genData(g, len(a.Bytes()))})
		a.Close()
	}

	writer := func(id int) {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(uint64(id), 1))
		for ctx.Err() == nil {
			name := names[rng.IntN(len(names))]
			if rng.IntN(10) == 0 {
				if err := s.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
					report("writer %d: remove %s: %v", id, name, err)
					return
				}
				removes.Add(1)
				continue
			}
			g := gen.Add(1)
			w, err := s.Create(name, arrayx.Uint8, genShape(g), arrayx.OrderC, &CreateOptions{Attrs: map[string]any{"gen": g}})
			if err != nil {
				report("writer %d: create %s: %v", id, name, err)
				return
			}
			copy(w.Bytes(), genData(g, len(w.Bytes())))
			if rng.IntN(5) == 0 {
				if err := w.Abort(); err != nil {
					report("writer %d: abort %s: %v", id, name, err)
					return
				}
				aborts.Add(1)
				continue
			}
			a, err := w.Seal()
			if err != nil {
				report("writer %d: seal %s (gen %d): %v", id, name, g, err)
				return
			}
			a.Close()
			seals.Add(1)
		}
	}

	receiver := func(id int) {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(uint64(id), 2))
		for ctx.Err() == nil {
			name := names[rng.IntN(len(names))]
			ps := recvSrc[rng.IntN(len(recvSrc))]
			p, err := s.Receive(name, ps.hdr, nil)
			if errors.Is(err, ErrBusy) {
				continue // another receiver has this very array
			}
			if err != nil {
				report("receiver %d: receive %s: %v", id, name, err)
				return
			}
			if _, err := p.ReceiveAt(bytes.NewReader(ps.data), 0, int64(len(ps.data))); err != nil {
				p.Close()
				report("receiver %d: verify %s: %v", id, name, err)
				return
			}
			a, err := p.Complete()
			p.Close()
			if err != nil {
				report("receiver %d: complete %s (gen %d): %v", id, name, ps.gen, err)
				return
			}
			a.Close()
			receives.Add(1)
		}
	}

	check := func(who string, a *Array) bool {
		defer a.Close()
		h := a.Header()
		g, ok := h.Attrs["gen"].(int64)
		if !h.Sealed || !ok {
			report("%s: %s: unsealed or without a generation: %+v", who, a.Path(), h)
			return false
		}
		if !h.Shape.Equal(genShape(g)) {
			report("%s: %s: generation %d with shape %v, want %v", who, a.Path(), g, h.Shape, genShape(g))
			return false
		}
		if err := a.Verify(); err != nil {
			report("%s: %s: generation %d does not verify: %v", who, a.Path(), g, err)
			return false
		}
		if !bytes.Equal(a.Bytes(), genData(g, len(a.Bytes()))) {
			report("%s: %s: data is not generation %d's", who, a.Path(), g)
			return false
		}
		verified.Add(1)
		return true
	}

	reader := func(id int) {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(uint64(id), 3))
		for ctx.Err() == nil {
			name := names[rng.IntN(len(names))]
			switch rng.IntN(4) {
			case 0:
				wctx, wcancel := context.WithTimeout(ctx, 50*time.Millisecond)
				a, err := s.Wait(wctx, name)
				wcancel()
				if err != nil {
					if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
						report("reader %d: wait %s: %v", id, name, err)
						return
					}
					continue
				}
				waits.Add(1)
				if !check(fmt.Sprintf("reader %d (Wait)", id), a) {
					return
				}
			case 1:
				got, err := s.List()
				if err != nil {
					report("reader %d: list: %v", id, err)
					return
				}
				for _, n := range got {
					if !slices.Contains(names, n) {
						report("reader %d: List shows %q", id, n)
						return
					}
				}
				lists.Add(1)
			default:
				a, err := s.Open(name)
				if errors.Is(err, fs.ErrNotExist) {
					gone.Add(1)
					continue
				}
				if err != nil {
					report("reader %d: open %s: %v", id, name, err)
					return
				}
				opens.Add(1)
				if !check(fmt.Sprintf("reader %d", id), a) {
					return
				}
			}
		}
	}

	cleaner := func() {
		defer wg.Done()
		for ctx.Err() == nil {
			res, err := s.Clean(&CleanOptions{PartialsOlderThan: time.Nanosecond})
			if err != nil {
				report("clean: %v", err)
				return
			}
			// What it removes can only be files seen unlocked: an aborting
			// writer's (Abort closes, then removes), or one created an
			// instant before its creator locked it (which then starts over:
			// clean.go). Either way no writer or receiver may fail.
			cleanedFiles.Add(int64(len(res.Removed)))
			cleans.Add(1)
		}
	}

	for i := range 3 {
		wg.Add(1)
		go writer(i)
	}
	for i := range 2 {
		wg.Add(1)
		go receiver(i)
	}
	for i := range 4 {
		wg.Add(1)
		go reader(i)
	}
	wg.Add(1)
	go cleaner()
	enough := func() bool {
		return seals.Load() >= 10 && verified.Load() >= 10 && receives.Load() >= 5 && cleans.Load() >= 5
	}
	start := time.Now()
	for time.Since(start) < run || !enough() && time.Since(start) < longest {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%v: %d seals, %d aborts, %d removes, %d receives; %d opens (%d not there), %d waits, %d lists, %d arrays verified; %d cleans removed %d files",
		time.Since(start).Round(time.Millisecond), seals.Load(), aborts.Load(), removes.Load(), receives.Load(), opens.Load(), gone.Load(), waits.Load(), lists.Load(),
		verified.Load(), cleans.Load(), cleanedFiles.Load())
	if !enough() {
		t.Errorf("too little happened in %v to mean anything (see the counts above)", longest)
	}

	// Everything is over: no temporary file is left, and Clean finds none.
	res, err := s.Clean(&CleanOptions{PartialsOlderThan: time.Nanosecond})
	if err != nil || len(res.Removed) != 0 || res.InUse != 0 {
		t.Fatalf("Clean after the run: %+v, %v; want nothing to do", res, err)
	}
	var hidden []string
	fs.WalkDir(os.DirFS(s.Dir()), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".") && p != "." {
			hidden = append(hidden, p)
		}
		return nil
	})
	if len(hidden) > 0 {
		t.Fatalf("temporary files left after every writer sealed or aborted: %v", hidden)
	}
}
