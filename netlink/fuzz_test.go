package netlink

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/internal/testutil/teststore"
	"github.com/arrayx/arrayx/mmapstore"
	"github.com/vmihailenco/msgpack/v5"
	"golang.org/x/sys/unix"
)

// FuzzReadMsg feeds arbitrary bytes to the message parser: it must never
// panic, every error must say what was wrong (a protocol error, a message
// over the limit, or the input ending), and every message it accepts must
// encode back to the same bytes and parse again.
func FuzzReadMsg(f *testing.F) {
	for kind, b := range map[byte]*body{
		kindHello:  {Version: Version1, Software: "arrayx", Nonce: bytes.Repeat([]byte{7}, NonceSize)},
		kindAuth:   {MAC: bytes.Repeat([]byte{9}, 32)},
		kindReply:  {Status: StatusOK, Offset: 4 << 20, Method: "sendfile", Arrays: []Entry{{Name: "a/b", DType: "float64", Shape: []int64{2, 3}, Order: "C", NBytes: 48}}},
		kindPut:    {Name: "sim/t", Header: []byte("\x89ARX\r\n\x1a\n\x01\x00\x00\x00\x00\x00\x00\x00")},
		kindGet:    {Name: "sim/t"},
		kindFrom:   {Offset: 8 << 20},
		kindStat:   {Name: "x"},
		kindList:   {},
		kindDelete: {Name: "x"},
		kindNeed:   {Transfer: fuzzTransfer, Ranges: [][]int64{{0, 16}, {20, 21}}},
		kindData:   {Transfer: fuzzTransfer, Offset: 20 << 22, Length: 4 << 20},
	} {
		var buf bytes.Buffer
		if err := writeMsg(&buf, Version1, kind, b); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
		f.Add(buf.Bytes()[:buf.Len()-1]) // truncated
	}
	huge := make([]byte, frameSize)
	huge[0], huge[1] = Version1, kindGet
	binary.LittleEndian.PutUint32(huge[4:], 1<<31)
	f.Add(huge)
	f.Fuzz(func(t *testing.T, in []byte) {
		const limit = 64 << 10
		kind, b, err := readMsg(bytes.NewReader(in), limit)
		if err != nil {
			if !errors.Is(err, ErrProtocol) && !errors.Is(err, ErrMessageTooLarge) &&
				!errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		var once, twice bytes.Buffer
		if err := writeMsg(&once, Version1, kind, b); err != nil {
			t.Fatalf("accepted message does not encode: %v", err)
		}
		kind2, b2, err := readMsg(bytes.NewReader(once.Bytes()), limit+1<<10)
		if err != nil || kind2 != kind {
			t.Fatalf("re-encoded message does not parse: %v", err)
		}
		writeMsg(&twice, Version1, kind2, b2)
		if !bytes.Equal(once.Bytes(), twice.Bytes()) {
			t.Fatal("message changed in a round trip")
		}
	})
}

// ---------------------------------------------------------------------------
// Every parser on the network path, fuzzed: frame prefixes (FuzzReadMsg,
// FuzzFrameBoundary), message bodies of each kind as the server handles them
// (FuzzServerConn), and replies, headers and data as the client handles them
// (FuzzClientConn), in versions 1 and 2; and the checks of version 2's
// transfers, where either side may be the sender or the receiver: NEEDs as
// a sender validates them (FuzzNeed), DATA runs as a receiver lands them
// (FuzzData). Array headers are parsed by arrayx.Unmarshal, fuzzed in
// arrayx (FuzzUnmarshal, FuzzReadHeader, FuzzScanMsgpack). Seed corpora are
// in testdata/fuzz/<target>/, written by TestFuzzCorpus -update-fuzz-corpus.
// ---------------------------------------------------------------------------

var updateFuzzCorpus = flag.Bool("update-fuzz-corpus", false, "rewrite testdata/fuzz/ for the netlink fuzz targets")

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// FuzzFrameBoundary: whatever a frame's prefix declares, readMsg reads that
// one frame and not a byte more (array data follows frames on the same
// connection), and reads nothing past the prefix of a frame it refuses from
// its prefix (a body over the limit is never read, let alone allocated).
func FuzzFrameBoundary(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte, limit uint16) {
		r := &countingReader{r: io.MultiReader(bytes.NewReader(in), bytes.NewReader([]byte("DATA PHASE, NOT FOR THE PARSER")))}
		_, _, err := readMsg(r, int(limit))
		if len(in) < frameSize {
			if err == nil {
				t.Fatalf("a %d-byte input parsed", len(in))
			}
			return
		}
		declared, n := int64(binary.LittleEndian.Uint32(in[4:])), int64(r.n)
		if n > frameSize+declared {
			t.Fatalf("read %d bytes of a frame of %d", r.n, frameSize+declared)
		}
		switch {
		case err == nil && n != frameSize+declared:
			t.Fatalf("accepted a frame of %d bytes after reading %d", frameSize+declared, r.n)
		case err == nil && declared > int64(limit):
			t.Fatalf("accepted a %d-byte body over the limit of %d", declared, limit)
		case errors.Is(err, ErrMessageTooLarge) && (n != frameSize || declared <= int64(limit)):
			t.Fatalf("too large: %v, after reading %d bytes (declared %d, limit %d)", err, r.n, declared, limit)
		case declared > int64(limit) && n != frameSize:
			t.Fatalf("read %d bytes of a frame declaring %d over the limit of %d", r.n, declared, limit)
		}
	})
}

// socketPair returns the two ends of a connected Unix stream socket.
func socketPair(tb testing.TB) (*net.UnixConn, *net.UnixConn) {
	tb.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	var ends [2]*net.UnixConn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			tb.Fatal(err)
		}
		ends[i] = c.(*net.UnixConn)
	}
	return ends[0], ends[1]
}

