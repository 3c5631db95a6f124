package netlink

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/internal/testutil/teststore"
	"github.com/arrayx/arrayx/mmapstore"
)

// serverStats is what a server helper run with ARX_STATS=1 reports.
type serverStats struct {
	VmHWMKiB      int64 `json:"vmhwm_kib"` // peak resident set size
	VmRSSKiB      int64 `json:"vmrss_kib"` // resident set size at the end
	GoroutinesMax int   `json:"goroutines_max"`
	ConnsMax      int   `json:"conns_max"`
	HeapInuseMax  int64 `json:"heap_inuse_max"`
	Samples       int   `json:"samples"`
}

// statsSampler samples a server's goroutines and connections every
// millisecond (and its heap every 20 ms) for high-water marks.
type statsSampler struct {
	quit, done chan struct{}
	st         serverStats
}

func sampleStats(srv *Server) *statsSampler {
	s := &statsSampler{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.quit:
				return
			case <-tick.C:
			}
			s.st.Samples++
			s.st.GoroutinesMax = max(s.st.GoroutinesMax, runtime.NumGoroutine())
			s.st.ConnsMax = max(s.st.ConnsMax, connCount(srv))
			if s.st.Samples%20 == 0 {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				s.st.HeapInuseMax = max(s.st.HeapInuseMax, int64(ms.HeapInuse))
			}
		}
	}()
	return s
}

// stop ends sampling and adds the peak and current RSS from /proc.
func (s *statsSampler) stop() (serverStats, error) {
	close(s.quit)
	<-s.done
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return s.st, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, _ := strings.Cut(line, ":")
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmHWM":
			s.st.VmHWMKiB = n
		case "VmRSS":
			s.st.VmRSSKiB = n
		}
	}
	return s.st, nil
}

