package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/arrayx/arrayx/internal/testnet"
	"github.com/arrayx/arrayx/mmapstore"
	"github.com/arrayx/arrayx/netlink"
)

// The sync-rtt group: what pipelining saves a sync of many small arrays on
// a link with a round trip. Two network namespaces, a delayed and
// rate-capped link; a server on one, a client on the other syncing a
// dataset of small arrays to the server's empty store (push) and back into
// an empty local one (pull), with eager requests (the default) and without
// (SyncOptions.NoEager: one NEED-driven transfer per array, on four
// connections), interleaved, the order rotated each round.
//
//	cd bench && go run . syncrtt [--delay 10ms] [--rate 1gbit] [--smalls 200] [--small 64KiB] [--runs 3]

// SyncRTTRun is one sync.
type SyncRTTRun struct {
	Round   int     `json:"round"`
	Seconds float64 `json:"seconds"`
	Report  string  `json:"report"`
	Error   string  `json:"error,omitempty"`
}

// SyncRTTCase is one direction and mode.
type SyncRTTCase struct {
	ID      string       `json:"id"` // "push eager", "pull noeager", ...
	Runs    []SyncRTTRun `json:"runs"`
	Seconds Spread       `json:"seconds"`
}

// SyncRTTResults is the group's outcome.
type SyncRTTResults struct {
	Machine Machine       `json:"machine"`
	Command string        `json:"command"`
	Rate    string        `json:"rate"`
	DelayMS float64       `json:"one_way_delay_ms"`
	Arrays  int           `json:"arrays"`
	Bytes   int64         `json:"bytes_each"`
	Cases   []SyncRTTCase `json:"cases"`
}

func syncRTTMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench syncrtt", flag.ContinueOnError)
	fs.SetOutput(stderr)
	delay := fs.Duration("delay", 10*time.Millisecond, "one-way delay of the link")
	rate := fs.String("rate", "1gbit", "the link's rate, in tc's syntax")
	smalls := fs.Int("smalls", 200, "how many small arrays")
	smallFlag := fs.String("small", "64KiB", "each small array's size (a multiple of 64 KiB)")
	runs := fs.Int("runs", 3, "rounds")
	out := fs.String("out", "results-syncrtt", "directory for syncrtt.md and syncrtt.json")
	dir := fs.String("dir", "/dev/shm", "directory for the stores")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	small, err := parseSize(*smallFlag)
	if err != nil || small <= 0 || small%(64<<10) != 0 || *smalls < 1 {
		fmt.Fprintf(stderr, "bench: bad sizes (%v): small arrays of a multiple of 64 KiB, at least one\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := runSyncRTT(ctx, *delay, *rate, *smalls, small, *runs, *dir, stderr)
	if res != nil {
		res.Command = strings.TrimSpace("cd bench && go run . syncrtt " + strings.Join(args, " "))
		if werr := writeSyncRTT(*out, res, stdout); werr != nil {
			fmt.Fprintln(stderr, werr)
			return 1
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

func runSyncRTT(ctx context.Context, delay time.Duration, rate string, smalls int, small int64, runs int, dir string, log io.Writer) (*SyncRTTResults, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	r := &runner{self: self}
	n, err := testnet.Setup(testnet.Options{Hosts: 2, Rate: rate, Delay: delay})
	if err != nil {
		return nil, fmt.Errorf("bench: syncrtt needs network namespaces: %w", err)
	}
	defer n.Close()
	top, err := os.MkdirTemp(dir, "arrayx-syncrtt-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(top)
	// The dataset: sync-prepare's "big" array, here as small as the others
	// (the rows of 8 KiB that make up small bytes), and smalls-1 arrays more.
	p, err := dataParams(top, small)
	if err != nil {
		return nil, err
	}
	p.Opt = fmt.Sprintf("%d %d", smalls-1, small)
	if err := r.runRole(ctx, "sync-prepare", p); err != nil {
		return nil, err
	}
	sp := p
	sp.Scratch = filepath.Join(top, "server")
	srv, err := r.startOn(ctx, &Proc{Role: "fanout-server", Side: Receiver}, sp, n.Hosts[1])
	if err != nil {
		return nil, err
	}
	defer func() { srv.stdin.Close(); srv.wait() }()
	if p.Addr, err = srv.waitReady(ctx); err != nil {
		return nil, err
	}
	res := &SyncRTTResults{Machine: machine(), Rate: rate, DelayMS: float64(delay) / 1e6, Arrays: smalls, Bytes: small}
	modes := []string{"eager", "noeager"}
	for _, dirn := range []string{"push", "pull"} {
		for _, m := range modes {
			res.Cases = append(res.Cases, SyncRTTCase{ID: dirn + " " + m})
		}
	}
	clear := func() error { // the server's copy, before a push
		return errors.Join(os.RemoveAll(filepath.Join(sp.Scratch, "small")), os.Remove(filepath.Join(sp.Scratch, "big"+mmapstore.Ext)))
	}
	one := func(id string, round int) SyncRTTRun {
		run := SyncRTTRun{Round: round}
		cp := p
		cp.Scratch = filepath.Join(top, fmt.Sprintf("pull-%d", round))
		defer os.RemoveAll(cp.Scratch)
		pr, err := r.startOn(ctx, &Proc{Role: "syncrtt-client", Side: Sender, Opt: id}, cp, n.Hosts[0])
		if err == nil {
			var pres *ProcResult
			pres, err = pr.wait()
			if pres != nil {
				run.Seconds, run.Report = pres.Window.Seconds, pres.Window.Method
			}
		}
		if err != nil {
			run.Error = err.Error()
		}
		return run
	}
	for round := -1; round < runs; round++ { // round -1 warms up
		for k := range modes {
			m := modes[(k+max(round, 0))%len(modes)]
			if err := clear(); err != nil && !errors.Is(err, os.ErrNotExist) {
				return res, err
			}
			for d, dirn := range []string{"push", "pull"} {
				id := dirn + " " + m
				run := one(id, round)
				fmt.Fprintf(log, "syncrtt round %d %-13s %6.3f s  %s %s\n", round, id, run.Seconds, run.Report, run.Error)
				if round >= 0 {
					c := &res.Cases[d*len(modes)+slicesIndex(modes, m)]
					c.Runs = append(c.Runs, run)
				}
				if ctx.Err() != nil {
					return res, ctx.Err()
				}
			}
		}
	}
	for i := range res.Cases {
		c := &res.Cases[i]
		var xs []float64
		for _, r := range c.Runs {
			xs = append(xs, nanIf(r.Error != "", r.Seconds))
		}
		c.Seconds = spread(xs)
	}
	return res, nil
}

func slicesIndex(xs []string, x string) int {
	for i, y := range xs {
		if y == x {
			return i
		}
	}
	return -1
}

func writeSyncRTT(dir string, res *SyncRTTResults, stdout io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "syncrtt.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d arrays of %s, %s link, %.0f ms one way (%.0f ms round trip); %s\n\n",
		res.Arrays, fmtBytes(float64(res.Bytes)), res.Rate, res.DelayMS, 2*res.DelayMS, res.Command)
	fmt.Fprintf(&b, "| sync | eager (default) | one transfer per array, 4 connections | eager's speed-up |\n|---|---|---|---|\n")
	for d := 0; d < len(res.Cases); d += 2 {
		e, ne := res.Cases[d].Seconds, res.Cases[d+1].Seconds
		fmt.Fprintf(&b, "| %s | %.3f s (%.3f-%.3f) | %.3f s (%.3f-%.3f) | %.1fx |\n", strings.Fields(res.Cases[d].ID)[0],
			e.Median, e.Min, e.Max, ne.Median, ne.Min, ne.Max, ne.Median/e.Median)
	}
	if err := os.WriteFile(filepath.Join(dir, "syncrtt.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}

// syncRTTClient is the "syncrtt-client" role: Opt is "push MODE" (sync the
// source store to the server at c.Addr) or "pull MODE" (sync the server's
// arrays into a new store at c.Scratch), MODE "eager" or "noeager".
func syncRTTClient(c *child) error {
	ctx := context.Background()
	f := strings.Fields(c.Opt)
	if len(f) != 2 {
		return fmt.Errorf("bench: syncrtt-client %q", c.Opt)
	}
	path := c.SrcStore
	if f[0] == "pull" {
		path = c.Scratch
	}
	st, err := mmapstore.OpenStore(path, &mmapstore.Options{Sync: mmapstore.SyncNever})
	if err != nil {
		return err
	}
	defer st.Close()
	o := &netlink.SyncOptions{NoEager: f[1] == "noeager"}
	c.begin()
	cl, err := netlink.Dial(ctx, c.Addr, &netlink.DialOptions{Token: []byte(fanoutToken), Streams: 1})
	if err != nil {
		return err
	}
	defer cl.Close()
	var r netlink.SyncReport
	if f[0] == "pull" {
		r, err = cl.SyncPull(ctx, st, o)
	} else {
		r, err = cl.SyncPush(ctx, st, o)
	}
	c.end()
	if err != nil {
		return err
	}
	if r.Whole+r.Delta != r.Checked || r.Checked == 0 {
		return fmt.Errorf("bench: the sync sent %d of %d arrays: %s", r.Whole+r.Delta, r.Checked, r)
	}
	c.rep.Method = r.String()
	c.rep.Verified = "the receiver verified every block"
	return nil
}
