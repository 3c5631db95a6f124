package netlink

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/internal/testutil/teststore"
	"github.com/arrayx/arrayx/mmapstore"
	"github.com/vmihailenco/msgpack/v5"
)

// Hostile peers: a test that talks raw bytes to a server while well-behaved
// clients keep pulling from it. fuzz_test.go fuzzes the same parsers
// without a network; security_test.go covers names, symlinks, tokens and
// read-only mode.

// frameBytes builds one frame by hand: any version, kind, flags and
// declared length, followed by body.
func frameBytes(version, kind byte, flags uint16, n uint32, body []byte) []byte {
	b := make([]byte, frameSize, frameSize+len(body))
	b[0], b[1] = version, kind
	binary.LittleEndian.PutUint16(b[2:], flags)
	binary.LittleEndian.PutUint32(b[4:], n)
	return append(b, body...)
}

// frameOf is a well-formed frame whose body is body.
func frameOf(kind byte, body []byte) []byte {
	return frameBytes(Version1, kind, 0, uint32(len(body)), body)
}

// putOf is a PUT frame carrying header as the array's header.
func putOf(name string, header []byte) []byte {
	b, err := msgpack.Marshal(&body{Name: name, Header: header})
	if err != nil {
		panic(err)
	}
	return frameOf(kindPut, b)
}

// arrayHeader encodes an array file's prefix and header from fields, as a
// hostile writer may: no validation, any values.
func arrayHeader(fields map[string]any) []byte {
	b, err := msgpack.Marshal(fields)
	if err != nil {
		panic(err)
	}
	out := make([]byte, arrayx.PrefixSize, arrayx.PrefixSize+len(b))
	copy(out, arrayx.Magic[:])
	binary.LittleEndian.PutUint16(out[8:], arrayx.MajorVersion)
	binary.LittleEndian.PutUint32(out[12:], uint32(len(b)))
	return append(out, b...)
}

