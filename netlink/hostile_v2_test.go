package netlink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/internal/testutil/teststore"
	"github.com/arrayx/arrayx/mmapstore"
)

// Hostile peers speaking version 2: NEEDs and DATA runs that break the
// rules of docs/PROTOCOL.md ("Transfers, version 2"), joins that should not
// be let in, and version-2 framing, sent by hand to a real server while
// well-behaved clients keep pulling from it; then a hostile server scripted
// against the real client. hostile_test.go does the same for version 1,
// fuzz_test.go fuzzes the parsers and checks behind these (FuzzNeed,
// FuzzData).

// ---------------------------------------------------------------------------
// Arrays of many small blocks
// ---------------------------------------------------------------------------

// smallBlockArray builds the file of a uint8 array of nbytes with the
// smallest legal blocks (64 KiB: writers choose 4 MiB), so that a test gets
// many blocks from little data. It returns the prefix and header, as a
// sender puts them in PUT, and the data (teststore.Fill(seed), every 64 KiB
// unlike the others).
func smallBlockArray(tb testing.TB, nbytes int64, seed uint64) ([]byte, []byte) {
	tb.Helper()
	h, err := arrayx.NewHeader(arrayx.Uint8, arrayx.Shape{nbytes}, arrayx.OrderC, map[string]any{"blocks": "small"})
	if err != nil {
		tb.Fatal(err)
	}
	data := make([]byte, nbytes)
	teststore.Fill(data, seed, false)
	h.BlockSize, h.Sealed, h.CRC32C = arrayx.MinBlockSize, true, []uint32{}
	for off := int64(0); off < nbytes; off += h.BlockSize {
		h.CRC32C = append(h.CRC32C, arrayx.CRC32C(data[off:min(off+h.BlockSize, nbytes)]))
	}
	for { // the data offset grows with the CRC table: to a fixed point
		raw, err := h.Marshal()
		if err != nil {
			tb.Fatal(err)
		}
		need := (int64(len(raw)) + arrayx.Alignment - 1) / arrayx.Alignment * arrayx.Alignment
		if need == h.DataOffset {
			return raw, data
		}
		h.DataOffset = need
	}
}

// storeSmallBlockArray publishes smallBlockArray(nbytes, seed) in st under
// name, as a writer would (a hidden file renamed into place), and opens it.
func storeSmallBlockArray(tb testing.TB, st *mmapstore.Store, name string, nbytes int64, seed uint64) *mmapstore.Array {
	tb.Helper()
	raw, data := smallBlockArray(tb, nbytes, seed)
	h, err := arrayx.Unmarshal(raw, arrayx.Limits{})
	if err != nil {
		tb.Fatal(err)
	}
	path, err := st.Path(name)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	file := append(raw, make([]byte, h.DataOffset-int64(len(raw)))...)
	tmp := filepath.Join(filepath.Dir(path), ".hand-built-"+filepath.Base(path))
	if err := os.WriteFile(tmp, append(file, data...), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
	a, err := st.Open(name)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { a.Close() })
	return a
}

// ---------------------------------------------------------------------------
// A version-2 client by hand
// ---------------------------------------------------------------------------

// v2Hello is the HELLO of a version-2 client: frame version 1 and version 1
// (a version-1 server refuses any other), versions [1 2], and features.
func v2Hello(features ...string) *body {
	return &body{Version: Version1, Versions: []int{Version1, Version2}, Features: features, Software: "hostile"}
}

// v2Conn speaks version 2 by hand: after the handshake, frames carry
// version byte 2 both ways.
type v2Conn struct {
	t     testing.TB
	conn  net.Conn
	hello *body // the server's HELLO
}

// v2Dial connects, sends the magic and hello (v2Hello("join") when nil),
// reads the server's magic and HELLO, and checks that version 2 was agreed.
func v2Dial(t testing.TB, addr string, hello *body) *v2Conn {
	t.Helper()
	if hello == nil {
		hello = v2Hello(FeatureJoin)
	}
	r := rawHandshake(t, addr, hello)
	if r.hello.Version != Version2 {
		t.Fatalf("the server's HELLO %+v: want version 2", r.hello)
	}
	return &v2Conn{t: t, conn: r.conn, hello: r.hello}
}

// write writes raw bytes; an error (the server closed first) is returned,
// not fatal.
func (r *v2Conn) write(raw ...[]byte) error {
	_, err := r.conn.Write(bytes.Join(raw, nil))
	return err
}

