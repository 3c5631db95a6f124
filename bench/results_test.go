package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/results.md")

// fakeRun is a run that moved nbytes in secs, with the given CPU seconds per
// side.
func fakeRun(round int, nbytes int64, secs, sendCPU, recvCPU float64) Run {
	heap := int64(1 << 20)
	r := Run{Round: round, Seconds: secs, GBps: float64(nbytes) / secs / 1e9, Verified: "ok"}
	r.Receiver = &ProcResult{Side: Receiver, Window: Report{OK: true, Seconds: secs,
		Usage:       Usage{User: recvCPU / 2, Sys: recvCPU / 2, Vcsw: 100, Ivcsw: 10, MaxRSS: 64 << 20},
		GoHeapAlloc: &heap}}
	if sendCPU >= 0 {
		r.Sender = &ProcResult{Side: Sender, Window: Report{OK: true, Seconds: secs,
			Usage: Usage{Sys: sendCPU, Vcsw: 50, Ivcsw: 5, MaxRSS: 16 << 20}}}
	}
	return r
}

// withTCP gives a fake network run the connections a transfer over streams
// connections leaves: the sender's data connections (only the first, as a
// push client sees them) and the receiver's, each with its share.
func withTCP(r Run, nbytes int64, streams int, rttUS uint32, sndbuf int, sndbufLimited float64) Run {
	share := nbytes / int64(streams)
	for i := range streams {
		if i == 0 {
			r.Sender.Window.Conns = append(r.Sender.Window.Conns,
				TCPStats{SndBuf: sndbuf, RcvBuf: 128 << 10, BytesSent: share, BytesAcked: share, BytesReceived: 4 << 10, RTT: rttUS + rttUS/10, MinRTT: rttUS,
					Retrans: 2, Busy: 1e6, RwndLimited: 1e5, SndbufLimited: uint64(sndbufLimited * 1e6)})
		}
		r.Receiver.Window.Conns = append(r.Receiver.Window.Conns,
			TCPStats{SndBuf: 64 << 10, RcvBuf: 6 << 20, BytesAcked: 4 << 10, BytesReceived: share})
		r.StreamBytes = append(r.StreamBytes, share)
	}
	r.Streams = streams
	return r
}

// withLink gives a fake namespace run its link counters.
func withLink(r Run, nbytes int64) Run {
	r.Link = &LinkRun{SenderTx: nbytes + nbytes/30, ReceiverRx: nbytes + nbytes/30, Delayed: 20000, HarnessUser: 0.1, HarnessSys: 0.2}
	return r
}

