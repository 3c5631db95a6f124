package main

import "strings"

// Group is a family of cases compared with each other.
type Group string

const (
	Handoff Group = "handoff" // one process takes an array another left in memory
	Network Group = "network" // an array crosses TCP between two processes, once per --net setting
	Copy    Group = "copy"    // an array's file is copied to a new file
)

// title is the group's heading in the tables and the plot; a network
// group's heading names where it ran (netTitle).
func (g Group) title() string {
	switch g {
	case Handoff:
		return "Local handoff (in memory)"
	case Network:
		return "Network over loopback TCP"
	case Copy:
		return "File copy (same filesystem)"
	}
	return string(g)
}

// Side says which end of a transfer a process is, for its CPU, context
// switches and memory.
type Side string

const (
	Sender   Side = "sender"
	Receiver Side = "receiver"
)

// Proc is one process of a case: a Go role (the harness re-executes its own
// binary), an embedded Python script, or an external command.
type Proc struct {
	Side Side
	// Timed marks the process whose measurement window is the case's wall
	// time; every case has exactly one.
	Timed bool
	// Role names a Go role in roles; Opt reaches it as Params.Opt.
	Role string
	Opt  string
	// Python names a script in python/, run by /usr/bin/python3 with Args.
	Python string
	Args   []string
	// Argv builds an external command. The harness times it from start to
	// exit and takes its usage from wait4; the case's Check verifies.
	Argv func(p Params) []string
}

// Case is one row of the tables.
type Case struct {
	ID    string // short name for --cases and the targets
	Name  string // what the tables and the plot say
	Group Group
	// Ref marks the group's arrayx reference: every case of the group is
	// also reported as a ratio to it, round by round.
	Ref bool
	// Server, if set, starts first; the harness starts Client once the
	// server has printed "ready ADDR" and passes ADDR in Params.Addr.
	Server *Proc
	Client Proc
	// Check, if set, verifies the run's result after it (untimed), for
	// cases whose receiver cannot report (external commands).
	Check func(p Params) error
}

// cases is the table of everything the harness measures. Adding a case is a
// row here, plus a role below if it needs new Go code (or a script in
// python/), or an external command (Argv) with a Check.
var cases = []Case{
	{ID: "arrayx-first", Name: "arrayx Open + first element", Group: Handoff,
		Client: Proc{Side: Receiver, Timed: true, Role: "arrayx-first"}},
	{ID: "arrayx-sum", Name: "arrayx Open + sum", Group: Handoff, Ref: true,
		Client: Proc{Side: Receiver, Timed: true, Role: "arrayx-sum"}},
	{ID: "readfile-sum", Name: "os.ReadFile + sum", Group: Handoff,
		Client: Proc{Side: Receiver, Timed: true, Role: "readfile-sum"}},
	{ID: "arrow-ipc-sum", Name: "Arrow IPC, mapped reader + sum", Group: Handoff,
		Client: Proc{Side: Receiver, Timed: true, Role: "arrow-ipc-sum"}},
	{ID: "numpy-mmap-sum", Name: `numpy np.load(mmap_mode="r") + sum`, Group: Handoff,
		Client: Proc{Side: Receiver, Timed: true, Python: "npyload.py"}},

	// arrayx: push and pull over 1, 2 and 4 connections (DialOptions.Streams;
	// the library opens one per 64 MiB at most), and over one connection
	// with socket buffers of --sockbuf instead (DialOptions.SocketBuffer on
	// the client; for pull also SO_SNDBUF on the server's listener, as the
	// server sends and netlink.Config has no such setting).
	{ID: "arrayx-push", Name: "arrayx push (sendfile)", Group: Network, Ref: true,
		Server: &Proc{Side: Receiver, Role: "arrayx-server"},
		Client: Proc{Side: Sender, Timed: true, Role: "arrayx-push", Opt: "streams=1"}},
	{ID: "arrayx-push-2", Name: "arrayx push, 2 streams", Group: Network,
		Server: &Proc{Side: Receiver, Role: "arrayx-server"},
		Client: Proc{Side: Sender, Timed: true, Role: "arrayx-push", Opt: "streams=2"}},
	{ID: "arrayx-push-4", Name: "arrayx push, 4 streams", Group: Network,
		Server: &Proc{Side: Receiver, Role: "arrayx-server"},
		Client: Proc{Side: Sender, Timed: true, Role: "arrayx-push", Opt: "streams=4"}},
	{ID: "arrayx-push-sockbuf", Name: "arrayx push, 1 stream, socket buffer", Group: Network,
		Server: &Proc{Side: Receiver, Role: "arrayx-server"},
		Client: Proc{Side: Sender, Timed: true, Role: "arrayx-push", Opt: "streams=1,sockbuf"}},
	{ID: "arrayx-push-copy", Name: "arrayx push, copy forced", Group: Network,
		Server: &Proc{Side: Receiver, Role: "arrayx-server"},
		Client: Proc{Side: Sender, Timed: true, Role: "arrayx-push", Opt: "streams=1,copy"}},
	// TLS 1.3 (AES-GCM with the CPU's instructions): the data is copied
	// through the cipher on both ends.
	{ID: "arrayx-push-tls", Name: "arrayx push, TLS", Group: Network,
		Server: &Proc{Side: Receiver, Role: "arrayx-server", Opt: "tls"},
		Client: Proc{Side: Sender, Timed: true, Role: "arrayx-push", Opt: "streams=1,tls"}},
	{ID: "arrayx-pull", Name: "arrayx pull", Group: Network,
		Server: &Proc{Side: Sender, Role: "arrayx-source"},
		Client: Proc{Side: Receiver, Timed: true, Role: "arrayx-pull", Opt: "streams=1"}},
	{ID: "arrayx-pull-2", Name: "arrayx pull, 2 streams", Group: Network,
		Server: &Proc{Side: Sender, Role: "arrayx-source"},
		Client: Proc{Side: Receiver, Timed: true, Role: "arrayx-pull", Opt: "streams=2"}},
	{ID: "arrayx-pull-4", Name: "arrayx pull, 4 streams", Group: Network,
		Server: &Proc{Side: Sender, Role: "arrayx-source"},
		Client: Proc{Side: Receiver, Timed: true, Role: "arrayx-pull", Opt: "streams=4"}},
	{ID: "arrayx-pull-sockbuf", Name: "arrayx pull, 1 stream, socket buffer", Group: Network,
		Server: &Proc{Side: Sender, Role: "arrayx-source", Opt: "sockbuf"},
		Client: Proc{Side: Receiver, Timed: true, Role: "arrayx-pull", Opt: "streams=1,sockbuf"}},
	{ID: "ceiling", Name: "kernel ceiling: sendfile, reader discards", Group: Network,
		Server: &Proc{Side: Receiver, Role: "discard-recv"},
		Client: Proc{Side: Sender, Timed: true, Role: "sendfile-send"}},
	{ID: "cookbook", Name: "Python Cookbook 11.13 (numpy)", Group: Network,
		Server: &Proc{Side: Sender, Timed: true, Python: "cookbook.py", Args: []string{"send"}},
		Client: Proc{Side: Receiver, Python: "cookbook.py", Args: []string{"recv"}}},
	{ID: "flight-doget", Name: "Arrow Flight DoGet", Group: Network,
		Server: &Proc{Side: Sender, Role: "flight-server", Opt: "get"},
		Client: Proc{Side: Receiver, Timed: true, Role: "flight-get"}},
	{ID: "flight-doput", Name: "Arrow Flight DoPut", Group: Network,
		Server: &Proc{Side: Receiver, Role: "flight-server", Opt: "put"},
		Client: Proc{Side: Sender, Timed: true, Role: "flight-put"}},
	{ID: "rw-loop", Name: "Go read/write loop, 1 MiB buffer", Group: Network,
		Server: &Proc{Side: Receiver, Role: "rw-recv"},
		Client: Proc{Side: Sender, Timed: true, Role: "rw-send"}},

	{ID: "arrayx-cp", Name: "arrayx cp (mmapstore.CopyTo, verified)", Group: Copy, Ref: true,
		Client: Proc{Side: Receiver, Timed: true, Role: "arrayx-cp"}, Check: sameAsSource},
	{ID: "cp", Name: "cp(1)", Group: Copy,
		Client: Proc{Side: Receiver, Timed: true, Argv: func(p Params) []string {
			return []string{"cp", p.ArxPath, copyDst(p)}
		}}, Check: sameAsSource},
	{ID: "rw-copy", Name: "Go read/write loop, 1 MiB buffer", Group: Copy,
		Client: Proc{Side: Receiver, Timed: true, Role: "rw-copy"}, Check: sameAsSource},
}

