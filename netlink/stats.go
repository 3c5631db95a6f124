package netlink

import (
	"fmt"
	"time"
)

// Stats describes one transfer's data phase.
type Stats struct {
	Bytes     int64         // data bytes that crossed the network in this transfer
	Resumed   int64         // bytes the receiver held from an interrupted transfer, not sent again
	Seeded    int64         // bytes the receiver copied from its previous version of the array instead
	Refetched int           // blocks sent again because they arrived corrupt
	Duration  time.Duration // data phase, from first to last byte
	ZeroCopy  bool          // the sender used sendfile for every byte: no copy in user space
	Method    string        // the sender's method ("sendfile", "write") and the receiver's ("pwrite")
	Streams   int           // connections that carried the transfer
	Version   int           // the protocol version spoken
	TLS       bool          // encrypted by TLS in user space: every byte copied once through the cipher
}

// String is the one-line summary the CLI prints.
func (s Stats) String() string {
	sec := s.Duration.Seconds()
	rate := 0.0
	if sec > 0 {
		rate = float64(s.Bytes) / sec / 1e9
	}
	zc := "no: copied through user space ("
	switch {
	case s.TLS:
		zc = "no (tls, "
	case s.ZeroCopy:
		zc = "yes ("
	}
	out := fmt.Sprintf("%d bytes in %.3f s, %.2f GB/s, zero-copy: %s%s)", s.Bytes, sec, rate, zc, s.Method)
	if s.Streams > 1 {
		out += fmt.Sprintf(", %d streams", s.Streams)
	}
	if s.Resumed > 0 {
		out += fmt.Sprintf(", resumed after %d bytes", s.Resumed)
	}
	if s.Seeded > 0 {
		out += fmt.Sprintf(", %d bytes unchanged from the previous version", s.Seeded)
	}
	if s.Refetched > 0 {
		out += fmt.Sprintf(", %d blocks sent again after a bad checksum", s.Refetched)
	}
	return out
}
