package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Results is everything one harness run measured; it is written as JSON and
// rendered as Markdown and a plot.
type Results struct {
	Date             string  `json:"date"`
	Command          string  `json:"command"`
	Machine          Machine `json:"machine"`
	Runs             int     `json:"runs"`
	Warmup           int     `json:"warmup_rounds"`
	FlightBatchBytes int64   `json:"flight_batch_bytes"`
	// SocketBuffer is what the socket-buffer cases asked for (--sockbuf).
	SocketBuffer int `json:"socket_buffer_bytes,omitempty"`
	// Nets are where the network cases ran (--net), in order.
	Nets    []NetInfo    `json:"nets,omitempty"`
	Sizes   []SizeResult `json:"sizes"`
	Targets []Target     `json:"targets"`
}

// Machine describes where the numbers come from.
type Machine struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpu_model,omitempty"`
	Memory   int64  `json:"memory_bytes,omitempty"`
	Kernel   string `json:"kernel,omitempty"`
	Go       string `json:"go"`
	Python   string `json:"python,omitempty"`
}

// SizeResult holds every case at one array size.
type SizeResult struct {
	Bytes int64         `json:"bytes"`
	Cases []*CaseResult `json:"cases"`
}

// CaseResult is one case at one size: every run (warm-up rounds have
// negative round numbers) and their summary.
type CaseResult struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Group   Group    `json:"group"`
	Net     string   `json:"net,omitempty"` // the --net setting of a network case
	Ref     bool     `json:"arrayx_reference,omitempty"`
	Procs   []string `json:"processes"` // who runs what, server first
	Runs    []Run    `json:"runs"`
	Summary Summary  `json:"summary"`
}

// Summary condenses the measured (non-warm-up) runs of a case.
type Summary struct {
	GBps    Spread `json:"gb_per_s"`
	Seconds Spread `json:"seconds"`
	// VsArrayx is this case's GB/s over its group's arrayx reference, taken
	// round by round.
	VsArrayx Spread             `json:"vs_arrayx"`
	Phases   map[string]float64 `json:"phases,omitempty"` // median seconds from the window's start
	Sender   *SideSummary       `json:"sender,omitempty"`
	Receiver *SideSummary       `json:"receiver,omitempty"`
	Method   string             `json:"method,omitempty"`
	Verified string             `json:"verified,omitempty"`
	Failed   int                `json:"failed_runs"` // warm-up included
	Errors   []string           `json:"errors,omitempty"`
	// Transport is how a network case used TCP.
	Transport *TransportSummary `json:"transport,omitempty"`
}

// TransportSummary is how a network case used TCP: per-run values (from
// the processes' TCP_INFO, tcpinfo.go, and the links' counters, where.go),
// summarized over the measured runs. A connection counts as carrying data
// from dataConnMin bytes in its main direction.
type TransportSummary struct {
	// Streams is what arrayx's client Stats said (Stats.Streams); WithData
	// how many of the server's connections carried data.
	Streams  Spread `json:"streams"`
	WithData Spread `json:"streams_with_data"`
	// SndBuf is the largest SO_SNDBUF of the sender's data connections at
	// the end of its window, RcvBuf the largest SO_RCVBUF of the
	// receiver's: the buffers autotuning reached, or those set and locked.
	// For an arrayx push the sender is the client, of which only the main
	// connection is still open then.
	SndBuf Spread `json:"sender_so_sndbuf"`
	RcvBuf Spread `json:"receiver_so_rcvbuf"`
	// MinRTT is the least round trip the sender's data connections saw, in
	// milliseconds; Retrans the segments they sent again.
	MinRTT  Spread `json:"min_rtt_ms"`
	Retrans Spread `json:"retrans_segments"`
	// RwndLimited and SndbufLimited are the fractions of the sender's busy
	// time (data waiting to go) it spent held back by the receiver's
	// window or by its own send buffer; the rest of the busy time the
	// congestion window or pacing, that is the path, held it.
	RwndLimited   Spread `json:"rwnd_limited"`
	SndbufLimited Spread `json:"sndbuf_limited"`
	// Namespace runs: the receiver host's link's received bytes over the
	// payload, the harness's (delayers') CPU seconds per GB moved, and the
	// packets the delayers' queues dropped.
	LinkRx     Spread `json:"receiver_link_rx_per_payload"`
	HarnessCPU Spread `json:"harness_cpu_s_per_gb"`
	Dropped    Spread `json:"dropped_packets"`
}

