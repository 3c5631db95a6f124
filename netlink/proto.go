package netlink

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/arrayx/arrayx/internal/mpscan"
	"github.com/vmihailenco/msgpack/v5"
)

// Magic opens every connection, from each side: "\x89ARXNET\n".
var Magic = [8]byte{0x89, 'A', 'R', 'X', 'N', 'E', 'T', '\n'}

// Protocol versions. Version 1 is one stream sending the contiguous tail of
// one array; version 2 makes the block the unit of transfer (NEED and DATA),
// lets several connections join one transfer, and pages LIST. Both are
// spoken: the two sides agree on the highest they share in HELLO.
const (
	Version1 = 1
	Version2 = 2
	// Version is the newest version this package speaks.
	Version = Version2
)

// versions lists every version this package speaks, oldest first.
var versions = []int{Version1, Version2}

// Features a version-2 peer may offer in HELLO; the two sides use those both
// offer. A request that relies on a feature the peer did not agree to is
// answered "unsupported".
const (
	// FeatureJoin: a PUT or GET may join a transfer already under way on
	// another connection (its transfer id), so several streams carry one
	// array. A server with Config.MaxStreams 1 does not offer it.
	FeatureJoin = "join"
	// FeatureRelay: a PUT may carry a chain of further hosts; the server
	// forwards every block to the next one as soon as it has verified it,
	// and reports each host in its final REPLY. Offered only by a server
	// with a token (it relays for authenticated clients alone) and relaying
	// enabled.
	FeatureRelay = "relay"
	// FeatureEager: a PUT may carry its array's data right after it
	// (eager), without waiting for the server's NEEDs, and need not wait
	// for its reply before the next request: a sync of many small arrays
	// then costs about one round trip, not one or two per array.
	FeatureEager = "eager"
)

// MaxEagerBytes caps an eager PUT's data: a server reads and discards what
// it refuses, so the cost of a refusal stays small.
const MaxEagerBytes = 16 << 20

// frameSize is the fixed prefix of every message: version (1 byte), kind
// (1), flags (2), body length (4), little-endian.
const frameSize = 8

// maxBodyDepth bounds msgpack nesting in message bodies.
const maxBodyDepth = 8

// Message kinds.
const (
	kindHello  = 1 // both ways: versions, features, nonce (server, when a token is set)
	kindAuth   = 2 // client: mac
	kindReply  = 3 // server: status, code, message, and per-request fields
	kindPut    = 10
	kindGet    = 11
	kindFrom   = 12 // version 1, client, in a GET: offset to send from, or cancel
	kindStat   = 13
	kindList   = 14
	kindDelete = 15
	kindNeed   = 16 // version 2, the receiver: the blocks to send next on this connection
	kindData   = 17 // version 2, the sender: a run of blocks, its raw bytes after the frame
)

var kindNames = map[byte]string{
	kindHello: "HELLO", kindAuth: "AUTH", kindReply: "REPLY", kindPut: "PUT", kindGet: "GET",
	kindFrom: "FROM", kindStat: "STAT", kindList: "LIST", kindDelete: "DELETE",
	kindNeed: "NEED", kindData: "DATA",
}

// kindIn says which kinds exist in a version.
func kindIn(kind byte, version int) bool {
	switch kind {
	case kindHello, kindAuth, kindReply, kindPut, kindGet, kindStat, kindList, kindDelete:
		return true
	case kindFrom:
		return version == Version1
	case kindNeed, kindData:
		return version >= Version2
	}
	return false
}

func kindName(kind byte) string {
	if n, ok := kindNames[kind]; ok {
		return n
	}
	return fmt.Sprintf("kind %d", kind)
}

// Message bodies: one msgpack map each, with the keys below. Version 1
// ignores keys it does not know; version 2 refuses them ("unsupported"), so
// a field a newer peer relies on is never dropped silently. Absent keys mean
// zero, empty or false.

// helloBody opens the connection from each side. Version stays 1 in the
// client's HELLO, because version-1 servers refuse any other value; Versions
// lists what the sender speaks (absent: version 1 only). In the server's
// HELLO, Version is the version agreed on and Features the features both
// offered.
type helloBody struct {
	Version  int      `msgpack:"version,omitempty"`
	Versions []int    `msgpack:"versions,omitempty"`
	Features []string `msgpack:"features,omitempty"`
	Software string   `msgpack:"software,omitempty"`
	Nonce    []byte   `msgpack:"nonce,omitempty"`
}

type authBody struct {
	MAC []byte `msgpack:"mac,omitempty"`
}