// v2Frame is one version-2 frame with body b.
func v2Frame(kind byte, b any) []byte {
	var buf bytes.Buffer
	if err := writeMsg(&buf, Version2, kind, b); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// dataFrame heads a DATA run; the run's bytes are for the caller to send.
func dataFrame(id []byte, off, n int64) []byte {
	return v2Frame(kindData, &dataBody{Transfer: id, Offset: off, Length: n})
}

// needFrame asks for block ranges.
func needFrame(id []byte, ranges ...[]int64) []byte {
	return v2Frame(kindNeed, &needBody{Transfer: id, Ranges: ranges})
}

// read reads one frame of the server, which must carry version 2, and
// decodes it leniently.
func (r *v2Conn) read() (byte, *body, error) {
	f, err := readFrame(r.conn, func(byte) int { return 2 << 20 })
	if err != nil {
		return 0, nil, err
	}
	if f.version != Version2 {
		return f.kind, nil, fmt.Errorf("%w: the server sent a %s frame of version %d on a version-2 connection", ErrProtocol, kindName(f.kind), f.version)
	}
	var b body
	if err := f.decode(&b, false); err != nil {
		return f.kind, nil, err
	}
	return f.kind, &b, nil
}

// request sends one frame and reads the REPLY.
func (r *v2Conn) request(kind byte, b any) *body {
	r.t.Helper()
	if err := r.write(v2Frame(kind, b)); err != nil {
		r.t.Fatal(err)
	}
	r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	kind, rep, err := r.read()
	if err != nil || kind != kindReply {
		r.t.Fatalf("reading the reply to %s: %s, %v", kindName(kind), kindName(kind), err)
	}
	return rep
}

// usable checks that the connection still carries requests.
func (r *v2Conn) usable(after string) {
	r.t.Helper()
	if rep := r.request(kindList, &listBody{Prefix: "good"}); rep.Status != StatusOK || len(rep.Arrays) != 1 {
		r.t.Fatalf("LIST after %s: %+v; want 200 and the array good", after, rep)
	}
}

// needs reads the NEEDs of transfer id until they ask for at least want
// blocks, and returns the blocks in the order asked. A receiver asks for
// two assignments at first: half of what it lacks, then half of the rest,
// at most (transfer.go).
func (r *v2Conn) needs(id []byte, want int) []int {
	r.t.Helper()
	r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var blocks []int
	for len(blocks) < want {
		kind, b, err := r.read()
		if err != nil || kind != kindNeed {
			r.t.Fatalf("waiting for NEEDs (%d of %d blocks asked for): %s %+v, %v", len(blocks), want, kindName(kind), b, err)
		}
		if !bytes.Equal(b.Transfer, id) || len(b.Ranges) == 0 {
			r.t.Fatalf("NEED %+v for transfer %x", b, id)
		}
		for _, rg := range b.Ranges {
			for i := rg[0]; i < rg[1]; i++ {
				blocks = append(blocks, int(i))
			}
		}
	}
	return blocks
}

// pushLoop answers the NEEDs of transfer id as a pusher does, with runs of
// data (blocks of bs bytes; run, when set, gives the bytes sent for blocks
// [start, end) instead), until the server's REPLY, which it returns with
// every block asked for, in order.
func (r *v2Conn) pushLoop(id, data []byte, bs int64, run func(start, end int) []byte) (*body, []int) {
	r.t.Helper()
	r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var asked []int
	for {
		kind, b, err := r.read()
		if err != nil {
			r.t.Fatalf("pushing by hand (%d blocks asked for so far): %v", len(asked), err)
		}
		switch kind {
		case kindReply:
			return b, asked
		case kindNeed:
			if !bytes.Equal(b.Transfer, id) || len(b.Ranges) == 0 {
				r.t.Fatalf("NEED %+v in transfer %x", b, id)
			}
			for _, rg := range b.Ranges {
				off, end := rg[0]*bs, min(rg[1]*bs, int64(len(data)))
				bytes := data[off:end]
				if run != nil {
					bytes = run(int(rg[0]), int(rg[1]))
				}
				if err := r.write(dataFrame(id, off, end-off), bytes); err != nil {
					r.t.Fatal(err)
				}
				for i := rg[0]; i < rg[1]; i++ {
					asked = append(asked, int(i))
				}
			}
		default:
			r.t.Fatalf("pushing by hand: %s %+v", kindName(kind), b)
		}
	}
}

// v2Outcome is how the server answered hostile bytes.
type v2Outcome struct {
	reply  *body // the REPLY, if one came
	closed bool  // the server closed the connection (after the reply, if any)
	data   int64 // raw bytes of the DATA runs that came first
	needs  int   // NEEDs that came first
	err    error // anything else: a timeout, a bad frame
	after  time.Duration
}

func (o v2Outcome) String() string {
	s := fmt.Sprintf("after %v, %d data bytes and %d NEEDs, ", o.after.Round(time.Millisecond), o.data, o.needs)
	if o.reply != nil {
		s += fmt.Sprintf("REPLY %d %s %q, ", o.reply.Status, o.reply.Code, o.reply.Message)
	}
	return s + fmt.Sprintf("closed %v, err %v", o.closed, o.err)
}

// isClosed reports an end of the connection by the peer.
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// outcome reads what the server says next, for up to 10 s: DATA runs (their
// bytes discarded) and NEEDs, then a REPLY or the end of the connection.
// After a reply, it waits up to checkClose for the server to close (0: no
// wait, the connection may stay usable).
func (r *v2Conn) outcome(checkClose time.Duration) v2Outcome {
	start := time.Now()
	r.conn.SetReadDeadline(start.Add(10 * time.Second))
	var o v2Outcome
	defer func() { o.after = time.Since(start) }()
	for {
		kind, b, err := r.read()
		switch {
		case err != nil && isClosed(err):
			o.closed = true
			o.after = time.Since(start)
			return o
		case err != nil:
			o.err = err
			o.after = time.Since(start)
			return o
		case kind == kindData:
			if b.Length < 0 || b.Length > 1<<30 {
				o.err = fmt.Errorf("a DATA run of %d bytes", b.Length)
				return o
			}
			n, err := io.CopyN(io.Discard, r.conn, b.Length)
			o.data += n
			if err != nil {
				o.closed = isClosed(err)
				if !o.closed {
					o.err = err
				}
				o.after = time.Since(start)
				return o
			}
		case kind == kindNeed:
			o.needs++
		case kind == kindReply:
			o.reply = b
			o.after = time.Since(start)
			if checkClose > 0 {
				r.conn.SetReadDeadline(time.Now().Add(checkClose))
				var one [1]byte
				n, err := r.conn.Read(one[:])
				o.closed = n == 0 && isClosed(err)
				if n > 0 {
					o.err = fmt.Errorf("the server sent more after its reply")
				}
			}
			return o
		default:
			o.err = fmt.Errorf("unexpected %s %+v", kindName(kind), b)
			return o
		}
	}
}

// put sends a version-2 PUT and reads its reply, which must be 200.
func (r *v2Conn) put(name string, raw []byte) *body {
	r.t.Helper()
	rep := r.request(kindPut, &putBody{Name: name, Header: raw})
	if rep.Status != StatusOK || len(rep.Transfer) != 16 {
		r.t.Fatalf("PUT %s: %+v", name, rep)
	}
	return rep
}

// get sends a version-2 GET and reads its reply, which must be 200.
func (r *v2Conn) get(name string) *body {
	r.t.Helper()
	rep := r.request(kindGet, &getBody{Name: name})
	if rep.Status != StatusOK || len(rep.Transfer) != 16 || len(rep.Header) == 0 {
		r.t.Fatalf("GET %s: %+v", name, rep)
	}
	return rep
}

// count returns how many times x occurs in s.
func count(s []int, x int) int {
	n := 0
	for _, y := range s {
		if y == x {
			n++
		}
	}
	return n
}

// recvCount returns how many receives the server tracks.
func recvCount(srv *Server) int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return len(srv.recvs)
}

// sendCount returns how many sends the server tracks.
func sendCount(srv *Server) int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return len(srv.sends)
}

