//go:build linux

package testnet

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/arrayx/arrayx/internal/testutil"
	"golang.org/x/sys/unix"
)

// nsPrefix starts the name of every namespace this package makes. The full
// name is nsPrefix + "PID-START-SEQ-ROLE": the creating process's pid and
// start time (clock ticks since boot, so a reused pid does not pass for
// the old process), a per-process sequence number, and "sw" or the host's
// name. Names are unique per process and call, and a leftover of a dead
// process is recognizable as such.
const nsPrefix = "arrayx-testnet-"

// netnsDir is where ip netns keeps its named namespaces.
const netnsDir = "/run/netns"

// Token bucket of each link's tbf qdiscs: 4 ms of the rate, and at least
// 128 KiB. Measured with one TCP stream (BBR, this kernel's default) at
// 1gbit on the project's 2-core VM while other jobs loaded it:
//
//	burst   16k   64k   128k  256k  512k  1m    2m
//	Mbit/s  340-  400-  880-  920-  957-  957-  930-
//	        415   445   900   945   958   958   960
//
// (957 Mbit/s of payload is the whole link: 1448 of every 1514 bytes).
//   - The bucket must hold a whole GSO packet (64 KiB plus headers): below
//     that, tbf cuts every super-packet into MTU-sized segments, and the
//     per-packet work halves the throughput.
//   - Above that, tbf refills the bucket only when its timer fires, and on
//     a busy machine the timer's softirq runs late; tokens that overflow a
//     small bucket meanwhile are lost. 4 ms of the rate (500 KB at 1gbit)
//     rides out those delays; it lets through at most that much above the
//     rate at once, under 1% of a second's worth.
//   - The queue holds tbfLatency of the rate, a switch port's buffer.
//     BBR keeps it short anyway: with 25 ms of delay a stream ran at
//     862, 868 and 874 Mbit/s with 2, 10 and 50 ms, retransmitting nothing.
const (
	tbfMinBurst  = 128 << 10
	tbfBurstTime = 4 // milliseconds of the rate
	tbfLatency   = "10ms"
)

var nsSeq atomic.Uint64

// Available reports whether Setup can build a network with opts here: nil,
// or an error wrapping ErrUnavailable that names what is missing.
func Available(opts Options) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: not root (namespaces, veths and qdiscs need CAP_SYS_ADMIN and CAP_NET_ADMIN)", ErrUnavailable)
	}
	if _, err := testutil.LookTool("ip"); err != nil {
		return fmt.Errorf("%w: %v (apt-get install iproute2)", ErrUnavailable, err)
	}
	if opts.Rate != "" {
		if _, err := testutil.LookTool("tc"); err != nil {
			return fmt.Errorf("%w: Rate needs tc: %v (apt-get install iproute2)", ErrUnavailable, err)
		}
	}
	if opts.Delay > 0 {
		if _, err := iptablesLegacy(); err != nil {
			return err
		}
	}
	return nil
}

// iptablesLegacy finds an iptables with the legacy (x_tables) backend.
// The NFQUEUE target is all the delay needs, and this kernel has it only
// as an x_tables target: iptables-nft would translate it to nftables'
// queue expression, which the kernel lacks (CONFIG_NFT_QUEUE is not set).
var iptablesLegacy = sync.OnceValues(func() (string, error) {
	if p, err := testutil.LookTool("iptables-legacy"); err == nil {
		return p, nil
	}
	p, err := testutil.LookTool("iptables")
	if err != nil {
		return "", fmt.Errorf("%w: Delay needs iptables: %v (apt-get install iptables)", ErrUnavailable, err)
	}
	out, _ := exec.Command(p, "-V").Output()
	if !bytes.Contains(out, []byte("legacy")) {
		return "", fmt.Errorf("%w: Delay needs iptables-legacy, and %s is %q: its NFQUEUE would need nftables' queue, which this kernel may lack",
			ErrUnavailable, p, bytes.TrimSpace(out))
	}
	return p, nil
})