// replyBody answers a request. Code names the error's class in version 2
// (the status alone is ambiguous: 400 covers a bad name and a bad header).
type replyBody struct {
	Status    int         `msgpack:"status,omitempty"`
	Code      string      `msgpack:"code,omitempty"`
	Message   string      `msgpack:"message,omitempty"`
	Header    []byte      `msgpack:"header,omitempty"`
	Transfer  []byte      `msgpack:"transfer,omitempty"`
	Offset    int64       `msgpack:"offset,omitempty"` // version 1 PUT: send from here
	Held      int64       `msgpack:"held,omitempty"`   // version 2 PUT: data bytes the server already holds
	Seeded    int64       `msgpack:"seeded,omitempty"` // of which copied from its previous version
	Bytes     int64       `msgpack:"bytes,omitempty"`
	Refetched int         `msgpack:"refetched,omitempty"` // version 2 PUT: blocks asked for again after a bad CRC
	Method    string      `msgpack:"method,omitempty"`
	Arrays    []Entry     `msgpack:"arrays,omitempty"`
	Next      string      `msgpack:"next,omitempty"`  // version 2 LIST: the next page starts after this name
	Hosts     []HostStats `msgpack:"hosts,omitempty"` // relayed PUT: how each host of the chain fared
}

// putBody asks the server to receive an array. Transfer, with FeatureJoin,
// joins a transfer of the same array under way on another connection;
// Streams (FeatureJoin too) announces how many connections the client will
// carry it on, so that the first does not take every block for itself.
// Chain (FeatureRelay) lists the hosts the server is to forward the array
// to, in order. Eager (FeatureEager) is the number of raw data bytes that
// follow the PUT: the whole array's data, sent without NEEDs.
type putBody struct {
	Name     string   `msgpack:"name,omitempty"`
	Header   []byte   `msgpack:"header,omitempty"`
	Transfer []byte   `msgpack:"transfer,omitempty"`
	Streams  int      `msgpack:"streams,omitempty"`
	Chain    []string `msgpack:"chain,omitempty"`
	Eager    int64    `msgpack:"eager,omitempty"`
}

// getBody asks the server to send an array; Transfer as in putBody. Eager
// (FeatureEager) asks for the data right after the reply, without NEEDs.
type getBody struct {
	Name     string `msgpack:"name,omitempty"`
	Transfer []byte `msgpack:"transfer,omitempty"`
	Eager    bool   `msgpack:"eager,omitempty"`
}

// fromBody (version 1) follows a GET's reply: send from Offset, or nothing.
type fromBody struct {
	Offset int64 `msgpack:"offset,omitempty"`
	Cancel bool  `msgpack:"cancel,omitempty"`
}

type nameBody struct { // STAT, DELETE
	Name string `msgpack:"name,omitempty"`
}

// listBody (version 2) asks for one page of the arrays whose names start
// with Prefix, after the name After, at most Limit of them (0: the server's
// page size).
type listBody struct {
	Prefix string `msgpack:"prefix,omitempty"`
	After  string `msgpack:"after,omitempty"`
	Limit  int    `msgpack:"limit,omitempty"`
}

// needBody (version 2) asks the sender for blocks: Ranges are [start, end)
// block ranges, in the order they should come. No ranges ends the transfer
// on this connection.
type needBody struct {
	Transfer []byte    `msgpack:"transfer,omitempty"`
	Ranges   [][]int64 `msgpack:"ranges,omitempty"`
}

// dataBody (version 2) heads a run: Length raw data bytes from data offset
// Offset follow the frame.
type dataBody struct {
	Transfer []byte `msgpack:"transfer,omitempty"`
	Offset   int64  `msgpack:"offset,omitempty"`
	Length   int64  `msgpack:"length,omitempty"`
}

// Entry describes one array in a LIST reply. Digest (version 2) identifies
// its content: the first 16 bytes of the SHA-256 of its prefix and header,
// in hex, which include the CRC of every block. Equal digests mean equal
// arrays, so a peer can tell what differs without reading any data. It is
// the HTTP endpoint's ETag too.
type Entry struct {
	Name   string  `msgpack:"name" json:"name"`
	DType  string  `msgpack:"dtype" json:"dtype"`
	Shape  []int64 `msgpack:"shape" json:"shape"`
	Order  string  `msgpack:"order" json:"order"`
	NBytes int64   `msgpack:"nbytes" json:"nbytes"`
	Digest string  `msgpack:"digest,omitempty" json:"digest,omitempty"`
}