// fuzzArray makes the small array both fuzz targets serve: "a", 2x3
// float64 with attrs, its bytes fixed so that seeds can carry its header.
func fuzzArray(tb testing.TB, st *mmapstore.Store, name string) *mmapstore.Array {
	tb.Helper()
	w, err := st.Create(name, arrayx.Float64, arrayx.Shape{2, 3}, arrayx.OrderC, &mmapstore.CreateOptions{Attrs: map[string]any{"units": "m"}})
	if err != nil {
		tb.Fatal(err)
	}
	for i := range w.Bytes() {
		w.Bytes()[i] = byte(i*31 + 7)
	}
	a, err := w.Seal()
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// resetStore removes everything in dir but keep (ARRAYX files and partials
// the previous input left), so that inputs do not add up.
func resetStore(tb testing.TB, dir string, keep ...string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range ents {
		if !slices.Contains(keep, e.Name()) {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// verifyAll checks that every array the store lists opens and verifies:
// whatever a peer sends, only whole, verified arrays are published.
func verifyAll(t *testing.T, st *mmapstore.Store) {
	t.Helper()
	names, err := st.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		a, err := st.Open(n)
		if err != nil {
			t.Fatalf("published %s does not open: %v", n, err)
		}
		err = a.Verify()
		a.Close()
		if err != nil {
			t.Fatalf("published %s does not verify: %v", n, err)
		}
	}
}

const fuzzToken = "fuzz-token"

// FuzzServerConn feeds a whole connection's bytes to a server (with or
// without a token) and reads everything it answers: the handshake, then
// requests of every kind, their bodies, PUT headers and data, and version
// 2's NEEDs and DATA runs. The server must not panic or hang, must say
// nothing to a peer that did not open with the magic, must start every
// answer with its magic and a HELLO or REPLY, and must publish nothing that
// does not verify. A transfer id is random, so an input names the n-th one
// the server hands out with transferSlot(n), which the harness replaces.
func FuzzServerConn(f *testing.F) {
	dir := f.TempDir()
	st := teststore.At(f, dir)
	fuzzArray(f, st, "a").Close()
	cfg := Config{MaxArrayBytes: 1 << 20, MaxHeaderBytes: 64 << 10, ReadTimeout: time.Second, IdleTimeout: time.Second, WriteTimeout: time.Second}
	open := NewServer(st, cfg)
	cfg.Token = []byte(fuzzToken)
	locked := NewServer(st, cfg)
	f.Fuzz(func(t *testing.T, in []byte, auth bool) {
		srv := open
		if auth {
			srv = locked
		}
		sconn, cconn := socketPair(t)
		defer cconn.Close()
		c := srv.newConn(sconn)
		if !srv.track(c) {
			t.Fatal("server refused the connection")
		}
		served := make(chan struct{})
		go func() { c.serve(); close(served) }()
		answer := newServerAnswer()
		go func() {
			defer cconn.CloseWrite()
			writeWithSlots(cconn, in, answer)
		}()
		cconn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := io.Copy(answer, cconn)
		out := answer.close()
		if err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("reading the server's answer: %v", err)
		}
		select {
		case <-served:
		case <-time.After(10 * time.Second):
			t.Fatal("the server did not finish with the connection within 10 s of its input ending")
		}
		if len(out) > 0 {
			if !bytes.HasPrefix(in, Magic[:]) {
				t.Fatalf("the server answered %d bytes to a peer that sent no magic", len(out))
			}
			r := bytes.NewReader(out)
			if err := readMagic(r); err != nil {
				t.Fatalf("the server's answer: %v", err)
			}
			if kind, _, err := readMsg(r, 1<<20); err != nil || kind != kindHello && kind != kindReply {
				t.Fatalf("the server's first message: %s, %v", kindNames[kind], err)
			}
		}
		verifyAll(t, st)
		resetStore(t, dir, "a.arx")
		if _, err := os.Stat(filepath.Join(dir, "a.arx")); err != nil { // DELETEd
			fuzzArray(t, st, "a").Close()
		}
	})
}

// FuzzClientConn plays a hostile server to a client: the input is all the
// server says (magic, HELLO, replies, array data), and the client runs a
// STAT, a LIST, a PULL and a PUSH on the connection. It must not panic or
// hang, and whatever it pulls and publishes must verify.
func FuzzClientConn(f *testing.F) {
	dir := f.TempDir()
	st := teststore.At(f, dir)
	src := teststore.Temp(f)
	mine := fuzzArray(f, src, "a")
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, in []byte, token bool) {
		sconn, cconn := socketPair(t)
		defer sconn.Close()
		go func() {
			sconn.Write(in)
			sconn.CloseWrite()
			io.Copy(io.Discard, sconn)
		}()
		opts := DialOptions{Timeout: 5 * time.Second, MaxHeaderBytes: 64 << 10, MaxArrayBytes: 1 << 20}
		if token {
			opts.Token = []byte(fuzzToken)
		}
		c := &Client{opts: opts.withDefaults()}
		defer cconn.Close()
		done := make(chan struct{})
		go func() {
			defer close(done)
			var err error
			if c.c, err = c.start(ctx, cconn); err != nil {
				return
			}
			c.Stat(ctx, "a")
			c.List(ctx, "")
			c.Pull(ctx, "a", st, "pulled")
			c.Push(ctx, mine, "a")
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("the client did not finish within 20 s of the server's input ending")
		}
		verifyAll(t, st)
		resetStore(t, dir)
	})
}

// ---------------------------------------------------------------------------
// Version 2: NEED and DATA
// ---------------------------------------------------------------------------

// fuzzTransfer is the transfer id of the fuzz targets' transfers (the one
// docs/PROTOCOL.md's examples use).
var fuzzTransfer = []byte{0x5e, 0x1f, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd}

// The arrays FuzzNeed and FuzzData move: uint8 of 4 blocks of 64 KiB, the
// last one short.
const (
	fuzzBlock  = arrayx.MinBlockSize
	fuzzNBytes = 3*fuzzBlock + 100
	fuzzBlocks = 4
)

// needModel is what a NEED body should mean to a sender, judged here
// without the sender's code: whether it is valid, the end of a pull (no
// ranges), and the blocks it asks for.
type needModel struct {
	valid, end bool
	blocks     []int
}

func modelNeed(b []byte) needModel {
	f, err := readFrame(bytes.NewReader(frameBytes(Version2, kindNeed, 0, uint32(len(b)), b)), func(byte) int { return bodyLimit(kindNeed, 0) })
	if err != nil {
		return needModel{}
	}
	var nb needBody
	if f.decode(&nb, true) != nil || !bytes.Equal(nb.Transfer, fuzzTransfer) {
		return needModel{}
	}
	if len(nb.Ranges) == 0 {
		return needModel{valid: true, end: true}
	}
	var m needModel
	seen := map[int]bool{}
	for _, r := range nb.Ranges {
		if len(r) != 2 || r[0] < 0 || r[0] >= r[1] || r[1] > fuzzBlocks {
			return needModel{}
		}
		for i := int(r[0]); i < int(r[1]); i++ {
			if seen[i] {
				return needModel{}
			}
			seen[i] = true
			m.blocks = append(m.blocks, i)
		}
	}
	m.valid = true
	return m
}

