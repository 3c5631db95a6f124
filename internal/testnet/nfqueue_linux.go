//go:build linux

package testnet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The nfnetlink_queue protocol, from linux/netfilter/nfnetlink_queue.h
// (x/sys/unix has the netlink framing but not these).
const (
	nfqnlMsgPacket       = 0 // kernel -> user: a queued packet
	nfqnlMsgConfig       = 2 // user -> kernel: bind and configure a queue
	nfqnlMsgVerdictBatch = 3 // user -> kernel: one verdict for every packet up to an id

	nfqaPacketHdr  = 1 // in a packet: struct nfqnl_msg_packet_hdr, packet id first
	nfqaVerdictHdr = 2 // in a verdict: struct nfqnl_msg_verdict_hdr

	nfqaCfgCmd         = 1 // struct nfqnl_msg_config_cmd
	nfqaCfgParams      = 2 // struct nfqnl_msg_config_params
	nfqaCfgQueueMaxlen = 3 // __be32
	nfqaCfgMask        = 4 // __be32: which flags NFQA_CFG_FLAGS sets
	nfqaCfgFlags       = 5 // __be32

	nfqnlCfgCmdBind = 1
	nfqnlCopyMeta   = 1 // send the packet's metadata, never its bytes

	nfqaCfgFFailOpen = 1 << 0
	nfqaCfgFGSO      = 1 << 2

	nfAccept = 1 // NF_ACCEPT

	sizeofNfgenmsg = 4      // struct nfgenmsg: family, version, __be16 res_id
	nlaTypeMask    = 0x3fff // an attribute's type without NLA_F_NESTED, NLA_F_NET_BYTEORDER
)

// nfqQueueNum is the queue every host's rule uses. Queues are per network
// namespace, so the hosts do not share it.
const nfqQueueNum = 0

// Sizes of a delayer's queue. Packets wait in the kernel and only their
// metadata comes to user space; a queued TCP packet's data is shared with
// the copy its sender keeps until it is acknowledged, so a long queue
// costs little memory of its own.
//   - nfqMaxLen, the kernel's queue, must hold every packet in flight
//     during Delay, or the kernel drops the excess (fail-open is off, see
//     startDelayer). At 1 Gbit/s and 100 ms that is 12.5 MB: 8,600
//     MTU-sized packets, far fewer GSO super-packets. Without a Rate TCP's
//     own buffers bound it: 32 MiB of receive window is 23,000 MSS-sized
//     packets a stream. 2^17 covers several such streams.
//   - nfqRcvBuf is the socket's receive buffer, where packet messages wait
//     for the reader goroutine. The reader drains it at once, so it only
//     has to absorb a stall of the reader (the scheduler, a GC pause):
//     32 MiB is tens of thousands of messages, tens of milliseconds at the
//     highest packet rates measured here. An overflow drops the packet,
//     and shows in DelayStats.
const (
	nfqMaxLen = 1 << 17
	nfqRcvBuf = 32 << 20
)

// DelayStats count a host's delayer's work, for checking that a
// measurement ran as intended (nothing dropped) and what it cost.
type DelayStats struct {
	// Packets is the number of packets the delayer held and released.
	// GSO super-packets count once.
	Packets uint64
	// Verdicts is the number of verdict messages sent: each releases every
	// packet that is due, so Packets/Verdicts is the batching.
	Verdicts uint64
	// QueueDropped is the kernel's count of packets dropped because the
	// queue was full (queue_dropped).
	QueueDropped uint64
	// UserDropped is the kernel's count of packets dropped because the
	// delayer's socket buffer was full (queue_user_dropped).
	UserDropped uint64
	// Err is the first error the delayer met. A failed read or write
	// stops it, and the host's incoming traffic with it; a verdict the
	// kernel refused does not (a later verdict covers its packets).
	Err error
}

// DelayStats returns the counters of the host's delayer; without a Delay
// they are all zero.
func (h *Host) DelayStats() (DelayStats, error) {
	d := h.delay
	if d == nil {
		return DelayStats{}, nil
	}
	s := DelayStats{Packets: d.packets.Load(), Verdicts: d.verdicts.Load()}
	if e := d.err.Load(); e != nil {
		s.Err = *e
	}
	err := h.Do(func() error {
		b, err := os.ReadFile("/proc/thread-self/net/netfilter/nfnetlink_queue")
		if err != nil {
			return err
		}
		s.QueueDropped, s.UserDropped, err = parseQueueProc(b, nfqQueueNum)
		return err
	})
	return s, err
}

