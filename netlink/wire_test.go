package netlink

import (
	"fmt"
	"io"
)

// body is the union of every message's keys, for tests that speak the
// protocol by hand (the code has one type per kind).
type body struct {
	Version   int       `msgpack:"version,omitempty"`
	Versions  []int     `msgpack:"versions,omitempty"`
	Features  []string  `msgpack:"features,omitempty"`
	Software  string    `msgpack:"software,omitempty"`
	Nonce     []byte    `msgpack:"nonce,omitempty"`
	MAC       []byte    `msgpack:"mac,omitempty"`
	Name      string    `msgpack:"name,omitempty"`
	Header    []byte    `msgpack:"header,omitempty"`
	Transfer  []byte    `msgpack:"transfer,omitempty"`
	Offset    int64     `msgpack:"offset,omitempty"`
	Length    int64     `msgpack:"length,omitempty"`
	Cancel    bool      `msgpack:"cancel,omitempty"`
	Status    int       `msgpack:"status,omitempty"`
	Code      string    `msgpack:"code,omitempty"`
	Message   string    `msgpack:"message,omitempty"`
	Held      int64     `msgpack:"held,omitempty"`
	Seeded    int64     `msgpack:"seeded,omitempty"`
	Bytes     int64     `msgpack:"bytes,omitempty"`
	Refetched int       `msgpack:"refetched,omitempty"`
	Method    string    `msgpack:"method,omitempty"`
	Arrays    []Entry   `msgpack:"arrays,omitempty"`
	Next      string    `msgpack:"next,omitempty"`
	Prefix    string    `msgpack:"prefix,omitempty"`
	After     string    `msgpack:"after,omitempty"`
	Limit     int       `msgpack:"limit,omitempty"`
	Ranges    [][]int64 `msgpack:"ranges,omitempty"`
	Eager     int64     `msgpack:"eager,omitempty"`
}

// readMsg reads one frame of any version and decodes it leniently into the
// union body.
func readMsg(r io.Reader, limit int) (byte, *body, error) {
	f, err := readFrame(r, func(byte) int { return limit })
	if err != nil {
		return 0, nil, err
	}
	var b body
	if err := f.decode(&b, false); err != nil {
		return f.kind, nil, err
	}
	return f.kind, &b, nil
}

// expect reads a message and checks its kind.
func expect(r io.Reader, limit int, want byte) (*body, error) {
	kind, b, err := readMsg(r, limit)
	if err != nil {
		return nil, err
	}
	if kind != want {
		return nil, fmt.Errorf("%w: got %s, want %s", ErrProtocol, kindName(kind), kindName(want))
	}
	return b, nil
}