// FuzzNeed sends two NEED bodies, then (once everything asked for has come)
// the end of a pull, to the sending half of a real transfer
// (sendTransfer.serve, the path of every NEED a server answers in a pull and
// a client in a push) over a socket pair, and reads what it sends. It must
// not panic or hang. A NEED asking for a block outside the array, for one
// twice, for one asked for and not yet sent, or of another transfer, must
// end the transfer with ErrProtocol (ErrUnsupported for an unknown key);
// every DATA run must be whole blocks of the array, asked for, with the
// array's bytes, no block sent more often than asked for; and two valid
// NEEDs asking for different blocks must be answered in full.
func FuzzNeed(f *testing.F) {
	st := teststore.At(f, testutil.ShmOrTempDir(f))
	a := storeSmallBlockArray(f, st, "n", fuzzNBytes, 7)
	if a.Header().NumBlocks() != fuzzBlocks {
		f.Fatalf("%d blocks", a.Header().NumBlocks())
	}
	endBody := mpSorted(&needBody{Transfer: fuzzTransfer})
	end := frameBytes(Version2, kindNeed, 0, uint32(len(endBody)), endBody) // the end of a pull
	f.Fuzz(func(t *testing.T, first, second []byte) {
		m1, m2 := modelNeed(first), modelNeed(second)
		both := m1.valid && !m1.end && m2.valid && !m2.end
		asked := map[int]int{} // blocks the valid NEEDs the sender reads ask for
		if m1.valid {
			for _, i := range m1.blocks {
				asked[i]++
			}
			if !m1.end && m2.valid {
				for _, i := range m2.blocks {
					asked[i]++
				}
			}
		}
		sconn, cconn := socketPair(t)
		defer cconn.Close()
		c := newConn(sconn, 5*time.Second, 5*time.Second, 64<<10)
		c.version = Version2
		s := newSendTransfer(fuzzTransfer, "n", arraySource{a}, false, nil)
		served := make(chan error, 1)
		go func() {
			_, err := s.serve(c, false)
			sconn.Close()
			served <- err
		}()
		go cconn.Write(append(frameBytes(Version2, kindNeed, 0, uint32(len(first)), first),
			frameBytes(Version2, kindNeed, 0, uint32(len(second)), second)...))
		cconn.SetReadDeadline(time.Now().Add(10 * time.Second))
		sent := map[int]int{}
		total, ended := 0, false
		for {
			if both && !ended && total == len(m1.blocks)+len(m2.blocks) {
				cconn.Write(end) // everything asked for came: the end
				ended = true
			}
			kind, b, err := readMsg(cconn, 64<<10)
			if err != nil {
				if !isClosed(err) {
					t.Fatalf("reading the sender: %v", err)
				}
				break
			}
			if kind != kindData {
				t.Fatalf("the sender sent %s %+v", kindName(kind), b)
			}
			h := a.Header()
			if !bytes.Equal(b.Transfer, fuzzTransfer) || b.Offset < 0 || b.Offset >= h.NBytes || b.Offset%h.BlockSize != 0 ||
				b.Length <= 0 || b.Length > h.NBytes-b.Offset || (b.Offset+b.Length)%h.BlockSize != 0 && b.Offset+b.Length != h.NBytes {
				t.Fatalf("a DATA run %+v that is not whole blocks of the array", b)
			}
			got := make([]byte, b.Length)
			if _, err := io.ReadFull(cconn, got); err != nil {
				if isClosed(err) || errors.Is(err, io.ErrUnexpectedEOF) {
					break // a send cut short by a stop
				}
				t.Fatal(err)
			}
			if !bytes.Equal(got, a.Bytes()[b.Offset:b.Offset+b.Length]) {
				t.Fatalf("the run [%d, %d+%d) is not the array's bytes", b.Offset, b.Offset, b.Length)
			}
			for i := int(b.Offset / h.BlockSize); int64(i)*h.BlockSize < b.Offset+b.Length; i++ {
				sent[i]++
				total++
				if sent[i] > asked[i] {
					t.Fatalf("block %d sent %d times, asked for %d times (NEEDs %+v then %+v)", i, sent[i], asked[i], m1, m2)
				}
			}
		}
		var err error
		select {
		case err = <-served:
		case <-time.After(10 * time.Second):
			t.Fatal("the sender did not return within 10 s")
		}
		if err != nil && !errors.Is(err, ErrProtocol) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrMessageTooLarge) {
			t.Fatalf("the sender failed with %v; want a protocol error", err)
		}
		switch {
		case !m1.valid && (err == nil || total > 0):
			t.Fatalf("an invalid first NEED: %v after %d blocks sent; want a protocol error before any", err, total)
		case m1.end && (err != nil || total > 0):
			t.Fatalf("an empty first NEED: %v after %d blocks; want the end at once", err, total)
		case m1.valid && !m1.end && !m2.valid && err == nil:
			t.Fatalf("an invalid second NEED accepted (first %+v)", m1)
		case both && err == nil && total != len(m1.blocks)+len(m2.blocks):
			t.Fatalf("two valid NEEDs ended after %d of the %d blocks asked for", total, len(m1.blocks)+len(m2.blocks))
		case both && err != nil && !overlap(m1.blocks, m2.blocks):
			t.Fatalf("two valid NEEDs of different blocks (%v, %v): %v", m1.blocks, m2.blocks, err)
		}
	})
}

