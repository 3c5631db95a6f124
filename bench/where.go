package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/arrayx/arrayx/internal/testnet"
)

// Where a network case runs, from --net: on this machine's loopback, or
// between two network namespaces built by internal/testnet ("hosts" on a
// bridge, each with its own veth), optionally with a token-bucket rate on
// each link and a one-way delay on each host's incoming packets. The sender
// runs in host h0 and the receiver in host h1, whichever of them is the
// server, through `ip netns exec` (testnet's Host.Command); servers listen
// on their host's address and clients connect to it, so every byte crosses
// both veths and the bridge. The delay is made by an NFQUEUE delayer in
// this process: its CPU time, and the kernel's receive path it runs for
// the packets it releases, count in the harness (reported per run), not in
// the receiver.

// Where is one --net setting.
type Where struct {
	// Name is the --net word: "loopback", or "ns" followed by an optional
	// "-RATE" (a tc rate, as "1gbit") and "-DELAY" (a Go duration, one way,
	// as "25ms"): "ns", "ns-1gbit", "ns-25ms", "ns-1gbit-25ms".
	Name  string
	NS    bool          // two namespaces, not loopback
	Rate  string        // each link's rate in each direction; "" unlimited
	Delay time.Duration // added to every packet between the hosts, one way
}

const loopbackName = "loopback"

