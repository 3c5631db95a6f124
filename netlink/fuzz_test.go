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
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
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
// (FuzzClientConn). Array headers are parsed by arrayx.Unmarshal, fuzzed in
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
// requests of every kind, their bodies, PUT headers and data. The server
// must not panic or hang, must say nothing to a peer that did not open with
// the magic, must start every answer with its magic and a HELLO or REPLY,
// and must publish nothing that does not verify.
func FuzzServerConn(f *testing.F) {
	dir := f.TempDir()
	st, err := mmapstore.OpenStore(dir, &mmapstore.Options{Sync: mmapstore.SyncNever})
	if err != nil {
		f.Fatal(err)
	}
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
		go func() {
			cconn.Write(in)
			cconn.CloseWrite()
		}()
		cconn.SetReadDeadline(time.Now().Add(10 * time.Second))
		out, err := io.ReadAll(cconn)
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
	st, err := mmapstore.OpenStore(dir, &mmapstore.Options{Sync: mmapstore.SyncNever})
	if err != nil {
		f.Fatal(err)
	}
	src, err := mmapstore.OpenStore(f.TempDir(), &mmapstore.Options{Sync: mmapstore.SyncNever})
	if err != nil {
		f.Fatal(err)
	}
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

// fuzzCorpus returns the seed inputs of each target, by name: sessions and
// answers of well-behaved peers, and the hostile inputs of hostile_test.go
// small enough for a corpus file.
func fuzzCorpus(tb testing.TB) map[string][][]any {
	tb.Helper()
	st, err := mmapstore.OpenStore(tb.TempDir(), &mmapstore.Options{Sync: mmapstore.SyncNever})
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
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
	return map[string][][]any{"FuzzServerConn": server, "FuzzClientConn": client, "FuzzFrameBoundary": frames}
}

// marshalSeed writes one seed in the go test fuzz v1 format.
func marshalSeed(vals []any) []byte {
	b := []byte("go test fuzz v1\n")
	for _, v := range vals {
		switch v := v.(type) {
		case []byte:
			b = fmt.Appendf(b, "[]byte(%q)\n", v)
		case bool, uint16:
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