func overlap(a, b []int) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// mpSorted encodes v as the code does (compact integers), with map keys
// sorted, so that seeds are the same bytes on every run.
func mpSorted(v any) []byte {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	enc.SetSortMapKeys(true)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// FuzzData feeds a DATA body and the bytes after it to the landing path of
// a receiver (recvTransfer.land) with a real partial: blocks holds which of
// the 4 blocks were asked for on the connection (low bits) and which the
// partial held already (high bits). The bytes after the body are the
// array's own for the run, xor flip, less the last short bytes. It must not
// panic or hang; a run of another transfer, not whole blocks of the array,
// or with a block not asked for, must be refused (ErrProtocol) with the
// partial untouched; a block becomes held only if it was asked for, lies
// in the run and its bytes in the file match its CRC; nothing is written
// outside the data region; and the array is published only whole and
// verified.
func FuzzData(f *testing.F) {
	dir := testutil.ShmOrTempDir(f)
	st := teststore.At(f, dir)
	raw, data := smallBlockArray(f, fuzzNBytes, 8)
	hdr, err := arrayx.Unmarshal(raw, arrayx.Limits{})
	if err != nil {
		f.Fatal(err)
	}
	// The data region starts after the header and its zero padding; the
	// first magic byte is zeroed until the partial is complete.
	region := append(bytes.Clone(raw), make([]byte, hdr.DataOffset-int64(len(raw)))...)
	region[0] = 0
	f.Fuzz(func(t *testing.T, body, flip []byte, short uint16, blocks uint8) {
		fr, err := readFrame(bytes.NewReader(frameBytes(Version2, kindData, 0, uint32(len(body)), body)), func(byte) int { return bodyLimit(kindData, 0) })
		if err != nil {
			return // FuzzReadMsg's business
		}
		var d dataBody
		if err := fr.decode(&d, true); err != nil {
			if !errors.Is(err, ErrProtocol) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("a DATA body that does not decode: %v", err)
			}
			return
		}
		p, err := st.Receive("d", raw, nil)
		if err != nil {
			t.Fatal(err)
		}
		published := false
		defer func() {
			if published {
				if err := st.Remove("d"); err != nil {
					t.Fatal(err)
				}
			} else if err := p.Discard(); err != nil {
				t.Fatal(err)
			}
		}()
		if p.Held() != 0 {
			t.Fatalf("a fresh partial holds %d bytes", p.Held())
		}
		h := p.Header()
		for i := range fuzzBlocks {
			if blocks&(0x10<<i) != 0 {
				off, n := h.Block(i)
				if _, err := p.ReceiveAt(bytes.NewReader(data[off:off+n]), off, n); err != nil {
					t.Fatal(err)
				}
			}
		}
		mine := newBlockSet(fuzzBlocks)
		for i := range fuzzBlocks {
			if blocks&(1<<i) != 0 && !p.HasBlock(i) { // a receiver asks only for what it lacks
				mine.add(i)
			}
		}
		before := make([]bool, fuzzBlocks)
		for i := range before {
			before[i] = p.HasBlock(i)
		}
		// The run's bytes: the array's where the run lies within it.
		var stream []byte
		if d.Offset >= 0 && d.Offset < fuzzNBytes && d.Length > 0 {
			stream = bytes.Clone(data[d.Offset : d.Offset+min(d.Length, fuzzNBytes-d.Offset)])
		} else {
			stream = make([]byte, min(max(d.Length, 0), 2*fuzzBlock))
		}
		for i := range min(len(flip), len(stream)) {
			stream[i] ^= flip[i]
		}
		stream = stream[:len(stream)-min(int(short), len(stream))]

		valid := bytes.Equal(d.Transfer, fuzzTransfer) && d.Offset >= 0 && d.Offset < fuzzNBytes && d.Offset%fuzzBlock == 0 &&
			d.Length > 0 && d.Length <= fuzzNBytes-d.Offset && ((d.Offset+d.Length)%fuzzBlock == 0 || d.Offset+d.Length == fuzzNBytes)
		var run mmapstore.BlockRange
		if valid {
			run = mmapstore.BlockRange{Start: int(d.Offset / fuzzBlock), End: int((d.Offset + d.Length + fuzzBlock - 1) / fuzzBlock)}
			valid = mine.hasAll(run)
		}
		asked := mine // a copy: land takes blocks out of mine as they come
		asked.w = slices.Clone(mine.w)

		sconn, cconn := socketPair(t)
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			cconn.Write(stream)
			cconn.CloseWrite()
		}()
		c := newConn(sconn, time.Second, time.Second, 64<<10)
		c.version = Version2
		tr := newRecvTransfer(fuzzTransfer, "d", p.RawHeader(), p, nil)
		tr.attach(c, 1)
		err = tr.land(c, &d, &mine)
		sconn.Close()
		cconn.Close()
		<-wrote

		if !valid && !errors.Is(err, ErrProtocol) {
			t.Fatalf("DATA %+v (asked for %v) landed: %v; want a protocol error", d, asked.ranges(), err)
		}
		if valid && errors.Is(err, ErrProtocol) {
			t.Fatalf("DATA %+v (asked for %v) refused: %v", d, asked.ranges(), err)
		}
		published = tr.ended() && tr.result() == nil
		if !published && tr.ended() {
			t.Fatalf("the transfer failed: %v", tr.result())
		}
		for i := range fuzzBlocks {
			now := p.HasBlock(i) || published
			switch {
			case before[i] && !now:
				t.Fatalf("block %d was held and is no more", i)
			case !before[i] && now && (!valid || i < run.Start || i >= run.End || !asked.has(i)):
				t.Fatalf("block %d held after DATA %+v (asked for %v)", i, d, asked.ranges())
			}
		}
		// What the file holds: the header region as it was, and every held
		// block matching its CRC.
		file := partialOrPublished(t, dir, published)
		if int64(len(file)) != h.FileSize() {
			t.Fatalf("the file is %d bytes, not %d", len(file), h.FileSize())
		}
		want := region
		if published {
			want = append([]byte{raw[0]}, region[1:]...)
		}
		if !bytes.Equal(file[:h.DataOffset], want) {
			t.Fatalf("the header region changed (first difference at byte %d)", firstDiff(file[:h.DataOffset], want))
		}
		for i := range fuzzBlocks {
			if p.HasBlock(i) || published {
				off, n := h.Block(i)
				if err := h.CheckBlock(i, file[h.DataOffset+off:h.DataOffset+off+n]); err != nil {
					t.Fatalf("block %d is held: %v", i, err)
				}
			}
		}
		if published {
			verifyAll(t, st)
		}
	})
}

