package netlink

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/internal/testutil/teststore"
	"github.com/arrayx/arrayx/mmapstore"
)

const relayToken = "relay-token-0123456789"

// relayServers starts n servers on loopback, each on a store of its own,
// sharing a token, and returns them with their stores and addresses.
func relayServers(t *testing.T, n int, cfg Config) ([]*Server, []*mmapstore.Store, []string) {
	t.Helper()
	cfg.Token = []byte(relayToken)
	var srvs []*Server
	var stores []*mmapstore.Store
	var addrs []string
	for range n {
		st := teststore.Temp(t)
		srv, addr := startServer(t, st, "tcp", cfg)
		srvs, stores, addrs = append(srvs, srv), append(stores, st), append(addrs, addr)
	}
	return srvs, stores, addrs
}

// TestRelayChain pushes once to the first of four servers with the three
// others as its chain: every host publishes the array, verified, and the
// client learns how each fared; the source sends the array once.
func TestRelayChain(t *testing.T) {
	ctx := context.Background()
	counter := countSendfile(t)
	_, stores, addrs := relayServers(t, 4, Config{})
	local := teststore.Temp(t)
	a := teststore.NewArray(t, local, "w", arrayx.Float32, arrayx.Shape{5 << 20}, arrayx.OrderC, nil) // 20 MiB, 5 blocks
	n := a.Header().NBytes
	c := dial(t, addrs[0], &DialOptions{Token: []byte(relayToken)})
	st, hosts, err := c.PushChain(ctx, a, "w", addrs[1:])
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first host: %s", st)
	if st.Bytes != n {
		t.Fatalf("the client sent %d bytes, want the array once (%d)", st.Bytes, n)
	}
	if len(hosts) != 3 {
		t.Fatalf("hosts %+v, want three", hosts)
	}
	for i, h := range hosts {
		t.Logf("host %s: status %d, %d bytes, %.3f s, zero-copy %v", h.Host, h.Status, h.Bytes, h.Seconds, h.ZeroCopy)
		if h.Err() != nil || h.Host != addrs[i+1] || h.Bytes != n || !h.ZeroCopy {
			t.Fatalf("host %d: %+v, want %s published with %d bytes by sendfile", i+1, h, addrs[i+1], n)
		}
	}
	for _, s := range stores {
		sameArray(t, a, s, "w")
		noHidden(t, s)
	}
	// Every host sent it once more, by sendfile: 4 copies in all (this
	// process runs every server).
	if _, total, _ := counter.snapshot(); total != 4*n {
		t.Fatalf("sendfile moved %d bytes, want %d (the client and three relays, once each)", total, 4*n)
	}
}

// TestRelayHostDies closes the second of four servers in the middle of a
// relayed push: the first cuts it out and pushes to the third, which asks
// only for what it lacks; the push names the dead host and the others
// publish.
func TestRelayHostDies(t *testing.T) {
	ctx := context.Background()
	srvs, stores, addrs := relayServers(t, 4, Config{})
	local := teststore.Temp(t)
	a := teststore.NewArray(t, local, "d", arrayx.Uint8, arrayx.Shape{24 << 20}, arrayx.OrderC, nil) // 6 blocks
	// The first host's link to the second is a proxy that holds after 2
	// blocks: the second host then dies.
	p := newProxy(t, addrs[1])
	p.c2s.holdData(a, 2*a.Header().BlockSize+1000)
	c := dial(t, addrs[0], &DialOptions{Token: []byte(relayToken)})
	type result struct {
		hosts []HostStats
		err   error
	}
	done := make(chan result, 1)
	go func() {
		_, hosts, err := c.PushChain(ctx, a, "d", []string{p.addr, addrs[2], addrs[3]})
		done <- result{hosts, err}
	}()
	p.c2s.waitReached(t)
	srvs[1].Close()
	p.close()
	var r result
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the relayed push did not finish within 30 s of a host's death")
	}
	if r.err != nil {
		t.Fatalf("push: %v", r.err)
	}
	for _, h := range r.hosts {
		t.Logf("host %s: status %d %s, %d bytes", h.Host, h.Status, h.Message, h.Bytes)
	}
	if len(r.hosts) != 3 || r.hosts[0].Host != p.addr || r.hosts[0].Err() == nil ||
		r.hosts[1].Err() != nil || r.hosts[2].Err() != nil {
		t.Fatalf("hosts %+v: want the second failed and the others published", r.hosts)
	}
	for _, i := range []int{0, 2, 3} {
		sameArray(t, a, stores[i], "d")
	}
	notVisibleAmong(t, stores[1], "d")
}