// Limits on a body's length, checked from the frame prefix before the body
// is read. PUT carries an array header, REPLY a header or a LIST page;
// maxHeader is the side's header limit.
func bodyLimit(kind byte, maxHeader int) int {
	switch kind {
	case kindPut:
		return maxHeader + 64<<10
	case kindReply:
		return maxHeader + 1<<20
	case kindHello, kindAuth, kindFrom, kindData:
		return 4 << 10
	}
	// Requests naming an array (a name is at most 255 bytes: a longer one
	// is refused by name, not by size), LIST, and NEED.
	return 64 << 10
}

// frame is one message as read: its prefix fields and raw body.
type frame struct {
	version int
	kind    byte
	flags   uint16
	body    []byte
}

// writeMsg writes one frame. The connection is written directly, never
// through a buffer, so a data phase can follow on the same connection.
func writeMsg(w io.Writer, version int, kind byte, b any) error {
	var buf bytes.Buffer
	buf.Write(make([]byte, frameSize))
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true) // the shortest form, as other implementations write them
	if err := enc.Encode(b); err != nil {
		return fmt.Errorf("netlink: encoding %s: %w", kindName(kind), err)
	}
	msg := buf.Bytes()
	msg[0], msg[1] = byte(version), kind
	binary.LittleEndian.PutUint32(msg[4:], uint32(len(msg)-frameSize))
	_, err := w.Write(msg)
	return err
}

// errBeforeFrame is an end or timeout before the first byte of a frame: a
// clean place for a connection to stop, unlike one inside a frame.
type errBeforeFrame struct{ err error }

func (e *errBeforeFrame) Error() string { return e.err.Error() }
func (e *errBeforeFrame) Unwrap() error { return e.err }

// readFrame reads one frame with exact-length reads (no buffering, so array
// bytes after it stay in the socket). The body length is checked against
// limit(kind) before the body is allocated, and the body's msgpack is
// scanned for well-formedness. Version, kind and flags are left to the
// caller, which knows what the connection agreed. An error before the
// frame's first byte is an *errBeforeFrame (io.EOF: a clean end).
func readFrame(r io.Reader, limit func(kind byte) int) (frame, error) {
	var pre [frameSize]byte
	if n, err := io.ReadFull(r, pre[:]); err != nil {
		if n == 0 {
			return frame{}, &errBeforeFrame{err}
		}
		return frame{}, fmt.Errorf("%w: message prefix cut short after %d bytes: %w", ErrProtocol, n, noEOF(err))
	}
	f := frame{version: int(pre[0]), kind: pre[1], flags: binary.LittleEndian.Uint16(pre[2:])}
	n := binary.LittleEndian.Uint32(pre[4:])
	if lim := limit(f.kind); int64(n) > int64(lim) {
		return f, fmt.Errorf("%w: %s body of %d bytes, limit %d", ErrMessageTooLarge, kindName(f.kind), n, lim)
	}
	f.body = make([]byte, n)
	if _, err := io.ReadFull(r, f.body); err != nil {
		return f, fmt.Errorf("%w: %s body: %w", ErrProtocol, kindName(f.kind), noEOF(err))
	}
	if end, err := mpscan.Scan(f.body, maxBodyDepth); err != nil || end != len(f.body) {
		if err == nil {
			err = fmt.Errorf("%d bytes after it", len(f.body)-end)
		}
		return f, fmt.Errorf("%w: %s body is not one msgpack value: %v", ErrProtocol, kindName(f.kind), err)
	}
	return f, nil
}

// errUnknownKey marks a version-2 body with a key its receiver does not know.
var errUnknownKey = errors.New("unknown key")

// decode decodes a frame's body into v. strict (version 2) refuses unknown
// keys as ErrUnsupported; version 1 ignores them.
func (f frame) decode(v any, strict bool) error {
	d := msgpack.NewDecoder(bytes.NewReader(f.body))
	d.DisallowUnknownFields(strict)
	if err := d.Decode(v); err != nil {
		if strict && isUnknownField(err) {
			return fmt.Errorf("%w: %s: %v", ErrUnsupported, kindName(f.kind), err)
		}
		return fmt.Errorf("%w: %s body: %v", ErrProtocol, kindName(f.kind), err)
	}
	return nil
}

// isUnknownField recognises the decoder's refusal of an unknown key (it
// has no sentinel for it).
func isUnknownField(err error) bool {
	return bytes.Contains([]byte(err.Error()), []byte("unknown field"))
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

// agree returns the highest version in both lists (0 if none), and the
// features both offer, in ours' order.
func agree(theirs []int, theirFeatures, ourFeatures []string) (int, []string) {
	v := 0
	for _, x := range versions {
		if slices.Contains(theirs, x) {
			v = x
		}
	}
	var f []string
	for _, x := range ourFeatures {
		if slices.Contains(theirFeatures, x) {
			f = append(f, x)
		}
	}
	return v, f
}
