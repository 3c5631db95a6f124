package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testnet"
	"github.com/arrayx/arrayx/mmapstore"
	"github.com/arrayx/arrayx/netlink"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// The fan-out group: one array replicated from a source host to k others,
// across network namespaces with rate-limited links, either by k pushes one
// after another from the source ("sequential") or by one push relayed down
// a chain of the k hosts ("chain", netlink's relay). One server process
// runs in each of hosts h1..hN for the whole run; the source, in h0, is a
// fresh process per run. Runs are interleaved round by round, in an order
// rotated each round, and every ratio pairs two runs of the same round.
//
//	cd bench && go run . fanout [--hosts 1,3,7] [--size 1GiB] [--rate 1gbit] [--runs 3] [--out results-fanout]

// fanoutToken is the servers' shared token: relaying needs one.
const fanoutToken = "bench-fanout-token-0123456789"

// FanoutCase is one way of reaching k hosts.
type FanoutCase struct {
	ID    string `json:"id"`
	Mode  string `json:"mode"` // "sequential" or "chain" (one host: "single")
	Hosts int    `json:"hosts"`
}

// HostRun is how one destination fared in a run.
type HostRun struct {
	Host     string  `json:"host"`
	OK       bool    `json:"ok"`
	Error    string  `json:"error,omitempty"`
	Bytes    int64   `json:"bytes"`   // data bytes its upstream sent it
	Seconds  float64 `json:"seconds"` // its own transfer, as its upstream saw it
	ZeroCopy bool    `json:"zero_copy"`
	// CPUSeconds is its server process's user+system CPU over the run
	// (/proc/PID/stat, 10 ms ticks): receiving, verifying, and relaying.
	CPUSeconds float64 `json:"cpu_s"`
}

// FanoutRun is one run of a case.
type FanoutRun struct {
	Round   int     `json:"round"` // -1 for warm-up rounds
	Seconds float64 `json:"seconds"`
	Error   string  `json:"error,omitempty"`
	// SourceTx is the bytes the source host's link sent.
	SourceTx int64     `json:"source_tx_bytes"`
	Source   Usage     `json:"source_usage"` // the source process, over its window
	Hosts    []HostRun `json:"hosts"`
	// MachineBusy is the share of both CPUs' time that was busy (all
	// processes and the kernel, /proc/stat) over the run.
	MachineBusy float64 `json:"machine_busy"`
}

// FanoutCaseResult is a case's runs and summary.
type FanoutCaseResult struct {
	FanoutCase
	Runs    []FanoutRun `json:"runs"`
	Seconds Spread      `json:"seconds"`
	// VsSingle is the time over the single transfer's of the same round;
	// VsSequential is the sequential pushes' time over this case's.
	VsSingle     Spread `json:"vs_single"`
	VsSequential Spread `json:"vs_sequential,omitempty"`
	SourceTxX    Spread `json:"source_tx_per_copy"` // source link bytes / array bytes
	HopCPUPerGB  Spread `json:"hop_cpu_s_per_gb"`   // a destination's CPU per GB it received
	SourceCPUGB  Spread `json:"source_cpu_s_per_gb"`
	Busy         Spread `json:"machine_busy"`
}

// FanoutResults is the whole group's output.
type FanoutResults struct {
	Command string             `json:"command"`
	Machine Machine            `json:"machine"`
	Rate    string             `json:"rate"`
	Bytes   int64              `json:"bytes"`
	Runs    int                `json:"runs"`
	Cases   []FanoutCaseResult `json:"cases"`
}

func fanoutMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench fanout", flag.ContinueOnError)
	fs.SetOutput(stderr)
	hostsFlag := fs.String("hosts", "1,3,7", "numbers of destination hosts, comma-separated (1 to 16)")
	sizeFlag := fs.String("size", "1GiB", "array size")
	rate := fs.String("rate", "1gbit", "each host's link rate, each way (tc tbf)")
	runs := fs.Int("runs", 3, "measured rounds")
	warmup := fs.Int("warmup", 1, "discarded rounds before them (the single transfer only)")
	out := fs.String("out", "results-fanout", "directory for fanout.md, fanout.json and fanout.png")
	dir := fs.String("dir", "/dev/shm", "directory for the stores (tmpfs: in memory)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, err)
		return 1
	}
	size, err := parseSize(*sizeFlag)
	if err != nil {
		return fail(err)
	}
	var counts []int
	for _, s := range strings.Split(*hostsFlag, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || k < 1 || k > 16 {
			fmt.Fprintf(stderr, "bench: --hosts: %q is not a number of hosts from 1 to 16\n", s)
			return 2
		}
		counts = append(counts, k)
	}
	if _, ok := rateBits(*rate); !ok {
		fmt.Fprintf(stderr, "bench: --rate %q: want a tc rate such as 1gbit\n", *rate)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := runFanout(ctx, fanoutOptions{counts: counts, size: size, rate: *rate, runs: *runs, warmup: *warmup, dir: *dir, log: stderr})
	if res != nil {
		res.Command = strings.TrimSpace("cd bench && go run . fanout " + strings.Join(args, " "))
		if werr := writeFanout(*out, res, stdout); werr != nil {
			return fail(werr)
		}
	}
	if err != nil {
		return fail(err)
	}
	for _, c := range res.Cases {
		for _, r := range c.Runs {
			if r.Error != "" {
				return fail(fmt.Errorf("bench: fanout %s: a run failed: %s", c.ID, r.Error))
			}
		}
	}
	return 0
}