// sealedHeader is the valid, sealed header of an array of shape, with a
// CRC table of zeros: the server can accept it without a byte of data.
func sealedHeader(t testing.TB, dt arrayx.DType, shape arrayx.Shape) []byte {
	t.Helper()
	h, err := arrayx.NewHeader(dt, shape, arrayx.OrderC, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.Sealed, h.CRC32C = true, make([]uint32, h.NumBlocks())
	b, err := h.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hostileOutcome is what a server did with hostile bytes.
type hostileOutcome struct {
	reply  *body         // its REPLY, if it sent one
	closed bool          // without a reply: it closed the connection
	after  time.Duration // from the first byte sent to the reply or the close
}

// sendHostile sends raw on a new connection (after a handshake when hs is
// set), optionally half-closes, then waits up to 10 s for a reply or for
// the server to close. A write error (the server closed first) is fine.
func sendHostile(t testing.TB, addr string, hs bool, raw []byte, closeWrite bool) hostileOutcome {
	t.Helper()
	var conn net.Conn
	if hs {
		conn = rawHandshake(t, addr, nil).conn
	} else {
		conn = rawDial(t, addr)
	}
	start := time.Now()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	conn.Write(raw)
	if closeWrite {
		conn.(*net.TCPConn).CloseWrite()
	}
	var out hostileOutcome
	kind, b, err := readMsg(conn, 2<<20)
	out.after = time.Since(start)
	switch {
	case err == nil && kind == kindReply:
		out.reply = b
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		out.closed = true
	}
	return out
}

// goodClients are two well-behaved clients that pull an array from a server
// without pause while a hostile test runs its cases against it: every pull
// must succeed, with the array intact.
type goodClients struct {
	pulls atomic.Int64
	errs  chan error
	wg    sync.WaitGroup
	stop  context.CancelFunc
}

// startGoodClients starts the clients pulling good from addr into local,
// until finish (or the end of the test, if it ends first).
func startGoodClients(t testing.TB, ctx context.Context, addr string, local *mmapstore.Store, good *mmapstore.Array) *goodClients {
	gctx, stop := context.WithCancel(ctx)
	g := &goodClients{errs: make(chan error, 2), stop: stop}
	t.Cleanup(func() { stop(); g.wg.Wait() })
	for i := range 2 {
		g.wg.Go(func() {
			c, err := Dial(ctx, addr, nil)
			if err != nil {
				g.errs <- err
				return
			}
			defer c.Close()
			as := fmt.Sprintf("good-%d", i)
			for gctx.Err() == nil {
				if _, err := c.Pull(ctx, "good", local, as); err != nil {
					g.errs <- fmt.Errorf("good client %d, pull %d: %w", i, g.pulls.Load(), err)
					return
				}
				b, err := local.Open(as)
				if err != nil {
					g.errs <- err
					return
				}
				same := bytes.Equal(b.Bytes(), good.Bytes())
				b.Close()
				if !same {
					g.errs <- fmt.Errorf("good client %d: the pulled array differs", i)
					return
				}
				g.pulls.Add(1)
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	return g
}

// run runs one hostile case as a subtest, measuring what the process
// allocated meanwhile (the good clients included), which must stay within
// maxAlloc.
func (g *goodClients) run(t *testing.T, name string, maxAlloc uint64, f func(t *testing.T)) {
	t.Run(name, func(t *testing.T) {
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		pulls0 := g.pulls.Load()
		start := time.Now()
		f(t)
		runtime.ReadMemStats(&m1)
		grown := m1.TotalAlloc - m0.TotalAlloc
		t.Logf("%v; the process allocated %.2f MiB meanwhile (good clients included: %d pulls)",
			time.Since(start).Round(time.Millisecond), float64(grown)/(1<<20), g.pulls.Load()-pulls0)
		if grown > maxAlloc {
			t.Errorf("the process allocated %d bytes during the case; want at most %d", grown, maxAlloc)
		}
	})
}

// finish stops the clients, fails t for each that failed, and returns how
// many pulls succeeded.
func (g *goodClients) finish(t *testing.T) int64 {
	t.Helper()
	g.stop()
	g.wg.Wait()
	close(g.errs)
	for err := range g.errs {
		t.Error(err)
	}
	return g.pulls.Load()
}

// TestHostilePeers sends a server garbage, truncated and oversized frames,
// headers declaring absurd arrays, deep and huge msgpack, unknown kinds and
// slowloris trickles, while two well-behaved clients pull from it without
// pause. Each hostile connection gets a 4xx/5xx REPLY with a message or is
// closed (a timeout for the trickles); nothing large is allocated (the
// process's Go allocations during each case stay far below what the bytes
// declare); nothing is left in the store; every good pull succeeds.
func TestHostilePeers(t *testing.T) {
	ctx := context.Background()
	local, remote := teststore.At(t, testutil.ShmOrTempDir(t)), teststore.At(t, testutil.ShmOrTempDir(t))
	cfg := Config{ReadTimeout: 2 * time.Second, IdleTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second}
	_, addr := startServer(t, remote, "tcp", cfg)
	good := teststore.NewArray(t, remote, "good", arrayx.Float32, arrayx.Shape{16 << 10}, arrayx.OrderC, nil) // 64 KiB
	rng := testutil.Rand(t)

	goods := startGoodClients(t, ctx, addr, local, good) // well-behaved clients, all along
	run := func(name string, maxAlloc uint64, f func(t *testing.T)) { goods.run(t, name, maxAlloc, f) }
	var tried int
	const small = 16 << 20 // well-behaved clients included
	wantReply := func(t *testing.T, what string, o hostileOutcome, status ...int) {
		t.Helper()
		tried++
		if o.reply == nil {
			t.Fatalf("%s: no reply (closed %v after %v); want a REPLY with status %v", what, o.closed, o.after, status)
		}
		ok := false
		for _, s := range status {
			ok = ok || o.reply.Status == s
		}
		if !ok || o.reply.Message == "" {
			t.Fatalf("%s: reply %+v; want status %v and a message", what, o.reply, status)
		}
	}
	wantClosed := func(t *testing.T, what string, o hostileOutcome, within time.Duration) {
		t.Helper()
		tried++
		if !o.closed || o.after > within {
			t.Fatalf("%s: closed %v after %v; want the server to close within %v", what, o.closed, o.after, within)
		}
	}

	run("garbage-before-magic", small, func(t *testing.T) {
		for i := range 40 {
			junk := make([]byte, 1+rng.IntN(4096))
			for j := range junk {
				junk[j] = byte(rng.Uint32())
			}
			if junk[0] == tlsHandshakeRecord {
				junk[0] = 0 // a TLS ClientHello's start is answered (tls.go): not garbage
			}
			o := sendHostile(t, addr, false, junk, true)
			if o.reply != nil {
				t.Fatalf("garbage %d: the server replied %+v before any handshake", i, o.reply)
			}
			wantClosed(t, fmt.Sprintf("%d bytes of garbage", len(junk)), o, 3*time.Second)
		}
	})
	run("garbage-after-handshake", small, func(t *testing.T) {
		for i := range 40 {
			junk := make([]byte, 1+rng.IntN(4096))
			for j := range junk {
				junk[j] = byte(rng.Uint32())
			}
			if i%2 == 0 {
				junk[0] = Version1 // a plausible start, to reach deeper checks
			}
			o := sendHostile(t, addr, true, junk, true)
			wantReply(t, fmt.Sprintf("%d bytes of garbage %x...", len(junk), junk[:min(8, len(junk))]), o, StatusBadRequest)
		}
	})
	run("truncated", small, func(t *testing.T) {
		list := frameOf(kindList, []byte{0x80})
		for n := 1; n < frameSize; n++ {
			o := sendHostile(t, addr, true, list[:n], true)
			wantReply(t, fmt.Sprintf("a prefix cut after %d bytes", n), o, StatusBadRequest)
			if !strings.Contains(o.reply.Message, "cut short") {
				t.Fatalf("a prefix cut after %d bytes: %q does not say so", n, o.reply.Message)
			}
		}
		get := frameOf(kindGet, []byte{0x81, 0xa4, 'n', 'a', 'm', 'e', 0xa4, 'g', 'o', 'o', 'd'})
		for _, n := range []int{frameSize + 1, len(get) - 1} {
			wantReply(t, fmt.Sprintf("a body cut after %d bytes", n-frameSize), sendHostile(t, addr, true, get[:n], true), StatusBadRequest)
		}
		hello := append(Magic[:], frameOf(kindHello, []byte{0x81, 0xa7, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x01})...)
		for _, n := range []int{1, len(Magic) - 1, len(Magic) + 3, len(hello) - 1} {
			o := sendHostile(t, addr, false, hello[:n], true)
			if o.reply != nil {
				t.Fatalf("a handshake cut after %d bytes: reply %+v, want none", n, o.reply)
			}
			wantClosed(t, fmt.Sprintf("a handshake cut after %d bytes", n), o, 3*time.Second)
		}
	})
	run("huge-lengths", small, func(t *testing.T) {
		for _, n := range []uint32{1 << 31, 1<<31 + 1, 3 << 30, 1<<32 - 1, uint32(bodyLimit(kindPut, arrayx.DefaultMaxHeaderBytes)) + 1} {
			for _, kind := range []byte{kindPut, kindGet, kindList, kindHello} {
				o := sendHostile(t, addr, true, frameBytes(Version1, kind, 0, n, nil), false)
				wantReply(t, fmt.Sprintf("a %s frame declaring %d bytes", kindNames[kind], n), o, StatusBadRequest)
				if !strings.Contains(o.reply.Message, "too large") || o.after > time.Second {
					t.Fatalf("a %s frame declaring %d bytes: %q after %v; want \"too large\" at once", kindNames[kind], n, o.reply.Message, o.after)
				}
			}
			o := sendHostile(t, addr, false, append(Magic[:], frameBytes(Version1, kindHello, 0, n, nil)...), false)
			wantClosed(t, fmt.Sprintf("a HELLO declaring %d bytes", n), o, time.Second)
		}
	})
	run("absurd-arrays", small, func(t *testing.T) {
		crc := make([]byte, 4)
		base := func(kv ...any) map[string]any {
			m := map[string]any{"dtype": "uint8", "shape": []int64{16}, "order": "C", "nbytes": 16,
				"data_offset": 4096, "block_size": 1 << 22, "sealed": true, "crc32c": crc}
			for i := 0; i < len(kv); i += 2 {
				if kv[i+1] == nil {
					delete(m, kv[i].(string))
				} else {
					m[kv[i].(string)] = kv[i+1]
				}
			}
			return m
		}
		cases := []struct {
			what   string
			header []byte
			status []int
		}{
			{"2^62 bytes", arrayHeader(base("shape", []int64{1 << 62}, "nbytes", int64(1)<<62, "block_size", 1<<30)), []int{StatusBadRequest, StatusTooLarge}},
			{"2^62 float64 elements", arrayHeader(base("dtype", "float64", "shape", []int64{1 << 62}, "nbytes", int64(1)<<62)), []int{StatusBadRequest, StatusTooLarge}},
			{"2^40 elements, nbytes lying", arrayHeader(base("shape", []int64{1 << 20, 1 << 20})), []int{StatusBadRequest}},
			{"2^64 elements", arrayHeader(base("shape", []int64{1 << 32, 1 << 32}, "nbytes", 0)), []int{StatusBadRequest, StatusTooLarge}},
			{"2^40-element uint8 array (1 TiB), a valid header", sealedHeader(t, arrayx.Uint8, arrayx.Shape{1 << 20, 1 << 20}), []int{StatusNoSpace}},
			{"2^40-element float64 array (8 TiB), a valid header", sealedHeader(t, arrayx.Float64, arrayx.Shape{1 << 40}), []int{StatusNoSpace}},
			{"data at 2^62", arrayHeader(base("data_offset", int64(1)<<62)), []int{StatusNoSpace}}, // a legal header
			{"unsealed", arrayHeader(base("sealed", false, "crc32c", nil)), []int{StatusBadRequest}},
			{"a 2^31-byte header declared", arrayHeader(nil)[:12:12], []int{StatusBadRequest}},
			{"rank 65", arrayHeader(base("shape", make([]int64, 65))), []int{StatusBadRequest}},
		}
		cases[8].header = binary.LittleEndian.AppendUint32(append([]byte(nil), arrayx.Magic[:]...), 1)
		cases[8].header = binary.LittleEndian.AppendUint32(cases[8].header, 1<<31)
		for _, tc := range cases {
			o := sendHostile(t, addr, true, putOf("absurd", tc.header), false)
			wantReply(t, "PUT of "+tc.what, o, tc.status...)
			t.Logf("PUT of %s: %d %s (%v)", tc.what, o.reply.Status, o.reply.Message, o.after)
		}
		if ents, err := os.ReadDir(remote.Dir()); err != nil || len(ents) != 1 || ents[0].Name() != "good.arx" {
			t.Fatalf("the store holds %v (%v) after the refusals; want only good.arx", ents, err)
		}
	})
	run("deep-and-huge-msgpack", 64<<20, func(t *testing.T) {
		deep := func(n int) []byte { // {"name": [[[...nil...]]]}
			b := append([]byte{0x81, 0xa4, 'n', 'a', 'm', 'e'}, bytes.Repeat([]byte{0x91}, n)...)
			return append(b, 0xc0)
		}
		cases := []struct {
			what string
			raw  []byte
		}{
			{"nesting 9 deep", frameOf(kindStat, deep(8))},
			{"nesting 100,000 deep", frameOf(kindStat, deep(100_000))},
			{"nesting 1,000,000 deep (1 MB)", frameOf(kindGet, deep(1_000_000))},
			{"a map declaring 2^32-1 pairs", frameOf(kindStat, []byte{0xdf, 0xff, 0xff, 0xff, 0xff})},
			{"an array declaring 2^32-1 items", frameOf(kindList, []byte{0xdd, 0xff, 0xff, 0xff, 0xff})},
			{"a string declaring 2^32-1 bytes", frameOf(kindStat, []byte{0x81, 0xa4, 'n', 'a', 'm', 'e', 0xdb, 0xff, 0xff, 0xff, 0xff})},
			{"a 1 MB name", func() []byte {
				b, _ := msgpack.Marshal(&body{Name: strings.Repeat("n", 1<<20)})
				return frameOf(kindGet, b)
			}()},
			{"a 1 MB header of junk", putOf("x", bytes.Repeat([]byte{0xc1}, 1<<20))},
			{"a header nested 100,000 deep", putOf("x", append(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(append([]byte(nil), arrayx.Magic[:]...), 1), 100_001),
				append(bytes.Repeat([]byte{0x91}, 100_000), 0xc0)...))},
			{"a body of 1.1 MB of nils in an array", frameOf(kindList, append([]byte{0xdd, 0x00, 0x10, 0xf0, 0x00}, bytes.Repeat([]byte{0xc0}, 0x10f000)...))},
			{"10,000 keys", func() []byte { // over LIST's 4 KiB limit
				b := []byte{0xde, 0x27, 0x10}
				for i := range 10_000 {
					b = append(b, 0xa6, 'k', byte('0'+i/1000%10), byte('0'+i/100%10), byte('0'+i/10%10), byte('0'+i%10), 'x', 0xc0)
				}
				return frameOf(kindList, b)
			}()},
			{"400 keys", func() []byte { // within the limit
				b := []byte{0xde, 0x01, 0x90}
				for i := range 400 {
					b = append(b, 0xa6, 'k', byte('0'+i/1000%10), byte('0'+i/100%10), byte('0'+i/10%10), byte('0'+i%10), 'x', 0xc0)
				}
				return frameOf(kindList, b)
			}()},
		}
		for _, tc := range cases {
			o := sendHostile(t, addr, true, tc.raw, false)
			if tc.what == "400 keys" { // version 1 ignores unknown keys: a LIST
				if o.reply == nil || o.reply.Status != StatusOK {
					t.Fatalf("%s: %+v", tc.what, o.reply)
				}
				continue
			}
			wantReply(t, tc.what, o, StatusBadRequest)
			t.Logf("%s: %d %.100s (%v)", tc.what, o.reply.Status, o.reply.Message, o.after)
		}
	})
	run("unknown-kinds", small, func(t *testing.T) {
		for _, k := range []byte{0, 4, 5, 9, 16, 17, 99, 128, 255} {
			o := sendHostile(t, addr, true, frameOf(k, []byte{0x80}), false)
			wantReply(t, fmt.Sprintf("kind %d", k), o, StatusBadRequest)
			if !strings.Contains(o.reply.Message, "unknown message kind") {
				t.Fatalf("kind %d: %q", k, o.reply.Message)
			}
		}
		for _, v := range []byte{0, 2, 255} {
			wantReply(t, fmt.Sprintf("frame version %d", v), sendHostile(t, addr, true, frameBytes(v, kindList, 0, 1, []byte{0x80}), false), StatusBadRequest)
		}
	})

	// Slowloris: a byte a second, in the handshake, in a request, and in the
	// data of a PUT, ten connections of each at once. The server's 2-second
	// timeouts cut each one off; nothing is published from the trickled PUTs.
	// Each of the 10 connections trickling data holds a receive buffer, and
	// the case lasts the 2 s of the timeouts: the good clients pull about
	// 1,300 times meanwhile (each a seeded copy of the array they hold).
	run("slowloris", 2*small+10*mmapstore.ReceiveBufferSize, func(t *testing.T) {
		hello := append(Magic[:], frameOf(kindHello, []byte{0x81, 0xa7, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x01})...)
		list := frameOf(kindList, []byte{0x80})
		put := teststore.NewArray(t, local, "put", arrayx.Uint8, arrayx.Shape{4 * mib}, arrayx.OrderC, nil)
		type result struct {
			what   string
			sent   int
			closed time.Duration
			err    error
		}
		results := make(chan result, 30)
		trickle := func(what string, conn net.Conn, b []byte) {
			start := time.Now()
			conn.SetDeadline(time.Now().Add(15 * time.Second))
			var sent int
			for sent < len(b) {
				if _, err := conn.Write(b[sent : sent+1]); err != nil {
					break
				}
				sent++
				// Closed yet? A read returns at once when it is.
				conn.SetReadDeadline(time.Now().Add(time.Second))
				_, err := io.Copy(io.Discard, conn)
				if err == nil || errors.Is(err, syscall.ECONNRESET) {
					results <- result{what, sent, time.Since(start), nil}
					return
				}
			}
			results <- result{what, sent, time.Since(start), fmt.Errorf("sent all %d bytes without being cut off", sent)}
		}
		for i := range 10 {
			go trickle("handshake", rawDial(t, addr), hello)
			r := rawHandshake(t, addr, nil)
			go trickle("request", r.conn, list)
			p := rawHandshake(t, addr, nil)
			if rep := p.request(kindPut, &body{Name: fmt.Sprintf("slow%d", i), Header: put.RawHeader()}); rep.Status != StatusOK {
				t.Fatalf("PUT: %+v", rep)
			}
			go trickle("data", p.conn, put.Bytes())
		}
		for range 30 {
			r := <-results
			if r.err != nil {
				t.Fatalf("slowloris in the %s: %v", r.what, r.err)
			}
			if r.closed > 4*time.Second || r.sent > 4 {
				t.Fatalf("slowloris in the %s: cut off after %v and %d bytes; want within the 2 s timeout", r.what, r.closed, r.sent)
			}
			tried++
		}
		for i := range 10 {
			notVisibleAmong(t, remote, fmt.Sprintf("slow%d", i))
		}
	})

	pulls := goods.finish(t)
	t.Logf("%d hostile connections refused or cut off; the well-behaved clients pulled %d times meanwhile, all intact", tried, pulls)
	if pulls < 20 {
		t.Errorf("the well-behaved clients pulled only %d times", pulls)
	}
	c := dial(t, addr, nil)
	if list, err := c.List(ctx, ""); err != nil || len(list) != 1 || list[0].Name != "good" {
		t.Fatalf("LIST after it all: %v, %v", list, err)
	}
}
