// Package testnet builds a small network of hosts inside one Linux machine,
// so that tests and benchmarks can move arrays between "machines" with real
// TCP, a real link rate and a real round-trip time, without leaving the
// machine.
//
// Each host is a network namespace with one interface (Link, "eth0") and an
// IPv4 address in a /24 of 198.18.0.0/15, the range RFC 2544 reserves for
// benchmarking. All hosts hang off a Linux bridge in a "switch" namespace
// through one veth pair each, so any host reaches any other:
//
//	host h0 (ns)          switch (ns)            host h1 (ns)
//	eth0 198.18.X.1 ---- h0 [ br0 ] h1 ---- eth0 198.18.X.2
//
// Nothing is created in the caller's namespace: the veth pairs are made
// with one end in the switch and the other in the host, so a crashed run
// leaves only namespaces behind, which the next Setup in any process
// removes once the process that made them is gone.
//
// Options.Rate caps each host's link in both directions with a tbf qdisc
// on both ends of its veth. Options.Delay adds a one-way delay to every
// IPv4 packet between hosts. This kernel has no netem, so the delay is
// made in user space: an iptables (legacy) NFQUEUE rule hands each packet
// to a delayer in this process, an nfnetlink_queue client written over
// x/sys/unix, which holds it for Delay and then accepts it, in order.
//
// The delay is applied where a packet enters its destination host, not
// where it leaves its source. TCP small queues lets a socket keep only
// about a millisecond of its pacing rate (at least two packets) in its
// own host's stack, and a packet held on its way out still counts: a
// 1gbit stream with 25 ms of delay crawled at 2 Mbit/s that way. Held on
// its way in, the sender has let go of it (the veth orphans it), and the
// same stream runs at the link's rate. Host-to-host traffic crosses one
// delay line each way either way, so a round trip takes 2×Delay (plus up
// to a millisecond a line: the delayer's timer wakes late, never early).
// A host's traffic to itself goes over its loopback, neither delayed nor
// limited.
//
// The delayers run in the calling process and their CPU time is its own:
// releasing a packet runs the kernel's receive path for it in the
// delayer's thread. A 1gbit stream with 25 ms of delay cost about a third
// of a core of this project's 2-core VM.
//
// The hosts keep the kernel's TCP settings, as real machines would: BBR
// (this kernel's default) and a send buffer of at most 4 MiB
// (net.ipv4.tcp_wmem). With a 50 ms round trip, one stream can then keep
// only about 2.7 MB in flight: 400 Mbit/s on a 1gbit link, against 870
// with a 16 MiB buffer. Several streams, or a larger SO_SNDBUF, fill it.
//
// Tests call New, which skips when the machine cannot build the network
// (not root, a tool missing) and fails instead when the CI environment
// variable is set. The benchmark harness calls Setup and Close.
//
// # Running code on a host
//
// Host.Command runs a program inside a host (ip netns exec). Host.Listen,
// Host.DialContext and Host.Do create sockets in a host from this process:
// a socket belongs to the namespace of the thread that created it and
// keeps it wherever it is used afterwards, so an in-process server on one
// host and a client on another talk through the switch, with its rate and
// delay, and need no subprocess plumbing.
package testnet

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/arrayx/arrayx/internal/testutil"
)

// MaxHosts is the largest Options.Hosts: host addresses are .1 to .250 of
// one /24.
const MaxHosts = 250

// Options describe the network Setup builds.
type Options struct {
	// Hosts is the number of hosts, 2 to MaxHosts.
	Hosts int
	// Rate caps each host's link in each direction, in tc's syntax
	// ("100mbit", "1gbit"); "" leaves the links unlimited (veth speed).
	Rate string
	// Delay is added once to every IPv4 packet going from one host to
	// another, so a round trip takes 2×Delay more; 0 adds none.
	Delay time.Duration
}

// Net is a network built by Setup. Close removes it.
type Net struct {
	// Hosts are the hosts, in address order.
	Hosts []*Host
	// Subnet is the hosts' IPv4 subnet, such as "198.18.37.0/24". Its third
	// octet is random per Setup, so tests cannot come to depend on fixed
	// addresses; two networks with the same subnet do not conflict, as
	// each is sealed in its own namespaces.
	Subnet string
	// Switch is the name of the namespace holding the bridge.
	Switch string

	opts     Options
	mu       sync.Mutex
	closed   bool
	made     []string // namespaces created, in creation order
	delayers []*delayer
}

// Host is one machine of a Net.
type Host struct {
	// Name is the host's short name, "h0", "h1", ...
	Name string
	// NS is the name of the host's network namespace (ip netns).
	NS string
	// IP is the host's IPv4 address on Link, such as "198.18.37.1".
	IP string
	// Link is the name of the host's interface inside NS.
	Link string

	// delay is the host's delayer, nil without Options.Delay.
	delay *delayer
}

// New builds a network for a test and removes it when the test ends. When
// the machine cannot build it (not root, a tool missing, not Linux) the test
// is skipped with the reason, unless the CI environment variable is set:
// CI must not pass by skipping, so there the test fails.
func New(t testing.TB, opts Options) *Net {
	t.Helper()
	Need(t, opts)
	n, err := Setup(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	})
	return n
}

// Need skips the test, or fails it when CI is set (testutil.Unavailable),
// if Setup cannot build a network with opts on this machine: for tests that
// build theirs in another process.
func Need(t testing.TB, opts Options) {
	t.Helper()
	if err := Available(opts); err != nil {
		testutil.Unavailable(t, "%v", err)
	}
}

// Command returns a command that runs name inside the host's namespace
// (through ip netns exec, which execs name in place, so the Cmd's process
// is name itself and ctx's kill reaches it). A process still running in the
// host when the Net closes keeps the namespace alive until it exits.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	ip := "ip"
	if p, err := testutil.LookTool("ip"); err == nil {
		ip = p
	}
	return exec.CommandContext(ctx, ip, append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// Listen announces on the host, as net.Listen does; address must hold an
// IP literal or nothing ("198.18.37.1:0", ":7070"): name resolution inside
// a host is not set up.
func (h *Host) Listen(network, address string) (net.Listener, error) {
	var l net.Listener
	err := h.Do(func() error {
		var err error
		l, err = net.Listen(network, address)
		return err
	})
	return l, err
}

// DialContext connects from the host, as net.Dialer.DialContext does;
// address must hold an IP literal.
func (h *Host) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var c net.Conn
	err := h.Do(func() error {
		var err error
		c, err = new(net.Dialer).DialContext(ctx, network, address)
		return err
	})
	return c, err
}

// String returns the host's name and address, for test logs.
func (h *Host) String() string { return fmt.Sprintf("%s(%s)", h.Name, h.IP) }
