package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
	"github.com/arrayx/arrayx/netlink"
	"github.com/zeebo/xxh3"
)

// The sync group: arrayx sync against rsync, replicating one dataset (a
// large float64 array and many small ones) from a store to a server on
// loopback, through the steps a user's dataset goes through. Each round
// starts from the same data and empty destinations and runs the steps in
// order; at each step every tool brings its own destination to the
// source's state (the same state before the step for all), in an order
// rotated each round. rsync runs as Debian ships it, its daemon on
// loopback; the loopback interface's counters give every tool's bytes on
// the wire, headers included (rsync's --stats are kept too). After
// every step, every destination is compared with the source, file by file.
//
//	cd bench && go run . sync [--big 1GiB] [--smalls 200] [--small 1MiB] [--runs 3] [--out results-sync]

// syncStep is one step of a round: a change to the source, then the syncs.
type syncStep struct {
	ID, Title string
	// change is the "sync-mutate" role's instruction ("" for none).
	change func(bigRows, blockRows int64) string
	// tools that run at this step (rsync-checksum only where nothing
	// changed: it reads every byte on both sides, by design).
	tools []string
}

var syncSteps = []syncStep{
	{"initial", "initial sync, empty destination", nil, []string{"arrayx", "rsync", "rsync-inplace"}},
	{"one-block", "one 4 MiB block changed in the big array",
		func(rows, br int64) string { return fmt.Sprintf("flip big %d", rows/2*8192) }, []string{"arrayx", "rsync", "rsync-inplace"}},
	{"three-blocks", "three scattered blocks changed",
		func(rows, br int64) string { return fmt.Sprintf("flip big %d,%d,%d", 8, rows/3*8192, rows*8192-16) }, []string{"arrayx", "rsync", "rsync-inplace"}},
	{"append", "64 MiB appended to the big array (axis 0 grows)",
		func(rows, br int64) string { return "append big 67108864" }, []string{"arrayx", "rsync", "rsync-inplace"}},
	{"nothing", "nothing changed", nil, []string{"arrayx", "rsync", "rsync-checksum"}},
	{"one-small", "one of the small arrays changed",
		func(rows, br int64) string { return "flip small/s017 16" }, []string{"arrayx", "rsync", "rsync-inplace"}},
}

// SyncRun is one tool's run of one step.
type SyncRun struct {
	Round     int     `json:"round"`
	Seconds   float64 `json:"seconds"`
	ClientCPU float64 `json:"client_cpu_s"`
	ServerCPU float64 `json:"server_cpu_s"`
	// Wire is the bytes both ways on the loopback interface during the
	// run, TCP/IP headers included (nothing else runs); Stats is rsync's
	// own count (--stats: sent plus received, application bytes).
	Wire  int64  `json:"wire_bytes"`
	Stats int64  `json:"rsync_stats_bytes,omitempty"`
	Error string `json:"error,omitempty"`
}

// SyncToolResult is a tool's runs at one step.
type SyncToolResult struct {
	Tool    string    `json:"tool"`
	Runs    []SyncRun `json:"runs"`
	Seconds Spread    `json:"seconds"`
	Wire    Spread    `json:"wire_bytes"`
	CPU     Spread    `json:"cpu_s"` // client and server
	// VsRsync is rsync's time over this tool's, pairwise by round.
	VsRsync Spread `json:"rsync_time_over_this"`
}

// SyncStepResult is one step.
type SyncStepResult struct {
	ID    string           `json:"id"`
	Title string           `json:"title"`
	Tools []SyncToolResult `json:"tools"`
}

// SyncResults is the group's output.
type SyncResults struct {
	Command string           `json:"command"`
	Machine Machine          `json:"machine"`
	Rsync   string           `json:"rsync"`
	Big     int64            `json:"big_bytes"`
	Smalls  int              `json:"smalls"`
	Small   int64            `json:"small_bytes"`
	Runs    int              `json:"runs"`
	Steps   []SyncStepResult `json:"steps"`
}

func syncMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench sync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bigFlag := fs.String("big", "1GiB", "the big array's size")
	smalls := fs.Int("smalls", 200, "how many small arrays")
	smallFlag := fs.String("small", "1MiB", "each small array's size")
	runs := fs.Int("runs", 3, "rounds")
	out := fs.String("out", "results-sync", "directory for sync.md and sync.json")
	dir := fs.String("dir", "/dev/shm", "directory for the stores (tmpfs: in memory)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	big, err1 := parseSize(*bigFlag)
	small, err2 := parseSize(*smallFlag)
	if err := errors.Join(err1, err2); err != nil || *smalls < 18 || big < 64<<20 {
		fmt.Fprintf(stderr, "bench: bad sizes (%v): the big array at least 64 MiB, at least 18 small arrays\n", err)
		return 2
	}
	rsync, err := exec.LookPath("rsync")
	if err != nil {
		fmt.Fprintln(stderr, "bench: the sync group needs rsync (apt-get install rsync)")
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := runSyncBench(ctx, syncBenchOptions{big: big, smalls: *smalls, small: small, runs: *runs, dir: *dir, rsync: rsync, log: stderr})
	if res != nil {
		res.Command = strings.TrimSpace("cd bench && go run . sync " + strings.Join(args, " "))
		if werr := writeSyncResults(*out, res, stdout); werr != nil {
			fmt.Fprintln(stderr, werr)
			return 1
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	for _, s := range res.Steps {
		for _, t := range s.Tools {
			for _, r := range t.Runs {
				if r.Error != "" {
					fmt.Fprintf(stderr, "bench: sync %s %s failed: %s\n", s.ID, t.Tool, r.Error)
					return 1
				}
			}
		}
	}
	return 0
}

type syncBenchOptions struct {
	big, small int64
	smalls     int
	runs       int
	dir, rsync string
	log        io.Writer
}

// syncEnv is the stores and servers of a sync bench.
type syncEnv struct {
	o          syncBenchOptions
	r          *runner
	base, src  string
	dst        map[string]string // tool -> destination directory
	arrayxAddr string
	arrayxPID  int
	rsyncPort  int
	rsyncPID   int
}

func runSyncBench(ctx context.Context, o syncBenchOptions) (*SyncResults, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	top, err := os.MkdirTemp(o.dir, "arrayx-syncbench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(top)
	e := &syncEnv{o: o, r: &runner{self: self}, base: filepath.Join(top, "base"), src: filepath.Join(top, "src"),
		dst: map[string]string{}}
	for _, tool := range []string{"arrayx", "rsync", "rsync-inplace"} {
		e.dst[tool] = filepath.Join(top, "dst-"+tool)
	}
	e.dst["rsync-checksum"] = e.dst["rsync"] // runs only where nothing changes

	// The data, written once by a child.
	p := Params{SrcStore: e.base, NBytes: o.big, N: o.big / 8, Opt: fmt.Sprintf("%d %d", o.smalls, o.small)}
	if err := e.r.runRole(ctx, "sync-prepare", p); err != nil {
		return nil, err
	}

	// The servers: arrayx on dst-arrayx, the rsync daemon on the others.
	sp := Params{Scratch: e.dst["arrayx"]}
	srv, err := e.r.startOn(ctx, &Proc{Role: "fanout-server"}, sp, nil)
	if err != nil {
		return nil, err
	}
	defer func() { srv.stdin.Close(); srv.wait() }()
	if e.arrayxAddr, err = srv.waitReady(ctx); err != nil {
		return nil, err
	}
	e.arrayxPID = srv.cmd.Process.Pid
	stopRsync, err := e.startRsyncd(top)
	if err != nil {
		return nil, err
	}
	defer stopRsync()

	ver, _ := exec.Command(o.rsync, "--version").Output()
	res := &SyncResults{Machine: machine(), Rsync: strings.SplitN(string(ver), "\n", 2)[0], Big: o.big, Smalls: o.smalls,
		Small: o.small, Runs: o.runs}
	for _, s := range syncSteps {
		sr := SyncStepResult{ID: s.ID, Title: s.Title}
		for _, tool := range s.tools {
			sr.Tools = append(sr.Tools, SyncToolResult{Tool: tool})
		}
		res.Steps = append(res.Steps, sr)
	}
	bigRows := o.big / 8192 // the big array is (rows, 1024) float64
	for round := range o.runs {
		if err := e.reset(); err != nil {
			return res, err
		}
		for si, s := range syncSteps {
			if s.change != nil {
				change := s.change(bigRows, 512)
				if err := e.r.runRole(ctx, "sync-mutate", Params{SrcStore: e.src, Opt: change}); err != nil {
					return res, err
				}
			}
			n := len(s.tools)
			for k := range n {
				ti := (k + round) % n
				tool := s.tools[ti]
				run := e.syncOnce(ctx, tool)
				run.Round = round
				if run.Error == "" {
					if err := sameTree(e.src, e.dst[tool]); err != nil {
						run.Error = err.Error()
					}
				}
				fmt.Fprintf(o.log, "sync round %d %-12s %-14s %7.3f s  wire %11d  cpu %.2f+%.2f s  %s\n",
					round, s.ID, tool, run.Seconds, run.Wire, run.ClientCPU, run.ServerCPU, run.Error)
				res.Steps[si].Tools[ti].Runs = append(res.Steps[si].Tools[ti].Runs, run)
				if ctx.Err() != nil {
					return res, ctx.Err()
				}
			}
		}
	}
	res.summarize()
	return res, nil
}

// reset gives a round its starting point: the source is the base data
// (times kept: rsync compares them), the destinations are empty.
func (e *syncEnv) reset() error {
	os.RemoveAll(e.src)
	if out, err := exec.Command("cp", "-a", e.base, e.src).CombinedOutput(); err != nil {
		return fmt.Errorf("bench: cp: %v: %s", err, out)
	}
	for _, d := range e.dst {
		ents, _ := os.ReadDir(d)
		for _, ent := range ents {
			if err := os.RemoveAll(filepath.Join(d, ent.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// startRsyncd runs rsync's daemon on loopback with a module per rsync
// destination.
func (e *syncEnv) startRsyncd(top string) (func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0") // a free port, for the daemon
	if err != nil {
		return nil, err
	}
	e.rsyncPort = l.Addr().(*net.TCPAddr).Port
	l.Close()
	var conf strings.Builder
	conf.WriteString("use chroot = false\nuid = root\ngid = root\n")
	for _, tool := range []string{"rsync", "rsync-inplace"} {
		os.MkdirAll(e.dst[tool], 0o755)
		fmt.Fprintf(&conf, "[%s]\n  path = %s\n  read only = false\n", tool, e.dst[tool])
	}
	confPath := filepath.Join(top, "rsyncd.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(e.o.rsync, "--daemon", "--no-detach", "--config="+confPath, "--address=127.0.0.1", fmt.Sprintf("--port=%d", e.rsyncPort))
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	e.rsyncPID = cmd.Process.Pid
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	for range 100 { // until it listens
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", e.rsyncPort)); err == nil {
			c.Close()
			return stop, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	return nil, fmt.Errorf("bench: rsync --daemon did not listen: %s", errb.String())
}

// rsyncStats reads --stats' totals.
var rsyncStats = regexp.MustCompile(`Total bytes (sent|received): ([0-9,.]+)`)

// syncOnce runs one tool's sync of the source to its destination.
func (e *syncEnv) syncOnce(ctx context.Context, tool string) (run SyncRun) {
	srvPID := e.rsyncPID
	if tool == "arrayx" {
		srvPID = e.arrayxPID
	}
	cpu0, err := procCPUTree(srvPID)
	if err != nil {
		run.Error = err.Error()
		return run
	}
	lo0 := loopbackBytes()
	defer func() { run.Wire = loopbackBytes() - lo0 }()
	switch tool {
	case "arrayx":
		p := Params{SrcStore: e.src, Addr: e.arrayxAddr}
		pr, err := e.r.startOn(ctx, &Proc{Role: "sync-client"}, p, nil)
		if err != nil {
			run.Error = err.Error()
			return run
		}
		pres, err := pr.wait()
		if pres != nil {
			run.Seconds, run.ClientCPU = pres.Window.Seconds, pres.Window.User+pres.Window.Sys
		}
		if err != nil {
			run.Error = err.Error()
		}
	default:
		args := []string{"-a", "--stats"}
		module := tool
		switch tool {
		case "rsync-inplace":
			args = append(args, "--inplace")
		case "rsync-checksum":
			args, module = append(args, "--checksum"), "rsync"
		}
		args = append(args, e.src+"/", fmt.Sprintf("rsync://127.0.0.1:%d/%s/", e.rsyncPort, module))
		cmd := exec.CommandContext(ctx, e.o.rsync, args...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		t := time.Now()
		err := cmd.Run()
		run.Seconds = time.Since(t).Seconds()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			u := usageOf(ru)
			run.ClientCPU = u.User + u.Sys
		}
		for _, m := range rsyncStats.FindAllStringSubmatch(out.String(), -1) {
			v, _ := strconv.ParseInt(strings.NewReplacer(",", "", ".", "").Replace(m[2]), 10, 64)
			run.Stats += v
		}
		if err != nil {
			run.Error = fmt.Sprintf("rsync: %v: %s", err, errb.String())
		}
	}
	// The daemon's child exits once its client has: wait for its CPU to
	// be counted (it is reaped into the daemon's cutime).
	time.Sleep(50 * time.Millisecond)
	if cpu1, err := procCPUTree(srvPID); err == nil {
		run.ServerCPU = cpu1 - cpu0
	}
	return run
}

// loopbackBytes is what the loopback interface has carried: each packet
// counts once (tx_bytes; on lo it equals rx_bytes).
func loopbackBytes() int64 {
	b, _ := os.ReadFile("/sys/class/net/lo/statistics/tx_bytes")
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// procCPUTree is a process's CPU seconds with its reaped children's
// (/proc/PID/stat fields 14-17).
func procCPUTree(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	var s float64
	for _, i := range []int{11, 12, 13, 14} {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return 0, err
		}
		s += v
	}
	return s / 100, nil
}

// sameTree checks that dst holds exactly src's files, byte for byte
// (XXH3-128 of each), hidden files aside.
func sameTree(src, dst string) error {
	sums := func(root string) (map[string][16]byte, error) {
		out := map[string][16]byte{}
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if strings.HasPrefix(d.Name(), ".") {
				return nil
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			h := xxh3.New()
			if _, err := io.CopyBuffer(h, f, make([]byte, 1<<20)); err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			out[rel] = h.Sum128().Bytes()
			return nil
		})
		return out, err
	}
	a, err := sums(src)
	if err != nil {
		return err
	}
	b, err := sums(dst)
	if err != nil {
		return err
	}
	if len(a) != len(b) {
		return fmt.Errorf("the destination holds %d files, the source %d", len(b), len(a))
	}
	for k, v := range a {
		if b[k] != v {
			return fmt.Errorf("%s differs from the source", k)
		}
	}
	return nil
}

func (res *SyncResults) summarize() {
	for si := range res.Steps {
		s := &res.Steps[si]
		var rsyncSecs []float64
		for _, t := range s.Tools {
			if t.Tool == "rsync" {
				for _, r := range t.Runs {
					rsyncSecs = append(rsyncSecs, errNaN(r, r.Seconds))
				}
			}
		}
		for ti := range s.Tools {
			t := &s.Tools[ti]
			var secs, wire, cpu []float64
			for _, r := range t.Runs {
				secs = append(secs, errNaN(r, r.Seconds))
				wire = append(wire, errNaN(r, float64(r.Wire)))
				cpu = append(cpu, errNaN(r, r.ClientCPU+r.ServerCPU))
			}
			t.Seconds, t.Wire, t.CPU = spread(secs), spread(wire), spread(cpu)
			t.VsRsync = spread(ratios(rsyncSecs, secs))
		}
	}
}

func errNaN(r SyncRun, x float64) float64 { return nanIf(r.Error != "", x) }

func writeSyncResults(dir string, res *SyncResults, stdout io.Writer) error {
	var md strings.Builder
	fmt.Fprintf(&md, "## arrayx sync against rsync: %s array and %d of %s, loopback\n\n", fmtBytes(float64(res.Big)), res.Smalls, fmtBytes(float64(res.Small)))
	fmt.Fprintf(&md, "`%s` on %s, %s; medians of %d rounds, min-max in brackets.\n\n", res.Command, res.Machine.CPUModel, res.Rsync, res.Runs)
	fmt.Fprintln(&md, "| step | tool | time (s) | rsync's time / this | bytes on loopback | CPU, both ends (s) |")
	fmt.Fprintln(&md, "|---|---|---|---|---|---|")
	for _, s := range res.Steps {
		for _, t := range s.Tools {
			fmt.Fprintf(&md, "| %s | %s | %s | %s | %s | %s |\n", s.ID, t.Tool, fmtSpread(t.Seconds, "%.3f"),
				fmtSpread(t.VsRsync, "%.2f"), wireCell(t.Wire), fmtSpread(t.CPU, "%.2f"))
		}
	}
	fmt.Fprintln(&md)
	return writeReport(dir, "sync", md.String(), res, stdout)
}

func wireCell(s Spread) string {
	if s.N == 0 {
		return "-"
	}
	return group(int64(s.Median))
}

// syncPrepare is the "sync-prepare" role: the base store, a big float64
// array "big" of shape (rows, 1024) where element i is i, and Opt's count
// of small arrays small/sNNN of Opt's size.
func syncPrepare(c *child) error {
	var smalls int
	var small int64
	if _, err := fmt.Sscanf(c.Opt, "%d %d", &smalls, &small); err != nil {
		return err
	}
	c.begin()
	defer c.end()
	st, err := mmapstore.OpenStore(c.SrcStore, &mmapstore.Options{Sync: mmapstore.SyncNever})
	if err != nil {
		return err
	}
	defer st.Close()
	put := func(name string, shape arrayx.Shape, fill func([]float64)) error {
		a, err := sealFloat64(st, name, shape, fill)
		if err != nil {
			return err
		}
		return a.Close()
	}
	if err := put("big", arrayx.Shape{c.NBytes / 8192, 1024}, fillArange); err != nil {
		return err
	}
	for k := range smalls {
		if err := put(fmt.Sprintf("small/s%03d", k), arrayx.Shape{small / 8}, func(x []float64) {
			for i := range x {
				x[i] = float64(k*1000003 + i)
			}
		}); err != nil {
			return err
		}
	}
	c.rep.Verified = "written"
	return nil
}

// syncMutate is the "sync-mutate" role: it seals a new version of an
// array of the source store. Opt is "flip NAME OFF[,OFF...]" (invert the
// data byte at each offset) or "append NAME BYTES" (grow axis 0 by BYTES,
// new rows holding their element index).
func syncMutate(c *child) error {
	f := strings.Fields(c.Opt)
	if len(f) != 3 {
		return fmt.Errorf("bench: sync-mutate %q", c.Opt)
	}
	c.begin()
	defer c.end()
	st, err := mmapstore.OpenStore(c.SrcStore, &mmapstore.Options{Sync: mmapstore.SyncNever})
	if err != nil {
		return err
	}
	defer st.Close()
	old, err := st.Open(f[1])
	if err != nil {
		return err
	}
	defer old.Close()
	h := old.Header()
	shape := append(arrayx.Shape{}, h.Shape...)
	var extra int64
	if f[0] == "append" {
		if extra, err = strconv.ParseInt(f[2], 10, 64); err != nil {
			return err
		}
		rowBytes := h.NBytes / h.Shape[0]
		shape[0] += extra / rowBytes
	}
	w, err := st.Create(f[1], h.DType, shape, h.Order, &mmapstore.CreateOptions{Attrs: h.Attrs})
	if err != nil {
		return err
	}
	defer w.Abort()
	data := w.Bytes()
	copy(data, old.Bytes())
	switch f[0] {
	case "flip":
		for _, s := range strings.Split(f[2], ",") {
			off, err := strconv.ParseInt(s, 10, 64)
			if err != nil || off < 0 || off >= int64(len(data)) {
				return fmt.Errorf("bench: sync-mutate offset %q", s)
			}
			data[off] ^= 0xff
		}
	case "append":
		x, err := arrayx.Data[float64](w)
		if err != nil {
			return err
		}
		for i := h.NBytes / 8; i < int64(len(x)); i++ {
			x[i] = float64(i)
		}
	default:
		return fmt.Errorf("bench: sync-mutate %q", c.Opt)
	}
	a, err := w.Seal()
	if err != nil {
		return err
	}
	c.rep.Verified = "sealed"
	return a.Close()
}

// syncClient is the "sync-client" role: arrayx's sync of the source store
// to the server at c.Addr: four arrays at once (the default), one stream
// each. (With two streams the loopback interface once carried 3% more for
// an array of three changed blocks, though netlink's own count of the
// data sent, checked by sendfile's test hook, is exact with either.)
func syncClient(c *child) error {
	ctx := context.Background()
	st, err := mmapstore.OpenStore(c.SrcStore, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	c.begin()
	cl, err := netlink.Dial(ctx, c.Addr, &netlink.DialOptions{Token: []byte(fanoutToken), Streams: 1})
	if err != nil {
		return err
	}
	defer cl.Close()
	r, err := cl.SyncPush(ctx, st, &netlink.SyncOptions{})
	c.end()
	if err != nil {
		return err
	}
	c.rep.Method = r.String()
	c.rep.Verified = "the server verified every block it received"
	return nil
}