// parseQueueProc reads a queue's drop counters from
// /proc/net/netfilter/nfnetlink_queue, one line a queue: number, peer
// portid, queued, copy mode, copy range, queue_dropped, queue_user_dropped,
// id sequence, 1.
func parseQueueProc(b []byte, queue int) (dropped, userDropped uint64, err error) {
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 7 || f[0] != strconv.Itoa(queue) {
			continue
		}
		d, err1 := strconv.ParseUint(f[5], 10, 64)
		u, err2 := strconv.ParseUint(f[6], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return 0, 0, fmt.Errorf("testnet: nfnetlink_queue line %q: %w", line, err)
		}
		return d, u, nil
	}
	return 0, 0, fmt.Errorf("testnet: queue %d not bound", queue)
}

// A delayer holds every packet of one host's queue for a fixed delay and
// then accepts it. Packets are released in the order they came, which,
// the delay being the same for all, is also the order they fall due.
//
// A reader goroutine stamps each packet's due time as its message arrives
// and appends it to a FIFO; a releaser goroutine sleeps until the oldest
// is due, then releases every due packet with one batch verdict (the
// kernel accepts all queued packets up to an id). A timer wakes the
// releaser up to a millisecond late, so packets are held at least the
// delay, and packets that fell due together share a verdict.
type delayer struct {
	f     *os.File // the netlink socket, non-blocking, in the runtime's poller
	delay time.Duration
	t0    time.Time // due times are offsets from t0, to keep pending small

	mu      sync.Mutex
	pending []pending // FIFO, oldest first
	wake    chan struct{}
	done    chan struct{}
	wg      sync.WaitGroup

	packets  atomic.Uint64
	verdicts atomic.Uint64
	err      atomic.Pointer[error]
}

type pending struct {
	id  uint32
	due time.Duration
}

// startDelayer opens and binds the queue of namespace ns and starts the
// goroutines that serve it.
func startDelayer(ns string, delay time.Duration) (*delayer, error) {
	var fd int
	err := doIn(ns, func() error {
		// The socket's namespace is the creating thread's, for good:
		// the goroutines below serve it from any thread.
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_NETFILTER)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("testnet: netfilter socket in %s: %w", ns, err)
	}
	setup := func() error {
		if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return err
		}
		// FORCE: the buffer is larger than net.core.rmem_max allows.
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, nfqRcvBuf); err != nil {
			return err
		}
		// An overflow is counted by the kernel (UserDropped); an ENOBUFS
		// from recv would tell the reader nothing more.
		return unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_NO_ENOBUFS, 1)
	}
	if err := setup(); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("testnet: netfilter socket in %s: %w", ns, err)
	}
	// A non-blocking descriptor joins the runtime's poller, so Close
	// interrupts a blocked Read and deadlines work.
	d := &delayer{
		f:     os.NewFile(uintptr(fd), "nfqueue "+ns),
		delay: delay,
		t0:    time.Now(),
		wake:  make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
	var cmd [4]byte // struct nfqnl_msg_config_cmd: command, pad, __be16 pf
	cmd[0] = nfqnlCfgCmdBind
	binary.BigEndian.PutUint16(cmd[2:], unix.AF_INET)
	var params [5]byte // struct nfqnl_msg_config_params: __be32 copy_range, copy_mode (packed)
	params[4] = nfqnlCopyMeta
	// Fail-open off: a packet that finds the queue full is dropped rather
	// than let through undelayed, ahead of its elders. Either would upset
	// TCP, but a drop is counted (QueueDropped) and is what a full link
	// does; a packet overtaking others silently would make measurements lie.
	// GSO on: the kernel queues a GSO super-packet whole instead of
	// segmenting it first. For a 1gbit stream with 25 ms of delay the
	// receiving host's delayer then handled 1,750 packets a second instead
	// of 74,000, and the delayers took a third of a core instead of 55-60%.
	// The delayer never reads the packets' bytes, so their unfinished
	// checksums do not matter.
	for _, m := range [][]byte{
		nfqMessage(nfqnlMsgConfig, unix.NLM_F_ACK, 1, attr(nfqaCfgCmd, cmd[:])),
		nfqMessage(nfqnlMsgConfig, unix.NLM_F_ACK, 2,
			attr(nfqaCfgParams, params[:]),
			attr(nfqaCfgQueueMaxlen, be32(nfqMaxLen)),
			attr(nfqaCfgMask, be32(nfqaCfgFFailOpen|nfqaCfgFGSO)),
			attr(nfqaCfgFlags, be32(nfqaCfgFGSO))),
	} {
		if err := d.request(m); err != nil {
			d.f.Close()
			return nil, fmt.Errorf("testnet: configure queue %d in %s: %w", nfqQueueNum, ns, err)
		}
	}
	d.wg.Add(2)
	go d.read()
	go d.release()
	return d, nil
}