// roles are the Go children, by the name a Proc gives.
var roles = map[string]func(*child) error{
	"arrayx-first":   arrayxFirst,
	"arrayx-sum":     arrayxSum,
	"readfile-sum":   readFileSum,
	"arrow-ipc-sum":  arrowIPCSum,
	"arrayx-server":  arrayxServer,
	"arrayx-push":    arrayxPush,
	"arrayx-source":  arrayxSource,
	"arrayx-pull":    arrayxPull,
	"discard-recv":   discardRecv,
	"sendfile-send":  ceilingSend,
	"flight-server":  flightServer,
	"flight-get":     flightGet,
	"flight-put":     flightPut,
	"rw-recv":        rwRecv,
	"rw-send":        rwSend,
	"arrayx-cp":      arrayxCopy,
	"rw-copy":        rwCopy,
	"prepare":        prepareData,   // not a case: writes each size's data
	"fanout-prepare": fanoutPrepare, // fanout.go's roles
	"fanout-server":  fanoutServerRole,
	"fanout-source":  fanoutSource,
	"syncrtt-client": syncRTTClient, // syncrtt.go
	"sync-prepare":   syncPrepare,   // syncbench.go's roles
	"sync-mutate":    syncMutate,
	"sync-client":    syncClient,
}

// describe says what the process runs, for the JSON.
func (p *Proc) describe() string {
	d := string(p.Side)
	if p.Timed {
		d += " (timed)"
	}
	switch {
	case p.Role != "":
		d += ": go role " + p.Role
		if p.Opt != "" {
			d += " " + p.Opt
		}
	case p.Python != "":
		d += ": " + python + " " + strings.Join(append([]string{p.Python}, p.Args...), " ")
	default:
		d += ": external command"
	}
	return d
}

// network reports whether the case runs once per --net setting.
func (c *Case) network() bool { return c.Group == Network }

// procs returns the case's processes, server first.
func (c *Case) procs() []*Proc {
	if c.Server == nil {
		return []*Proc{&c.Client}
	}
	return []*Proc{c.Server, &c.Client}
}