// TestRelayBadBlock flips a byte on the link between two hosts of a
// chain: that hop catches it and asks its upstream for the block again;
// the bad copy never reaches the next host.
func TestRelayBadBlock(t *testing.T) {
	ctx := context.Background()
	_, stores, addrs := relayServers(t, 3, Config{})
	local := teststore.Temp(t)
	a := teststore.NewArray(t, local, "b", arrayx.Int32, arrayx.Shape{4 << 20}, arrayx.OrderC, nil) // 16 MiB, 4 blocks
	p := newProxy(t, addrs[1])
	p.c2s.set(func(f *flow) { f.flipAt, f.flipSkip = dataAt(a, 2*a.Header().BlockSize+777) })
	c := dial(t, addrs[0], &DialOptions{Token: []byte(relayToken)})
	_, hosts, err := c.PushChain(ctx, a, "b", []string{p.addr, addrs[2]})
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) != 2 || hosts[0].Err() != nil || hosts[0].Refetched != 1 || hosts[1].Err() != nil || hosts[1].Refetched != 0 {
		t.Fatalf("hosts %+v: want the second host to fetch one block again and the third none", hosts)
	}
	for _, s := range stores {
		sameArray(t, a, s, "b")
	}
}

// TestRelayRefusals: loops, chains over the limit, and servers that may not
// relay.
func TestRelayRefusals(t *testing.T) {
	ctx := context.Background()
	_, stores, addrs := relayServers(t, 2, Config{MaxChain: 2})
	local := teststore.Temp(t)
	a := teststore.NewArray(t, local, "r", arrayx.Uint8, arrayx.Shape{1000}, arrayx.OrderC, nil)
	c := dial(t, addrs[0], &DialOptions{Token: []byte(relayToken)})
	for _, tc := range []struct {
		what  string
		chain []string
	}{
		{"a host twice", []string{addrs[1], addrs[1]}},
		{"the server itself", []string{addrs[1], addrs[0]}},
		{"over the limit", []string{addrs[1], "127.0.0.1:1", "127.0.0.1:2"}},
		{"an empty entry", []string{""}},
	} {
		if _, _, err := c.PushChain(ctx, a, "r", tc.chain); !errors.Is(err, ErrRelay) {
			t.Errorf("%s: %v, want ErrRelay", tc.what, err)
		}
	}
	for _, s := range stores {
		if names, _ := s.List(); len(names) != 0 {
			t.Fatalf("a refused chain published %v", names)
		}
		noHidden(t, s)
	}
	// Without a token, or with relaying off, a server does not offer it.
	for _, cfg := range []Config{{}, {Token: []byte(relayToken), NoRelay: true}} {
		_, addr := startServer(t, teststore.Temp(t), "tcp", cfg)
		c := dial(t, addr, &DialOptions{Token: cfg.Token})
		if _, _, err := c.PushChain(ctx, a, "r", []string{addrs[1]}); !errors.Is(err, ErrUnsupported) {
			t.Errorf("relay through a server with %+v: %v, want ErrUnsupported", cfg, err)
		}
	}
	// A chain whose next host is unreachable: the first host publishes and
	// reports it.
	_, hosts, err := c.PushChain(ctx, a, "r", []string{"127.0.0.1:1"})
	if err != nil || len(hosts) != 1 || !errors.Is(hosts[0].Err(), ErrHostLost) || !strings.Contains(hosts[0].Message, "connection refused") {
		t.Fatalf("a chain to nowhere: %v, hosts %+v", err, hosts)
	}
	sameArray(t, a, stores[0], "r")
}

// TestPullWhileArriving: a GET of an array the server is still receiving
// is served from its partial, each block as it is verified.
func TestPullWhileArriving(t *testing.T) {
	ctx := context.Background()
	remote, local, back := teststore.Temp(t), teststore.Temp(t), teststore.Temp(t)
	srv, addr := startServer(t, remote, "tcp", Config{})
	a := teststore.NewArray(t, local, "g", arrayx.Uint8, arrayx.Shape{16 << 20}, arrayx.OrderC, nil) // 4 blocks
	p := newProxy(t, addr)
	p.c2s.holdData(a, 2*a.Header().BlockSize) // the push stalls after two blocks
	pusher := dial(t, p.addr, nil)
	pushed := make(chan error, 1)
	go func() {
		_, err := pusher.Push(ctx, a, "g")
		pushed <- err
	}()
	p.c2s.waitReached(t)
	bs := a.Header().BlockSize
	testutil.WaitFor(t, "the server to hold two blocks", func() bool {
		tr := srv.recvByName("g")
		return tr != nil && tr.p.Held() == 2*bs
	})
	puller := dial(t, addr, nil)
	pulled := make(chan error, 1)
	var st Stats
	go func() {
		var err error
		st, err = puller.Pull(ctx, "g", back, "")
		pulled <- err
	}()
	select {
	case err := <-pulled:
		t.Fatalf("the pull finished (%v) before the array had arrived", err)
	case <-time.After(300 * time.Millisecond):
	}
	p.c2s.release()
	if err := <-pushed; err != nil {
		t.Fatal(err)
	}
	if err := <-pulled; err != nil {
		t.Fatal(err)
	}
	t.Logf("pull while arriving: %s", st)
	sameArray(t, a, back, "g")
	sameArray(t, a, remote, "g")
}