var (
	rateWord = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)([kmgt]?)bit$`)
	// maxDelay bounds a --net delay: beyond it the delayer's queue
	// (testnet's nfqMaxLen) no longer holds a fast link's packets in flight.
	maxDelay = time.Second
)

// parseNets reads --net: comma-separated settings, each at most once.
func parseNets(s string) ([]Where, error) {
	var out []Where
	seen := map[string]bool{}
	for _, word := range strings.Split(s, ",") {
		w, err := parseWhere(strings.TrimSpace(word))
		if err != nil {
			return nil, err
		}
		if seen[w.Name] {
			return nil, fmt.Errorf("bench: --net names %q twice", w.Name)
		}
		seen[w.Name] = true
		out = append(out, w)
	}
	return out, nil
}

func parseWhere(word string) (Where, error) {
	bad := func(why string) (Where, error) {
		return Where{}, fmt.Errorf("bench: --net %q: %s (want loopback, ns, ns-1gbit, ns-25ms, ns-1gbit-25ms, ...)", word, why)
	}
	if word == loopbackName {
		return Where{Name: word}, nil
	}
	parts := strings.Split(word, "-")
	if parts[0] != "ns" {
		return bad("not loopback and not ns")
	}
	w := Where{Name: word, NS: true}
	for _, p := range parts[1:] {
		switch {
		case rateWord.MatchString(p):
			if w.Rate != "" {
				return bad("two rates")
			}
			if bps, _ := rateBits(p); bps < 1e5 {
				return bad("a rate below 100kbit")
			}
			w.Rate = p
		default:
			d, err := time.ParseDuration(p)
			if err != nil {
				return bad(fmt.Sprintf("%q is neither a rate (1gbit, 100mbit) nor a duration (25ms)", p))
			}
			if d <= 0 || d > maxDelay {
				return bad(fmt.Sprintf("a delay must be above 0 and at most %v", maxDelay))
			}
			if w.Delay != 0 {
				return bad("two delays")
			}
			w.Delay = d
		}
	}
	return w, nil
}

// rateBits reads a rate word as bits per second.
func rateBits(rate string) (float64, bool) {
	m := rateWord.FindStringSubmatch(rate)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false
	}
	return v * map[string]float64{"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}[m[2]], true
}

// describe says in words what the setting is.
func (w Where) describe() string {
	if !w.NS {
		return "loopback TCP in one network namespace"
	}
	d := "two network namespaces on a bridge (sender in h0, receiver in h1)"
	if w.Rate != "" {
		d += ", each link capped at " + w.Rate + " each way (tbf)"
	} else {
		d += ", links unlimited"
	}
	if w.Delay > 0 {
		d += fmt.Sprintf(", %v one way (%v round trip, NFQUEUE delayer)", w.Delay, 2*w.Delay)
	}
	return d
}

// timeout is the extra time a run of nbytes may take over w beyond
// runTimeout's: the rate's time, and one 2 MB window per round trip (one
// stream's worst here), each three times over.
func (w Where) timeout(nbytes int64) time.Duration {
	var s float64
	if bps, ok := rateBits(w.Rate); ok {
		s += 3 * float64(nbytes) * 8 / bps
	}
	if w.Delay > 0 {
		s += 3 * float64(nbytes) / 2e6 * (2 * w.Delay).Seconds()
	}
	return time.Duration(math.Min(s, 24*3600) * float64(time.Second))
}

// NetInfo describes one --net setting in the results.
type NetInfo struct {
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Rate        string  `json:"rate,omitempty"`
	DelayMS     float64 `json:"one_way_delay_ms,omitempty"`
	Subnet      string  `json:"subnet,omitempty"`
	Sender      string  `json:"sender_host,omitempty"`   // h0's address
	Receiver    string  `json:"receiver_host,omitempty"` // h1's address
	// TCP is the kernel's TCP settings where the processes run (the
	// receiver's host; both hosts get the same).
	TCP TCPSettings `json:"tcp"`
}

// TCPSettings are the sysctls that bound one connection's buffers.
type TCPSettings struct {
	Congestion string `json:"congestion_control"`
	Wmem       string `json:"tcp_wmem"` // min, default, max of autotuned send buffers
	Rmem       string `json:"tcp_rmem"`
	WmemMax    int64  `json:"wmem_max"` // net.core: the most SO_SNDBUF gives (then doubled)
	RmemMax    int64  `json:"rmem_max"`
}

// readTCPSettings reads the calling thread's namespace's settings.
func readTCPSettings() TCPSettings {
	get := func(name string) string {
		// /proc/sys/net shows the reading thread's namespace: testnet's
		// Host.Do runs this on a thread inside the host.
		b, _ := os.ReadFile("/proc/sys/net/" + name)
		return strings.Join(strings.Fields(string(b)), " ")
	}
	num := func(name string) int64 {
		n, _ := strconv.ParseInt(get(name), 10, 64)
		return n
	}
	return TCPSettings{
		Congestion: get("ipv4/tcp_congestion_control"),
		Wmem:       get("ipv4/tcp_wmem"),
		Rmem:       get("ipv4/tcp_rmem"),
		WmemMax:    num("core/wmem_max"),
		RmemMax:    num("core/rmem_max"),
	}
}

// netEnv is one --net setting while the harness runs: for namespaces, the
// network testnet built.
type netEnv struct {
	where Where
	info  NetInfo
	net   *testnet.Net // nil on loopback
}

// host is where a process of side s runs, nil on loopback.
func (e *netEnv) host(s Side) *testnet.Host {
	if e == nil || e.net == nil {
		return nil
	}
	if s == Sender {
		return e.net.Hosts[0]
	}
	return e.net.Hosts[1]
}

// setupNets builds the networks of ws. The caller closes them with
// closeNets, also after an error.
func setupNets(ws []Where) ([]*netEnv, error) {
	var envs []*netEnv
	for _, w := range ws {
		e := &netEnv{where: w, info: NetInfo{Name: w.Name, Description: w.describe(), Rate: w.Rate,
			DelayMS: float64(w.Delay) / float64(time.Millisecond)}}
		envs = append(envs, e)
		if !w.NS {
			e.info.TCP = readTCPSettings()
			continue
		}
		n, err := testnet.Setup(testnet.Options{Hosts: 2, Rate: w.Rate, Delay: w.Delay})
		if err != nil {
			return envs, fmt.Errorf("bench: --net %s: %w", w.Name, err)
		}
		e.net = n
		e.info.Subnet, e.info.Sender, e.info.Receiver = n.Subnet, n.Hosts[0].IP, n.Hosts[1].IP
		if err := n.Hosts[1].Do(func() error {
			e.info.TCP = readTCPSettings()
			return nil
		}); err != nil {
			return envs, err
		}
	}
	return envs, nil
}

// closeNets removes the networks setupNets built.
func closeNets(envs []*netEnv) error {
	var errs []error
	for _, e := range envs {
		if e != nil && e.net != nil {
			errs = append(errs, e.net.Close())
		}
	}
	return errors.Join(errs...)
}

// LinkRun is what crossed a namespace run's links, and what the harness
// (the delayers) spent meanwhile: from before the first process started
// until both had exited.
type LinkRun struct {
	// SenderTx is the bytes h0's link sent, ReceiverRx the bytes h1's
	// link received: headers and the reverse direction's ACKs aside, the
	// payload crossed if both are at least its size.
	SenderTx   int64 `json:"sender_tx_bytes"`
	ReceiverRx int64 `json:"receiver_rx_bytes"`
	// Delayed is the packets the two hosts' delayers held (a GSO
	// super-packet counts once); Dropped those the kernel dropped from
	// their queues.
	Delayed uint64 `json:"delayed_packets,omitempty"`
	Dropped uint64 `json:"dropped_packets,omitempty"`
	// Harness is the harness process's CPU over the run: with a delay,
	// mostly the delayers and the receive path they run.
	HarnessUser float64 `json:"harness_user_s"`
	HarnessSys  float64 `json:"harness_sys_s"`
}

// linkMark is the counters at one moment.
type linkMark struct {
	tx, rx           int64
	packets, dropped uint64
	ru               syscall.Rusage
}

func (e *netEnv) mark() (linkMark, error) {
	var m linkMark
	if e == nil || e.net == nil {
		return m, nil
	}
	var err error
	if _, m.tx, err = e.host(Sender).LinkBytes(); err != nil {
		return m, err
	}
	if m.rx, _, err = e.host(Receiver).LinkBytes(); err != nil {
		return m, err
	}
	for _, h := range e.net.Hosts {
		ds, err := h.DelayStats()
		if err != nil {
			return m, err
		}
		if ds.Err != nil {
			return m, fmt.Errorf("bench: %s's delayer failed: %w", h, ds.Err)
		}
		m.packets += ds.Packets
		m.dropped += ds.QueueDropped + ds.UserDropped
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &m.ru)
	return m, nil
}

// since returns what crossed between two marks.
func (m linkMark) since(m0 linkMark) *LinkRun {
	u, u0 := usageOf(&m.ru), usageOf(&m0.ru)
	return &LinkRun{
		SenderTx: m.tx - m0.tx, ReceiverRx: m.rx - m0.rx,
		Delayed: m.packets - m0.packets, Dropped: m.dropped - m0.dropped,
		HarnessUser: u.User - u0.User, HarnessSys: u.Sys - u0.Sys,
	}
}
