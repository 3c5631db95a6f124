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
	Date             string       `json:"date"`
	Command          string       `json:"command"`
	Machine          Machine      `json:"machine"`
	Runs             int          `json:"runs"`
	Warmup           int          `json:"warmup_rounds"`
	FlightBatchBytes int64        `json:"flight_batch_bytes"`
	Sizes            []SizeResult `json:"sizes"`
	Targets          []Target     `json:"targets"`
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

// summarize fills every case's summary at one size.
func (s *SizeResult) summarize() {
	refs := map[Group]*CaseResult{}
	for _, c := range s.Cases {
		if c.Ref {
			refs[c.Group] = c
		}
	}
	for _, c := range s.Cases {
		sum := &c.Summary
		sum.GBps = spread(c.series(gbps))
		sum.Seconds = spread(c.series(func(r *Run) float64 { return r.Seconds }))
		if ref := refs[c.Group]; ref != nil {
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
		byID := map[string]*CaseResult{}
		for _, c := range s.Cases {
			byID[c.ID] = c
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

	for _, size := range opt.Sizes {
		sr := SizeResult{Bytes: size}
		for _, c := range cs {
			cr := &CaseResult{ID: c.ID, Name: c.Name, Group: c.Group, Ref: c.Ref}
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
			for i := range cs {
				if err := ctx.Err(); err != nil {
					return res, err
				}
				rn := r.once(ctx, &cs[i], p, round)
				sr.Cases[i].Runs = append(sr.Cases[i].Runs, rn)
				r.logRun(size, round, &cs[i], &rn)
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

func (r *runner) logRun(size int64, round int, c *Case, run *Run) {
	if r.opt.Log == nil {
		return
	}
	which := fmt.Sprintf("run %d/%d", round+1, r.opt.Runs)
	if round < 0 {
		which = "warm-up"
	}
	result := fmt.Sprintf("%s GB/s", fmtRate(run.GBps))
	if !run.ok() {
		result = "FAILED: " + run.Error
	}
	fmt.Fprintf(r.opt.Log, "%-9s %8s  %-44s %s\n", which, fmtBytes(float64(size)), c.Name, result)
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
