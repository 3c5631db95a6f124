package netlink

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testnet"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/internal/testutil/teststore"
	"github.com/arrayx/arrayx/mmapstore"
)

// chainResult is what the "chain" helper prints.
type chainResult struct {
	Stats Stats
	Hosts []HostStats
}

// helperChain is the "chain" helper mode.
func helperChain(st *mmapstore.Store, token []byte, fail func(error) int) int {
	ctx, a, c, done, err := helperClient(st, token)
	if err != nil {
		return fail(err)
	}
	defer done()
	var r chainResult
	if r.Stats, r.Hosts, err = c.PushChain(ctx, a, os.Getenv("ARX_NAME"), strings.Split(os.Getenv("ARX_CHAIN"), ",")); err != nil {
		return fail(err)
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		return fail(err)
	}
	return 0
}

// TestRelayNetns relays across real hosts: a source in one network
// namespace pushes once to the first of four servers, each in a namespace
// of its own, behind 200 Mbit/s links. Every server ends with the array,
// verified; the source's link carried one copy of it. Then a middle server
// is killed with SIGKILL while it relays: its upstream cuts it out, the
// push names it, and the hosts after it complete from what they held.
func TestRelayNetns(t *testing.T) {
	n := testnet.New(t, testnet.Options{Hosts: 5, Rate: "200mbit"})
	token := "netns-relay-token-0123456789"
	srcDir := t.TempDir()
	src := teststore.At(t, srcDir)
	var dirs, addrs []string
	var servers []*helperProc
	for _, h := range n.Hosts[1:] {
		dir := t.TempDir()
		p, addr := serverAddr(t, startHelperIn(t, h, "server", "ARX_STORE="+dir, "ARX_ADDR="+h.IP+":0", "ARX_TOKEN="+token))
		dirs, addrs, servers = append(dirs, dir), append(addrs, addr), append(servers, p)
	}
	push := func(t *testing.T, name string) *helperProc {
		return startHelperIn(t, n.Hosts[0], "chain", "ARX_STORE="+srcDir, "ARX_TOKEN="+token,
			"ARX_NAME="+name, "ARX_ADDR="+addrs[0], "ARX_CHAIN="+strings.Join(addrs[1:], ","))
	}
	result := func(t *testing.T, p *helperProc) chainResult {
		var r chainResult
		if line := p.line(); json.Unmarshal([]byte(line), &r) != nil {
			t.Fatalf("chain helper printed %q\n%s", line, p.stderr)
		}
		t.Logf("%s: %s", addrs[0], r.Stats)
		for _, h := range r.Hosts {
			t.Logf("%s: status %d %s, %d bytes in %.3f s, zero-copy %v", h.Host, h.Status, h.Message, h.Bytes, h.Seconds, h.ZeroCopy)
		}
		return r
	}

	t.Run("chain", func(t *testing.T) {
		a := teststore.NewArray(t, src, "c", arrayx.Float64, arrayx.Shape{4 << 20}, arrayx.OrderC, richAttrs("c")) // 32 MiB
		nb := a.Header().NBytes
		_, tx0, err := n.Hosts[0].LinkBytes()
		if err != nil {
			t.Fatal(err)
		}
		r := result(t, push(t, "c"))
		if r.Stats.Bytes != nb || len(r.Hosts) != 3 {
			t.Fatalf("the source sent %d bytes (want %d) and heard of %d hosts (want 3)", r.Stats.Bytes, nb, len(r.Hosts))
		}
		for i, h := range r.Hosts {
			if h.Err() != nil || h.Host != addrs[i+1] || h.Bytes != nb || !h.ZeroCopy {
				t.Errorf("host %d: %+v, want %s published with %d bytes by sendfile", i+1, h, addrs[i+1], nb)
			}
		}
		for _, dir := range dirs {
			st := teststore.At(t, dir)
			sameArray(t, a, st, "c")
			noHidden(t, st)
		}
		// One copy left the source (plus headers, acknowledgements, and
		// the keepalives' replies): the others went host to host.
		_, tx1, err := n.Hosts[0].LinkBytes()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("the source's link sent %d bytes for an array of %d", tx1-tx0, nb)
		if sent := tx1 - tx0; sent < nb || sent > nb+nb/20 {
			t.Fatalf("the source's link sent %d bytes, want one copy of %d (within 5%%)", sent, nb)
		}
	})

	t.Run("kill", func(t *testing.T) {
		a := teststore.NewArray(t, src, "k", arrayx.Float64, arrayx.Shape{8 << 20}, arrayx.OrderC, nil) // 64 MiB, ~2.7 s a hop
		nb, bs := a.Header().NBytes, a.Header().BlockSize
		p := push(t, "k")
		// Kill the second server once it has forwarded a block to the
		// third: the third then holds something the second sent it.
		x := cutPoint(a, bs)
		testutil.WaitFor(t, "the third server to land a block", func() bool {
			path := partialPath(t, dirs[2], "k")
			return path != "" && holds(path, a, x)
		})
		servers[1].kill()
		r := result(t, p)
		if r.Stats.Bytes != nb || len(r.Hosts) != 3 {
			t.Fatalf("the source sent %d bytes (want %d) and heard of %d hosts (want 3)", r.Stats.Bytes, nb, len(r.Hosts))
		}
		dead, third, fourth := r.Hosts[0], r.Hosts[1], r.Hosts[2]
		if dead.Host != addrs[1] || !errors.Is(dead.Err(), ErrHostLost) {
			t.Errorf("the killed host's report: %+v, want %s lost", dead, addrs[1])
		}
		if third.Err() != nil || fourth.Err() != nil {
			t.Errorf("the hosts after the killed one: %+v, %+v; want both published", third, fourth)
		}
		// The first server sent the third only what it lacked.
		if third.Bytes >= nb {
			t.Errorf("the third host was sent %d bytes after the second died, want less than the array's %d (it held blocks)", third.Bytes, nb)
		}
		for _, i := range []int{0, 2, 3} {
			st := teststore.At(t, dirs[i])
			sameArray(t, a, st, "k")
			noHidden(t, st)
		}
		notVisibleAmong(t, teststore.At(t, dirs[1]), "k")
	})
	for _, s := range servers {
		select {
		case <-s.done: // killed
		default:
			s.finish()
		}
	}
}
