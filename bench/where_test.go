package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/arrayx/arrayx/internal/testnet"
)

func TestParseNets(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []Where
	}{
		{"loopback", []Where{{Name: "loopback"}}},
		{"ns", []Where{{Name: "ns", NS: true}}},
		{"loopback,ns-1gbit,ns-25ms", []Where{{Name: "loopback"}, {Name: "ns-1gbit", NS: true, Rate: "1gbit"},
			{Name: "ns-25ms", NS: true, Delay: 25 * time.Millisecond}}},
		{"ns-1gbit-25ms", []Where{{Name: "ns-1gbit-25ms", NS: true, Rate: "1gbit", Delay: 25 * time.Millisecond}}},
		{"ns-10ms-100mbit", []Where{{Name: "ns-10ms-100mbit", NS: true, Rate: "100mbit", Delay: 10 * time.Millisecond}}},
		{"ns-2.5gbit-500us", []Where{{Name: "ns-2.5gbit-500us", NS: true, Rate: "2.5gbit", Delay: 500 * time.Microsecond}}},
	} {
		got, err := parseNets(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("parseNets(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "lo", "ns-", "ns-fast", "ns-1gbit-2gbit", "ns-10ms-20ms", "ns-0ms", "ns--5ms",
		"ns-2s", "ns-1kbit", "ns-1gbps", "loopback,loopback", "ns-1gbit,ns-1gbit", "ns-1gbit;rm"} {
		if got, err := parseNets(bad); err == nil {
			t.Errorf("parseNets(%q) = %+v, want an error", bad, got)
		}
	}
	if bps, ok := rateBits("2.5gbit"); !ok || bps != 2.5e9 {
		t.Errorf("rateBits(2.5gbit) = %v, %v", bps, ok)
	}
	// A slow link gives a run more time than runTimeout's loopback base.
	slow := &netEnv{where: Where{Name: "ns-10mbit-100ms", NS: true, Rate: "10mbit", Delay: 100 * time.Millisecond}}
	if lo, sl := runTimeout(1<<30, nil), runTimeout(1<<30, slow); sl < lo+3*860*time.Second {
		t.Errorf("runTimeout at 10mbit = %v, loopback %v: want at least three times the link's 860 s more", sl, lo)
	}
}

func TestParseNetOpts(t *testing.T) {
	for in, want := range map[string]netOpts{
		"":                  {},
		"copy":              {Copy: true},
		"streams=4":         {Streams: 4},
		"streams=1,sockbuf": {Streams: 1, SockBuf: true},
		"streams=1,copy":    {Streams: 1, Copy: true},
	} {
		if got, err := parseNetOpts(in); err != nil || got != want {
			t.Errorf("parseNetOpts(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"streams=0", "streams=", "streams=x", "fast", "copy,,"} {
		if _, err := parseNetOpts(bad); err == nil {
			t.Errorf("parseNetOpts(%q) succeeded", bad)
		}
	}
}

// TestStreamCases checks the table has what the issue asks for: push and
// pull over 1, 2 and 4 streams and one stream with a socket buffer, next to
// the peers, and that every arrayx option parses.
func TestStreamCases(t *testing.T) {
	byID := map[string]*Case{}
	for i := range cases {
		byID[cases[i].ID] = &cases[i]
	}
	for id, want := range map[string]netOpts{
		"arrayx-push": {Streams: 1}, "arrayx-push-2": {Streams: 2}, "arrayx-push-4": {Streams: 4},
		"arrayx-push-sockbuf": {Streams: 1, SockBuf: true}, "arrayx-push-copy": {Streams: 1, Copy: true},
		"arrayx-pull": {Streams: 1}, "arrayx-pull-2": {Streams: 2}, "arrayx-pull-4": {Streams: 4},
		"arrayx-pull-sockbuf": {Streams: 1, SockBuf: true},
	} {
		c := byID[id]
		if c == nil {
			t.Errorf("no case %s", id)
			continue
		}
		if got, err := parseNetOpts(c.Client.Opt); err != nil || got != want || c.Group != Network {
			t.Errorf("%s: client options %+v (%v), group %s; want %+v, network", id, got, err, c.Group, want)
		}
		if _, err := parseNetOpts(c.Server.Opt); err != nil {
			t.Errorf("%s: server: %v", id, err)
		}
		wantServer := map[bool]Side{true: Receiver, false: Sender}[strings.HasPrefix(id, "arrayx-push")]
		if c.Server.Side != wantServer {
			t.Errorf("%s: the server is the %s, want the %s", id, c.Server.Side, wantServer)
		}
	}
	for _, id := range []string{"ceiling", "cookbook", "flight-doget", "flight-doput", "rw-loop"} {
		if c := byID[id]; c == nil || !c.network() {
			t.Errorf("peer %s is missing or not a network case", id)
		}
	}
}

// TestSchedule checks a round's order: the table's order, with the network
// cases once per setting, setting after setting, where they stand.
func TestSchedule(t *testing.T) {
	cs := []Case{{ID: "h1", Group: Handoff}, {ID: "n1", Group: Network}, {ID: "n2", Group: Network}, {ID: "c1", Group: Copy}}
	var got []string
	for _, s := range schedule(cs, 3) {
		got = append(got, fmt.Sprintf("%s@%d", cs[s.c].ID, s.net))
	}
	want := []string{"h1@-1", "n1@0", "n2@0", "n1@1", "n2@1", "n1@2", "n2@2", "c1@-1"}
	if !slices.Equal(got, want) {
		t.Errorf("schedule = %v, want %v", got, want)
	}
	if n := len(schedule(cases, 1)); n != len(cases) {
		t.Errorf("one setting: %d slots for %d cases", n, len(cases))
	}
}

// idsRegexp matches exactly the given case IDs.
func idsRegexp(ids ...string) string {
	for i, id := range ids {
		ids[i] = regexp.QuoteMeta(id)
	}
	return "^(" + strings.Join(ids, "|") + ")$"
}

// benchJSON runs the command line and returns its results.
func benchJSON(t *testing.T, args ...string) *Results {
	t.Helper()
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := benchMain(append(args, "--out", out), &stdout, &stderr); code != 0 {
		t.Fatalf("bench %q: exit code %d:\n%s", args, code, stderr.String())
	}
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res Results
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	return &res
}

// TestInterleaved runs two measured rounds after a warm-up and checks from
// the runs' start times that the rounds alternate (every case of a round
// before any of the next) in the schedule's order.
func TestInterleaved(t *testing.T) {
	ids := []string{"arrayx-first", "arrayx-push", "arrayx-pull", "ceiling", "cp"}
	res := benchJSON(t, "--sizes", "1MiB", "--runs", "2", "--warmup", "1", "--cases", idsRegexp(ids...))
	cs := res.Sizes[0].Cases
	var gotOrder []string
	for _, c := range cs {
		gotOrder = append(gotOrder, c.ID)
	}
	if !slices.Equal(gotOrder, ids) {
		t.Fatalf("cases %v, want %v", gotOrder, ids)
	}
	type start struct {
		at    time.Time
		round int
		slot  int
	}
	var starts []start
	for i, c := range cs {
		if len(c.Runs) != 3 {
			t.Fatalf("%s: %d runs, want 3 (one warm-up)", c.ID, len(c.Runs))
		}
		for _, r := range c.Runs {
			at, err := time.Parse(time.RFC3339Nano, r.Started)
			if err != nil || !r.ok() {
				t.Fatalf("%s round %d: start %q (%v), error %q", c.ID, r.Round, r.Started, err, r.Error)
			}
			starts = append(starts, start{at, r.Round, i})
		}
	}
	slices.SortFunc(starts, func(a, b start) int { return a.at.Compare(b.at) })
	for i, s := range starts {
		wantRound, wantSlot := i/len(cs)-1, i%len(cs)
		if s.round != wantRound || s.slot != wantSlot {
			t.Fatalf("run %d in time is %s of round %d, want %s of round %d", i, cs[s.slot].ID, s.round, cs[wantSlot].ID, wantRound)
		}
	}
	for _, c := range cs {
		if want := map[bool]string{true: loopbackName, false: ""}[c.Group == Network]; c.Net != want {
			t.Errorf("%s: net %q, want %q", c.ID, c.Net, want)
		}
	}
}

// TestStreamsUsed checks that the stream cases use the streams they ask
// for, as the library decides: DialOptions.Streams connections, but at most
// one per 64 MiB (netlink's streamMin), so one for 16 MiB and two for 128
// MiB; and that each connection the server accepted carried data.
func TestStreamsUsed(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 128 MiB arrays (-short)")
	}
	ids := []string{"arrayx-push", "arrayx-push-2", "arrayx-push-4", "arrayx-pull", "arrayx-pull-2", "arrayx-pull-4"}
	res := benchJSON(t, "--sizes", "16MiB,128MiB", "--runs", "1", "--warmup", "0", "--cases", idsRegexp(ids...))
	for _, s := range res.Sizes {
		for _, c := range s.Cases {
			o, err := parseNetOpts(caseByID(c.ID).Client.Opt)
			if err != nil {
				t.Fatal(err)
			}
			want := max(1, min(o.Streams, int(s.Bytes/(64<<20))))
			r := c.Runs[0]
			if !r.ok() {
				t.Errorf("%s at %s: %s", c.ID, fmtBytes(float64(s.Bytes)), r.Error)
				continue
			}
			t.Logf("%-14s %8s: Stats.Streams %d, bytes per connection %v", c.ID, fmtBytes(float64(s.Bytes)), r.Streams, r.StreamBytes)
			if r.Streams != want {
				t.Errorf("%s at %s: Stats.Streams = %d, want %d", c.ID, fmtBytes(float64(s.Bytes)), r.Streams, want)
			}
			if len(r.StreamBytes) != want {
				t.Errorf("%s at %s: the server accepted %d connections, want %d", c.ID, fmtBytes(float64(s.Bytes)), len(r.StreamBytes), want)
			}
			var total int64
			for i, b := range r.StreamBytes {
				total += b
				if b < dataConnMin {
					t.Errorf("%s at %s: connection %d carried %d bytes", c.ID, fmtBytes(float64(s.Bytes)), i, b)
				}
			}
			if total < s.Bytes {
				t.Errorf("%s at %s: the connections carried %d bytes in all, less than the array", c.ID, fmtBytes(float64(s.Bytes)), total)
			}
		}
	}
}

func caseByID(id string) *Case {
	for i := range cases {
		if cases[i].ID == id {
			return &cases[i]
		}
	}
	return nil
}

// TestAcrossNamespaces runs every network case once at 1 MiB between two
// namespaces with a rate and a delay, and checks that each verified, that
// its bytes crossed the link, and that its processes ran in their hosts.
// It needs root, ip, tc and iptables-legacy: without them it skips, saying
// why, unless CI is set.
func TestAcrossNamespaces(t *testing.T) {
	const delay = 5 * time.Millisecond
	testnet.Need(t, testnet.Options{Hosts: 2, Rate: "1gbit", Delay: delay})
	var ids []string
	for _, c := range cases {
		if c.network() {
			ids = append(ids, c.ID)
		}
	}
	res := benchJSON(t, "--sizes", "1MiB", "--runs", "1", "--warmup", "0", "--net", "ns-1gbit-5ms", "--cases", idsRegexp(ids...))
	if len(res.Nets) != 1 || res.Nets[0].Sender == "" || res.Nets[0].Receiver == "" || res.Nets[0].TCP.Wmem == "" {
		t.Fatalf("nets %+v", res.Nets)
	}
	h0, h1 := res.Nets[0].Sender, res.Nets[0].Receiver
	s := res.Sizes[0]
	if len(s.Cases) != len(ids) {
		t.Fatalf("%d cases, want %d", len(s.Cases), len(ids))
	}
	for _, c := range s.Cases {
		r := c.Runs[0]
		if c.Net != "ns-1gbit-5ms" || !r.ok() || r.Verified == "" {
			t.Errorf("%s (net %q) did not run and verify: %s", c.ID, c.Net, r.Error)
			continue
		}
		if l := r.Link; l == nil || l.SenderTx < s.Bytes || l.ReceiverRx < s.Bytes || l.Delayed == 0 {
			t.Errorf("%s: link %+v: the data did not cross, or was not delayed", c.ID, l)
		}
		// The Go processes' connections: the receiver's peer is the
		// sender's host, and the round trip has both delays in it.
		checked := 0
		for _, pr := range []*ProcResult{r.Sender, r.Receiver} {
			for _, tc := range pr.Window.Conns {
				if tc.data() < s.Bytes/2 {
					continue
				}
				local, peer := hostOf(tc.Local), hostOf(tc.Peer)
				wantLocal, wantPeer := h0, h1
				if pr.Side == Receiver {
					wantLocal, wantPeer = h1, h0
				}
				if local != wantLocal || peer != wantPeer {
					t.Errorf("%s: the %s's connection runs %s -> %s, want %s -> %s", c.ID, pr.Side, local, peer, wantLocal, wantPeer)
				}
				if pr.Side == Sender && time.Duration(tc.MinRTT)*time.Microsecond < 2*delay {
					t.Errorf("%s: round trip %d µs, want at least %v", c.ID, tc.MinRTT, 2*delay)
				}
				checked++
			}
		}
		if checked == 0 && c.ID != "cookbook" { // the recipe is Python: no TCP_INFO
			t.Errorf("%s: no connection of its Go processes carried the data", c.ID)
		}
		t.Logf("%-20s %.3f GB/s, link %d/%d bytes, %d delayed packets; %s", c.ID, r.GBps, r.Link.SenderTx, r.Link.ReceiverRx, r.Link.Delayed, r.Method)
	}
}

func hostOf(addr string) string {
	h, _, _ := net.SplitHostPort(addr)
	return h
}

// TestTCPConns checks that a process's connections are found, once each
// even when a duplicate descriptor is held, with their bytes.
func TestTCPConns(t *testing.T) {
	c := &child{}
	tl, err := listenTCP(c, 256<<10)
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	done := make(chan error, 1)
	go func() {
		s, err := tl.Accept()
		if err == nil {
			_, err = s.Write(make([]byte, 3<<20))
			s.Close() // the duplicate keeps it readable
		}
		done <- err
	}()
	cl, err := net.Dial("tcp4", tl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	buf := make([]byte, 1<<20)
	for got := 0; got < 3<<20; {
		n, err := cl.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got += n
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var server, client *TCPStats
	conns := tcpConns()
	for i := range conns {
		switch {
		case conns[i].Local == cl.RemoteAddr().String():
			if server != nil {
				t.Errorf("the server's connection is listed twice: %+v", conns)
			}
			server = &conns[i]
		case conns[i].Local == cl.LocalAddr().String():
			client = &conns[i]
		}
	}
	if server == nil || client == nil {
		t.Fatalf("connections %+v: want both ends of %s -> %s", conns, cl.LocalAddr(), cl.RemoteAddr())
	}
	if server.BytesSent != 3<<20 || client.BytesReceived != 3<<20 || server.data() != 3<<20 {
		t.Errorf("server sent %d, client received %d, want %d", server.BytesSent, client.BytesReceived, 3<<20)
	}
	// The listener's SO_SNDBUF reached the accepted connection (the kernel
	// doubles what it is given).
	if server.SndBuf != 2*(256<<10) {
		t.Errorf("accepted connection's SO_SNDBUF = %d, want %d", server.SndBuf, 2*(256<<10))
	}
}