// TestLoad runs a server in a process of its own, so that its memory is
// its own, and has 200 clients pull small arrays (4 KiB to 1 MiB) and 4
// clients pull a 64 MiB array, all at once over loopback for 3 seconds.
// Every pull must succeed and arrive intact (each block's CRC checked on
// arrival, then the whole copy compared or verified again), and the server's
// peak RSS and goroutine count must stay bounded: no per-transfer copy of an
// array, no goroutine left behind by a transfer.
func TestLoad(t *testing.T) {
	const (
		smallClients = 200
		largeClients = 4
		run          = 3 * time.Second
		largeBytes   = 64 << 20
	)
	dir := testutil.ShmOrTempDir(t)
	src := teststore.At(t, dir)
	var small []*mmapstore.Array
	dtypes := []arrayx.DType{arrayx.Float64, arrayx.Float32, arrayx.Int16, arrayx.Uint8, arrayx.Complex64, arrayx.Int64, arrayx.Bool, arrayx.Float16}
	for i := range 16 {
		dt := dtypes[i%len(dtypes)]
		n := int64(4<<10+i*(64<<10)) / int64(dt.ItemSize())
		small = append(small, teststore.NewArray(t, src, fmt.Sprintf("small/%02d", i), dt, arrayx.Shape{n}, arrayx.OrderC, map[string]any{"i": int64(i)}))
	}
	large := teststore.NewArray(t, src, "large", arrayx.Float64, arrayx.Shape{largeBytes / 8}, arrayx.OrderC, nil)
	srvProc, addr := startServerProc(t, dir, "ARX_STATS=1")
	dst := teststore.At(t, testutil.ShmOrTempDir(t))

	ctx, cancel := context.WithTimeout(context.Background(), run)
	defer cancel()
	var (
		wg                     sync.WaitGroup
		smallPulls, largePulls atomic.Int64
		smallBytes, bigBytes   atomic.Int64
		errMu                  sync.Mutex
		errs                   []string
	)
	fail := func(format string, args ...any) {
		errMu.Lock()
		errs = append(errs, fmt.Sprintf(format, args...))
		errMu.Unlock()
	}
	client := func(id int, isLarge bool) {
		defer wg.Done()
		c, err := Dial(context.Background(), addr, nil)
		if err != nil {
			fail("client %d: dial: %v", id, err)
			return
		}
		defer c.Close()
		as := fmt.Sprintf("copy/%03d", id)
		for i := 0; ctx.Err() == nil; i++ {
			a := large
			if !isLarge {
				a = small[(id+i)%len(small)]
			}
			name := a.Path() // the store name, for arrays made by Store.Create
			// The deadline of a pull is not the test's: a pull under way at
			// the end completes.
			st, err := c.Pull(context.Background(), name, dst, as)
			if err != nil {
				fail("client %d: pull %d of %s: %v", id, i, name, err)
				return
			}
			b, err := dst.Open(as)
			if err != nil {
				fail("client %d: open %s: %v", id, as, err)
				return
			}
			switch {
			case !bytes.Equal(b.RawHeader(), a.RawHeader()):
				fail("client %d: pull %d of %s: the header differs", id, i, name)
			case isLarge:
				if err := b.Verify(); err != nil {
					fail("client %d: pull %d of %s: %v", id, i, name, err)
				}
			case !bytes.Equal(b.Bytes(), a.Bytes()):
				fail("client %d: pull %d of %s: the data differs", id, i, name)
			}
			b.Close()
			if isLarge {
				largePulls.Add(1)
				bigBytes.Add(st.Bytes)
			} else {
				smallPulls.Add(1)
				smallBytes.Add(st.Bytes)
			}
		}
	}
	start := time.Now()
	for i := range smallClients + largeClients {
		wg.Add(1)
		go client(i, i >= smallClients)
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, e := range errs[:min(len(errs), 10)] {
		t.Error(e)
	}
	if len(errs) > 0 {
		t.Fatalf("%d clients failed", len(errs))
	}

	srvProc.stdin.Close()
	var stats serverStats
	for l := range srvProc.lines {
		if js, ok := strings.CutPrefix(l, "stats "); ok {
			if err := json.Unmarshal([]byte(js), &stats); err != nil {
				t.Fatalf("server stats %q: %v", js, err)
			}
		}
	}
	srvProc.finish()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("%d clients for %v: %d small pulls (%.1f MB), %d pulls of %d MiB (%.1f MB), all verified; %.2f GB/s in all",
		smallClients+largeClients, elapsed.Round(time.Millisecond), smallPulls.Load(), float64(smallBytes.Load())/1e6,
		largePulls.Load(), largeBytes>>20, float64(bigBytes.Load())/1e6, float64(smallBytes.Load()+bigBytes.Load())/elapsed.Seconds()/1e9)
	t.Logf("server process: peak RSS (VmHWM) %.1f MiB, RSS at the end %.1f MiB, peak heap in use %.1f MiB, at most %d goroutines for at most %d connections (%d samples); race detector: %v",
		float64(stats.VmHWMKiB)/1024, float64(stats.VmRSSKiB)/1024, float64(stats.HeapInuseMax)/(1<<20),
		stats.GoroutinesMax, stats.ConnsMax, stats.Samples, raceEnabled)
	if stats.Samples == 0 || stats.ConnsMax != smallClients+largeClients {
		t.Fatalf("server stats %+v: want samples, and %d connections at the peak", stats, smallClients+largeClients)
	}
	if smallPulls.Load() < smallClients || largePulls.Load() < largeClients {
		t.Fatalf("%d small and %d large pulls: every client should have finished at least one", smallPulls.Load(), largePulls.Load())
	}
	// Bounds: two goroutines per connection (a pull's sender reads the
	// receiver's NEEDs while it writes) and a few of the runtime's and the
	// helper's; memory far below even one copy of the large array per
	// client pulling it (the race detector's shadow memory doubles it).
	if limit := 2*stats.ConnsMax + 32; stats.GoroutinesMax > limit {
		t.Errorf("the server ran %d goroutines for %d connections; want at most %d", stats.GoroutinesMax, stats.ConnsMax, limit)
	}
	limit := int64(128 << 10) // KiB
	if raceEnabled {
		limit *= 2
	}
	if stats.VmHWMKiB > limit {
		t.Errorf("the server's peak RSS was %d KiB; want at most %d KiB", stats.VmHWMKiB, limit)
	}
}
