//go:build !linux

package netlink

import (
	"net"
	"os"
	"time"
)

var testHookSendfile func(n int)

// sendFile is not used on this platform: the data phase writes from the
// mapping, and Stats says so.
func sendFile(net.Conn, *os.File, int64, int64, time.Duration, func(int64), <-chan struct{}) (int64, bool, error) {
	return 0, false, nil
}

func canSendfile(net.Conn) bool { return false }
