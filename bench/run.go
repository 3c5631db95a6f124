package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/arrayx/arrayx/internal/testnet"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// options configure one harness run.
type options struct {
	Sizes      []int64 // bytes per array
	Runs       int     // measured rounds per size
	Warmup     int     // discarded rounds before them
	Dir        string  // where data and scratch directories go (/dev/shm)
	FlightRows int64   // rows per Arrow Flight record batch
	Shift      int64   // Params.Shift: non-zero only in tests, to make verification fail
	// Nets are where the network cases run, each case once per setting per
	// round (default: loopback only).
	Nets []Where
	// SocketBuffer is what the "sockbuf" cases ask for, in bytes.
	SocketBuffer int
	Log          io.Writer
}

// ProcResult is one process of one run.
type ProcResult struct {
	Side   Side   `json:"side"`
	Window Report `json:"window"`  // the child's report, usage over its window
	Total  Usage  `json:"process"` // the whole process (wait4), start-up and set-up included
}

// Run is one measured run of a case.
type Run struct {
	Round    int                `json:"round"`
	Seconds  float64            `json:"seconds"`
	GBps     float64            `json:"gb_per_s"`
	Method   string             `json:"method,omitempty"`
	Verified string             `json:"verified,omitempty"`
	Phases   map[string]float64 `json:"phases,omitempty"`
	Sender   *ProcResult        `json:"sender,omitempty"`
	Receiver *ProcResult        `json:"receiver,omitempty"`
	Error    string             `json:"error,omitempty"`
	// Started is when the run began (RFC 3339, UTC): the rounds'
	// interleaving can be read from it.
	Started string `json:"started"`
	// Streams is what an arrayx client's Stats said carried the transfer.
	Streams int `json:"streams,omitempty"`
	// StreamBytes is, for arrayx, the data each connection the server
	// accepted carried (TCP_INFO: bytes received for a push, sent for a
	// pull), in the order they were accepted.
	StreamBytes []int64 `json:"stream_bytes,omitempty"`
	// Link is what crossed the links, for runs between namespaces.
	Link *LinkRun `json:"link,omitempty"`
}

// ok reports whether the run completed and verified.
func (r *Run) ok() bool { return r.Error == "" }

// runner holds what every run shares.
type runner struct {
	opt   options
	self  string // this binary, re-executed for Go roles
	pyDir string // the embedded scripts, written out
}

// stopGrace is how long a server may take to verify and exit once told to.
const stopGrace = 2 * time.Minute

// runTimeout bounds one run of a case: generous, as the slowest peer moves
// a few hundred MB/s on loopback (and a link's rate or delay adds its
// share), but a hung run ends.
func runTimeout(nbytes int64, env *netEnv) time.Duration {
	d := 2*time.Minute + time.Duration(nbytes/(10<<20))*time.Second
	if env != nil {
		d += env.where.timeout(nbytes)
	}
	return d
}

// once runs one case once at the size p describes, where env says (nil for
// the cases that are not network cases).
func (r *runner) once(ctx context.Context, c *Case, env *netEnv, p Params, round int) Run {
	run := Run{Round: round, Started: time.Now().UTC().Format(time.RFC3339Nano)}
	if err := r.once1(ctx, c, env, p, &run); err != nil {
		run.Error = strings.Join(strings.Fields(err.Error()), " ")
		run.GBps, run.Seconds = 0, 0
	}
	return run
}

