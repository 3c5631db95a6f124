package netlink

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/arrayx/arrayx/internal/mpscan"
	"github.com/vmihailenco/msgpack/v5"
)

// Magic opens every connection, from each side: "\x89ARXNET\n".
var Magic = [8]byte{0x89, 'A', 'R', 'X', 'N', 'E', 'T', '\n'}

// Version is the protocol version carried in every frame prefix.
const Version = 1

// frameSize is the fixed prefix of every message: version (1 byte), kind
// (1), flags (2), body length (4), little-endian.
const frameSize = 8

// DefaultMaxMessageBytes bounds a message body unless configured: enough for
// a PUT carrying a header at the default 1 MiB header limit.
const DefaultMaxMessageBytes = 1<<20 + 64<<10

// maxBodyDepth bounds msgpack nesting in message bodies.
const maxBodyDepth = 8

// Message kinds.
const (
	kindHello  = 1 // both ways: version, nonce (server, when a token is set)
	kindAuth   = 2 // client: mac
	kindReply  = 3 // server: status, message, and per-request fields
	kindPut    = 10
	kindGet    = 11
	kindFrom   = 12 // client, in a GET: offset to send from, or cancel
	kindStat   = 13
	kindList   = 14
	kindDelete = 15
)

var kindNames = map[byte]string{
	kindHello: "HELLO", kindAuth: "AUTH", kindReply: "REPLY", kindPut: "PUT", kindGet: "GET",
	kindFrom: "FROM", kindStat: "STAT", kindList: "LIST", kindDelete: "DELETE",
}

// body is the union of message fields; docs/PROTOCOL.md says which kind
// uses which. Unknown keys are ignored.
type body struct {
	Version  int     `msgpack:"version,omitempty"`
	Software string  `msgpack:"software,omitempty"`
	Nonce    []byte  `msgpack:"nonce,omitempty"`
	MAC      []byte  `msgpack:"mac,omitempty"`
	Name     string  `msgpack:"name,omitempty"`
	Header   []byte  `msgpack:"header,omitempty"`
	Offset   int64   `msgpack:"offset,omitempty"`
	Cancel   bool    `msgpack:"cancel,omitempty"`
	Status   int     `msgpack:"status,omitempty"`
	Message  string  `msgpack:"message,omitempty"`
	Bytes    int64   `msgpack:"bytes,omitempty"`
	Method   string  `msgpack:"method,omitempty"`
	Arrays   []Entry `msgpack:"arrays,omitempty"`
}

// Entry describes one array in a LIST reply.
type Entry struct {
	Name   string  `msgpack:"name" json:"name"`
	DType  string  `msgpack:"dtype" json:"dtype"`
	Shape  []int64 `msgpack:"shape" json:"shape"`
	Order  string  `msgpack:"order" json:"order"`
	NBytes int64   `msgpack:"nbytes" json:"nbytes"`
}

// writeMsg writes one frame. The connection is written directly, never
// through a buffer, so a data phase can follow on the same connection.
func writeMsg(w io.Writer, kind byte, b *body) error {
	payload, err := msgpack.Marshal(b)
	if err != nil {
		return fmt.Errorf("netlink: encoding %s: %w", kindNames[kind], err)
	}
	msg := make([]byte, frameSize, frameSize+len(payload))
	msg[0], msg[1] = Version, kind
	binary.LittleEndian.PutUint32(msg[4:], uint32(len(payload)))
	_, err = w.Write(append(msg, payload...))
	return err
}

// readMsg reads one frame with io.ReadFull (no buffering, so array bytes
// after it stay in the socket), checking version, flags and the body length
// against limit before allocating, and the body's msgpack before decoding.
func readMsg(r io.Reader, limit int) (byte, *body, error) {
	var pre [frameSize]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		if err == io.ErrUnexpectedEOF { // io.EOF (nothing at all) is a clean end
			err = fmt.Errorf("%w: message prefix cut short: %w", ErrProtocol, err)
		}
		return 0, nil, err
	}
	kind, n := pre[1], binary.LittleEndian.Uint32(pre[4:])
	if pre[0] != Version {
		return 0, nil, fmt.Errorf("%w: frame version %d, want %d", ErrProtocol, pre[0], Version)
	}
	if kindNames[kind] == "" {
		return 0, nil, fmt.Errorf("%w: unknown message kind %d", ErrProtocol, kind)
	}
	if flags := binary.LittleEndian.Uint16(pre[2:]); flags != 0 {
		return 0, nil, fmt.Errorf("%w: %s with unknown flags %#04x", ErrProtocol, kindNames[kind], flags)
	}
	if int64(n) > int64(limit) {
		return 0, nil, fmt.Errorf("%w: %s body of %d bytes, limit %d", ErrMessageTooLarge, kindNames[kind], n, limit)
	}
	raw := make([]byte, n)
	if _, err := io.ReadFull(r, raw); err != nil {
		return 0, nil, fmt.Errorf("%w: %s body: %w", ErrProtocol, kindNames[kind], noEOF(err))
	}
	if end, err := mpscan.Scan(raw, maxBodyDepth); err != nil || end != len(raw) {
		return 0, nil, fmt.Errorf("%w: %s body is not one msgpack value: %v", ErrProtocol, kindNames[kind], err)
	}
	var b body
	if err := msgpack.Unmarshal(raw, &b); err != nil {
		return 0, nil, fmt.Errorf("%w: %s body: %w", ErrProtocol, kindNames[kind], err)
	}
	return kind, &b, nil
}

// expect reads a message and checks its kind.
func expect(r io.Reader, limit int, want byte) (*body, error) {
	kind, b, err := readMsg(r, limit)
	if err != nil {
		return nil, err
	}
	if kind != want {
		return nil, fmt.Errorf("%w: got %s, want %s", ErrProtocol, kindNames[kind], kindNames[want])
	}
	return b, nil
}

// readMagic reads and checks the connection magic.
func readMagic(r io.Reader) error {
	var m [len(Magic)]byte
	if _, err := io.ReadFull(r, m[:]); err != nil {
		return err
	}
	if m != Magic {
		return fmt.Errorf("%w: not an arrayx peer (first bytes % x)", ErrProtocol, m)
	}
	return nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// replyErr turns a non-OK REPLY into a *RemoteError.
func replyErr(b *body) error {
	if b.Status == StatusOK {
		return nil
	}
	return &RemoteError{Status: b.Status, Message: b.Message}
}