type fanoutOptions struct {
	counts       []int
	size         int64
	rate         string
	runs, warmup int
	dir          string
	log          io.Writer
}

// fanoutCases are the cases for counts: one single transfer, then for
// every count above 1 the sequential pushes and the chain.
func fanoutCases(counts []int) []FanoutCase {
	cs := []FanoutCase{{ID: "single", Mode: "single", Hosts: 1}}
	for _, k := range slices.Compact(slices.Sorted(slices.Values(counts))) {
		if k > 1 {
			cs = append(cs, FanoutCase{ID: fmt.Sprintf("sequential-%d", k), Mode: "sequential", Hosts: k},
				FanoutCase{ID: fmt.Sprintf("chain-%d", k), Mode: "chain", Hosts: k})
		}
	}
	return cs
}

// fanoutServer is one destination's server process.
type fanoutServer struct {
	host  *testnet.Host
	dir   string // its store
	addr  string
	proc  *proc
	ticks func() (float64, error)
}

func runFanout(ctx context.Context, o fanoutOptions) (*FanoutResults, error) {
	cs := fanoutCases(o.counts)
	maxK := 0
	for _, c := range cs {
		maxK = max(maxK, c.Hosts)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	r := &runner{self: self}
	n, err := testnet.Setup(testnet.Options{Hosts: maxK + 1, Rate: o.rate})
	if err != nil {
		return nil, fmt.Errorf("bench: fanout needs network namespaces: %w", err)
	}
	defer n.Close()
	top, err := os.MkdirTemp(o.dir, "arrayx-fanout-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(top)

	// The source array, written by a child so that this process never maps it.
	p, err := dataParams(top, o.size)
	if err != nil {
		return nil, err
	}
	if err := r.runRole(ctx, "fanout-prepare", p); err != nil {
		return nil, err
	}

	var servers []*fanoutServer
	defer func() {
		for _, s := range servers {
			s.proc.stdin.Close()
			s.proc.wait()
		}
	}()
	for _, h := range n.Hosts[1:] {
		s := &fanoutServer{host: h, dir: filepath.Join(top, h.Name)}
		sp := p
		sp.Scratch = s.dir
		if s.proc, err = r.startOn(ctx, &Proc{Role: "fanout-server", Side: Receiver}, sp, h); err != nil {
			return nil, err
		}
		servers = append(servers, s)
		if s.addr, err = s.proc.waitReady(ctx); err != nil {
			return nil, err
		}
		pid := s.proc.cmd.Process.Pid
		s.ticks = func() (float64, error) { return procCPU(pid) }
	}
	fmt.Fprintf(o.log, "fanout: %d hosts on %s links, %s, servers ready\n", maxK+1, o.rate, fmtBytes(float64(o.size)))

	res := &FanoutResults{Machine: machine(), Rate: o.rate, Bytes: o.size, Runs: o.runs}
	for _, c := range cs {
		res.Cases = append(res.Cases, FanoutCaseResult{FanoutCase: c})
	}
	timeout := 3*time.Duration(float64(o.size)*8/must(rateBits(o.rate))*float64(time.Second))*time.Duration(maxK) + time.Minute
	for round := -o.warmup; round < o.runs; round++ {
		for i := range cs {
			k := (i + max(round, 0)) % len(cs) // rotated, so no case always runs first
			c := &res.Cases[k]
			if round < 0 && c.Mode != "single" {
				continue
			}
			rctx, cancel := context.WithTimeout(ctx, timeout)
			run := fanoutOnce(rctx, r, n, servers, p, c.FanoutCase, round)
			cancel()
			run.Round = max(round, -1)
			fmt.Fprintf(o.log, "fanout round %d %-14s %7.2f s  source sent %.2fx  busy %.0f%%  %s\n",
				round, c.ID, run.Seconds, float64(run.SourceTx)/float64(o.size), 100*run.MachineBusy, run.Error)
			if round >= 0 {
				c.Runs = append(c.Runs, run)
			}
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
		}
	}
	res.summarize()
	return res, nil
}

func must(x float64, ok bool) float64 {
	if !ok {
		panic("bench: unchecked rate")
	}
	return x
}

// fanoutOnce runs one case once and removes what it published.
func fanoutOnce(ctx context.Context, r *runner, n *testnet.Net, servers []*fanoutServer, p Params, c FanoutCase, round int) FanoutRun {
	var run FanoutRun
	dests := servers[:c.Hosts]
	name := fmt.Sprintf("x-%s-r%d", c.ID, round+100)
	defer func() {
		for _, s := range dests {
			os.Remove(filepath.Join(s.dir, name+mmapstore.Ext))
		}
	}()
	fail := func(err error) FanoutRun {
		run.Error = err.Error()
		return run
	}
	cpu0 := make([]float64, len(dests))
	for i, s := range dests {
		var err error
		if cpu0[i], err = s.ticks(); err != nil {
			return fail(err)
		}
	}
	_, tx0, err := n.Hosts[0].LinkBytes()
	if err != nil {
		return fail(err)
	}
	busy0, total0 := machineCPU()
	cp := p
	cp.Scratch = name
	for _, s := range dests {
		cp.Hosts = append(cp.Hosts, s.addr)
	}
	pr, err := r.startOn(ctx, &Proc{Role: "fanout-source", Side: Sender, Opt: c.Mode}, cp, n.Hosts[0])
	if err != nil {
		return fail(err)
	}
	pres, werr := pr.wait()
	busy1, total1 := machineCPU()
	if total1 > total0 {
		run.MachineBusy = (busy1 - busy0) / (total1 - total0)
	}
	_, tx1, err := n.Hosts[0].LinkBytes()
	if err != nil {
		return fail(err)
	}
	run.SourceTx = tx1 - tx0
	if pres != nil {
		run.Seconds, run.Source, run.Hosts = pres.Window.Seconds, pres.Window.Usage, pres.Window.Fanout
	}
	for i, s := range dests {
		cpu, err := s.ticks()
		if err != nil {
			return fail(err)
		}
		if i < len(run.Hosts) {
			run.Hosts[i].CPUSeconds = cpu - cpu0[i]
		}
	}
	if werr != nil {
		return fail(werr)
	}
	if len(run.Hosts) != c.Hosts {
		return fail(fmt.Errorf("the source reported %d hosts, want %d", len(run.Hosts), c.Hosts))
	}
	// Every destination holds the array, verified block by block.
	for i, s := range dests {
		if !run.Hosts[i].OK {
			return fail(fmt.Errorf("%s: %s", run.Hosts[i].Host, run.Hosts[i].Error))
		}
		a, err := mmapstore.Open(filepath.Join(s.dir, name+mmapstore.Ext), nil)
		if err != nil {
			return fail(err)
		}
		err = a.Verify()
		a.Close()
		if err != nil {
			return fail(fmt.Errorf("%s: %w", s.host, err))
		}
	}
	return run
}

// procCPU is a process's user+system CPU seconds (/proc/PID/stat, fields
// 14 and 15, in USER_HZ ticks of 10 ms).
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("bench: /proc/%d/stat: too few fields", pid)
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return (ut + st) / 100, nil
}

// machineCPU returns the busy and total CPU time of the machine so far, in
// ticks (/proc/stat's cpu line: busy is all but idle and iowait).
func machineCPU() (busy, total float64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	for i, f := range strings.Fields(line)[1:] {
		v, _ := strconv.ParseFloat(f, 64)
		if i >= 8 { // guest time is already counted in user
			break
		}
		total += v
		if i != 3 && i != 4 {
			busy += v
		}
	}
	return busy, total
}

func (res *FanoutResults) summarize() {
	secs := func(c *FanoutCaseResult) []float64 {
		var v []float64
		for _, r := range c.Runs {
			v = append(v, okOrNaN(r, r.Seconds))
		}
		return v
	}
	byID := map[string]*FanoutCaseResult{}
	for i := range res.Cases {
		byID[res.Cases[i].ID] = &res.Cases[i]
	}
	single := secs(byID["single"])
	gb := float64(res.Bytes) / 1e9
	for i := range res.Cases {
		c := &res.Cases[i]
		s := secs(c)
		c.Seconds = spread(s)
		c.VsSingle = spread(ratios(s, single))
		if c.Mode == "chain" {
			if seq := byID[fmt.Sprintf("sequential-%d", c.Hosts)]; seq != nil {
				c.VsSequential = spread(ratios(secs(seq), s))
			}
		}
		var tx, hop, src, busy []float64
		for _, r := range c.Runs {
			tx = append(tx, okOrNaN(r, float64(r.SourceTx)/float64(res.Bytes)))
			src = append(src, okOrNaN(r, (r.Source.User+r.Source.Sys)/gb))
			busy = append(busy, okOrNaN(r, r.MachineBusy))
			for _, h := range r.Hosts {
				if h.Bytes > 0 {
					hop = append(hop, okOrNaN(r, h.CPUSeconds/(float64(h.Bytes)/1e9)))
				}
			}
		}
		c.SourceTxX, c.HopCPUPerGB, c.SourceCPUGB, c.Busy = spread(tx), spread(hop), spread(src), spread(busy)
	}
}

func okOrNaN(r FanoutRun, x float64) float64 { return nanIf(r.Error != "", x) }

// writeFanout writes fanout.md (also to stdout), fanout.json and fanout.png.
func writeFanout(dir string, res *FanoutResults, stdout io.Writer) error {
	var md strings.Builder
	renderFanout(&md, res)
	if err := writeReport(dir, "fanout", md.String(), res, stdout); err != nil {
		return err
	}
	return writeFanoutPlot(filepath.Join(dir, "fanout.png"), res)
}

func renderFanout(w io.Writer, res *FanoutResults) {
	fmt.Fprintf(w, "## Fan-out: %s to k hosts, %s links\n\n", fmtBytes(float64(res.Bytes)), res.Rate)
	fmt.Fprintf(w, "`%s` on %s; medians of %d interleaved rounds, min-max in brackets.\n\n", res.Command, res.Machine.CPUModel, res.Runs)
	fmt.Fprintln(w, "| case | hosts | time (s) | x one transfer | chain's speed-up over sequential | source link sent (copies) | CPU per hop (s/GB) | source CPU (s/GB) | machine busy |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, c := range res.Cases {
		sp := "-"
		if c.Mode == "chain" {
			sp = fmtSpread(c.VsSequential, "%.2f")
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", c.ID, c.Hosts,
			fmtSpread(c.Seconds, "%.2f"), fmtSpread(c.VsSingle, "%.2f"), sp, fmtSpread(c.SourceTxX, "%.3f"),
			fmtSpread(c.HopCPUPerGB, "%.2f"), fmtSpread(c.SourceCPUGB, "%.2f"), fmtSpread(c.Busy, "%.2f"))
	}
	fmt.Fprintln(w)
}

func fmtSpread(s Spread, f string) string {
	if s.N == 0 {
		return "-"
	}
	return fmt.Sprintf(f+" ["+f+"-"+f+"]", s.Median, s.Min, s.Max)
}

// fanoutPrepare is the "fanout-prepare" role: the source array only.
func fanoutPrepare(c *child) error {
	c.begin()
	defer c.end()
	st, err := mmapstore.OpenStore(c.SrcStore, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	a, err := sealFloat64(st, "x", arrayx.Shape{c.N}, fillArange)
	if err != nil {
		return err
	}
	c.rep.Verified = "written"
	return a.Close()
}

// fanoutServerRole is the "fanout-server" role: a relaying server on its
// host's address over the store c.Scratch, until the harness closes its
// standard input.
func fanoutServerRole(c *child) error {
	st, err := mmapstore.OpenStore(c.Scratch, &mmapstore.Options{Sync: mmapstore.SyncNever})
	if err != nil {
		return err
	}
	defer st.Close()
	l, err := listen(c)
	if err != nil {
		return err
	}
	srv := netlink.NewServer(st, netlink.Config{Token: []byte(fanoutToken)})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	c.begin()
	c.ready(l.Addr().String())
	<-c.stop
	c.end()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, netlink.ErrServerClosed) {
		return err
	}
	c.rep.Verified = "the harness verifies what it received"
	return nil
}

// fanoutSource is the "fanout-source" role: it pushes the source array to
// c.Hosts, one after another (c.Opt "sequential" or "single") or down a
// relay chain ("chain"), as c.Scratch; its window is the whole fan-out.
func fanoutSource(c *child) error {
	ctx := context.Background()
	st, err := mmapstore.OpenStore(c.SrcStore, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	a, err := st.Open("x")
	if err != nil {
		return err
	}
	defer a.Close()
	opts := &netlink.DialOptions{Token: []byte(fanoutToken)}
	push := func(addr string, chain []string) (netlink.Stats, []netlink.HostStats, error) {
		cl, err := netlink.Dial(ctx, addr, opts)
		if err != nil {
			return netlink.Stats{}, nil, err
		}
		defer cl.Close()
		return cl.PushChain(ctx, a, c.Scratch, chain)
	}
	first := func(addr string, s netlink.Stats, err error) HostRun {
		h := HostRun{Host: addr, OK: err == nil, Bytes: s.Bytes, Seconds: s.Duration.Seconds(), ZeroCopy: s.ZeroCopy}
		if err != nil {
			h.Error = err.Error()
		}
		return h
	}
	c.begin()
	switch c.Opt {
	case "single", "sequential":
		for _, addr := range c.Hosts {
			s, _, err := push(addr, nil)
			c.rep.Fanout = append(c.rep.Fanout, first(addr, s, err))
		}
	case "chain":
		s, hosts, err := push(c.Hosts[0], c.Hosts[1:])
		c.rep.Fanout = append(c.rep.Fanout, first(c.Hosts[0], s, err))
		for _, h := range hosts {
			hr := HostRun{Host: h.Host, OK: h.Err() == nil, Bytes: h.Bytes, Seconds: h.Seconds, ZeroCopy: h.ZeroCopy}
			if err := h.Err(); err != nil {
				hr.Error = err.Error()
			}
			c.rep.Fanout = append(c.rep.Fanout, hr)
		}
	default:
		return fmt.Errorf("bench: fanout mode %q", c.Opt)
	}
	c.end()
	c.rep.Method = c.Opt
	c.rep.Verified = "the harness verifies every destination"
	return nil
}

// writeFanoutPlot draws the time to reach k hosts against k, one line per
// way (median, with min-max bars), and the ideal: one transfer's time.
func writeFanoutPlot(path string, res *FanoutResults) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s to k hosts, %s links", fmtBytes(float64(res.Bytes)), res.Rate)
	p.X.Label.Text = "destination hosts (k)"
	p.Y.Label.Text = "seconds until every host holds it (median; bars: min-max)"
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	lines := map[string]*spreadXY{}
	var single Spread
	maxK := 1
	for _, c := range res.Cases {
		maxK = max(maxK, c.Hosts)
		if c.Mode == "single" {
			single = c.Seconds
		}
	}
	for _, mode := range []string{"sequential", "chain"} {
		l := &spreadXY{}
		if single.N > 0 { // one host: both ways are one push
			l.XYs = append(l.XYs, plotter.XY{X: 1, Y: single.Median})
			l.lo, l.hi = append(l.lo, single.Median-single.Min), append(l.hi, single.Max-single.Median)
		}
		for _, c := range res.Cases {
			if c.Mode == mode && c.Seconds.N > 0 {
				l.XYs = append(l.XYs, plotter.XY{X: float64(c.Hosts), Y: c.Seconds.Median})
				l.lo, l.hi = append(l.lo, c.Seconds.Median-c.Seconds.Min), append(l.hi, c.Seconds.Max-c.Seconds.Median)
			}
		}
		lines[mode] = l
	}
	for i, mode := range []string{"sequential", "chain"} {
		l := lines[mode]
		if len(l.XYs) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(l.XYs)
		if err != nil {
			return err
		}
		line.Color, points.Color = plotutil.Color(i), plotutil.Color(i)
		points.Shape = plotutil.Shape(i)
		bars, err := plotter.NewYErrorBars(l)
		if err != nil {
			return err
		}
		bars.Color = plotutil.Color(i)
		p.Add(line, points, bars)
		p.Legend.Add(map[string]string{"sequential": "sequential pushes", "chain": "relay chain"}[mode], line, points)
	}
	if single.N > 0 {
		ideal, err := plotter.NewLine(plotter.XYs{{X: 1, Y: single.Median}, {X: float64(maxK), Y: single.Median}})
		if err != nil {
			return err
		}
		ideal.Dashes = plotutil.Dashes(2)
		p.Add(ideal)
		p.Legend.Add("one transfer to one host", ideal)
	}
	var ticks []plot.Tick
	for _, c := range res.Cases {
		if c.Mode != "sequential" {
			ticks = append(ticks, plot.Tick{Value: float64(c.Hosts), Label: strconv.Itoa(c.Hosts)})
		}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.Y.Min = 0, 0
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
}