// partialOrPublished reads the one partial file in dir, or the published
// array d.arx.
func partialOrPublished(t *testing.T, dir string, published bool) []byte {
	t.Helper()
	path := filepath.Join(dir, "d.arx")
	if !published {
		m, err := filepath.Glob(filepath.Join(dir, ".d.arx.part-*"))
		if err != nil || len(m) != 1 {
			t.Fatalf("partial files %v, %v; want one", m, err)
		}
		path = m[0]
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// transferSlot marks where a FuzzServerConn input puts the n-th transfer
// id the server hands out (16 bytes, as an id). The harness writes the
// input up to the slot, waits a moment for that id in the server's
// answers, and writes it in the slot's place (or the slot as it is, if no
// such id came).
func transferSlot(n int) []byte { return fmt.Appendf(nil, "\x00arrayx-xfer-%02d\x00", n) }

var slotPattern = regexp.MustCompile(`\x00arrayx-xfer-([0-9]{2})\x00`)

// serverAnswer collects what a server says on a connection and the
// transfer ids of its REPLYs, in order, as they come.
type serverAnswer struct {
	mu      sync.Mutex
	buf     []byte
	pos     int   // parsed up to here
	skip    int64 // raw data bytes still to skip
	ids     [][]byte
	done    bool
	changed chan struct{}
}

func newServerAnswer() *serverAnswer { return &serverAnswer{changed: make(chan struct{})} }

func (a *serverAnswer) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.buf = append(a.buf, p...)
	a.parse()
	close(a.changed)
	a.changed = make(chan struct{})
	return len(p), nil
}

// parse reads the frames that have come whole: the magic, then messages of
// any version, DATA runs skipped.
func (a *serverAnswer) parse() {
	if a.pos == 0 {
		if len(a.buf) < len(Magic) {
			return
		}
		a.pos = len(Magic)
	}
	for {
		if a.skip > 0 {
			n := min(a.skip, int64(len(a.buf)-a.pos))
			a.pos += int(n)
			a.skip -= n
			if a.skip > 0 {
				return
			}
		}
		rest := a.buf[a.pos:]
		if len(rest) < frameSize {
			return
		}
		n := int64(binary.LittleEndian.Uint32(rest[4:]))
		if int64(len(rest)) < frameSize+n {
			return
		}
		kind := rest[1]
		var b body
		err := msgpack.Unmarshal(rest[frameSize:frameSize+n], &b)
		a.pos += frameSize + int(n)
		if err != nil {
			continue
		}
		switch {
		case kind == kindReply && len(b.Transfer) > 0 && !slices.ContainsFunc(a.ids, func(id []byte) bool { return bytes.Equal(id, b.Transfer) }):
			a.ids = append(a.ids, b.Transfer)
		case kind == kindData && b.Length > 0 && b.Length <= 1<<30:
			a.skip = b.Length
		}
	}
}

// id waits for the n-th transfer id: until it comes, the server ends, or
// it has said nothing for 50 ms (it waits for more input), at most 2 s.
func (a *serverAnswer) id(n int) []byte {
	deadline := time.After(2 * time.Second)
	for {
		a.mu.Lock()
		if n < len(a.ids) {
			defer a.mu.Unlock()
			return a.ids[n]
		}
		done, ch := a.done, a.changed
		a.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond):
			return nil
		case <-deadline:
			return nil
		}
	}
}

// close marks the end of the answer and returns it.
func (a *serverAnswer) close() []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.done = true
	close(a.changed)
	a.changed = make(chan struct{})
	return a.buf
}

// writeWithSlots writes in to w, each transfer slot replaced by the id the
// server handed out.
func writeWithSlots(w io.Writer, in []byte, answer *serverAnswer) {
	for {
		loc := slotPattern.FindSubmatchIndex(in)
		if loc == nil {
			w.Write(in)
			return
		}
		if _, err := w.Write(in[:loc[0]]); err != nil {
			return
		}
		n, _ := strconv.Atoi(string(in[loc[2]:loc[3]]))
		id := answer.id(n)
		if len(id) != loc[1]-loc[0] {
			id = in[loc[0]:loc[1]]
		}
		if _, err := w.Write(id); err != nil {
			return
		}
		in = in[loc[1]:]
	}
}