// request sends a message asking for an acknowledgment and waits for it.
func (d *delayer) request(m []byte) error {
	seq := binary.NativeEndian.Uint32(m[8:])
	if _, err := d.f.Write(m); err != nil {
		return err
	}
	if err := d.f.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	defer d.f.SetReadDeadline(time.Time{})
	buf := make([]byte, 4096)
	for {
		n, err := d.f.Read(buf)
		if err != nil {
			return err
		}
		for b := buf[:n]; len(b) >= unix.SizeofNlMsghdr; {
			l := int(binary.NativeEndian.Uint32(b))
			if l < unix.SizeofNlMsghdr || l > len(b) {
				break
			}
			typ := binary.NativeEndian.Uint16(b[4:])
			if typ == unix.NLMSG_ERROR && binary.NativeEndian.Uint32(b[8:]) == seq && l >= unix.SizeofNlMsghdr+4 {
				if errno := int32(binary.NativeEndian.Uint32(b[unix.SizeofNlMsghdr:])); errno != 0 {
					return unix.Errno(-errno)
				}
				return nil
			}
			b = b[min(nlAlign(l), len(b)):]
		}
	}
}

// read receives queued-packet messages and appends each packet to the
// FIFO, due delay after its arrival.
func (d *delayer) read() {
	defer d.wg.Done()
	buf := make([]byte, 16<<10) // a metadata-only message is ~100 bytes
	for {
		n, err := d.f.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				d.fail(fmt.Errorf("testnet: delayer read: %w", err))
			}
			return
		}
		due := time.Since(d.t0) + d.delay
		d.mu.Lock()
		wasEmpty := len(d.pending) == 0
		verdictErr := parseMessages(buf[:n], func(id uint32) {
			d.pending = append(d.pending, pending{id: id, due: due})
		})
		added := len(d.pending) > 0
		d.mu.Unlock()
		if verdictErr != nil {
			// A verdict the kernel refused: its packets stay queued
			// until a later batch covers them, so note it and go on.
			d.fail(fmt.Errorf("testnet: kernel refused a verdict: %w", verdictErr))
		}
		if wasEmpty && added {
			select {
			case d.wake <- struct{}{}:
			default:
			}
		}
	}
}

// release accepts packets as they fall due.
func (d *delayer) release() {
	defer d.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	verdict := nfqMessage(nfqnlMsgVerdictBatch, 0, 0, attr(nfqaVerdictHdr, make([]byte, 8)))
	hdr := verdict[len(verdict)-8:] // struct nfqnl_msg_verdict_hdr: __be32 verdict, __be32 id
	binary.BigEndian.PutUint32(hdr, nfAccept)
	for {
		d.mu.Lock()
		if len(d.pending) == 0 {
			d.mu.Unlock()
			select {
			case <-d.wake:
				continue
			case <-d.done:
				return
			}
		}
		now := time.Since(d.t0)
		if wait := d.pending[0].due - now; wait > 0 {
			d.mu.Unlock()
			timer.Reset(wait)
			select {
			case <-timer.C:
				continue
			case <-d.done:
				return
			}
		}
		k := 1
		for k < len(d.pending) && d.pending[k].due <= now {
			k++
		}
		last := d.pending[k-1].id
		// Slicing off the front and appending at the back reuses the
		// array's tail and copies only live entries when it grows, so
		// the FIFO stays as large as the packets in flight.
		d.pending = d.pending[k:]
		d.mu.Unlock()
		binary.BigEndian.PutUint32(hdr[4:], last)
		if _, err := d.f.Write(verdict); err != nil {
			if !errors.Is(err, os.ErrClosed) {
				d.fail(fmt.Errorf("testnet: delayer verdict: %w", err))
			}
			return
		}
		d.packets.Add(uint64(k))
		d.verdicts.Add(1)
	}
}

