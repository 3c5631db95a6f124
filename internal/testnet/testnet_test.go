//go:build linux

package testnet

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arrayx/arrayx/internal/testutil"
	"golang.org/x/sys/unix"
)

// The network tests run their servers and clients in this process, with
// sockets made in the hosts by Listen and DialContext, rather than by
// re-executing the test binary in each host: the bytes, timings and errors
// are then plain Go values, nothing has to be parsed back from a child,
// and those helpers are what the other packages' tests will use. Command
// gets its own test.

// transfer sends payload from src to dst over one TCP connection and
// returns the time from the first write until dst has read the last byte,
// and the SHA-256 of what dst read.
func transfer(t *testing.T, src, dst *Host, payload []byte) (time.Duration, [32]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := dst.Listen("tcp", dst.IP+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	type result struct {
		end  time.Time
		sum  [32]byte
		n    int64
		peer string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		h := sha256.New()
		n, err := io.Copy(h, c)
		r := result{end: time.Now(), n: n, peer: c.RemoteAddr().(*net.TCPAddr).IP.String(), err: err}
		h.Sum(r.sum[:0])
		done <- r
	}()
	c, err := src.DialContext(ctx, "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	start := time.Now()
	if _, err := c.Write(payload); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.n != int64(len(payload)) {
		t.Fatalf("%s received %d bytes from %s, want %d", dst, r.n, src, len(payload))
	}
	// The peer is src's address: the bytes crossed the switch, not a
	// loopback of this process's namespace.
	if r.peer != src.IP {
		t.Fatalf("%s saw the connection come from %s, want %s", dst, r.peer, src.IP)
	}
	return r.end.Sub(start), r.sum
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{1}).Read(b)
	return b
}

func TestTCPBetweenTwoHosts(t *testing.T) {
	t.Parallel()
	n := New(t, Options{Hosts: 2})
	h0, h1 := n.Hosts[0], n.Hosts[1]
	payload := randomBytes(4 << 20)
	rx0, _, err := h0.LinkBytes()
	if err != nil {
		t.Fatal(err)
	}
	_, tx1, err := h1.LinkBytes()
	if err != nil {
		t.Fatal(err)
	}
	_, sum := transfer(t, h1, h0, payload)
	if sum != sha256.Sum256(payload) {
		t.Fatal("the bytes that arrived differ from those sent")
	}
	rx0b, _, err := h0.LinkBytes()
	if err != nil {
		t.Fatal(err)
	}
	_, tx1b, err := h1.LinkBytes()
	if err != nil {
		t.Fatal(err)
	}
	if got := rx0b - rx0; got < int64(len(payload)) {
		t.Errorf("%s's %s received %d bytes, less than the %d sent to it", h0, h0.Link, got, len(payload))
	}
	if got := tx1b - tx1; got < int64(len(payload)) {
		t.Errorf("%s's %s sent %d bytes, less than the %d it sent", h1, h1.Link, got, len(payload))
	}
}

func TestCommandRunsInHost(t *testing.T) {
	t.Parallel()
	n := New(t, Options{Hosts: 2})
	h0, h1 := n.Hosts[0], n.Hosts[1]
	out, err := h0.Command(context.Background(), "ip", "-4", "-o", "addr", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// The host sees its own address, and not another host's: the command
	// ran in h0's namespace, not in ours or another's.
	if !bytes.Contains(out, []byte(" "+h0.IP+"/24")) || bytes.Contains(out, []byte(" "+h1.IP+"/24")) {
		t.Fatalf("ip addr in %s shows\n%s\nwant %s and not %s", h0, out, h0.IP, h1.IP)
	}
}

func TestRateLimitsThroughput(t *testing.T) {
	t.Parallel()
	n := New(t, Options{Hosts: 2, Rate: "100mbit"})
	payload := randomBytes(16 << 20)
	took, sum := transfer(t, n.Hosts[1], n.Hosts[0], payload)
	if sum != sha256.Sum256(payload) {
		t.Fatal("the bytes that arrived differ from those sent")
	}
	t.Logf("16 MiB at 100mbit took %v: %.1f Mbit/s", took, float64(len(payload))*8/took.Seconds()/1e6)
	// 16 MiB is 1.34 s at 100 Mbit/s; the bucket lets a few hundred KB go
	// at once. Only a lower bound: this machine is shared, so slower
	// proves nothing.
	if took < 1100*time.Millisecond {
		t.Fatalf("16 MiB at 100mbit took %v, want at least 1.1 s", took)
	}
}

// connectTimes returns how long each of count TCP connects from src to
// dst takes (the SYN, SYN-ACK round trip) and how long a one-byte echo
// takes on each connection.
func connectTimes(t *testing.T, src, dst *Host, count int) (connects, echoes []time.Duration) {
	t.Helper()
	l, err := dst.Listen("tcp", dst.IP+":0")
	if err != nil {
		t.Fatal(err)
	}
	// On return, close the listener and the server's connections and wait
	// for its goroutines: a connection whose FIN is still in a delay line
	// when the test closes the network would otherwise wait forever.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var served []net.Conn
	defer func() {
		l.Close()
		mu.Lock()
		for _, c := range served {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			served = append(served, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				// Not io.Copy(c, c): it would splice through a pipe
				// that the runtime then keeps in a pool, and
				// TestCloseRemovesEverything counts descriptors.
				b := make([]byte, 1)
				for {
					if _, err := c.Read(b); err != nil {
						return
					}
					if _, err := c.Write(b); err != nil {
						return
					}
				}
			}()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for range count {
		start := time.Now()
		c, err := src.DialContext(ctx, "tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		connects = append(connects, time.Since(start))
		c.SetDeadline(time.Now().Add(20 * time.Second))
		b := []byte{42}
		start = time.Now()
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, b); err != nil {
			t.Fatal(err)
		}
		echoes = append(echoes, time.Since(start))
		c.Close()
	}
	return connects, echoes
}

func TestDelayAddsRoundTrip(t *testing.T) {
	t.Parallel()
	const delay = 20 * time.Millisecond
	t.Run("delay-20ms", func(t *testing.T) {
		t.Parallel()
		n := New(t, Options{Hosts: 2, Delay: delay})
		connects, echoes := connectTimes(t, n.Hosts[1], n.Hosts[0], 3)
		t.Logf("connects %v, echoes %v", connects, echoes)
		for i := range connects {
			if connects[i] < 2*delay || echoes[i] < 2*delay {
				t.Errorf("connect %d took %v and its echo %v, want at least %v each", i, connects[i], echoes[i], 2*delay)
			}
		}
		for _, h := range n.Hosts {
			s, err := h.DelayStats()
			if err != nil {
				t.Fatal(err)
			}
			// Every host's delayer held packets (SYNs and SYN-ACKs, data
			// and ACKs), none was dropped, none failed.
			if s.Packets == 0 || s.Verdicts == 0 || s.QueueDropped != 0 || s.UserDropped != 0 || s.Err != nil {
				t.Errorf("%s: %+v", h, s)
			}
		}
	})
	t.Run("no-delay", func(t *testing.T) {
		t.Parallel()
		n := New(t, Options{Hosts: 2})
		connects, _ := connectTimes(t, n.Hosts[1], n.Hosts[0], 5)
		t.Logf("connects %v", connects)
		// The fastest of five, so a moment of load on this shared machine
		// does not fail the test.
		if m := minDuration(connects); m >= delay {
			t.Errorf("the fastest connect without delay took %v, want far less than %v", m, 2*delay)
		}
	})
}

func minDuration(d []time.Duration) time.Duration {
	m := d[0]
	for _, x := range d[1:] {
		m = min(m, x)
	}
	return m
}

func TestEveryPairConnects(t *testing.T) {
	t.Parallel()
	// Every feature at once, on more than two hosts.
	n := New(t, Options{Hosts: 4, Rate: "1gbit", Delay: time.Millisecond})
	// The same port on every host: each has its own namespace.
	for _, h := range n.Hosts {
		l, err := h.Listen("tcp", h.IP+":7070")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				io.WriteString(c, h.Name)
				c.Close()
			}
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, src := range n.Hosts {
		for _, dst := range n.Hosts {
			if src == dst {
				continue
			}
			c, err := src.DialContext(ctx, "tcp", dst.IP+":7070")
			if err != nil {
				t.Errorf("%s to %s: %v", src, dst, err)
				continue
			}
			c.SetDeadline(time.Now().Add(20 * time.Second))
			got, err := io.ReadAll(c)
			c.Close()
			if err != nil || string(got) != dst.Name {
				t.Errorf("%s to %s: read %q, %v; want %q", src, dst, got, err, dst.Name)
			}
		}
	}
}

// ipTool is ip's path, in sbin too, where root's PATH may not reach.
func ipTool(t *testing.T) string { return testutil.NeedTool(t, "ip") }

// ourNamespaces returns the namespaces ip netns lists that this process
// made.
func ourNamespaces(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command(ipTool(t), "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	var ours []string
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, nsPrefix+strconv.Itoa(os.Getpid())+"-") {
			ours = append(ours, f)
		}
	}
	return ours
}

// openFDs returns what this process's descriptors refer to.
func openFDs(t *testing.T) map[string]bool {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	fds := make(map[string]bool)
	for _, e := range ents {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		fds[target] = true
	}
	return fds
}

// Not parallel (nor the tests below): they count this process's
// namespaces and descriptors, which parallel tests would change.
func TestCloseRemovesEverything(t *testing.T) {
	opts := Options{Hosts: 3, Rate: "1gbit", Delay: 5 * time.Millisecond}
	Need(t, opts)
	rootVeths := func() string {
		out, err := exec.Command(ipTool(t), "-o", "link", "show", "type", "veth").CombinedOutput()
		if err != nil {
			t.Fatalf("ip link: %v: %s", err, out)
		}
		return string(out)
	}
	before, vethsBefore := ourNamespaces(t), rootVeths()
	fds := openFDs(t) // after running ip: the runtime's poller has its descriptors
	n, err := Setup(opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(ourNamespaces(t)) != len(before)+4 {
		t.Fatalf("after Setup of 3 hosts, namespaces %v, want 4 more than %v", ourNamespaces(t), before)
	}
	connectTimes(t, n.Hosts[0], n.Hosts[2], 1) // traffic through the rate limits and delayers
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if after := ourNamespaces(t); len(after) != len(before) {
		t.Errorf("after Close, namespaces %v, want %v", after, before)
	}
	// Nothing was ever made in this namespace, and nothing is left there.
	if v := rootVeths(); v != vethsBefore {
		t.Errorf("veths in this namespace changed from\n%s\nto\n%s", vethsBefore, v)
	}
	// The delayers' sockets are closed: an open one would keep its
	// namespace, and the veth in it, alive without a name.
	for target := range openFDs(t) {
		if !fds[target] {
			t.Errorf("after Close, a descriptor to %s that was not open before Setup", target)
		}
	}
}

func TestDoLeavesNoThreadInHost(t *testing.T) {
	n := New(t, Options{Hosts: 2})
	own, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			h := n.Hosts[i%2]
			var in string
			if err := h.Do(func() (err error) {
				in, err = os.Readlink("/proc/thread-self/ns/net")
				return err
			}); err != nil {
				t.Error(err)
			}
			if in == own {
				t.Errorf("Do ran fn in this process's namespace, not in %s's", h)
			}
		})
	}
	wg.Wait()
	// Every thread is back home, the main thread included: the runtime
	// cannot end that one, and /proc/net shows its namespace.
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		ns, err := os.Readlink("/proc/self/task/" + task.Name() + "/ns/net")
		if err == nil && ns != own {
			t.Errorf("thread %s is in %s, not in this process's %s", task.Name(), ns, own)
		}
	}
}

func TestSetupFailureLeavesNothing(t *testing.T) {
	opts := Options{Hosts: 2, Rate: "fast", Delay: time.Millisecond}
	Need(t, opts)
	before := ourNamespaces(t)
	// tc refuses the rate after the namespaces, veths and bridge exist.
	n, err := Setup(opts)
	if err == nil {
		n.Close()
		t.Fatal("Setup with Rate \"fast\" succeeded")
	}
	if errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "tc") {
		t.Errorf("Setup's error %q does not blame tc", err)
	}
	if after := ourNamespaces(t); len(after) != len(before) {
		t.Errorf("after a failed Setup, namespaces %v, want %v", after, before)
	}
}

func TestSetupRemovesStaleNamespaces(t *testing.T) {
	opts := Options{Hosts: 2}
	Need(t, opts)
	// A pid that was just freed, and this pid with a start time that is
	// not its own (a reused pid): both creators are gone. This process's
	// real pid and start time is alive and must stay.
	child := exec.Command("true")
	if err := child.Run(); err != nil {
		t.Fatal(err)
	}
	start, err := procStart(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// And a zombie: exited, not yet reaped, its pid and start time still
	// in /proc.
	zombie := exec.Command("true")
	if err := zombie.Start(); err != nil {
		t.Fatal(err)
	}
	defer zombie.Wait()
	var (
		state  byte
		zstart string
	)
	if !testutil.Eventually(5*time.Second, func() bool {
		state, zstart, err = procStat(zombie.Process.Pid)
		return err != nil || state == 'Z'
	}) || err != nil {
		t.Fatalf("waiting for a zombie: state %c, %v", state, err)
	}
	dead := fmt.Sprintf("%s%d-1-1-sw", nsPrefix, child.Process.Pid)
	reused := fmt.Sprintf("%s%d-1-1-sw", nsPrefix, os.Getpid())
	undead := fmt.Sprintf("%s%d-%s-1-sw", nsPrefix, zombie.Process.Pid, zstart)
	alive := fmt.Sprintf("%s%d-%s-999999-sw", nsPrefix, os.Getpid(), start)
	// Plain files, not namespaces: ip netns add creates the file before it
	// mounts the namespace on it, and a Setup in another test process
	// (other packages' tests run at the same time) would remove a stale
	// name half-made and fail the add. ip netns del removes either.
	if err := os.MkdirAll(netnsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{dead, reused, undead, alive} {
		if err := os.WriteFile(netnsDir+"/"+ns, nil, 0o444); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(netnsDir + "/" + ns) })
	}
	New(t, opts)
	for ns, want := range map[string]bool{dead: false, reused: false, undead: false, alive: true} {
		_, err := os.Stat(netnsDir + "/" + ns)
		if exists := err == nil; exists != want {
			t.Errorf("%s exists: %v, want %v", ns, exists, want)
		}
	}
}