// Setup builds the network opts describe. On an error it removes whatever
// it had made. Close the Net when done: its namespaces outlive the process
// otherwise (until a later Setup finds them orphaned).
func Setup(opts Options) (_ *Net, err error) {
	switch {
	case opts.Hosts < 2 || opts.Hosts > MaxHosts:
		return nil, fmt.Errorf("testnet: Hosts is %d, want 2 to %d", opts.Hosts, MaxHosts)
	case opts.Delay < 0:
		return nil, fmt.Errorf("testnet: negative Delay %v", opts.Delay)
	case strings.ContainsAny(opts.Rate, " \t\r\n") || strings.HasPrefix(opts.Rate, "-"):
		// Rate goes into tc's batch input: one word only.
		return nil, fmt.Errorf("testnet: Rate %q is not one tc rate", opts.Rate)
	}
	if err := Available(opts); err != nil {
		return nil, err
	}
	start, err := procStart(os.Getpid())
	if err != nil {
		return nil, fmt.Errorf("testnet: own start time: %w", err)
	}
	removeStale()

	base := fmt.Sprintf("%s%d-%s-%d-", nsPrefix, os.Getpid(), start, nsSeq.Add(1))
	octet := rand.IntN(256)
	n := &Net{
		Subnet: fmt.Sprintf("198.18.%d.0/24", octet),
		Switch: base + "sw",
		opts:   opts,
	}
	for i := range opts.Hosts {
		name := "h" + strconv.Itoa(i)
		n.Hosts = append(n.Hosts, &Host{
			Name: name,
			NS:   base + name,
			IP:   fmt.Sprintf("198.18.%d.%d", octet, i+1),
			Link: "eth0",
		})
	}
	defer func() {
		if err != nil {
			if cerr := n.Close(); cerr != nil {
				err = fmt.Errorf("%w; removing what was made also failed: %v", err, cerr)
			}
		}
	}()

	// The namespaces first, IPv6 off in each before any interface exists
	// (new interfaces copy "default"): link-local chatter (DAD, router and
	// multicast listener messages) would otherwise cross the links outside
	// the IPv4-only delay and add to the counters tests check.
	var b strings.Builder
	all := append([]string{n.Switch}, hostNS(n)...)
	for _, ns := range all {
		fmt.Fprintf(&b, "netns add %s\n", ns)
	}
	n.made = all // Close deletes those that exist, so a half-done batch is covered
	if err := runBatch(b.String(), "ip"); err != nil {
		return nil, err
	}
	for _, ns := range all {
		if err := doIn(ns, disableIPv6); err != nil {
			return nil, fmt.Errorf("testnet: %s: %w", ns, err)
		}
	}

	// The switch: a bridge, and a veth pair per host made from inside the
	// switch with its peer created directly in the host, so no interface
	// ever exists in the caller's namespace.
	b.Reset()
	b.WriteString("link add br0 type bridge\nlink set br0 up\n")
	for _, h := range n.Hosts {
		fmt.Fprintf(&b, "link add %s type veth peer name %s netns %s\n", h.Name, h.Link, h.NS)
		fmt.Fprintf(&b, "link set %s master br0\nlink set %s up\n", h.Name, h.Name)
	}
	if err := runBatch(b.String(), "ip", "-n", n.Switch); err != nil {
		return nil, err
	}
	for _, h := range n.Hosts {
		in := fmt.Sprintf("addr add %s/24 dev %s\nlink set %s up\nlink set lo up\n", h.IP, h.Link, h.Link)
		if err := runBatch(in, "ip", "-n", h.NS); err != nil {
			return nil, err
		}
	}

	if opts.Rate != "" {
		if err := n.limitRate(); err != nil {
			return nil, err
		}
	}
	if opts.Delay > 0 {
		for _, h := range n.Hosts {
			if err := n.addDelay(h); err != nil {
				return nil, err
			}
		}
	}
	return n, nil
}

// limitRate puts a tbf on both ends of every host's veth: the host's end
// shapes what the host sends, the switch's end what it receives, as a
// switch port's egress queue would (and it is there that traffic from
// several senders to one host queues).
func (n *Net) limitRate() error {
	tbf := fmt.Sprintf("root tbf rate %s burst %s latency %s", n.opts.Rate, tbfBurst(n.opts.Rate), tbfLatency)
	var b strings.Builder
	for _, h := range n.Hosts {
		fmt.Fprintf(&b, "qdisc add dev %s %s\n", h.Name, tbf)
	}
	if err := runBatch(b.String(), "tc", "-n", n.Switch); err != nil {
		return err
	}
	for _, h := range n.Hosts {
		if err := runBatch(fmt.Sprintf("qdisc add dev %s %s\n", h.Link, tbf), "tc", "-n", h.NS); err != nil {
			return err
		}
	}
	return nil
}