// fail records the first error that stopped or troubled the delayer.
func (d *delayer) fail(err error) { d.err.CompareAndSwap(nil, &err) }

// close stops the goroutines and closes the socket, which unbinds the
// queue; the kernel drops the packets still in it.
func (d *delayer) close() error {
	close(d.done)
	err := d.f.Close()
	d.wg.Wait()
	if e := d.err.Load(); e != nil {
		return *e
	}
	return err
}

// parseMessages calls fn with the id of every queued-packet message in b,
// a buffer of netlink messages, and returns the error of the first error
// message (the kernel's answer to a refused verdict). It stops at the
// first malformed header.
func parseMessages(b []byte, fn func(id uint32)) error {
	var first error
	for len(b) >= unix.SizeofNlMsghdr {
		l := int(binary.NativeEndian.Uint32(b))
		if l < unix.SizeofNlMsghdr || l > len(b) {
			break
		}
		body := b[unix.SizeofNlMsghdr:l]
		switch binary.NativeEndian.Uint16(b[4:]) {
		case unix.NFNL_SUBSYS_QUEUE<<8 | nfqnlMsgPacket:
			if id, ok := packetID(body); ok {
				fn(id)
			}
		case unix.NLMSG_ERROR:
			if len(body) >= 4 && first == nil {
				if errno := int32(binary.NativeEndian.Uint32(body)); errno != 0 {
					first = unix.Errno(-errno)
				}
			}
		}
		b = b[min(nlAlign(l), len(b)):]
	}
	return first
}

// packetID finds NFQA_PACKET_HDR after the nfgenmsg of a packet message
// and returns its id.
func packetID(body []byte) (uint32, bool) {
	if len(body) < sizeofNfgenmsg {
		return 0, false
	}
	for a := body[sizeofNfgenmsg:]; len(a) >= unix.SizeofNlAttr; {
		l := int(binary.NativeEndian.Uint16(a))
		if l < unix.SizeofNlAttr || l > len(a) {
			return 0, false
		}
		if binary.NativeEndian.Uint16(a[2:])&nlaTypeMask == nfqaPacketHdr && l >= unix.SizeofNlAttr+4 {
			return binary.BigEndian.Uint32(a[unix.SizeofNlAttr:]), true
		}
		a = a[min(nlAlign(l), len(a)):]
	}
	return 0, false
}

// nfqMessage builds a request of the queue subsystem for nfqQueueNum: a
// netlink header (host byte order), a nfgenmsg (its queue number in network
// order) and attributes.
func nfqMessage(typ uint8, flags uint16, seq uint32, attrs ...[]byte) []byte {
	m := make([]byte, unix.SizeofNlMsghdr+sizeofNfgenmsg, 64)
	for _, a := range attrs {
		m = append(m, a...)
	}
	binary.NativeEndian.PutUint32(m[0:], uint32(len(m)))
	binary.NativeEndian.PutUint16(m[4:], unix.NFNL_SUBSYS_QUEUE<<8|uint16(typ))
	binary.NativeEndian.PutUint16(m[6:], unix.NLM_F_REQUEST|flags)
	binary.NativeEndian.PutUint32(m[8:], seq)
	m[16] = unix.AF_UNSPEC
	m[17] = unix.NFNETLINK_V0
	binary.BigEndian.PutUint16(m[18:], nfqQueueNum)
	return m
}

// attr encodes a netlink attribute, padded to 4 bytes.
func attr(typ uint16, payload []byte) []byte {
	l := unix.SizeofNlAttr + len(payload)
	a := make([]byte, nlAlign(l))
	binary.NativeEndian.PutUint16(a[0:], uint16(l))
	binary.NativeEndian.PutUint16(a[2:], typ)
	copy(a[unix.SizeofNlAttr:], payload)
	return a
}

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func nlAlign(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }
