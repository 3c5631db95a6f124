package main

import (
	"context"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// What limits a TCP transfer is read from the kernel rather than guessed:
// at the end of its window every Go child records each of its TCP
// connections' TCP_INFO and socket buffers (getsockopt, so what the kernel
// really gives: SO_SNDBUF is capped at net.core.wmem_max and doubled). The
// busy time and the parts of it the sender spent limited by the receiver's
// window or its own send buffer are the kernel's chrono counters
// (tcp_chrono_*, Linux 4.10): the rest of the busy time is the congestion
// window or the pacing rate, that is the network.
//
// netlink opens and closes its connections itself. A server's connections
// are seen through the listener (trackingListener keeps a duplicate of each
// descriptor, so a connection the server already closed can still be read);
// a client's through /proc/self/fd, which only shows the connections still
// open when Push or Pull returns: the main one, not the extra streams.

// TCPStats is one TCP connection at the end of a window.
type TCPStats struct {
	Local string `json:"local"`
	Peer  string `json:"peer"`
	// SndBuf and RcvBuf are SO_SNDBUF and SO_RCVBUF as getsockopt returns
	// them: autotuned unless the program set them, then locked.
	SndBuf int `json:"so_sndbuf"`
	RcvBuf int `json:"so_rcvbuf"`
	// BytesSent is data this end sent, retransmissions left out (the
	// peer may not have acknowledged all of it yet: an ACK can still be in
	// a delay line); BytesAcked what the peer acknowledged; BytesReceived
	// data it received.
	BytesSent     int64 `json:"bytes_sent"`
	BytesAcked    int64 `json:"bytes_acked"`
	BytesReceived int64 `json:"bytes_received"`
	// RTT and MinRTT are the smoothed and the least round trip seen, in
	// microseconds.
	RTT    uint32 `json:"rtt_us"`
	MinRTT uint32 `json:"min_rtt_us"`
	// Retrans counts segments sent again.
	Retrans uint32 `json:"total_retrans"`
	// Busy is the time, in microseconds, this end had data to send;
	// RwndLimited and SndbufLimited the parts of it it could not send for
	// the peer's receive window or its own send buffer.
	Busy          uint64 `json:"busy_us"`
	RwndLimited   uint64 `json:"rwnd_limited_us"`
	SndbufLimited uint64 `json:"sndbuf_limited_us"`
	// SndCwnd is the congestion window in segments, SndMSS a segment's
	// size, SndWnd the peer's last advertised window in bytes.
	SndCwnd uint32 `json:"snd_cwnd"`
	SndMSS  uint32 `json:"snd_mss"`
	SndWnd  uint32 `json:"snd_wnd"`
}

// data is the bytes the connection carried in its main direction: sent or
// received.
func (s *TCPStats) data() int64 { return max(s.BytesSent, s.BytesReceived) }

// tcpStatsOf reads one connected TCP socket; ok is false for anything else
// (a listener, a pipe, a Unix socket).
func tcpStatsOf(fd int) (TCPStats, bool) {
	if t, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || t != unix.SOCK_STREAM {
		return TCPStats{}, false
	}
	if d, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN); err != nil || (d != unix.AF_INET && d != unix.AF_INET6) {
		return TCPStats{}, false
	}
	peer, err := unix.Getpeername(fd)
	if err != nil {
		return TCPStats{}, false
	}
	local, _ := unix.Getsockname(fd)
	ti, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		return TCPStats{}, false
	}
	s := TCPStats{
		Local: sockaddrString(local), Peer: sockaddrString(peer),
		BytesSent:  int64(ti.Bytes_sent - ti.Bytes_retrans),
		BytesAcked: int64(ti.Bytes_acked), BytesReceived: int64(ti.Bytes_received),
		RTT: ti.Rtt, MinRTT: ti.Min_rtt, Retrans: ti.Total_retrans,
		Busy: ti.Busy_time, RwndLimited: ti.Rwnd_limited, SndbufLimited: ti.Sndbuf_limited,
		SndCwnd: ti.Snd_cwnd, SndMSS: ti.Snd_mss, SndWnd: ti.Snd_wnd,
	}
	s.SndBuf, _ = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF)
	s.RcvBuf, _ = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	return s, true
}

func sockaddrString(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	case *unix.SockaddrInet6:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	}
	return ""
}

// tcpConns returns every connected TCP socket this process holds, found
// through /proc/self/fd, in descriptor order.
func tcpConns() []TCPStats {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil
	}
	var fds []int
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if link, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(link, "socket:") {
			fds = append(fds, fd)
		}
	}
	slices.Sort(fds)
	var out []TCPStats
	seen := map[[2]string]bool{} // a socket and its duplicate are one connection
	for _, fd := range fds {
		if s, ok := tcpStatsOf(fd); ok && !seen[[2]string{s.Local, s.Peer}] {
			seen[[2]string{s.Local, s.Peer}] = true
			out = append(out, s)
		}
	}
	return out
}

// recordTCP puts the process's TCP connections into its report.
func (c *child) recordTCP() { c.rep.Conns = tcpConns() }

// trackingListener hands out accepted connections unchanged (netlink must
// still see a *net.TCPConn to use sendfile) and keeps a duplicate of each
// one's descriptor: the socket then stays readable, by tcpConns, after the
// server has closed its own descriptor. Closing the listener closes the
// duplicates. (While a duplicate is open, the server's close sends no FIN;
// no case waits for one.)
type trackingListener struct {
	net.Listener
	mu  sync.Mutex
	fds []int
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	if sc, ok := c.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			rc.Control(func(fd uintptr) {
				if d, err := unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0); err == nil {
					l.mu.Lock()
					l.fds = append(l.fds, d)
					l.mu.Unlock()
				}
			})
		}
	}
	return c, nil
}

func (l *trackingListener) Close() error {
	err := l.Listener.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, fd := range l.fds {
		unix.Close(fd)
	}
	l.fds = nil
	return err
}

// listenTCP listens on the run's host (listen without tracking). With
// sndbuf > 0 it sets SO_SNDBUF on the listening socket, which the
// connections it accepts inherit: the server side of a socket-buffer case,
// since netlink.Config has no such setting.
func listenTCP(c *child, sndbuf int) (*trackingListener, error) {
	lc := net.ListenConfig{}
	var serr error
	if sndbuf > 0 {
		lc.Control = func(_, _ string, rc syscall.RawConn) error {
			if err := rc.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, sndbuf)
			}); err != nil {
				return err
			}
			return serr
		}
	}
	l, err := lc.Listen(context.Background(), "tcp4", net.JoinHostPort(c.listenHost(), "0"))
	if err != nil {
		return nil, err
	}
	return &trackingListener{Listener: l}, nil
}