// dataConnMin is the least a connection carries to count as carrying data
// (protocol messages alone are a few KiB).
const dataConnMin = 1 << 20

// transportSummary summarizes the transport of runs of nbytes each.
func transportSummary(runs []Run, nbytes int64) *TransportSummary {
	var streams, withData, sndbuf, rcvbuf, rtt, retrans, rwnd, sndlim, rx, cpu, dropped []float64
	some := false
	for i := range runs {
		r := &runs[i]
		if !r.ok() {
			continue
		}
		nan := math.NaN()
		add := func(xs *[]float64, v float64) { *xs = append(*xs, v) }
		if r.Streams > 0 {
			add(&streams, float64(r.Streams))
		}
		if len(r.StreamBytes) > 0 {
			n := 0
			for _, b := range r.StreamBytes {
				if b >= dataConnMin {
					n++
				}
			}
			add(&withData, float64(n))
		}
		if r.Sender != nil {
			sb, minRTT, re, busy, rw, sl := nan, nan, 0.0, 0.0, 0.0, 0.0
			found := false
			for _, tc := range r.Sender.Window.Conns {
				if tc.BytesSent < dataConnMin {
					continue
				}
				found = true
				sb = math.Max(nanZero(sb), float64(tc.SndBuf))
				if tc.MinRTT > 0 {
					minRTT = math.Min(nanInf(minRTT), float64(tc.MinRTT)/1e3)
				}
				re += float64(tc.Retrans)
				busy += float64(tc.Busy)
				rw += float64(tc.RwndLimited)
				sl += float64(tc.SndbufLimited)
			}
			if found {
				add(&sndbuf, sb)
				add(&rtt, minRTT)
				add(&retrans, re)
				if busy > 0 {
					add(&rwnd, rw/busy)
					add(&sndlim, sl/busy)
				}
			}
		}
		if r.Receiver != nil {
			rb, found := 0.0, false
			for _, tc := range r.Receiver.Window.Conns {
				if tc.BytesReceived >= dataConnMin {
					rb, found = math.Max(rb, float64(tc.RcvBuf)), true
				}
			}
			if found {
				add(&rcvbuf, rb)
			}
		}
		if l := r.Link; l != nil {
			add(&rx, float64(l.ReceiverRx)/float64(nbytes))
			add(&cpu, perGB(l.HarnessUser+l.HarnessSys, nbytes))
			add(&dropped, float64(l.Dropped))
		}
		some = true
	}
	if !some {
		return nil
	}
	return &TransportSummary{
		Streams: spread(streams), WithData: spread(withData),
		SndBuf: spread(sndbuf), RcvBuf: spread(rcvbuf), MinRTT: spread(rtt), Retrans: spread(retrans),
		RwndLimited: spread(rwnd), SndbufLimited: spread(sndlim),
		LinkRx: spread(rx), HarnessCPU: spread(cpu), Dropped: spread(dropped),
	}
}

func nanZero(x float64) float64 {
	if math.IsNaN(x) {
		return 0
	}
	return x
}

func nanInf(x float64) float64 {
	if math.IsNaN(x) {
		return math.Inf(1)
	}
	return x
}

// SideSummary is the median cost to one side of moving a gigabyte (1e9
// bytes), over its measurement window.
type SideSummary struct {
	UserPerGB   float64  `json:"user_s_per_gb"`
	SysPerGB    float64  `json:"sys_s_per_gb"`
	VcswPerGB   float64  `json:"vcsw_per_gb"`
	IvcswPerGB  float64  `json:"ivcsw_per_gb"`
	MaxRSS      float64  `json:"maxrss_bytes"`                  // peak RSS at the window's end
	GoHeapAlloc *float64 `json:"go_heap_alloc_bytes,omitempty"` // allocated in the window
}

// MarshalJSON writes an empty spread (no successful run) as null.
func (s Spread) MarshalJSON() ([]byte, error) {
	if s.N == 0 {
		return []byte("null"), nil
	}
	type plain Spread
	return json.Marshal(plain(s))
}