// partialFiles returns the partial files of name in st.
func partialFiles(t testing.TB, st *mmapstore.Store, name string) []string {
	t.Helper()
	path, err := st.Path(name)
	if err != nil {
		t.Fatal(err)
	}
	m, err := filepath.Glob(filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".part-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// heldBlocks opens the partial the server keeps for name and header (once
// it has let go of it: Receive verifies every block it holds) and returns
// the data bytes it holds and whether it holds each block.
func heldBlocks(t testing.TB, st *mmapstore.Store, name string, raw []byte) (int64, []bool) {
	t.Helper()
	var p *mmapstore.Partial
	testutil.WaitFor(t, "the server to let go of the partial of "+name, func() bool {
		var err error
		p, err = st.Receive(name, raw, nil)
		if errors.Is(err, mmapstore.ErrBusy) {
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
		return true
	})
	defer p.Close()
	has := make([]bool, p.Header().NumBlocks())
	for i := range has {
		has[i] = p.HasBlock(i)
	}
	return p.Held(), has
}

// ---------------------------------------------------------------------------
// Hostile clients
// ---------------------------------------------------------------------------

// TestHostileV2 sends a version-2 server NEEDs and DATA runs that break the
// rules, joins it should refuse and version-2 frames it does not speak,
// while two well-behaved clients pull from it without pause. For each case
// the server answers as docs/PROTOCOL.md says (a REPLY with the status, code
// and a message; the connection usable afterwards where the spec says so,
// else closed), publishes nothing and shows no partial array under the
// name, allocates little (the process's Go allocations during each case,
// good clients included), and every good pull succeeds.
func TestHostileV2(t *testing.T) {
	ctx := context.Background()
	local, remote := teststore.At(t, testutil.ShmOrTempDir(t)), teststore.At(t, testutil.ShmOrTempDir(t))
	cfg := Config{ReadTimeout: 2 * time.Second, IdleTimeout: 5 * time.Second, WriteTimeout: 2 * time.Second, MaxStreams: 2}
	srv, addr := startServer(t, remote, "tcp", cfg)
	good := teststore.NewArray(t, remote, "good", arrayx.Float32, arrayx.Shape{16 << 10}, arrayx.OrderC, nil) // 64 KiB
	const bs = arrayx.MinBlockSize
	const nbytes = 10*bs + 100 // 11 blocks, the last of 100 bytes
	const nblocks = 11
	small := storeSmallBlockArray(t, remote, "small", nbytes, 1)
	big := teststore.NewArray(t, remote, "big", arrayx.Uint8, arrayx.Shape{48 << 20}, arrayx.OrderC, nil) // 12 blocks of 4 MiB
	if small.Header().NumBlocks() != nblocks || big.Header().NumBlocks() != 12 {
		t.Fatalf("small has %d blocks, big %d; want 11 and 12", small.Header().NumBlocks(), big.Header().NumBlocks())
	}
	raw, data := smallBlockArray(t, nbytes, 2) // what the hostile clients push
	block := func(i int) []byte { return data[int64(i)*bs : min(int64(i+1)*bs, nbytes)] }

	goods := startGoodClients(t, ctx, addr, local, good) // well-behaved clients, all along
	run := func(name string, maxAlloc uint64, f func(t *testing.T)) { goods.run(t, name, maxAlloc, f) }
	tried := 0
	const budget = 16 << 20 // well-behaved clients included

	// wantReply checks a REPLY of status and code with a message.
	wantReply := func(t *testing.T, what string, o v2Outcome, status int, code string) {
		t.Helper()
		tried++
		if o.reply == nil || o.reply.Status != status || o.reply.Code != code || o.reply.Message == "" {
			t.Fatalf("%s: %v; want a REPLY %d %s with a message", what, o, status, code)
		}
		t.Logf("%s: %d %s %q", what, o.reply.Status, o.reply.Code, o.reply.Message)
	}
	// wantFailed checks that a transfer ended on this connection with a
	// REPLY of status and code and a message, and the server closing.
	wantFailed := func(t *testing.T, what string, o v2Outcome, status int, code string) {
		t.Helper()
		wantReply(t, what, o, status, code)
		if !o.closed {
			t.Fatalf("%s: %v; want the server to close after its reply", what, o)
		}
	}
	// wantRefused checks the end of a pull the client broke: a REPLY of 400
	// with a message, or the server closing at once; never a 200, never
	// more data than asked for.
	wantRefused := func(t *testing.T, what string, o v2Outcome, maxData int64) {
		t.Helper()
		tried++
		switch {
		case o.err != nil || o.data > maxData:
			t.Fatalf("%s: %v; want a refusal after at most %d data bytes", what, o, maxData)
		case o.reply != nil && (o.reply.Status != StatusBadRequest || o.reply.Message == "" || !o.closed):
			t.Fatalf("%s: %v; want a REPLY 400 with a message and a close, or a close", what, o)
		case !o.closed || o.after > 5*time.Second:
			t.Fatalf("%s: %v; want the server to close within the read timeout", what, o)
		}
		t.Logf("%s: %v", what, o)
	}
	published := map[string]bool{} // the hostile/ names a control case publishes
	names := 0
	unique := func(what string) string {
		names++
		return fmt.Sprintf("hostile/%02d-%s", names, strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
				return r
			}
			return '-'
		}, what))
	}

	// --- NEEDs of a client pulling: the server is the sender. ---
	run("need", budget, func(t *testing.T) {
		cases := []struct {
			what   string
			ranges [][]int64
		}{
			{"ranges overlapping", [][]int64{{0, 3}, {2, 5}}},
			{"a range twice in one NEED", [][]int64{{1, 2}, {1, 2}}},
			{"a range inside another", [][]int64{{0, 11}, {4, 5}}},
			{"start below 0", [][]int64{{-1, 2}}},
			{"end past the last block", [][]int64{{0, nblocks + 1}}},
			{"start past the last block", [][]int64{{nblocks, nblocks + 1}}},
			{"start equal to end", [][]int64{{3, 3}}},
			{"start after end", [][]int64{{5, 2}}},
			{"end 2^62", [][]int64{{0, 1 << 62}}},
			{"start 2^62", [][]int64{{1 << 62, 1<<62 + 1}}},
			{"start -2^63", [][]int64{{-1 << 63, 1}}},
			{"a range of 1 number", [][]int64{{3}}},
			{"a range of 3 numbers", [][]int64{{1, 2, 3}}},
			{"a range of no numbers", [][]int64{{}}},
			{"5,000 ranges", func() [][]int64 {
				rs := make([][]int64, 5000)
				for i := range rs {
					rs[i] = []int64{int64(i), int64(i + 1)}
				}
				return rs
			}()},
		}
		for _, tc := range cases {
			r := v2Dial(t, addr, nil)
			rep := r.get("small")
			r.write(needFrame(rep.Transfer, tc.ranges...))
			wantRefused(t, "a NEED with "+tc.what, r.outcome(time.Second), 0)
		}
		raws := []struct {
			what string
			body map[string]any
		}{
			{"non-integer ranges (strings)", map[string]any{"ranges": []any{[]any{"0", "2"}}}},
			{"non-integer ranges (floats)", map[string]any{"ranges": []any{[]any{0.5, 2.0}}}},
			{"ranges as a string", map[string]any{"ranges": "0-2"}},
			{"ranges as a map", map[string]any{"ranges": map[string]any{"0": 2}}},
			{"a range as a map", map[string]any{"ranges": []any{map[string]any{"start": 0, "end": 2}}}},
			{"a range of booleans", map[string]any{"ranges": []any{[]any{false, true}}}},
			{"an unknown key", map[string]any{"ranges": []any{[]any{0, 2}}, "priority": 1}},
		}
		for _, tc := range raws {
			r := v2Dial(t, addr, nil)
			rep := r.get("small")
			tc.body["transfer"] = rep.Transfer
			r.write(v2Frame(kindNeed, tc.body))
			wantRefused(t, "a NEED with "+tc.what, r.outcome(time.Second), 0)
		}
		for _, tc := range []struct {
			what string
			id   func(mine []byte) []byte
		}{
			{"no transfer id", func([]byte) []byte { return nil }},
			{"another transfer id", func([]byte) []byte { return newTransferID() }},
			{"its transfer id cut short", func(mine []byte) []byte { return mine[:15] }},
			{"its transfer id and a byte more", func(mine []byte) []byte { return append(bytes.Clone(mine), 0) }},
		} {
			r := v2Dial(t, addr, nil)
			rep := r.get("small")
			r.write(needFrame(tc.id(rep.Transfer), []int64{0, 1}))
			wantRefused(t, "a NEED with "+tc.what, r.outcome(time.Second), 0)
			r = v2Dial(t, addr, nil)
			rep = r.get("small")
			r.write(needFrame(tc.id(rep.Transfer))) // an empty one: the end, of another transfer
			wantRefused(t, "an empty NEED with "+tc.what, r.outcome(time.Second), 0)
		}
		{ // The other live transfer's id, on a connection carrying its own:
			// refused, and the other pull goes on untouched.
			a, b := v2Dial(t, addr, nil), v2Dial(t, addr, nil)
			ra := a.get("small")
			b.get("good")
			b.write(needFrame(ra.Transfer, []int64{0, 1}))
			wantRefused(t, "a NEED naming the transfer of another connection", b.outcome(time.Second), 0)
			a.write(needFrame(ra.Transfer, []int64{0, 1}))
			a.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			kind, d, err := a.read()
			got := make([]byte, bs)
			if err != nil || kind != kindData || d.Offset != 0 || d.Length != bs {
				t.Fatalf("the other pull: %s %+v, %v", kindName(kind), d, err)
			}
			if _, err := io.ReadFull(a.conn, got); err != nil || !bytes.Equal(got, small.Bytes()[:bs]) {
				t.Fatalf("the other pull's block 0: %v, or it differs", err)
			}
			a.write(needFrame(ra.Transfer))
			a.usable("a pull next to a hostile NEED")
		}
		// Over the 64 KiB limit of a NEED body: refused from the prefix.
		r := v2Dial(t, addr, nil)
		rep := r.get("small")
		many := make([][]int64, 30_000)
		for i := range many {
			many[i] = []int64{0, 1}
		}
		frame := needFrame(rep.Transfer, many...)
		if len(frame) <= frameSize+64<<10 {
			t.Fatalf("the NEED is only %d bytes", len(frame))
		}
		r.write(frame)
		wantRefused(t, fmt.Sprintf("a NEED of %d bytes", len(frame)-frameSize), r.outcome(time.Second), 0)
		r = v2Dial(t, addr, nil)
		rep = r.get("small")
		r.write(frameBytes(Version2, kindNeed, 0, 1<<31, nil))
		wantRefused(t, "a NEED declaring 2 GiB", r.outcome(time.Second), 0)
	})

	run("need-while-sending", budget, func(t *testing.T) {
		h := big.Header()
		// underway reads the head of the first run: blocks 0-9, 40 MiB,
		// more than the socket buffers hold while the client does not read.
		underway := func(r *v2Conn, id []byte) {
			t.Helper()
			r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			kind, b, err := r.read()
			if err != nil || kind != kindData || !bytes.Equal(b.Transfer, id) || b.Offset != 0 || b.Length != 10*h.BlockSize {
				t.Fatalf("the first run: %s %+v, %v", kindName(kind), b, err)
			}
		}
		// Blocks 9 and 10 asked for while 0-9 are being sent: 9 is asked
		// for and not yet sent.
		r := v2Dial(t, addr, nil)
		rep := r.get("big")
		r.write(needFrame(rep.Transfer, []int64{0, 10}))
		underway(r, rep.Transfer)
		r.write(needFrame(rep.Transfer, []int64{9, 11}))
		time.Sleep(200 * time.Millisecond) // the server has read the NEED (it waits for nothing else)
		n, err := io.CopyN(io.Discard, r.conn, 10*h.BlockSize)
		if err != nil && !isClosed(err) {
			t.Fatal(err)
		}
		o := r.outcome(time.Second)
		o.data += n
		wantRefused(t, "a NEED asking again for a block asked for and not yet sent", o, 10*h.BlockSize)

		// The end (an empty NEED) while blocks 0-9 are being sent and 10-11
		// wait their turn: the run under way finishes, and the server
		// refuses the end of a transfer with blocks asked for and not sent.
		r = v2Dial(t, addr, nil)
		rep = r.get("big")
		r.write(needFrame(rep.Transfer, []int64{0, 10}, []int64{10, 12}))
		underway(r, rep.Transfer)
		r.write(needFrame(rep.Transfer))
		time.Sleep(200 * time.Millisecond)
		if _, err := io.CopyN(io.Discard, r.conn, 10*h.BlockSize); err != nil {
			t.Fatalf("the run under way: %v; want all of it", err)
		}
		o = r.outcome(time.Second)
		wantFailed(t, "an empty NEED while blocks are being sent", o, StatusBadRequest, "protocol")
		if o.data != 0 {
			t.Fatalf("%v; want nothing after the run under way", o)
		}
	})

	run("need-cancel", budget, func(t *testing.T) {
		// An empty NEED right after the reply refuses the array; the
		// connection stays usable, the next GET is served.
		r := v2Dial(t, addr, nil)
		for range 3 {
			rep := r.get("small")
			if err := r.write(needFrame(rep.Transfer)); err != nil {
				t.Fatal(err)
			}
			r.usable("an empty NEED before any data")
			tried++
		}
		// A pull by hand, the last block first, each checked; then the
		// end, and the connection carries requests again.
		rep := r.get("small")
		r.write(needFrame(rep.Transfer, []int64{nblocks - 1, nblocks}, []int64{0, 2}))
		r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		for _, run := range [][2]int64{{10 * bs, nbytes}, {0, 2 * bs}} { // one run a range
			kind, b, err := r.read()
			off, n := run[0], run[1]-run[0]
			if err != nil || kind != kindData || !bytes.Equal(b.Transfer, rep.Transfer) || b.Offset != off || b.Length != n {
				t.Fatalf("the run of [%d, %d): %s %+v, %v", run[0], run[1], kindName(kind), b, err)
			}
			got := make([]byte, n)
			if _, err := io.ReadFull(r.conn, got); err != nil || !bytes.Equal(got, small.Bytes()[off:off+n]) {
				t.Fatalf("the run of [%d, %d): %v, or its bytes differ", run[0], run[1], err)
			}
		}
		r.write(needFrame(rep.Transfer))
		r.usable("a pull of 3 blocks by hand")
		testutil.WaitFor(t, "the server to drop the sends", func() bool { return sendCount(srv) == 0 })
	})

	// --- DATA of a client pushing: the server is the receiver. ---
	run("data", budget, func(t *testing.T) {
		type step struct {
			off, n int64
			send   []byte // the run's bytes (nil: as many zeros as declared)
		}
		cases := []struct {
			what  string
			id    func(mine []byte) []byte // nil: the transfer's own
			steps []step
		}{
			{"a run sent twice", nil, []step{{0, bs, block(0)}, {0, bs, block(0)}}},
			{"a run overlapping one sent", nil, []step{{0, 2 * bs, data[:2*bs]}, {bs, 2 * bs, data[bs : 3*bs]}}},
			{"an offset not on a block boundary", nil, []step{{100, bs, data[100 : 100+bs]}}},
			{"an offset of a byte before a block", nil, []step{{bs - 1, bs + 1, data[bs-1 : 2*bs]}}},
			{"a length not ending on a block boundary", nil, []step{{0, 1000, data[:1000]}}},
			{"a length of a block and a byte", nil, []step{{0, bs + 1, data[:bs+1]}}},
			{"a last block longer than the data", nil, []step{{10 * bs, bs, nil}}},
			{"offset + length past the end", nil, []step{{9 * bs, 2 * bs, nil}}},
			{"an offset at the end", nil, []step{{nbytes, 0, nil}}},
			{"an offset past the end", nil, []step{{11 * bs, bs, nil}}},
			{"length 0", nil, []step{{0, 0, nil}}},
			{"length -1", nil, []step{{0, -1, nil}}},
			{"length -2^63", nil, []step{{0, -1 << 63, nil}}},
			{"offset -block", nil, []step{{-bs, bs, nil}}},
			{"length 2^62", nil, []step{{0, 1 << 62, nil}}},
			{"offset 2^62", nil, []step{{1 << 62, bs, nil}}},
			{"offset 2^63-block", nil, []step{{(1<<63 - 1) &^ (bs - 1), bs, nil}}},
			{"no transfer id", func([]byte) []byte { return nil }, []step{{0, bs, block(0)}}},
			{"another transfer id", func([]byte) []byte { return newTransferID() }, []step{{0, bs, block(0)}}},
			{"its transfer id cut short", func(mine []byte) []byte { return mine[:8] }, []step{{0, bs, block(0)}}},
		}
		for _, tc := range cases {
			name := unique(tc.what)
			r := v2Dial(t, addr, nil)
			rep := r.put(name, raw)
			if asked := r.needs(rep.Transfer, 1); len(asked) != 6 || asked[0] != 0 {
				t.Fatalf("the server asked for %v first; want blocks 0-5 (half of them)", asked)
			}
			id := rep.Transfer
			if tc.id != nil {
				id = tc.id(id)
			}
			for _, s := range tc.steps {
				b := s.send
				if b == nil {
					b = make([]byte, min(max(s.n, 0), 2*bs))
				}
				r.write(dataFrame(id, s.off, s.n), b)
			}
			o := r.outcome(3 * time.Second)
			r.conn.Close() // ends the server's drain
			wantFailed(t, "DATA with "+tc.what, o, StatusBadRequest, "protocol")
			notVisibleAmong(t, remote, name)
		}
	})

	run("data-not-asked-for", budget, func(t *testing.T) {
		// The server holds blocks 0 and 5 from an interrupted transfer:
		// it asks only for the others, and a run of block 0 or 5 is not
		// asked for, also when sent before reading any NEED (right after
		// the PUT's reply gave the transfer id).
		for _, tc := range []struct {
			what  string
			first bool // sent before reading the NEEDs
			off   int64
			n     int64
		}{
			{"a held block, before any NEED", true, 0, bs},
			{"a held block", false, 5 * bs, bs},
			{"a run over a held block", false, 4 * bs, 2 * bs},
		} {
			name := unique(tc.what)
			p, err := remote.Receive(name, raw, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, i := range []int{0, 5} {
				if _, err := p.ReceiveAt(bytes.NewReader(block(i)), int64(i)*bs, bs); err != nil {
					t.Fatal(err)
				}
			}
			p.Close()
			r := v2Dial(t, addr, nil)
			rep := r.put(name, raw)
			if rep.Held != 2*bs {
				t.Fatalf("PUT reply %+v: want held %d", rep, 2*bs)
			}
			if !tc.first {
				if blocks := r.needs(rep.Transfer, 1); slices.Contains(blocks, 0) || slices.Contains(blocks, 5) {
					t.Fatalf("the server asked for %v, a held block among them", blocks)
				}
			}
			r.write(dataFrame(rep.Transfer, tc.off, tc.n), data[tc.off:tc.off+tc.n])
			o := r.outcome(3 * time.Second)
			r.conn.Close()
			wantFailed(t, "DATA for "+tc.what, o, StatusBadRequest, "protocol")
			notVisibleAmong(t, remote, name)
			if held, _ := heldBlocks(t, remote, name, raw); held != 2*bs {
				t.Fatalf("the partial holds %d bytes after the refusal; want the 2 blocks it held", held)
			}
		}
		// Sent before any PUT: DATA outside a transfer.
		r := v2Dial(t, addr, nil)
		r.write(dataFrame(newTransferID(), 0, bs), block(0))
		o := r.outcome(3 * time.Second)
		wantFailed(t, "DATA outside a transfer", o, StatusBadRequest, "protocol")
	})

	run("data-other-transfer", budget, func(t *testing.T) {
		// Two live pushes of the same array under two names; B sends a run
		// of A's transfer, with A's bytes. B is refused, and A's transfer
		// neither takes nor loses anything by it: A then sends every block
		// and the server publishes it.
		nameA, nameB := unique("live-a"), unique("live-b")
		published[nameA] = true
		a, b := v2Dial(t, addr, nil), v2Dial(t, addr, nil)
		repA, repB := a.put(nameA, raw), b.put(nameB, raw)
		b.needs(repB.Transfer, 1)
		b.write(dataFrame(repA.Transfer, 0, bs), block(0))
		o := b.outcome(3 * time.Second)
		b.conn.Close()
		wantFailed(t, "DATA naming the live transfer of another connection", o, StatusBadRequest, "protocol")
		final, asked := a.pushLoop(repA.Transfer, data, bs, nil)
		if final.Status != StatusOK || final.Bytes != nbytes || len(asked) != nblocks {
			t.Fatalf("the other transfer: %+v after %v; want 200, %d bytes, every block once", final, asked, nbytes)
		}
		a.usable("a push by hand")
		pushed, err := remote.Open(nameA)
		if err != nil {
			t.Fatal(err)
		}
		defer pushed.Close()
		if err := pushed.Verify(); err != nil || !bytes.Equal(pushed.Bytes(), data) || !bytes.Equal(pushed.RawHeader(), raw) {
			t.Fatalf("the array pushed by hand: %v, or it differs", err)
		}
		notVisibleAmong(t, remote, nameB)
	})

	run("data-cut-short", budget, func(t *testing.T) {
		// A run followed by fewer bytes than it declares, then the end:
		// the server says why (today a 500 naming the unexpected EOF) or
		// closes, and keeps nothing of the block cut short.
		for _, n := range []int64{0, 1, 1000, bs - 1} {
			name := unique(fmt.Sprintf("cut after %d", n))
			r := v2Dial(t, addr, nil)
			rep := r.put(name, raw)
			r.needs(rep.Transfer, 1)
			r.write(dataFrame(rep.Transfer, 0, 2*bs), data[:n])
			r.conn.(*net.TCPConn).CloseWrite()
			o := r.outcome(3 * time.Second)
			tried++
			if o.err != nil || !o.closed || o.reply != nil && (o.reply.Status < 400 || o.reply.Message == "") {
				t.Fatalf("a run cut after %d bytes: %v; want a failure REPLY with a message and a close, or a close", n, o)
			}
			t.Logf("a run cut after %d bytes: %v", n, o)
			notVisibleAmong(t, remote, name)
			if held, _ := heldBlocks(t, remote, name, raw); held != 0 {
				t.Fatalf("the partial holds %d bytes", held)
			}
		}
	})

	run("data-bad-crc", budget, func(t *testing.T) {
		// Block 3 corrupt every time: asked for again twice, then the
		// transfer fails with 422 naming it, and the partial is discarded
		// (the same source would fail it again).
		name := unique("bad crc")
		r := v2Dial(t, addr, nil)
		rep := r.put(name, raw)
		bad := bytes.Clone(data)
		bad[3*bs+77] ^= 0x10
		final, asked := r.pushLoop(rep.Transfer, bad, bs, nil)
		if n := count(asked, 3); n != maxBlockAttempts {
			t.Fatalf("the server asked for %v: block 3 %d times; want %d", asked, n, maxBlockAttempts)
		}
		o := v2Outcome{reply: final}
		if _, err := r.conn.Read(make([]byte, 1)); isClosed(err) {
			o.closed = true
		}
		r.conn.Close()
		wantFailed(t, "block 3 corrupt three times", o, StatusChecksum, "checksum")
		if !strings.Contains(o.reply.Message, "block 3") {
			t.Fatalf("the reply %q does not name block 3", o.reply.Message)
		}
		notVisibleAmong(t, remote, name)
		// Nothing is left to resume: a new partial starts empty.
		if held, _ := heldBlocks(t, remote, name, raw); held != 0 {
			t.Fatalf("the partial holds %d bytes; want it discarded", held)
		}
	})

	run("data-good-by-hand", budget, func(t *testing.T) {
		// The control: a push by hand that keeps the rules is published.
		name := unique("good by hand")
		published[name] = true
		r := v2Dial(t, addr, nil)
		rep := r.put(name, raw)
		if final, asked := r.pushLoop(rep.Transfer, data, bs, nil); final.Status != StatusOK || final.Bytes != nbytes || len(asked) != nblocks {
			t.Fatalf("a push by hand: %+v after %v", final, asked)
		}
		tried++
		r.usable("a push by hand")
		a, err := remote.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		if err := a.Verify(); err != nil || !bytes.Equal(a.Bytes(), data) {
			t.Fatalf("the array pushed by hand: %v, or it differs", err)
		}
	})

	// --- Joins. ---
	run("join", budget, func(t *testing.T) {
		r := v2Dial(t, addr, nil)
		for _, tc := range []struct {
			kind byte
			b    any
		}{
			{kindPut, &putBody{Name: "small", Header: raw, Transfer: newTransferID()}},
			{kindGet, &getBody{Name: "small", Transfer: newTransferID()}},
		} {
			r.write(v2Frame(tc.kind, tc.b))
			wantReply(t, kindName(tc.kind)+" joining an unknown transfer", r.outcome(0), StatusNotFound, "not_found")
			r.usable("a join refused")
		}

		// A live pull of small and a live push under another name.
		puller, pusher := v2Dial(t, addr, nil), v2Dial(t, addr, nil)
		pull := puller.get("small")
		pushName := unique("join target")
		push := pusher.put(pushName, raw)
		pusher.needs(push.Transfer, 1)

		for _, tc := range []struct {
			what   string
			kind   byte
			b      any
			status int
			code   string
		}{
			{"a GET joining with the id of a pull of another array", kindGet, &getBody{Name: "good", Transfer: pull.Transfer}, StatusBadRequest, "protocol"},
			{"a GET joining with the id of a push", kindGet, &getBody{Name: pushName, Transfer: push.Transfer}, StatusNotFound, "not_found"},
			{"a PUT joining with the id of a push of another name", kindPut, &putBody{Name: "small", Header: raw, Transfer: push.Transfer}, StatusBadRequest, "protocol"},
			{"a PUT joining with the id of a push of another header", kindPut, &putBody{Name: pushName, Header: small.RawHeader(), Transfer: push.Transfer}, StatusBadRequest, "protocol"},
			{"a PUT joining with the id of a push and no header", kindPut, &putBody{Name: pushName, Transfer: push.Transfer}, StatusBadRequest, "protocol"},
			{"a PUT joining with the id of a pull", kindPut, &putBody{Name: "small", Header: small.RawHeader(), Transfer: pull.Transfer}, StatusNotFound, "not_found"},
		} {
			r.write(v2Frame(tc.kind, tc.b))
			wantReply(t, tc.what, r.outcome(0), tc.status, tc.code)
			r.usable(tc.what)
		}

		// Without the feature agreed: a version-2 HELLO offering none.
		solo := v2Dial(t, addr, v2Hello())
		if len(solo.hello.Features) != 0 {
			t.Fatalf("the server agreed on %v with a client offering none", solo.hello.Features)
		}
		streamsName := unique("streams without join")
		for _, tc := range []struct {
			what string
			kind byte
			b    any
		}{
			{"a GET joining a live pull", kindGet, &getBody{Name: "small", Transfer: pull.Transfer}},
			{"a PUT joining a live push", kindPut, &putBody{Name: pushName, Header: raw, Transfer: push.Transfer}},
			{"a GET joining an unknown transfer", kindGet, &getBody{Name: "small", Transfer: newTransferID()}},
			{"a PUT announcing 4 streams", kindPut, &putBody{Name: streamsName, Header: raw, Streams: 4}},
		} {
			solo.write(v2Frame(tc.kind, tc.b))
			wantReply(t, tc.what+" without the join feature", solo.outcome(0), StatusUnsupported, "unsupported")
			solo.usable(tc.what + " without the join feature")
		}
		// The refused PUT left nothing: no partial file was prepared (it
		// used to be preallocated at the array's full size, and kept).
		if files := partialFiles(t, remote, streamsName); len(files) != 0 {
			t.Fatalf("a PUT refused 501 left %v", files)
		}

		// Streams announced beyond MaxStreams count as MaxStreams: the first
		// NEED leaves blocks for one more connection (a quarter of them, not
		// half), and a negative count is none.
		for _, tc := range []struct {
			streams int
			first   int
		}{{math.MaxInt, 3}, {-1, 6}} {
			x := v2Dial(t, addr, nil)
			rep := x.request(kindPut, &putBody{Name: unique(fmt.Sprintf("streams %d", tc.streams)), Header: raw, Streams: tc.streams})
			if rep.Status != StatusOK {
				t.Fatalf("a PUT announcing %d streams: %+v", tc.streams, rep)
			}
			if asked := x.needs(rep.Transfer, 1); len(asked) != tc.first {
				t.Fatalf("a PUT announcing %d streams: the server asked for %v first; want %d blocks", tc.streams, asked, tc.first)
			}
			x.conn.Close()
			tried++
		}

		// MaxStreams is 2: the second connection joins, the third is busy.
		joined := v2Dial(t, addr, nil)
		if rep := joined.request(kindGet, &getBody{Name: "small", Transfer: pull.Transfer}); rep.Status != StatusOK ||
			!bytes.Equal(rep.Transfer, pull.Transfer) || !bytes.Equal(rep.Header, pull.Header) {
			t.Fatalf("a GET joining a live pull: %+v", rep)
		}
		joinedPush := v2Dial(t, addr, nil)
		if rep := joinedPush.request(kindPut, &putBody{Name: pushName, Header: raw, Transfer: push.Transfer}); rep.Status != StatusOK ||
			!bytes.Equal(rep.Transfer, push.Transfer) {
			t.Fatalf("a PUT joining a live push: %+v", rep)
		}
		for _, tc := range []struct {
			what string
			kind byte
			b    any
		}{
			{"a third GET joining a pull", kindGet, &getBody{Name: "small", Transfer: pull.Transfer}},
			{"a third PUT joining a push", kindPut, &putBody{Name: pushName, Header: raw, Transfer: push.Transfer}},
		} {
			r.write(v2Frame(tc.kind, tc.b))
			wantReply(t, tc.what+" beyond MaxStreams", r.outcome(0), StatusBusy, "busy")
			r.usable(tc.what + " beyond MaxStreams")
		}
		for _, c := range []*v2Conn{puller, pusher, joined, joinedPush} {
			c.conn.Close()
		}
		testutil.WaitFor(t, "the server to drop the joined transfers", func() bool { return recvCount(srv) == 0 && sendCount(srv) == 0 })
		notVisibleAmong(t, remote, pushName)
	})

	// --- Version-2 framing. ---
	run("framing", budget, func(t *testing.T) {
		r := v2Dial(t, addr, nil)
		withFlags := func(kind byte, flags uint16, b any) []byte {
			raw := v2Frame(kind, b)
			raw[2], raw[3] = byte(flags), byte(flags>>8)
			return raw
		}
		for _, tc := range []struct {
			what string
			raw  []byte
			says string
		}{
			{"kind 0", v2Frame(0, &listBody{}), "kind 0"},
			{"kind 4", v2Frame(4, &listBody{}), "kind 4"},
			{"kind 99", v2Frame(99, &nameBody{Name: "good"}), "kind 99"},
			{"kind 255", frameBytes(Version2, 255, 0, 1, []byte{0x80}), "kind 255"},
			{"FROM", v2Frame(kindFrom, &fromBody{Offset: 0}), "FROM"},
			{"FROM cancelling", v2Frame(kindFrom, &fromBody{Cancel: true}), "FROM"},
			{"a LIST with flag 1", withFlags(kindList, 1, &listBody{}), "flags"},
			{"a LIST with flag 0x8000", withFlags(kindList, 0x8000, &listBody{}), "flags"},
			{"a GET with flags", withFlags(kindGet, 0xffff, &getBody{Name: "good"}), "flags"},
			{"a STAT with an unknown key", v2Frame(kindStat, map[string]any{"name": "good", "at": "noon"}), `"at"`},
			{"a LIST with an unknown key", v2Frame(kindList, map[string]any{"prefix": "g", "sort": "size"}), `"sort"`},
			{"a GET with an unknown key", v2Frame(kindGet, map[string]any{"name": "good", "from": 0}), `"from"`},
			{"a PUT with an unknown key", v2Frame(kindPut, map[string]any{"name": "u", "header": raw, "compress": "zstd"}), `"compress"`},
		} {
			r.write(tc.raw)
			o := r.outcome(0)
			wantReply(t, tc.what, o, StatusUnsupported, "unsupported")
			if !strings.Contains(o.reply.Message, tc.says) {
				t.Fatalf("%s: %q does not name %s", tc.what, o.reply.Message, tc.says)
			}
			r.usable(tc.what)
		}
		notVisibleAmong(t, remote, "u")
		for _, tc := range []struct {
			what string
			raw  []byte
			code string
		}{
			{"a version-1 frame", frameOf(kindList, []byte{0x80}), "protocol"},
			{"a version-3 frame", frameBytes(3, kindList, 0, 1, []byte{0x80}), "protocol"},
			{"a version-0 frame", frameBytes(0, kindList, 0, 1, []byte{0x80}), "protocol"},
			{"a LIST declaring 1 MiB", frameBytes(Version2, kindList, 0, 1<<20, nil), "message_too_large"},
			{"a DATA declaring 4 KiB + 1", frameBytes(Version2, kindData, 0, 4<<10+1, nil), "message_too_large"},
		} {
			r := v2Dial(t, addr, nil)
			r.write(tc.raw)
			wantFailed(t, tc.what+" on a version-2 connection", r.outcome(3*time.Second), StatusBadRequest, tc.code)
		}
	})

	// --- A PUT whose connection dies before its reply is written. ---
	run("put-reset-before-reply", budget, func(t *testing.T) {
		// The server has prepared the transfer when it finds the client
		// gone. It must let go of the transfer (and of the partial's lock):
		// the next push of the same array is served. (It used to keep the
		// connection attached, since only serve detached it: the transfer
		// stayed in the server's table and every later push of that array
		// was refused 409 until a restart. The reset must beat the reply
		// for this to show; it did in every run on loopback.)
		name := unique("reset before reply")
		published[name] = true
		for range 5 {
			r := v2Dial(t, addr, nil)
			r.write(v2Frame(kindPut, &putBody{Name: name, Header: raw}))
			r.conn.(*net.TCPConn).SetLinger(0) // close with a reset, at once
			r.conn.Close()
			tried++
		}
		testutil.WaitFor(t, "the server to let go of the transfers whose client reset", func() bool { return recvCount(srv) == 0 })
		src := storeSmallBlockArray(t, local, "src-"+strings.ReplaceAll(name, "/", "-"), nbytes, 2)
		c := dial(t, addr, &DialOptions{Timeout: 5 * time.Second})
		if _, err := c.Push(ctx, src, name); err != nil {
			t.Fatalf("a push after the resets: %v", err)
		}
		sameArray(t, src, remote, name)
	})

	pulls := goods.finish(t)
	t.Logf("%d hostile version-2 connections refused or cut off; the well-behaved clients pulled %d times meanwhile, all intact", tried, pulls)
	if pulls == 0 {
		t.Error("the well-behaved clients pulled nothing")
	}
	testutil.WaitFor(t, "the server to end every transfer", func() bool { return recvCount(srv) == 0 && sendCount(srv) == 0 })
	// Still serving: a good push and pull of many small blocks.
	c := dial(t, addr, &DialOptions{Timeout: 5 * time.Second})
	src := storeSmallBlockArray(t, local, "after", nbytes, 3)
	if _, err := c.Push(ctx, src, "after"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pull(ctx, "small", local, "small-back"); err != nil {
		t.Fatal(err)
	}
	sameArray(t, small, local, "small-back")
	if names, err := remote.List(); err != nil {
		t.Fatal(err)
	} else {
		for _, n := range names {
			if strings.HasPrefix(n, "hostile/") && !published[n] {
				t.Errorf("%s is published", n)
			}
		}
	}
}

// ---------------------------------------------------------------------------
// A hostile server
// ---------------------------------------------------------------------------

// scriptServer accepts connections and runs script on each after the
// handshake, as a version-2 server offering join: the script reads the
// client's frames and writes what it likes.
func scriptServer(t testing.TB, script func(c net.Conn)) string {
	t.Helper()
	return scriptServerWith(t, []string{FeatureJoin}, script)
}

// scriptServerWith is scriptServer offering features.
func scriptServerWith(t testing.TB, features []string, script func(c net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				if readMagic(c) != nil {
					return
				}
				if _, err := expect(c, 4<<10, kindHello); err != nil {
					return
				}
				c.Write(Magic[:])
				writeMsg(c, Version1, kindHello, &helloBody{Version: Version2, Versions: versions, Features: features, Software: "hostile"})
				script(c)
			})
		}
	})
	return l.Addr().String()
}

