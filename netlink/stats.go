package netlink

import (
	"fmt"
	"time"
)

// Stats describes one transfer's data phase.
type Stats struct {
	Bytes    int64         // data bytes moved in this transfer
	Resumed  int64         // bytes the receiver already held, not sent again
	Duration time.Duration // data phase, from first to last byte
	ZeroCopy bool          // the sender used sendfile: no copy in user space
	Method   string        // the sender's method ("sendfile", "write") and the receiver's ("mmap", "splice", ...)
}

// String is the one-line summary the CLI prints.
func (s Stats) String() string {
	sec := s.Duration.Seconds()
	rate := 0.0
	if sec > 0 {
		rate = float64(s.Bytes) / sec / 1e9
	}
	zc := "no: copied through user space"
	if s.ZeroCopy {
		zc = "yes"
	}
	out := fmt.Sprintf("%d bytes in %.3f s, %.2f GB/s, zero-copy: %s (%s)", s.Bytes, sec, rate, zc, s.Method)
	if s.Resumed > 0 {
		out += fmt.Sprintf(", resumed after %d bytes", s.Resumed)
	}
	return out
}
