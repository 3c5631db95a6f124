package netlink

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/internal/testutil/teststore"
	"github.com/arrayx/arrayx/mmapstore"
)

// helperSyncer is the "syncer" helper mode.
func helperSyncer(st *mmapstore.Store, token []byte, fail func(error) int) int {
	ctx, _, c, done, err := helperClient(st, token)
	if err != nil {
		return fail(err)
	}
	defer done()
	r, err := c.SyncPush(ctx, st, &SyncOptions{Delete: true})
	if err != nil {
		return fail(err)
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		return fail(err)
	}
	return 0
}

// TestSyncKilled kills a sync of 50 changed arrays with SIGKILL at 20
// random moments, the syncing client and the server in turn, while a
// reader lists and verifies the destination without pause: every array
// it ever sees is a whole version the source had, never a mix, never
// half written. The next sync converges: every array equal to the
// source's.
func TestSyncKilled(t *testing.T) {
	local := teststore.At(t, t.TempDir())
	dstDir := testutil.ShmOrTempDir(t)
	remote := teststore.At(t, dstDir)
	const n = 50
	// Each array has two blocks; every round changes the first.
	versions := map[string]map[string]bool{} // name -> digests of every version the source had
	var vmu sync.Mutex
	bases := make([][]byte, n)
	for i := range bases {
		bases[i] = make([]byte, 4<<20+4096)
		teststore.Fill(bases[i], uint64(i), false)
	}
	seal := func(round int) {
		for i, data := range bases {
			name := fmt.Sprintf("d/a%02d", i)
			data[1000] = byte(round)
			w, err := local.Create(name, arrayx.Uint8, arrayx.Shape{int64(len(data))}, arrayx.OrderC, nil)
			if err != nil {
				t.Fatal(err)
			}
			copy(w.Bytes(), data)
			a, err := w.Seal()
			if err != nil {
				t.Fatal(err)
			}
			vmu.Lock()
			if versions[name] == nil {
				versions[name] = map[string]bool{}
			}
			versions[name][a.Digest()] = true
			vmu.Unlock()
			a.Close()
		}
	}
	seal(0)

	// The reader: every listed array must open, verify, and be a version.
	stop := make(chan struct{})
	readerDone := make(chan error, 1)
	verified := 0
	go func() {
		for {
			select {
			case <-stop:
				readerDone <- nil
				return
			default:
			}
			names, err := remote.List()
			if err != nil {
				readerDone <- err
				return
			}
			for _, name := range names {
				a, err := remote.Open(name)
				if err != nil {
					if os.IsNotExist(err) {
						continue // replaced between List and Open
					}
					readerDone <- fmt.Errorf("open %s: %w", name, err)
					return
				}
				err = a.Verify()
				d := a.Digest()
				a.Close()
				vmu.Lock()
				known := versions[name][d]
				vmu.Unlock()
				if err != nil || !known {
					readerDone <- fmt.Errorf("%s: verify %v, a version the source had: %v", name, err, known)
					return
				}
				verified++
			}
		}
	}()

	rng := testutil.Rand(t)
	srv, addr := startServerProc(t, dstDir)
	for k := range 20 {
		seal(k + 1)
		syncer := startHelper(t, "syncer", "ARX_STORE="+local.Dir(), "ARX_ADDR="+addr)
		// A whole sync takes about half a second here: kill anywhere in it.
		time.Sleep(time.Duration(rng.Int64N(int64(600 * time.Millisecond))))
		if k%2 == 0 {
			syncer.cmd.Process.Signal(syscall.SIGKILL) // unless it has finished already
			<-syncer.done
		} else {
			srv.kill()
			srv, addr = startServerProc(t, dstDir)
			<-syncer.done // it fails, or had finished
		}
	}
	// The next sync converges.
	syncer := startHelper(t, "syncer", "ARX_STORE="+local.Dir(), "ARX_ADDR="+addr)
	var r SyncReport
	if line := syncer.line(); json.Unmarshal([]byte(line), &r) != nil {
		t.Fatalf("the last sync printed %q\n%s", line, syncer.stderr)
	}
	t.Logf("the last sync: %s", r)
	close(stop)
	if err := <-readerDone; err != nil {
		t.Fatalf("the reader saw: %v", err)
	}
	t.Logf("the reader verified %d arrays of the destination as they came", verified)
	if verified < n {
		t.Fatalf("the reader verified only %d arrays: the killed syncs published too little to test it", verified)
	}
	srv.finish()
	a, _ := local.List()
	b, _ := remote.List()
	if !slices.Equal(a, b) || len(a) != n {
		t.Fatalf("the destination holds %d arrays, the source %d", len(b), len(a))
	}
	if !equalStores(t, local, remote) {
		t.Fatal("the destination did not converge to the source")
	}
}