func (r *runner) once1(ctx context.Context, c *Case, env *netEnv, p Params, run *Run) error {
	scratch, err := os.MkdirTemp(r.opt.Dir, "run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch) // the received copy goes, untimed
	p.Scratch = scratch
	p.SocketBuffer = r.opt.SocketBuffer
	ctx, cancel := context.WithTimeout(ctx, runTimeout(p.NBytes, env))
	defer cancel()
	mark0, err := env.mark()
	if err != nil {
		return err
	}

	var srv *proc
	if c.Server != nil {
		if srv, err = r.start(ctx, c.Server, p, env); err != nil {
			return err
		}
		addr, err := srv.waitReady(ctx)
		if err != nil {
			srv.kill()
			return err
		}
		p.Addr = addr
	}
	cli, err := r.start(ctx, &c.Client, p, env)
	if err != nil {
		if srv != nil {
			srv.kill()
		}
		return err
	}
	results := []*ProcResult{nil, nil} // server, client
	var errs []error
	results[1], err = cli.wait()
	errs = append(errs, err)
	if srv != nil {
		grace := stopGrace
		if err != nil {
			grace = 10 * time.Second // it may never finish on its own
		}
		srv.stdin.Close() // "stop": servers that wait for it finish now
		t := time.AfterFunc(grace, srv.kill)
		results[0], err = srv.wait()
		t.Stop()
		errs = append(errs, err)
	}
	if env != nil && env.net != nil {
		mark, merr := env.mark()
		if merr != nil {
			errs = append(errs, merr)
		} else {
			run.Link = mark.since(mark0)
		}
	}
	var methods []string
	for _, pr := range results { // kept in the JSON even when the run failed
		if pr == nil {
			continue
		}
		if pr.Side == Sender {
			run.Sender = pr
		} else {
			run.Receiver = pr
		}
		if pr.Window.Method != "" {
			methods = append(methods, pr.Window.Method)
		}
		if pr.Window.Phases != nil {
			run.Phases = pr.Window.Phases
		}
		run.Streams = max(run.Streams, pr.Window.Streams)
	}
	if c.Server != nil && strings.HasPrefix(c.Server.Role, "arrayx-") && results[0] != nil {
		for _, tc := range results[0].Window.Conns {
			run.StreamBytes = append(run.StreamBytes, tc.data())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if c.Check != nil {
		if err := c.Check(p); err != nil {
			return err
		}
	}
	if l := run.Link; l != nil && (l.SenderTx < p.NBytes || l.ReceiverRx < p.NBytes) {
		return fmt.Errorf("bench: %s: the data did not cross the link: %d bytes sent by %s, %d received by %s, want at least %d",
			c.ID, l.SenderTx, env.host(Sender), l.ReceiverRx, env.host(Receiver), p.NBytes)
	}
	timed := results[1]
	if c.Server != nil && c.Server.Timed {
		timed = results[0]
	}
	if timed == nil || !(timed.Window.Seconds > 0) {
		return fmt.Errorf("bench: %s: no timed window", c.ID)
	}
	if run.Receiver == nil || (run.Receiver.Window.Verified == "" && c.Check == nil) {
		return fmt.Errorf("bench: %s: the receiver did not verify the data", c.ID)
	}
	run.Verified = run.Receiver.Window.Verified
	if run.Verified == "" {
		run.Verified = "the case's check passed"
	}
	run.Method = strings.Join(methods, "; ")
	run.Seconds = timed.Window.Seconds
	run.GBps = float64(p.NBytes) / run.Seconds / 1e9
	return nil
}

// proc is a running child.
type proc struct {
	spec    *Proc
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	stderr  tail
	ready   chan string
	done    chan struct{} // standard output reached EOF
	last    string        // the last line of standard output: the report
	started time.Time
}

// start launches one process of a case: in its side's host when where is
// a pair of namespaces, else here.
func (r *runner) start(ctx context.Context, pp *Proc, p Params, where *netEnv) (*proc, error) {
	return r.startOn(ctx, pp, p, where.host(pp.Side))
}

// runRole runs a Go role here to its end: a step that prepares data, not
// a timed case. p.Opt is the role's option.
func (r *runner) runRole(ctx context.Context, role string, p Params) error {
	pr, err := r.startOn(ctx, &Proc{Role: role, Opt: p.Opt}, p, nil)
	if err != nil {
		return err
	}
	_, err = pr.wait()
	return err
}

// startOn launches one process in host, or here when host is nil.
func (r *runner) startOn(ctx context.Context, pp *Proc, p Params, host *testnet.Host) (*proc, error) {
	p.Opt = pp.Opt
	command := exec.CommandContext
	if host != nil {
		p.Host = host.IP
		command = host.Command
	}
	js, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	var cmd *exec.Cmd
	env := os.Environ()
	switch {
	case pp.Role != "":
		cmd = command(ctx, r.self)
		env = append(env, envRole+"="+pp.Role)
	case pp.Python != "":
		cmd = command(ctx, python, append([]string{filepath.Join(r.pyDir, pp.Python)}, pp.Args...)...)
		env = append(env, "PYTHONPATH="+pythonPackageDir) // python/arrayx, for arrayxpy.py
	case pp.Argv != nil:
		argv := pp.Argv(p)
		cmd = command(ctx, argv[0], argv[1:]...)
	default:
		return nil, errors.New("bench: a process with no role, script or command")
	}
	cmd.Env = append(env, envParams+"="+string(js))
	cmd.WaitDelay = 5 * time.Second
	pr := &proc{spec: pp, cmd: cmd, ready: make(chan string, 1), done: make(chan struct{})}
	cmd.Stderr = &pr.stderr
	if pr.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	pr.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: starting %s: %w", pr.name(), err)
	}
	go func() {
		defer close(pr.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		announced := false
		for sc.Scan() {
			line := sc.Text()
			if addr, ok := strings.CutPrefix(line, "ready "); ok && !announced {
				announced = true
				pr.ready <- strings.TrimSpace(addr)
			} else if strings.TrimSpace(line) != "" {
				pr.last = line
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	return pr, nil
}

func (pr *proc) name() string {
	switch {
	case pr.spec.Role != "":
		return "role " + pr.spec.Role
	case pr.spec.Python != "":
		return strings.Join(append([]string{pr.spec.Python}, pr.spec.Args...), " ")
	}
	return pr.cmd.Path
}

// waitReady returns the address a server announced.
func (pr *proc) waitReady(ctx context.Context) (string, error) {
	select {
	case addr := <-pr.ready:
		return addr, nil
	case <-pr.done:
		select {
		case addr := <-pr.ready:
			return addr, nil
		default:
		}
		_, err := pr.wait()
		return "", fmt.Errorf("bench: %s exited before it was ready: %w", pr.name(), err)
	case <-ctx.Done():
		return "", fmt.Errorf("bench: %s not ready: %w", pr.name(), ctx.Err())
	}
}

// kill ends the process (only ever a child this harness started).
func (pr *proc) kill() {
	if pr.cmd.Process != nil {
		pr.cmd.Process.Kill()
	}
}

// wait waits for the process and returns its report and usage.
func (pr *proc) wait() (*ProcResult, error) {
	<-pr.done
	werr := pr.cmd.Wait()
	elapsed := time.Since(pr.started)
	res := &ProcResult{Side: pr.spec.Side}
	if ps := pr.cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			res.Total = usageOf(ru)
		}
	}
	if pr.spec.Argv != nil {
		res.Window = Report{Lang: "external", OK: werr == nil, Seconds: elapsed.Seconds(), Usage: res.Total}
		if werr != nil {
			return res, fmt.Errorf("bench: %s: %w: %s", pr.name(), werr, pr.stderr.String())
		}
		return res, nil
	}
	if err := json.Unmarshal([]byte(pr.last), &res.Window); err != nil {
		return res, fmt.Errorf("bench: %s gave no report (%v; exit: %v): %s", pr.name(), err, werr, pr.stderr.String())
	}
	if !res.Window.OK {
		return res, fmt.Errorf("bench: %s: %s", pr.name(), res.Window.Error)
	}
	if werr != nil {
		return res, fmt.Errorf("bench: %s: %w: %s", pr.name(), werr, pr.stderr.String())
	}
	return res, nil
}

// tail keeps the last 4 KiB written to it: a child's standard error.
type tail struct{ b []byte }

func (t *tail) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *tail) String() string { return strings.TrimSpace(string(t.b)) }