// The parsers below read the kernel's output; they need no root.

func TestParseMessages(t *testing.T) {
	packet := func(id uint32) []byte {
		ifindex := attr(5, binary.NativeEndian.AppendUint32(nil, 2)) // NFQA_IFINDEX_INDEV first
		hdr := attr(nfqaPacketHdr|unix.NLA_F_NET_BYTEORDER, binary.BigEndian.AppendUint32(nil, id))
		return nfqMessage(nfqnlMsgPacket, 0, 0, ifindex, hdr)
	}
	errMsg := make([]byte, unix.SizeofNlMsghdr+4)
	binary.NativeEndian.PutUint32(errMsg, uint32(len(errMsg)))
	binary.NativeEndian.PutUint16(errMsg[4:], unix.NLMSG_ERROR)
	errno := int32(unix.ENOENT)
	binary.NativeEndian.PutUint32(errMsg[unix.SizeofNlMsghdr:], uint32(-errno))
	buf := bytes.Join([][]byte{packet(7), packet(8), errMsg, packet(1 << 31)}, nil)

	for cut := 0; cut <= len(buf); cut++ {
		var ids []uint32
		err := parseMessages(buf[:cut], func(id uint32) { ids = append(ids, id) })
		// Whole messages are read, a truncated one is not.
		want := []uint32{7, 8, 1 << 31}
		wantErr := cut >= 2*len(packet(0))+len(errMsg)
		switch {
		case cut < len(packet(0)):
			want = nil
		case cut < 2*len(packet(0)):
			want = want[:1]
		case cut < len(buf):
			want = want[:2]
		}
		if fmt.Sprint(ids) != fmt.Sprint(want) || (err != nil) != wantErr {
			t.Fatalf("first %d bytes: ids %v, err %v; want %v, an error %v", cut, ids, err, want, wantErr)
		}
		if wantErr && !errors.Is(err, unix.ENOENT) {
			t.Fatalf("err %v, want ENOENT", err)
		}
	}
}