// failures counts failed runs over all sizes and cases.
func (r *Results) failures() int {
	n := 0
	for _, s := range r.Sizes {
		for _, c := range s.Cases {
			n += c.Summary.Failed
		}
	}
	return n
}

// measured returns the runs after the warm-up.
func (c *CaseResult) measured() []Run {
	var out []Run
	for _, r := range c.Runs {
		if r.Round >= 0 {
			out = append(out, r)
		}
	}
	return out
}

// series returns f of each measured run, NaN where the run failed.
func (c *CaseResult) series(f func(*Run) float64) []float64 {
	runs := c.measured()
	out := make([]float64, len(runs))
	for i := range runs {
		out[i] = math.NaN()
		if runs[i].ok() {
			out[i] = f(&runs[i])
		}
	}
	return out
}

func gbps(r *Run) float64 { return r.GBps }

// refKey names a group's reference: one per group and --net setting.
func refKey(c *CaseResult) string { return string(c.Group) + "|" + c.Net }

// summarize fills every case's summary at one size.
func (s *SizeResult) summarize() {
	refs := map[string]*CaseResult{}
	for _, c := range s.Cases {
		if c.Ref {
			refs[refKey(c)] = c
		}
	}
	for _, c := range s.Cases {
		sum := &c.Summary
		sum.GBps = spread(c.series(gbps))
		sum.Seconds = spread(c.series(func(r *Run) float64 { return r.Seconds }))
		if c.Group == Network {
			sum.Transport = transportSummary(c.measured(), s.Bytes)
		}
		if ref := refs[refKey(c)]; ref != nil {
			sum.VsArrayx = spread(ratios(c.series(gbps), ref.series(gbps)))
		}
		phases := map[string][]float64{}
		for _, r := range c.measured() {
			if r.ok() {
				sum.Method, sum.Verified = r.Method, r.Verified
				for k, v := range r.Phases {
					phases[k] = append(phases[k], v)
				}
			}
		}
		for k, v := range phases {
			if sum.Phases == nil {
				sum.Phases = map[string]float64{}
			}
			sum.Phases[k] = median(v)
		}
		sum.Sender = sideSummary(c.measured(), s.Bytes, func(r *Run) *ProcResult { return r.Sender })
		sum.Receiver = sideSummary(c.measured(), s.Bytes, func(r *Run) *ProcResult { return r.Receiver })
		for _, r := range c.Runs {
			if !r.ok() {
				sum.Failed++
				if !slices.Contains(sum.Errors, r.Error) && len(sum.Errors) < 3 {
					sum.Errors = append(sum.Errors, r.Error)
				}
			}
		}
	}
}

func sideSummary(runs []Run, nbytes int64, side func(*Run) *ProcResult) *SideSummary {
	var user, sys, vcsw, ivcsw, rss, heap []float64
	for i := range runs {
		pr := side(&runs[i])
		if !runs[i].ok() || pr == nil {
			continue
		}
		w := pr.Window
		user = append(user, perGB(w.User, nbytes))
		sys = append(sys, perGB(w.Sys, nbytes))
		vcsw = append(vcsw, perGB(float64(w.Vcsw), nbytes))
		ivcsw = append(ivcsw, perGB(float64(w.Ivcsw), nbytes))
		rss = append(rss, float64(w.MaxRSS))
		if w.GoHeapAlloc != nil {
			heap = append(heap, float64(*w.GoHeapAlloc))
		}
	}
	if len(user) == 0 {
		return nil
	}
	ss := &SideSummary{
		UserPerGB:  median(user),
		SysPerGB:   median(sys),
		VcswPerGB:  median(vcsw),
		IvcswPerGB: median(ivcsw),
		MaxRSS:     median(rss),
	}
	if len(heap) > 0 {
		h := median(heap)
		ss.GoHeapAlloc = &h
	}
	return ss
}

// Target is one of issue 4's goals, evaluated per size from the same run.
type Target struct {
	Bytes int64   `json:"bytes"`
	What  string  `json:"what"`
	Value float64 `json:"value"` // median over rounds
	Goal  string  `json:"goal"`
	Met   bool    `json:"met"`
}