// fakeResults is a small run of a few cases at 1 GiB: three rounds after a
// warm-up, one failed run; the network cases on loopback, and two of them
// also between namespaces.
func fakeResults() *Results {
	const n = 1 << 30
	mk := func(id, name string, g Group, ref bool, procs int, runs ...Run) *CaseResult {
		c := &CaseResult{ID: id, Name: name, Group: g, Ref: ref, Runs: runs}
		for range procs {
			c.Procs = append(c.Procs, "p")
		}
		return c
	}
	failed := Run{Round: 1, Error: "bench: element 7 is 8, want 7"}
	first := mk("arrayx-first", "arrayx Open + first element", Handoff, false, 1,
		fakeRun(0, n, 20e-6, -1, 0), fakeRun(1, n, 25e-6, -1, 0), fakeRun(2, n, 15e-6, -1, 0))
	read := mk("readfile-sum", "os.ReadFile + sum", Handoff, false, 1,
		fakeRun(0, n, 0.5, -1, 0.5), fakeRun(1, n, 0.6, -1, 0.6), fakeRun(2, n, 0.5, -1, 0.5))
	for i := range read.Runs {
		read.Runs[i].Phases = map[string]float64{"read": 0.4}
	}
	s := SizeResult{Bytes: n, Cases: []*CaseResult{
		first,
		mk("arrayx-sum", "arrayx Open + sum", Handoff, true, 1,
			fakeRun(-1, n, 1, -1, 1), fakeRun(0, n, 0.2, -1, 0.2), fakeRun(1, n, 0.25, -1, 0.2), fakeRun(2, n, 0.2, -1, 0.2)),
		read,
		mk("arrayx-push", "arrayx push (sendfile)", Network, true, 2,
			fakeRun(0, n, 0.5, 0.1, 0.3), fakeRun(1, n, 0.4, 0.1, 0.3), fakeRun(2, n, 0.5, 0.1, 0.3)),
		mk("ceiling", "kernel ceiling", Network, false, 2,
			fakeRun(0, n, 0.4, 0.1, 0.1), fakeRun(1, n, 0.4, 0.1, 0.1), fakeRun(2, n, 0.4, 0.1, 0.1)),
		mk("cookbook", "Python Cookbook 11.13", Network, false, 2,
			fakeRun(0, n, 1, 0.2, 0.8), failed, fakeRun(2, n, 1, 0.2, 0.8)),
	}}
	push, push4 := s.Cases[3], mk("arrayx-push-4", "arrayx push, 4 streams", Network, false, 2,
		fakeRun(0, n, 0.4, 0.1, 0.3), fakeRun(1, n, 0.3, 0.1, 0.3), fakeRun(2, n, 0.4, 0.1, 0.3))
	for i := range push.Runs {
		push.Runs[i] = withTCP(push.Runs[i], n, 1, 30, 4<<20, 0)
		push4.Runs[i] = withTCP(push4.Runs[i], n, 4, 30, 4<<20, 0)
	}
	s.Cases = append(s.Cases, push4)
	nsPush, nsPush4 := mk("arrayx-push", "arrayx push (sendfile)", Network, true, 2,
		fakeRun(0, n, 20, 0.1, 0.3), fakeRun(1, n, 19, 0.1, 0.3), fakeRun(2, n, 21, 0.1, 0.3)),
		mk("arrayx-push-4", "arrayx push, 4 streams", Network, false, 2,
			fakeRun(0, n, 10, 0.1, 0.3), fakeRun(1, n, 9.5, 0.1, 0.3), fakeRun(2, n, 10, 0.1, 0.3))
	for i := range nsPush.Runs {
		nsPush.Runs[i] = withLink(withTCP(nsPush.Runs[i], n, 1, 50000, 4<<20, 0.9), n)
		nsPush4.Runs[i] = withLink(withTCP(nsPush4.Runs[i], n, 4, 50000, 4<<20, 0.2), n)
	}
	nsPush.Net, nsPush4.Net = "ns-1gbit-25ms", "ns-1gbit-25ms"
	s.Cases = append(s.Cases, nsPush, nsPush4)
	s.summarize()
	res := &Results{Date: "2026-01-02T03:04:05Z", Command: "cd bench && go run . --sizes 1GiB --runs 3",
		Machine: Machine{CPUs: 2, Memory: 24 << 30, Kernel: "6.18", Go: "go1.26", Python: "Python 3.11, numpy 1.24"},
		Runs:    3, Warmup: 1, FlightBatchBytes: 4 << 20, SocketBuffer: 16 << 20, Sizes: []SizeResult{s},
		Nets: []NetInfo{
			{Name: loopbackName, Description: Where{Name: loopbackName}.describe(),
				TCP: TCPSettings{Congestion: "bbr", Wmem: "4096 16384 4194304", Rmem: "4096 131072 33554432", WmemMax: 4 << 20, RmemMax: 4 << 20}},
			{Name: "ns-1gbit-25ms", Description: Where{Name: "ns-1gbit-25ms", NS: true, Rate: "1gbit", Delay: 25 * time.Millisecond}.describe(),
				Rate: "1gbit", DelayMS: 25, Subnet: "198.18.7.0/24", Sender: "198.18.7.1", Receiver: "198.18.7.2",
				TCP: TCPSettings{Congestion: "bbr", Wmem: "4096 16384 4194304", Rmem: "4096 131072 33554432", WmemMax: 4 << 20, RmemMax: 4 << 20}},
		}}
	res.Targets = targets(res)
	return res
}