// tbfBurst returns tbf's bucket for rate: tbfBurstTime of the rate, or
// tbfMinBurst when that is more. A rate tc would refuse is passed on as it is, so tc's
// own message names the problem.
func tbfBurst(rate string) string {
	bps, ok := parseRate(rate)
	if !ok {
		return strconv.Itoa(tbfMinBurst)
	}
	return strconv.FormatUint(max(uint64(tbfMinBurst), bps/8*tbfBurstTime/1000), 10)
}

// parseRate reads the common forms of a tc rate ("1gbit", "100mbit",
// "500kbit", "12500000bps" bytes, a bare number of bits) as bits per
// second.
func parseRate(s string) (uint64, bool) {
	s = strings.ToLower(s)
	units := []struct {
		suffix string
		mult   uint64
	}{
		{"tbit", 1e12}, {"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1},
		{"tbps", 8e12}, {"gbps", 8e9}, {"mbps", 8e6}, {"kbps", 8e3}, {"bps", 8},
		{"", 1},
	}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil || v <= 0 || v*float64(u.mult) > 1e15 {
				return 0, false
			}
			return uint64(v * float64(u.mult)), true
		}
	}
	return 0, false
}

// addDelay starts h's delayer, then sends every IPv4 packet arriving on
// h's link to it. In this order, no packet reaches the queue before a
// reader is bound (with no reader, the kernel drops queued packets).
func (n *Net) addDelay(h *Host) error {
	d, err := startDelayer(h.NS, n.opts.Delay)
	if err != nil {
		return err
	}
	h.delay = d
	n.delayers = append(n.delayers, d)
	ipt, err := iptablesLegacy()
	if err != nil {
		return err
	}
	// -w: legacy iptables takes a machine-wide lock (/run/xtables.lock),
	// which concurrent Setups in other test processes also take.
	return run("ip", "netns", "exec", h.NS, ipt, "-w", "10",
		"-A", "INPUT", "-i", h.Link, "-j", "NFQUEUE", "--queue-num", strconv.Itoa(nfqQueueNum))
}

// Close stops the delayers and deletes the namespaces, which takes their
// veths, bridge and qdiscs with them. It is safe to call more than once and
// after a failed Setup; later calls return nil. A process left running in a
// host (see Command) keeps that namespace alive, unnamed, until it exits.
func (n *Net) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	var errs []error
	for _, d := range n.delayers {
		if err := d.close(); err != nil {
			errs = append(errs, err)
		}
	}
	// Hosts before the switch, although either order works: a veth pair
	// dies with either of its namespaces.
	var del []string
	for i := len(n.made) - 1; i >= 0; i-- {
		if _, err := os.Stat(netnsDir + "/" + n.made[i]); err == nil {
			del = append(del, n.made[i])
		}
	}
	if err := deleteNS(del); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// deleteNS deletes named namespaces with one ip process, going on past a
// failure so one stuck namespace does not leave the others behind.
func deleteNS(names []string) error {
	if len(names) == 0 {
		return nil
	}
	var b strings.Builder
	for _, ns := range names {
		fmt.Fprintf(&b, "netns del %s\n", ns)
	}
	return runBatch(b.String(), "ip", "-force")
}

// removeStale deletes the namespaces of this package whose creating
// process is gone: a test binary killed mid-test (a timeout, a crash)
// leaves its namespaces mounted under /run/netns. Best effort: a failure
// here must not stop the caller's Setup, and two processes racing to
// remove the same leftover is harmless.
func removeStale() {
	ents, err := os.ReadDir(netnsDir)
	if err != nil {
		return
	}
	var stale []string
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), nsPrefix)
		if !ok {
			continue
		}
		f := strings.SplitN(rest, "-", 3)
		if len(f) != 3 {
			continue
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil || pid <= 0 {
			continue
		}
		// A zombie counts as gone: its namespaces are no longer used,
		// and a parent that never reaps it would keep them forever.
		if state, start, err := procStat(pid); err != nil || start != f[1] || state == 'Z' || state == 'X' {
			stale = append(stale, e.Name())
		}
	}
	_ = deleteNS(stale)
}

// procStart returns a process's start time, field 22 of /proc/PID/stat, in
// clock ticks since boot: with the pid, it names one process even after
// the pid is reused.
func procStart(pid int) (string, error) {
	_, start, err := procStat(pid)
	return start, err
}