func TestParseRate(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"1gbit", 1e9, true}, {"100mbit", 1e8, true}, {"2.5Gbit", 25e8, true},
		{"500kbit", 5e5, true}, {"12500000bps", 1e8, true}, {"1000000", 1e6, true},
		{"fast", 0, false}, {"", 0, false}, {"-1gbit", 0, false}, {"1e20gbit", 0, false},
	} {
		got, ok := parseRate(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("parseRate(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
	if got := tbfBurst("1gbit"); got != "500000" {
		t.Errorf("tbfBurst(1gbit) = %s, want 4 ms of the rate, 500000", got)
	}
	if got := tbfBurst("100mbit"); got != strconv.Itoa(tbfMinBurst) {
		t.Errorf("tbfBurst(100mbit) = %s, want the floor %d", got, tbfMinBurst)
	}
}

func TestParseProcFiles(t *testing.T) {
	dev := "Inter-|   Receive                                                |  Transmit\n" +
		" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n" +
		"    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0\n" +
		"  eth0: 4200010    2939    0    0    0     0          0         0  5100020    1476    0    0    0     0       0          0\n"
	if rx, tx, err := parseNetDev([]byte(dev), "eth0"); rx != 4200010 || tx != 5100020 || err != nil {
		t.Errorf("parseNetDev = %d, %d, %v", rx, tx, err)
	}
	if _, _, err := parseNetDev([]byte(dev), "eth1"); err == nil {
		t.Error("parseNetDev found eth1")
	}
	q := "    0  12345     0 1  65531     3     4     1234  1\n"
	if d, u, err := parseQueueProc([]byte(q), 0); d != 3 || u != 4 || err != nil {
		t.Errorf("parseQueueProc = %d, %d, %v", d, u, err)
	}
	if _, _, err := parseQueueProc([]byte(q), 1); err == nil {
		t.Error("parseQueueProc found queue 1")
	}
}