func TestSummarize(t *testing.T) {
	res := fakeResults()
	byID := map[string]*CaseResult{}
	for _, c := range res.Sizes[0].Cases {
		byID[c.ID] = c
	}
	sum := byID["arrayx-sum"].Summary
	if sum.Seconds.Median != 0.2 || sum.Seconds.Max != 0.25 || sum.Seconds.N != 3 {
		t.Errorf("arrayx-sum seconds %+v: the warm-up run must not count", sum.Seconds)
	}
	if got := byID["readfile-sum"].Summary.VsArrayx.Median; math.Abs(got-0.4) > 1e-12 {
		t.Errorf("readfile-sum vs arrayx = %v, want 0.4", got)
	}
	ck := byID["cookbook"].Summary
	if ck.Failed != 1 || ck.GBps.N != 2 || len(ck.Errors) != 1 {
		t.Errorf("cookbook summary %+v", ck)
	}
	if got := ck.Sender.SysPerGB; math.Abs(got-0.2/1.073741824) > 1e-12 {
		t.Errorf("cookbook sender sys/GB = %v", got)
	}
	if ck.Receiver.GoHeapAlloc == nil || *ck.Receiver.GoHeapAlloc != 1<<20 {
		t.Errorf("cookbook receiver heap %v", ck.Receiver.GoHeapAlloc)
	}
	if byID["arrayx-first"].Summary.Sender != nil {
		t.Error("a one-process case has a sender")
	}
	if res.failures() != 1 {
		t.Errorf("failures = %d, want 1", res.failures())
	}

	want := map[string]struct {
		v   float64
		met bool
	}{
		"arrayx push / kernel ceiling (GB/s)":                            {0.8, false},
		"arrayx push / Python Cookbook 11.13 (GB/s)":                     {2, true},
		"arrayx push / Python Cookbook 11.13 (CPU s, sender + receiver)": {0.4, true},
		"os.ReadFile time / arrayx Open + first element time":            {20000, true},
	}
	if len(res.Targets) != len(want) {
		t.Errorf("%d targets, want %d (Flight was not run): %+v", len(res.Targets), len(want), res.Targets)
	}
	for _, tg := range res.Targets {
		w, ok := want[tg.What]
		if !ok || math.Abs(tg.Value-w.v) > 1e-9*w.v || tg.Met != w.met {
			t.Errorf("target %q = %v (met %v), want %v (met %v)", tg.What, tg.Value, tg.Met, w.v, w.met)
		}
	}
}

func TestJSON(t *testing.T) {
	res := fakeResults()
	res.Sizes[0].Cases[0].Summary.VsArrayx = spread(nil) // no reference: null, not NaN
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Sizes []struct {
			Bytes int64
			Cases []struct {
				ID      string
				Runs    []Run
				Summary struct {
					GBps     *Spread `json:"gb_per_s"`
					VsArrayx *Spread `json:"vs_arrayx"`
					Failed   int     `json:"failed_runs"`
				}
			}
		}
		Targets []Target
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	c0 := back.Sizes[0].Cases[0]
	if back.Sizes[0].Bytes != 1<<30 || c0.ID != "arrayx-first" || c0.Summary.VsArrayx != nil || c0.Summary.GBps == nil || len(c0.Runs) != 3 {
		t.Errorf("round trip: %+v", c0)
	}
	if c0.Runs[0].Receiver == nil || c0.Runs[0].Receiver.Window.GoHeapAlloc == nil {
		t.Error("the receiver's report did not survive")
	}
	if back.Sizes[0].Cases[5].Summary.Failed != 1 || len(back.Targets) != 4 {
		t.Errorf("failures or targets lost: %+v", back)
	}
}

func TestMarkdown(t *testing.T) {
	var b bytes.Buffer
	renderMarkdown(&b, fakeResults())
	golden := filepath.Join("testdata", "results.md")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("Markdown differs from %s (go test -update to accept):\n%s", golden, b.String())
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{fmtRate(0.1234), "0.12"},
		{fmtRate(12.34), "12.3"},
		{fmtRate(0.04721), "0.047"},
		{fmtRate(0), "0.00"},
		{fmtRate(123.4), "123"},
		{fmtRate(1234567), "1,234,567"},
		{fmtRate(math.NaN()), "-"},
		{fmtRatio(0.5), "0.50x"},
		{fmtBytes(64 << 20), "64 MiB"},
		{fmtBytes(1 << 30), "1 GiB"},
		{fmtBytes(1.5 * (1 << 30)), "1.50 GiB"},
		{fmtBytes(300), "300 B"},
		{fmtDur(15e-6), "15.0 µs"},
		{fmtDur(0.0123), "12.3 ms"},
		{fmtDur(2.5), "2.50 s"},
		{fmtCount(3.14), "3.1"},
		{fmtCount(12345.6), "12,346"},
		{group(-1234), "-1,234"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestPlot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.png")
	if err := writePlot(path, fakeResults()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("not a PNG: %v", err)
	}
}