// TestHostileV2Server plays a hostile version-2 server to a client pulling
// and pushing: DATA runs it did not ask for, of another transfer, longer
// than the array; a REPLY of 200 or a NEED in the middle of a pull; NEEDs
// that break the rules in a push. The client must return an error
// (ErrProtocol) well within its 5 s timeout, publish nothing, and leave
// nothing visible under the name.
func TestHostileV2Server(t *testing.T) {
	ctx := context.Background()
	st := teststore.At(t, testutil.ShmOrTempDir(t))
	const bs = arrayx.MinBlockSize
	const nbytes = 4*bs + 100 // 5 blocks
	raw, data := smallBlockArray(t, nbytes, 4)
	id := bytes.Repeat([]byte{0xab}, 16)
	block := func(i int) []byte { return data[int64(i)*bs : min(int64(i+1)*bs, nbytes)] }
	run := func(c net.Conn, frames ...[]byte) { c.Write(bytes.Join(frames, nil)) }

	// firstNeed reads the client's first NEED: half the blocks it lacks
	// (transfer.go), here blocks 0-2.
	firstNeed := func(c net.Conn) ([]int, error) {
		var blocks []int
		b, err := expect(c, 64<<10, kindNeed)
		if err != nil {
			return blocks, err
		}
		for _, r := range b.Ranges {
			for i := r[0]; i < r[1]; i++ {
				blocks = append(blocks, int(i))
			}
		}
		return blocks, nil
	}
	// pull answers a GET with the array's header and transfer id, reads
	// the first NEED, then plays then.
	pull := func(then func(c net.Conn, blocks []int)) func(c net.Conn) {
		return func(c net.Conn) {
			if _, err := expect(c, 64<<10, kindGet); err != nil {
				return
			}
			run(c, v2Frame(kindReply, &replyBody{Status: StatusOK, Header: raw, Transfer: id, Method: "sendfile"}))
			blocks, err := firstNeed(c)
			if err != nil || fmt.Sprint(blocks) != "[0 1 2]" {
				t.Errorf("the client asked for %v, %v; want [0 1 2]", blocks, err)
				return
			}
			then(c, blocks)
			io.Copy(io.Discard, c) // until the client closes
		}
	}
	cases := []struct {
		what   string
		script func(c net.Conn, blocks []int)
	}{
		{"a run of a block not asked for", func(c net.Conn, _ []int) {
			run(c, dataFrame(id, 3*bs, bs), block(3))
		}},
		{"a run of the blocks asked for and one more", func(c net.Conn, _ []int) {
			run(c, dataFrame(id, 0, 4*bs), data[:4*bs])
		}},
		{"a run past the last block", func(c net.Conn, _ []int) {
			run(c, dataFrame(id, 5*bs, bs), make([]byte, bs))
		}},
		{"a run sent twice", func(c net.Conn, _ []int) {
			run(c, dataFrame(id, 0, bs), block(0), dataFrame(id, 0, bs), block(0))
		}},
		{"a run of another transfer", func(c net.Conn, _ []int) {
			run(c, dataFrame(bytes.Repeat([]byte{0xcd}, 16), 0, bs), block(0))
		}},
		{"a run without a transfer id", func(c net.Conn, _ []int) {
			run(c, dataFrame(nil, 0, bs), block(0))
		}},
		{"a run longer than the array", func(c net.Conn, _ []int) {
			run(c, dataFrame(id, 0, nbytes+bs), data)
		}},
		{"a run of 2^62 bytes", func(c net.Conn, _ []int) {
			run(c, dataFrame(id, 0, 1<<62), data)
		}},
		{"a run at a negative offset", func(c net.Conn, _ []int) {
			run(c, dataFrame(id, -bs, bs), block(0))
		}},
		{"a run off the block boundaries", func(c net.Conn, _ []int) {
			run(c, dataFrame(id, 100, bs), data[100:100+bs])
		}},
		{"a REPLY of 200 in the middle", func(c net.Conn, _ []int) {
			run(c, dataFrame(id, 0, bs), block(0), v2Frame(kindReply, &replyBody{Status: StatusOK, Bytes: nbytes}))
		}},
		{"a REPLY of 200 before any data", func(c net.Conn, _ []int) {
			run(c, v2Frame(kindReply, &replyBody{Status: StatusOK}))
		}},
		{"a NEED on a pull", func(c net.Conn, _ []int) {
			run(c, dataFrame(id, 0, bs), block(0), needFrame(id, []int64{0, 1}))
		}},
		{"a LIST reply's page in the middle", func(c net.Conn, _ []int) {
			run(c, v2Frame(kindReply, &replyBody{Status: StatusOK, Arrays: []Entry{{Name: "x"}}}))
		}},
		{"a frame of version 1", func(c net.Conn, _ []int) {
			var buf bytes.Buffer
			writeMsg(&buf, Version1, kindData, &dataBody{Transfer: id, Offset: 0, Length: bs})
			run(c, buf.Bytes(), block(0))
		}},
		{"an unknown kind", func(c net.Conn, _ []int) {
			run(c, v2Frame(99, &dataBody{Transfer: id}))
		}},
		{"a run with an unknown key", func(c net.Conn, _ []int) {
			run(c, v2Frame(kindData, map[string]any{"transfer": id, "offset": 0, "length": bs, "zstd": true}), block(0))
		}},
	}
	for i, tc := range cases {
		t.Run(strings.ReplaceAll(tc.what, " ", "-"), func(t *testing.T) {
			addr := scriptServer(t, pull(tc.script))
			c := dial(t, addr, &DialOptions{Timeout: 5 * time.Second})
			as := fmt.Sprintf("pulled-%d", i)
			start := time.Now()
			_, err := c.Pull(ctx, "x", st, as)
			took := time.Since(start)
			t.Logf("%v after %v", err, took.Round(time.Millisecond))
			if !errors.Is(err, ErrProtocol) && !(strings.Contains(tc.what, "unknown") && errors.Is(err, ErrUnsupported)) {
				t.Fatalf("pull from a server sending %s: %v; want ErrProtocol", tc.what, err)
			}
			if took > 3*time.Second {
				t.Fatalf("the client took %v to give up; want it at once", took)
			}
			notVisibleAmong(t, st, as)
		})
	}

	// The client holds block 0 already (a partial of an interrupted pull):
	// it asks for the others, and a run of block 0 is not asked for.
	t.Run("a-run-of-a-held-block", func(t *testing.T) {
		p, err := st.Receive("held", raw, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.ReceiveAt(bytes.NewReader(block(0)), 0, bs); err != nil {
			t.Fatal(err)
		}
		p.Close()
		asked := make(chan []int, 1)
		addr := scriptServer(t, func(c net.Conn) {
			if _, err := expect(c, 64<<10, kindGet); err != nil {
				return
			}
			run(c, v2Frame(kindReply, &replyBody{Status: StatusOK, Header: raw, Transfer: id, Method: "sendfile"}))
			blocks, _ := firstNeed(c)
			asked <- blocks
			run(c, dataFrame(id, 0, bs), block(0))
			io.Copy(io.Discard, c)
		})
		c := dial(t, addr, &DialOptions{Timeout: 5 * time.Second})
		_, err = c.Pull(ctx, "x", st, "held")
		if !errors.Is(err, ErrProtocol) {
			t.Fatalf("pull: %v; want ErrProtocol", err)
		}
		if b := <-asked; fmt.Sprint(b) != "[1 2]" {
			t.Fatalf("the client asked for %v first; want [1 2], half the blocks it lacks", b)
		}
		notVisibleAmong(t, st, "held")
	})

	// Pushes: the server's NEEDs break the rules.
	src := storeSmallBlockArray(t, teststore.At(t, t.TempDir()), "src", nbytes, 4)
	push := func(then func(c net.Conn)) func(c net.Conn) {
		return func(c net.Conn) {
			if _, err := expect(c, 2<<20, kindPut); err != nil {
				return
			}
			run(c, v2Frame(kindReply, &replyBody{Status: StatusOK, Transfer: id, Method: "pwrite"}))
			then(c)
			io.Copy(io.Discard, c)
		}
	}
	for _, tc := range []struct {
		what string
		then func(c net.Conn)
	}{
		{"a NEED past the last block", func(c net.Conn) { run(c, needFrame(id, []int64{0, 6})) }},
		{"a NEED of 2^62 blocks", func(c net.Conn) { run(c, needFrame(id, []int64{0, 1 << 62})) }},
		{"a NEED asking twice for a block", func(c net.Conn) { run(c, needFrame(id, []int64{0, 2}, []int64{1, 3})) }},
		{"a NEED of another transfer", func(c net.Conn) { run(c, needFrame(bytes.Repeat([]byte{1}, 16), []int64{0, 1})) }},
		{"an empty NEED (the end of a pull)", func(c net.Conn) { run(c, needFrame(id)) }},
		{"a DATA run", func(c net.Conn) { run(c, dataFrame(id, 0, bs), block(0)) }},
	} {
		t.Run("push-"+strings.ReplaceAll(tc.what, " ", "-"), func(t *testing.T) {
			addr := scriptServer(t, push(tc.then))
			c := dial(t, addr, &DialOptions{Timeout: 5 * time.Second})
			start := time.Now()
			_, err := c.Push(ctx, src, "x")
			took := time.Since(start)
			t.Logf("%v after %v", err, took.Round(time.Millisecond))
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("push to a server sending %s: %v; want ErrProtocol", tc.what, err)
			}
			if took > 3*time.Second {
				t.Fatalf("the client took %v to give up; want it at once", took)
			}
		})
	}
	if names, err := st.List(); err != nil || len(names) != 0 {
		t.Fatalf("the client's store lists %v, %v; want nothing", names, err)
	}
}