// targets evaluates the goals the tables must show, each a median of
// round-by-round ratios. Goals whose cases were not run are left out.
func targets(res *Results) []Target {
	var out []Target
	for _, s := range res.Sizes {
		byID := map[string]*CaseResult{} // the targets are on loopback
		for _, c := range s.Cases {
			if c.Net == "" || c.Net == loopbackName {
				byID[c.ID] = c
			}
		}
		add := func(what, a, b string, f, g func(*Run) float64, atLeast bool, goal float64) {
			ca, cb := byID[a], byID[b]
			if ca == nil || cb == nil {
				return
			}
			v := median(ratios(ca.series(f), cb.series(g)))
			if math.IsNaN(v) {
				return
			}
			t := Target{Bytes: s.Bytes, What: what, Value: v}
			if atLeast {
				t.Goal, t.Met = fmt.Sprintf(">= %g", goal), v >= goal
			} else {
				t.Goal, t.Met = fmt.Sprintf("<= %g", goal), v <= goal
			}
			out = append(out, t)
		}
		cpu := func(r *Run) float64 {
			t := 0.0
			for _, p := range []*ProcResult{r.Sender, r.Receiver} {
				if p != nil {
					t += p.Window.User + p.Window.Sys
				}
			}
			return t
		}
		seconds := func(r *Run) float64 { return r.Seconds }
		read := func(r *Run) float64 {
			if v, ok := r.Phases["read"]; ok {
				return v
			}
			return math.NaN()
		}
		add("arrayx push / kernel ceiling (GB/s)", "arrayx-push", "ceiling", gbps, gbps, true, 0.85)
		add("arrayx push / Python Cookbook 11.13 (GB/s)", "arrayx-push", "cookbook", gbps, gbps, true, 1.5)
		add("arrayx push / Python Cookbook 11.13 (CPU s, sender + receiver)", "arrayx-push", "cookbook", cpu, cpu, false, 0.5)
		add("arrayx push / Arrow Flight DoGet (GB/s)", "arrayx-push", "flight-doget", gbps, gbps, true, 4)
		add("os.ReadFile time / arrayx Open + first element time", "readfile-sum", "arrayx-first", read, seconds, true, 1000)
	}
	return out
}