// fuzzCorpus returns the seed inputs of each target, by name: sessions and
// answers of well-behaved peers, and the hostile inputs of hostile_test.go
// and hostile_v2_test.go small enough for a corpus file.
func fuzzCorpus(tb testing.TB) map[string][][]any {
	tb.Helper()
	st := teststore.Temp(tb)
	a := fuzzArray(tb, st, "a")
	defer a.Close()
	raw, data := a.RawHeader(), a.Bytes()
	msg := func(kind byte, b *body) []byte {
		var buf bytes.Buffer
		if err := writeMsg(&buf, Version1, kind, b); err != nil {
			tb.Fatal(err)
		}
		return buf.Bytes()
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	hello := msg(kindHello, &body{Version: Version1, Software: "arrayx"})
	badCRC := bytes.Clone(data)
	badCRC[5] ^= 1
	nonce := bytes.Repeat([]byte{0x42}, NonceSize)
	entry := Entry{Name: "a", DType: "float64", Shape: []int64{2, 3}, Order: "C", NBytes: 48}

	// Client to server.
	session := cat(Magic[:], hello)
	authed := cat(Magic[:], hello, msg(kindAuth, &body{MAC: authMAC([]byte(fuzzToken), nonce)}))
	requests := cat(
		msg(kindList, &body{}),
		msg(kindStat, &body{Name: "a"}),
		msg(kindGet, &body{Name: "a"}), msg(kindFrom, &body{Offset: 0}),
		msg(kindGet, &body{Name: "a"}), msg(kindFrom, &body{Cancel: true}),
		msg(kindPut, &body{Name: "b", Header: raw}), data,
		msg(kindDelete, &body{Name: "b"}),
	)
	server := [][]any{
		{cat(session, requests), false},
		{cat(authed, requests), true},
		{cat(session, msg(kindPut, &body{Name: "c", Header: raw}), badCRC), false},
		{cat(session, msg(kindPut, &body{Name: "c", Header: raw}), data[:20]), false},
		{cat(session, msg(kindGet, &body{Name: "a"}), msg(kindFrom, &body{Offset: 1 << 40})), false},
		{cat(session, msg(kindGet, &body{Name: "../etc/passwd"})), false},
		{cat(session, msg(kindPut, &body{Name: "d", Header: raw[:20]})), false},
		{cat(session, frameBytes(Version1, kindList, 0, 1<<31, nil)), false},
		{cat(session, frameBytes(Version1, 99, 0, 1, []byte{0x80})), false},
		{cat(session, frameOf(kindStat, []byte{0x81, 0xa4, 'n', 'a', 'm', 'e', 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0xc0})), false},
		{cat(session, frameOf(kindStat, []byte{0xdf, 0xff, 0xff, 0xff, 0xff})), false},
		{cat(Magic[:], msg(kindHello, &body{Version: 2})), false},
		{cat(Magic[:], hello, msg(kindAuth, &body{MAC: make([]byte, 32)})), true},
		{cat(Magic[:], hello, msg(kindList, &body{})), true},
		{cat(Magic[:], frameBytes(Version1, kindHello, 0, 1<<31, nil)), false},
		{[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false},
		{Magic[:5], false},
	}

	// Server to client: the answers to STAT, LIST, GET and PUT in turn.
	answers := cat(
		msg(kindReply, &body{Status: StatusOK, Header: raw}),
		msg(kindReply, &body{Status: StatusOK, Arrays: []Entry{entry}}),
		msg(kindReply, &body{Status: StatusOK, Header: raw, Method: "sendfile"}), data,
		msg(kindReply, &body{Status: StatusOK, Offset: 0}),
		msg(kindReply, &body{Status: StatusOK, Bytes: int64(len(data)), Method: "splice"}),
	)
	huge := sealedHeader(tb, arrayx.Uint8, arrayx.Shape{1 << 40})
	client := [][]any{
		{cat(Magic[:], hello, answers), false},
		{cat(Magic[:], msg(kindHello, &body{Version: Version1, Nonce: nonce}), msg(kindReply, &body{Status: StatusOK}), answers), true},
		{cat(Magic[:], msg(kindHello, &body{Version: Version1, Nonce: nonce}), msg(kindReply, &body{Status: StatusUnauthorized, Message: "no"})), true},
		{cat(Magic[:], msg(kindReply, &body{Status: StatusUnavailable, Message: "busy"})), false},
		{cat(Magic[:], hello, msg(kindReply, &body{Status: StatusOK, Header: raw}), msg(kindReply, &body{Status: StatusOK}),
			msg(kindReply, &body{Status: StatusOK, Header: raw, Method: "sendfile"}), badCRC), false},
		{cat(Magic[:], hello, msg(kindReply, &body{Status: StatusNotFound, Message: "no a"}), msg(kindReply, &body{Status: StatusOK}),
			msg(kindReply, &body{Status: StatusOK, Header: huge[:min(len(huge), 4096)]})), false},
		{cat(Magic[:], hello, msg(kindReply, &body{Status: StatusOK, Header: raw[:30]})), false},
		{cat(Magic[:], hello, msg(kindReply, &body{Status: StatusOK, Header: raw}), msg(kindReply, &body{Status: StatusOK}),
			msg(kindReply, &body{Status: StatusOK, Header: raw}), data[:10]), false},
		{cat(Magic[:], hello, msg(kindReply, &body{Status: StatusOK, Header: raw}), msg(kindReply, &body{Status: StatusOK}),
			msg(kindReply, &body{Status: StatusChecksum, Message: "bad"}), msg(kindReply, &body{Status: StatusOK, Offset: 1 << 40})), false},
		{cat(Magic[:], hello, frameBytes(Version1, kindReply, 0, 1<<31, nil)), false},
		{cat(Magic[:], hello, msg(kindReply, &body{Status: StatusOK, Arrays: []Entry{entry, entry}})), false},
	}

	frames := [][]any{}
	for _, b := range []*body{{Version: Version1, Software: "arrayx"}, {Name: "sim/t"}, {Status: StatusOK, Offset: 4 << 20}} {
		frames = append(frames, []any{msg(kindGet, b), uint16(65535)}, []any{msg(kindPut, b), uint16(4)})
	}
	frames = append(frames,
		[]any{frameBytes(Version1, kindGet, 0, 1<<31, nil), uint16(1 << 15)},
		[]any{frameBytes(Version1, kindGet, 0, 10, []byte{0x80}), uint16(100)},
		[]any{frameBytes(2, kindGet, 0, 1, []byte{0x80}), uint16(100)},
	)

	// Version 2. Frames after the HELLOs carry version 2; transfer ids the
	// server hands out are slots the harness fills (transferSlot).
	msg2 := func(kind byte, b any) []byte {
		return frameBytes(Version2, kind, 0, uint32(len(mpSorted(b))), mpSorted(b))
	}
	hello2 := msg(kindHello, &body{Version: Version1, Versions: []int{Version1, Version2}, Features: []string{FeatureJoin}, Software: "arrayx"})
	session2 := cat(Magic[:], hello2)
	slot := transferSlot
	need := func(id []byte, ranges ...[]int64) []byte {
		return msg2(kindNeed, &needBody{Transfer: id, Ranges: ranges})
	}
	dataRun := func(id []byte, off, n int64, b []byte) []byte {
		return cat(msg2(kindData, &dataBody{Transfer: id, Offset: off, Length: n}), b)
	}
	requests2 := cat(
		msg2(kindList, &listBody{}),
		msg2(kindList, &listBody{Prefix: "a", Limit: 1}),
		msg2(kindStat, &nameBody{Name: "a"}),
		msg2(kindGet, &getBody{Name: "a"}), need(slot(0)), // refused at once
		msg2(kindPut, &putBody{Name: "b", Header: raw}), dataRun(slot(1), 0, int64(len(data)), data),
		msg2(kindStat, &nameBody{Name: "b"}),
		msg2(kindDelete, &nameBody{Name: "b"}),
		msg2(kindGet, &getBody{Name: "a"}), need(slot(2), []int64{0, 1}), need(slot(2)), // the end, perhaps before the block went
	)
	server = append(server,
		[]any{cat(session2, requests2), false},
		[]any{cat(session2, msg2(kindAuth, &authBody{MAC: authMAC([]byte(fuzzToken), nonce)}), requests2), true},
		// A PUT whose block is corrupt three times, and one cut short.
		[]any{cat(session2, msg2(kindPut, &putBody{Name: "c", Header: raw}),
			dataRun(slot(0), 0, int64(len(data)), badCRC), dataRun(slot(0), 0, int64(len(data)), badCRC), dataRun(slot(0), 0, int64(len(data)), badCRC)), false},
		[]any{cat(session2, msg2(kindPut, &putBody{Name: "c", Header: raw}), dataRun(slot(0), 0, int64(len(data)), data[:20])), false},
		// Runs that break the rules.
		[]any{cat(session2, msg2(kindPut, &putBody{Name: "c", Header: raw}), dataRun(slot(0), 8, 40, data[8:])), false},
		[]any{cat(session2, msg2(kindPut, &putBody{Name: "c", Header: raw}), dataRun(slot(0), 0, 1<<62, data)), false},
		[]any{cat(session2, msg2(kindPut, &putBody{Name: "c", Header: raw}), dataRun(fuzzTransfer, 0, int64(len(data)), data)), false},
		[]any{cat(session2, msg2(kindPut, &putBody{Name: "c", Header: raw}), dataRun(slot(0), 0, int64(len(data)), data), dataRun(slot(0), 0, int64(len(data)), data)), false},
		[]any{cat(session2, dataRun(fuzzTransfer, 0, int64(len(data)), data)), false},
		// NEEDs that break the rules.
		[]any{cat(session2, msg2(kindGet, &getBody{Name: "a"}), need(slot(0), []int64{0, 2})), false},
		[]any{cat(session2, msg2(kindGet, &getBody{Name: "a"}), need(slot(0), []int64{0, 1}, []int64{0, 1})), false},
		[]any{cat(session2, msg2(kindGet, &getBody{Name: "a"}), need(slot(0), []int64{-1, 1 << 62})), false},
		[]any{cat(session2, msg2(kindGet, &getBody{Name: "a"}), need(fuzzTransfer, []int64{0, 1})), false},
		[]any{cat(session2, msg2(kindGet, &getBody{Name: "a"}), msg2(kindNeed, map[string]any{"transfer": slot(0), "ranges": []any{[]any{0}, "x"}})), false},
		[]any{cat(session2, need(fuzzTransfer, []int64{0, 1})), false},
		// Joins, and version 2's answers to what it does not speak.
		[]any{cat(session2, msg2(kindGet, &getBody{Name: "a", Transfer: fuzzTransfer}), msg2(kindPut, &putBody{Name: "a", Header: raw, Transfer: fuzzTransfer}),
			msg2(kindPut, &putBody{Name: "e", Header: raw, Streams: 4}), need(slot(0), []int64{0, 1})), false},
		[]any{cat(Magic[:], msg(kindHello, &body{Version: Version1, Versions: []int{Version1, Version2}, Software: "arrayx"}),
			msg2(kindGet, &getBody{Name: "a", Transfer: fuzzTransfer}), msg2(kindPut, &putBody{Name: "e", Header: raw, Streams: 2}), msg2(kindList, &listBody{})), false},
		[]any{cat(session2, frameBytes(Version2, 99, 0, 1, []byte{0x80}), frameBytes(Version2, kindList, 1, 1, []byte{0x80}),
			msg2(kindStat, map[string]any{"name": "a", "at": "noon"}), msg2(kindFrom, &fromBody{Offset: 0}), msg2(kindList, &listBody{}),
			frameBytes(Version1, kindList, 0, 1, []byte{0x80})), false},
		[]any{cat(Magic[:], msg(kindHello, &body{Version: Version1, Versions: []int{3, 4}})), false},
	)

	// Server to client, version 2: the answers to STAT, LIST, GET (a DATA
	// run) and PUT (a NEED, then the end).
	id, id2 := fuzzTransfer, bytes.Repeat([]byte{0x77}, 16)
	shello2 := msg(kindHello, &body{Version: Version2, Versions: []int{Version1, Version2}, Features: []string{FeatureJoin}, Software: "arrayx"})
	getReply := msg2(kindReply, &replyBody{Status: StatusOK, Header: raw, Transfer: id, Method: "sendfile"})
	putReply := msg2(kindReply, &replyBody{Status: StatusOK, Transfer: id2, Method: "pwrite"})
	answers2 := cat(
		msg2(kindReply, &replyBody{Status: StatusOK, Header: raw}),
		msg2(kindReply, &replyBody{Status: StatusOK, Arrays: []Entry{entry}}),
		getReply, dataRun(id, 0, int64(len(data)), data),
		putReply, need(id2, []int64{0, 1}), msg2(kindReply, &replyBody{Status: StatusOK, Bytes: int64(len(data)), Method: "pwrite"}),
	)
	statList := cat(msg2(kindReply, &replyBody{Status: StatusOK, Header: raw}), msg2(kindReply, &replyBody{Status: StatusOK, Arrays: []Entry{entry}}))
	client = append(client,
		[]any{cat(Magic[:], shello2, answers2), false},
		[]any{cat(Magic[:], msg(kindHello, &body{Version: Version2, Versions: []int{Version1, Version2}, Nonce: nonce}), msg2(kindReply, &replyBody{Status: StatusOK}), answers2), true},
		// Pulls gone wrong: runs of another transfer, twice, past the end,
		// a REPLY of 200 or a NEED in the middle, a bad block.
		[]any{cat(Magic[:], shello2, statList, getReply, dataRun(id2, 0, int64(len(data)), data)), false},
		[]any{cat(Magic[:], shello2, statList, getReply, dataRun(id, 0, int64(len(data)), data), dataRun(id, 0, int64(len(data)), data)), false},
		[]any{cat(Magic[:], shello2, statList, getReply, dataRun(id, 0, 1<<40, data)), false},
		[]any{cat(Magic[:], shello2, statList, getReply, msg2(kindReply, &replyBody{Status: StatusOK})), false},
		[]any{cat(Magic[:], shello2, statList, getReply, need(id, []int64{0, 1})), false},
		[]any{cat(Magic[:], shello2, statList, getReply, dataRun(id, 0, int64(len(data)), badCRC), dataRun(id, 0, int64(len(data)), badCRC),
			dataRun(id, 0, int64(len(data)), badCRC)), false},
		[]any{cat(Magic[:], shello2, statList, msg2(kindReply, &replyBody{Status: StatusOK, Header: raw})), false},
		// Pushes gone wrong: NEEDs past the end, twice, of another transfer.
		[]any{cat(Magic[:], shello2, statList, getReply, dataRun(id, 0, int64(len(data)), data), putReply, need(id2, []int64{0, 2})), false},
		[]any{cat(Magic[:], shello2, statList, getReply, dataRun(id, 0, int64(len(data)), data), putReply, need(id2, []int64{0, 1}, []int64{0, 1})), false},
		[]any{cat(Magic[:], shello2, statList, getReply, dataRun(id, 0, int64(len(data)), data), putReply, need(id, []int64{0, 1})), false},
		[]any{cat(Magic[:], shello2, statList, getReply, dataRun(id, 0, int64(len(data)), data), putReply, need(id2)), false},
		// A version no one speaks, and pages that do not advance.
		[]any{cat(Magic[:], msg(kindHello, &body{Version: 3, Versions: []int{3}}), msg(kindReply, &body{Status: StatusBadRequest, Message: "versions"})), false},
		[]any{cat(Magic[:], shello2, msg2(kindReply, &replyBody{Status: StatusOK, Header: raw}),
			msg2(kindReply, &replyBody{Status: StatusOK, Arrays: []Entry{entry}, Next: "a"}), msg2(kindReply, &replyBody{Status: StatusOK, Arrays: []Entry{entry}, Next: "a"})), false},
	)

	frames = append(frames,
		[]any{need(fuzzTransfer, []int64{0, 16}, []int64{20, 21}), uint16(65535)},
		[]any{dataRun(fuzzTransfer, 20<<22, 4<<20, nil), uint16(4096)},
	)

	// FuzzNeed: pairs of NEED bodies.
	nb := func(ranges ...[]int64) []byte { return mpSorted(&needBody{Transfer: fuzzTransfer, Ranges: ranges}) }
	needs := [][]any{
		{nb([]int64{0, 2}), nb([]int64{2, 4})},
		{nb([]int64{3, 4}, []int64{0, 1}), nb([]int64{1, 3})},
		{nb([]int64{0, 4}), nb()},
		{nb(), nb([]int64{0, 1})},
		{nb([]int64{0, 2}), nb([]int64{1, 3})},
		{nb([]int64{0, 1}), nb([]int64{0, 1})},
		{nb([]int64{0, 1}, []int64{0, 1}), nb()},
		{nb([]int64{0, 5}), nb()},
		{nb([]int64{-1, 1}), nb()},
		{nb([]int64{2, 2}), nb()},
		{nb([]int64{3, 1}), nb()},
		{nb([]int64{0, 1 << 62}), nb()},
		{nb([]int64{0}), nb([]int64{1, 2, 3})},
		{mpSorted(&needBody{Ranges: [][]int64{{0, 1}}}), nb()},
		{mpSorted(&needBody{Transfer: fuzzTransfer[:8], Ranges: [][]int64{{0, 1}}}), nb()},
		{mpSorted(map[string]any{"transfer": fuzzTransfer, "ranges": []any{[]any{0.5, 2.0}}}), nb()},
		{mpSorted(map[string]any{"transfer": fuzzTransfer, "ranges": []any{[]any{nil, 1}}}), nb([]int64{1, 2})},
		{mpSorted(map[string]any{"transfer": fuzzTransfer, "ranges": "0-2"}), nb()},
		{mpSorted(map[string]any{"transfer": fuzzTransfer, "ranges": []any{[]any{0, 1}}, "priority": 1}), nb()},
		{[]byte{0x80}, nb()},
		{nb([]int64{0, 1}), []byte{0xc1}},
	}

	// FuzzData: a DATA body, the flips and shortening of the bytes after
	// it, and the blocks asked for (low bits) and held (high bits).
	db := func(id []byte, off, n int64) []byte { return mpSorted(&dataBody{Transfer: id, Offset: off, Length: n}) }
	const fb = fuzzBlock
	datas := [][]any{
		{db(fuzzTransfer, 0, fb), []byte{}, uint16(0), uint8(0x0f)},
		{db(fuzzTransfer, 0, fuzzNBytes), []byte{}, uint16(0), uint8(0x0f)},
		{db(fuzzTransfer, fb, fuzzNBytes-fb), []byte{}, uint16(0), uint8(0x1e)},
		{db(fuzzTransfer, 3*fb, 100), []byte{}, uint16(0), uint8(0x78)},
		{db(fuzzTransfer, 0, 2*fb), []byte{0, 0, 0, 0, 0, 0x40}, uint16(0), uint8(0x03)},
		{db(fuzzTransfer, 0, 2*fb), []byte{}, uint16(100), uint8(0x03)},
		{db(fuzzTransfer, 0, 2*fb), []byte{}, uint16(0), uint8(0x01)},
		{db(fuzzTransfer, 0, 2*fb), []byte{}, uint16(0), uint8(0x2f)},
		{db(fuzzTransfer, 100, fb), []byte{}, uint16(0), uint8(0x0f)},
		{db(fuzzTransfer, 0, fb+1), []byte{}, uint16(0), uint8(0x0f)},
		{db(fuzzTransfer, 3*fb, fb), []byte{}, uint16(0), uint8(0x0f)},
		{db(fuzzTransfer, 0, 0), []byte{}, uint16(0), uint8(0x0f)},
		{db(fuzzTransfer, 0, -fb), []byte{}, uint16(0), uint8(0x0f)},
		{db(fuzzTransfer, 0, 1<<62), []byte{}, uint16(0), uint8(0x0f)},
		{db(fuzzTransfer, 1<<62, fb), []byte{}, uint16(0), uint8(0x0f)},
		{db(nil, 0, fb), []byte{}, uint16(0), uint8(0x0f)},
		{db(bytes.Repeat([]byte{1}, 16), 0, fb), []byte{}, uint16(0), uint8(0x0f)},
		{mpSorted(map[string]any{"transfer": fuzzTransfer, "offset": 0, "length": fb, "zstd": true}), []byte{}, uint16(0), uint8(0x0f)},
	}
	return map[string][][]any{"FuzzServerConn": server, "FuzzClientConn": client, "FuzzFrameBoundary": frames,
		"FuzzNeed": needs, "FuzzData": datas}
}

// marshalSeed writes one seed in the go test fuzz v1 format.
func marshalSeed(vals []any) []byte {
	b := []byte("go test fuzz v1\n")
	for _, v := range vals {
		switch v := v.(type) {
		case []byte:
			b = fmt.Appendf(b, "[]byte(%q)\n", v)
		case bool, uint8, uint16:
			b = fmt.Appendf(b, "%T(%v)\n", v, v)
		default:
			panic(fmt.Sprintf("seed value of type %T", v))
		}
	}
	return b
}

// TestFuzzCorpus checks that testdata/fuzz/ holds the seed corpus of each
// netlink fuzz target as fuzzCorpus makes it (go test runs those files as
// tests of the targets); -update-fuzz-corpus rewrites them.
func TestFuzzCorpus(t *testing.T) {
	for target, seeds := range fuzzCorpus(t) {
		dir := filepath.Join("testdata", "fuzz", target)
		want := map[string][]byte{}
		for i, s := range seeds {
			b := marshalSeed(s)
			sum := sha256.Sum256(b)
			want[fmt.Sprintf("seed-%02d-%x", i, sum[:4])] = b
		}
		if *updateFuzzCorpus {
			os.RemoveAll(dir)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for name, b := range want {
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			continue
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatalf("%v (run go test -run TestFuzzCorpus -update-fuzz-corpus ./netlink/)", err)
		}
		have := map[string]bool{}
		for _, e := range ents {
			have[e.Name()] = true
			if _, ok := want[e.Name()]; !ok && strings.HasPrefix(e.Name(), "seed-") {
				t.Errorf("%s/%s is not a seed fuzzCorpus makes: run go test -run TestFuzzCorpus -update-fuzz-corpus ./netlink/", dir, e.Name())
			}
		}
		for name := range want {
			if !have[name] {
				t.Errorf("%s/%s is missing: run go test -run TestFuzzCorpus -update-fuzz-corpus ./netlink/", dir, name)
			}
		}
	}
}