// procStat returns a process's state (field 3 of /proc/PID/stat: 'R',
// 'S', 'Z' for a zombie, ...) and its start time (field 22).
func procStat(pid int) (state byte, start string, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, "", err
	}
	// Field 2, the command, is in parentheses and may hold spaces and
	// parentheses itself: count from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, "", fmt.Errorf("testnet: /proc/%d/stat: no command field", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	const startField = 22 - 3 // f[0] is field 3
	if len(f) <= startField || len(f[0]) != 1 {
		return 0, "", fmt.Errorf("testnet: /proc/%d/stat: %d fields", pid, len(f)+2)
	}
	return f[0][0], f[startField], nil
}

func hostNS(n *Net) []string {
	ns := make([]string, len(n.Hosts))
	for i, h := range n.Hosts {
		ns[i] = h.NS
	}
	return ns
}

// disableIPv6 turns IPv6 off in the calling thread's namespace. A kernel
// without IPv6 has no such files, and nothing to turn off.
func disableIPv6() error {
	for _, conf := range []string{"all", "default"} {
		err := os.WriteFile("/proc/sys/net/ipv6/conf/"+conf+"/disable_ipv6", []byte("1"), 0)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Do runs fn on an OS thread that is inside the host's namespace and
// returns fn's error. Sockets fn creates belong to the host and stay
// there when other goroutines use them. Goroutines fn starts run on other
// threads, in this process's namespace.
func (h *Host) Do(fn func() error) error { return doIn(h.NS, fn) }

// doIn runs fn on a locked thread moved into namespace ns, and moves the
// thread back before unlocking it. Should the way back fail, the goroutine
// exits still locked and the runtime ends the thread, so the namespace
// never leaks into other goroutines. (Since Go 1.10 the runtime also never
// clones a new thread from a locked one.) Going back matters beyond
// thread reuse: the goroutine may be running on the main thread, which
// the runtime cannot end and parks for good instead, and /proc/self, so
// /proc/net, shows the main thread's namespace: left in a host, it would
// pin that namespace and show every reader of /proc/net the host's
// sockets.
func doIn(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		back, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("testnet: own namespace: %w", err)
			return
		}
		defer unix.Close(back)
		if err := enterNS(ns); err != nil {
			runtime.UnlockOSThread() // still in its own namespace
			errc <- err
			return
		}
		err = fn()
		if unix.Setns(back, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

func enterNS(ns string) error {
	fd, err := unix.Open(netnsDir+"/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("testnet: open namespace %s: %w", ns, err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("testnet: enter namespace %s: %w", ns, err)
	}
	return nil
}

// LinkBytes returns the bytes the host's interface has received and sent,
// from the kernel's counters; they include headers, ARP and the like, so
// a transfer moves them by at least its payload.
func (h *Host) LinkBytes() (rx, tx int64, err error) {
	err = h.Do(func() error {
		// thread-self, not self: /proc/self/net is the namespace of the
		// process's main thread, not of this one.
		b, err := os.ReadFile("/proc/thread-self/net/dev")
		if err != nil {
			return err
		}
		rx, tx, err = parseNetDev(b, h.Link)
		return err
	})
	return rx, tx, err
}

// parseNetDev reads a link's received and sent bytes from /proc/net/dev:
// "  eth0: RXBYTES packets errs drop fifo frame compressed multicast TXBYTES ...".
func parseNetDev(b []byte, link string) (rx, tx int64, err error) {
	for line := range strings.Lines(string(b)) {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) != link {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 9 {
			break
		}
		rx, err1 := strconv.ParseInt(f[0], 10, 64)
		tx, err2 := strconv.ParseInt(f[8], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return 0, 0, fmt.Errorf("testnet: /proc/net/dev line for %s: %w", link, err)
		}
		return rx, tx, nil
	}
	return 0, 0, fmt.Errorf("testnet: no %s in /proc/net/dev", link)
}

// run runs a tool, returning an error that holds its command line and
// output when it fails.
func run(tool string, args ...string) error {
	return runBatch("", tool, args...)
}

// runBatch runs a tool of iproute2 with -batch - and in as its input
// (or, with in empty, as run does).
func runBatch(in, tool string, args ...string) error {
	p, err := testutil.LookTool(tool)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if in != "" {
		args = append(args, "-batch", "-")
	}
	cmd := exec.Command(p, args...)
	if in != "" {
		cmd.Stdin = strings.NewReader(in)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		what := strings.Join(append([]string{tool}, args...), " ")
		if in != "" {
			what += " <<" + strings.ReplaceAll(strings.TrimSpace(in), "\n", "; ")
		}
		return fmt.Errorf("testnet: %s: %w: %s", what, err, bytes.TrimSpace(out))
	}
	return nil
}