// run measures every case at every size: data prepared per size, then the
// warm-up rounds, then opt.Runs rounds, each running every case once in
// table order (A B C A B C ...). Data and scratch directories live in a
// temporary directory under opt.Dir that is always removed.
func run(ctx context.Context, opt options, cs []Case) (*Results, error) {
	if opt.Runs < 1 || opt.Warmup < 0 || len(opt.Sizes) == 0 || len(cs) == 0 {
		return nil, errors.New("bench: nothing to run (need sizes, cases and at least one run)")
	}
	if opt.FlightRows <= 0 {
		return nil, errors.New("bench: the Flight batch must hold at least one element")
	}
	if len(opt.Nets) == 0 {
		opt.Nets = []Where{{Name: loopbackName}}
	}
	res := &Results{
		Date:             time.Now().UTC().Format(time.RFC3339),
		Machine:          machine(),
		Runs:             opt.Runs,
		Warmup:           opt.Warmup,
		FlightBatchBytes: opt.FlightRows * 8,
	}
	for _, c := range cs {
		for _, p := range c.procs() {
			if p.Python != "" && res.Machine.Python == "" {
				v, err := checkPython()
				if err != nil {
					return nil, err
				}
				res.Machine.Python = v
			}
		}
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(opt.Dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("bench: %s must be a directory (on Linux, /dev/shm: tmpfs, in memory): %v", opt.Dir, err)
	}
	work, err := os.MkdirTemp(opt.Dir, "arrayx-peers-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	r := &runner{opt: opt, self: self, pyDir: filepath.Join(work, "python")}
	if err := os.Mkdir(r.pyDir, 0o755); err != nil {
		return nil, err
	}
	if err := writePython(r.pyDir); err != nil {
		return nil, err
	}
	r.opt.Dir = work

	slots := schedule(cs, len(opt.Nets))
	var envs []*netEnv
	for _, sl := range slots {
		if sl.net >= 0 {
			// Only the settings some selected case runs in are built.
			if envs, err = setupNets(opt.Nets); err != nil {
				return nil, errors.Join(err, closeNets(envs))
			}
			break
		}
	}
	defer func() {
		if cerr := closeNets(envs); cerr != nil && opt.Log != nil {
			fmt.Fprintln(opt.Log, cerr)
		}
	}()
	for _, e := range envs {
		res.Nets = append(res.Nets, e.info)
	}
	for _, c := range cs {
		for _, p := range c.procs() {
			if strings.Contains(p.Opt, "sockbuf") {
				res.SocketBuffer = opt.SocketBuffer
			}
		}
	}

	for _, size := range opt.Sizes {
		sr := SizeResult{Bytes: size}
		for _, sl := range slots {
			c := &cs[sl.c]
			cr := &CaseResult{ID: c.ID, Name: c.Name, Group: c.Group, Ref: c.Ref}
			if sl.net >= 0 {
				cr.Net = opt.Nets[sl.net].Name
			}
			for _, p := range c.procs() {
				cr.Procs = append(cr.Procs, p.describe())
			}
			sr.Cases = append(sr.Cases, cr)
		}
		dataDir := filepath.Join(work, fmt.Sprintf("data-%d", size))
		p, err := r.prepare(ctx, dataDir, size)
		if err != nil {
			return res, err
		}
		p.FlightRows, p.Shift = opt.FlightRows, opt.Shift
		for round := -opt.Warmup; round < opt.Runs; round++ {
			for i, sl := range slots {
				if err := ctx.Err(); err != nil {
					return res, err
				}
				var env *netEnv
				if sl.net >= 0 {
					env = envs[sl.net]
				}
				rn := r.once(ctx, &cs[sl.c], env, p, round)
				sr.Cases[i].Runs = append(sr.Cases[i].Runs, rn)
				r.logRun(size, round, &cs[sl.c], env, &rn)
			}
		}
		if err := os.RemoveAll(dataDir); err != nil {
			return res, err
		}
		sr.summarize()
		res.Sizes = append(res.Sizes, sr)
	}
	res.Targets = targets(res)
	return res, nil
}

func (r *runner) logRun(size int64, round int, c *Case, env *netEnv, run *Run) {
	if r.opt.Log == nil {
		return
	}
	which := fmt.Sprintf("run %d/%d", round+1, r.opt.Runs)
	if round < 0 {
		which = "warm-up"
	}
	where := ""
	if env != nil {
		where = env.where.Name
	}
	result := fmt.Sprintf("%s GB/s", fmtRate(run.GBps))
	if run.Streams > 1 {
		result += fmt.Sprintf(", %d streams", run.Streams)
	}
	if !run.ok() {
		result = "FAILED: " + run.Error
	}
	fmt.Fprintf(r.opt.Log, "%-9s %8s  %-14s %-40s %s\n", which, fmtBytes(float64(size)), where, c.Name, result)
}

// slot is one entry of a round: a case, and the index of its --net setting
// (-1 for the cases that are not network cases).
type slot struct{ c, net int }

// schedule orders one round: the cases in table order, the network cases
// once per setting, setting by setting (every network case on loopback,
// then every one across the namespaces, ...), where the table's first
// network case stands. Every round runs the same order, so the rounds
// interleave the cases (A B C A B C ...) and the cases compared with each
// other in one setting run close together in time.
func schedule(cs []Case, nets int) []slot {
	var out []slot
	done := false
	for i := range cs {
		if !cs[i].network() {
			out = append(out, slot{i, -1})
			continue
		}
		if done {
			continue
		}
		done = true
		for n := range nets {
			for j := i; j < len(cs); j++ {
				if cs[j].network() {
					out = append(out, slot{j, n})
				}
			}
		}
	}
	return out
}

// machine describes this computer.
func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		var b strings.Builder
		for _, c := range u.Release {
			if c == 0 {
				break
			}
			b.WriteByte(byte(c))
		}
		m.Kernel = b.String()
	}
	m.CPUModel = procField("/proc/cpuinfo", "model name")
	if kb := procField("/proc/meminfo", "MemTotal"); kb != "" {
		var n int64
		fmt.Sscanf(kb, "%d", &n)
		m.Memory = n * 1024
	}
	return m
}

// procField returns the value of the first "key: value" line of a /proc file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
