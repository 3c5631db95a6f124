package netlink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"testing"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil/teststore"
	"github.com/arrayx/arrayx/mmapstore"
)

// eagerPut is an eager PUT frame and its data, as a client sends them.
func eagerPut(name string, raw, data []byte) []byte {
	return append(v2Frame(kindPut, &putBody{Name: name, Header: raw, Eager: int64(len(data))}), data...)
}

// TestEagerPipelined writes five eager PUTs back to back before reading any
// reply: a good one, one with a damaged block, one whose eager length is
// not its array's, one with a bad name, one more good one. The server must
// answer each in order, keep the connection in step through the refusals
// (reading and dropping their data), publish exactly the good arrays, and
// keep the damaged one's good blocks so that a plain PUT sends only the bad
// block.
func TestEagerPipelined(t *testing.T) {
	st := teststore.Temp(t)
	storeSmallBlockArray(t, st, "good", 100, 1)
	_, addr := startServer(t, st, "tcp", Config{})
	const bs = arrayx.MinBlockSize
	rawA, dataA := smallBlockArray(t, 3*bs+10, 2)
	rawB, dataB := smallBlockArray(t, 4*bs, 3)
	bad := bytes.Clone(dataB)
	bad[2*bs+5] ^= 1
	rawC, dataC := smallBlockArray(t, 2*bs, 4)
	r := v2Dial(t, addr, v2Hello(FeatureEager))
	if err := r.write(eagerPut("a", rawA, dataA), eagerPut("b", rawB, bad), eagerPut("c", rawC, dataC[:bs]),
		eagerPut("../x", rawC, dataC), eagerPut("sub/d", rawC, dataC)); err != nil {
		t.Fatal(err)
	}
	r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, want := range []struct {
		status int
		code   string
	}{{StatusOK, ""}, {StatusChecksum, "checksum"}, {StatusBadRequest, "protocol"}, {StatusBadRequest, "invalid_name"}, {StatusOK, ""}} {
		kind, rep, err := r.read()
		if err != nil || kind != kindReply || rep.Status != want.status || rep.Code != want.code {
			t.Fatalf("reply %s %+v, %v: want %d %q", kindName(kind), rep, err, want.status, want.code)
		}
		if rep.Status == StatusOK && rep.Method != recvMethod {
			t.Errorf("eager reply %+v: want method %q", rep, recvMethod)
		}
	}
	r.usable("five eager PUTs")
	for name, data := range map[string][]byte{"a": dataA, "sub/d": dataC} {
		a, err := st.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Verify(); err != nil || !bytes.Equal(a.Bytes(), data) {
			t.Errorf("%s: verify %v, equal %v", name, err, bytes.Equal(a.Bytes(), data))
		}
		a.Close()
	}
	for _, name := range []string{"b", "c"} {
		if _, err := st.Open(name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s after a failed eager PUT: %v, want not found", name, err)
		}
	}
	// b's three good blocks were kept: a plain PUT is asked for block 2.
	rep := r.put("b", rawB)
	if rep.Held != 3*bs {
		t.Fatalf("PUT b after the eager one: held %d, want %d", rep.Held, 3*bs)
	}
	if _, asked := r.pushLoop(rep.Transfer, dataB, bs, nil); len(asked) != 1 || asked[0] != 2 {
		t.Fatalf("PUT b asked for blocks %v, want [2]", asked)
	}
}

// TestEagerRefused: an eager PUT over MaxEagerBytes cannot be kept in step
// and closes the connection; without the feature agreed, the data is
// dropped and the connection goes on; an eager PUT may not join, announce
// streams or carry a chain.
func TestEagerRefused(t *testing.T) {
	st := teststore.Temp(t)
	storeSmallBlockArray(t, st, "good", 100, 1)
	_, addr := startServer(t, st, "tcp", Config{})
	raw, data := smallBlockArray(t, 2*arrayx.MinBlockSize, 5)

	r := v2Dial(t, addr, v2Hello(FeatureJoin)) // no eager
	r.write(eagerPut("x", raw, data))
	r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if kind, rep, err := r.read(); err != nil || kind != kindReply || rep.Status != StatusUnsupported {
		t.Fatalf("eager PUT without the feature: %s %+v, %v; want 501", kindName(kind), rep, err)
	}
	r.usable("an eager PUT without the feature")

	r = v2Dial(t, addr, v2Hello(FeatureEager, FeatureJoin))
	r.write(append(v2Frame(kindPut, &putBody{Name: "x", Header: raw, Eager: int64(len(data)), Streams: 2}), data...))
	r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if kind, rep, err := r.read(); err != nil || kind != kindReply || rep.Status != StatusBadRequest {
		t.Fatalf("eager PUT with streams: %s %+v, %v; want 400", kindName(kind), rep, err)
	}
	r.usable("an eager PUT with streams")

	r.write(v2Frame(kindPut, &putBody{Name: "x", Header: raw, Eager: MaxEagerBytes + 1}))
	if out := r.outcome(2 * time.Second); out.reply == nil || out.reply.Status != StatusBadRequest || !out.closed {
		t.Fatalf("eager PUT over the limit: %v; want 400 and closed", out)
	}
	if _, err := st.Open("x"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("x after refused eager PUTs: %v", err)
	}
	noHidden(t, st)
}

// scriptEagerServer is a version-2 server offering eager PUTs that reads
// n of them, data and all, before it answers any: a client that waited for
// each reply before sending the next would stall it, and fail when its
// read deadline passes.
func scriptEagerServer(t *testing.T, n int, got chan<- []string) string {
	return scriptServerWith(t, []string{FeatureEager}, func(c net.Conn) {
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		var names []string
		for range n {
			b, err := expect(c, 2<<20, kindPut)
			if err != nil || b.Eager <= 0 {
				break
			}
			if _, err := io.ReadFull(c, make([]byte, b.Eager)); err != nil {
				break
			}
			names = append(names, b.Name)
		}
		for range names {
			writeMsg(c, Version2, kindReply, &replyBody{Status: StatusOK, Method: recvMethod})
		}
		got <- names
	})
}

// TestEagerClientPipelines: the client's eager PUTs do not wait for
// replies, and each array's outcome is reported in order.
func TestEagerClientPipelines(t *testing.T) {
	local := teststore.Temp(t)
	const n = 6
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("p%d", i))
		teststore.NewArray(t, local, names[i], arrayx.Uint8, arrayx.Shape{100}, arrayx.OrderC, nil)
	}
	got := make(chan []string, 1)
	c := dial(t, scriptEagerServer(t, n, got), nil)
	var order []int
	err := c.pushEager(context.Background(), n, func(i int) (*mmapstore.Array, string, error) {
		a, err := local.Open(names[i])
		return a, names[i], err
	}, func(i int, st Stats, err error) {
		if err != nil || st.Bytes != 100 {
			t.Errorf("array %d: %+v, %v", i, st, err)
		}
		order = append(order, i)
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen := <-got; len(seen) != n {
		t.Fatalf("the server read %d eager PUTs before answering (%v), want %d: the client waited for replies", len(seen), seen, n)
	}
	for i, k := range order {
		if k != i {
			t.Fatalf("outcomes reported in order %v", order)
		}
	}
}

// TestEagerGet pipelines four eager GETs: an array of three blocks, a
// missing one, one over MaxEagerBytes, an empty one. Each reply comes in
// order, the data right after a 200 and nothing after a refusal.
func TestEagerGet(t *testing.T) {
	st := teststore.Temp(t)
	storeSmallBlockArray(t, st, "good", 100, 1)
	a := storeSmallBlockArray(t, st, "a", 3*arrayx.MinBlockSize+10, 2)
	teststore.NewArray(t, st, "big", arrayx.Uint8, arrayx.Shape{MaxEagerBytes + 1}, arrayx.OrderC, nil)
	teststore.NewArray(t, st, "empty", arrayx.Float64, arrayx.Shape{0, 3}, arrayx.OrderC, nil)
	_, addr := startServer(t, st, "tcp", Config{})
	r := v2Dial(t, addr, v2Hello(FeatureEager))
	var reqs []byte
	for _, name := range []string{"a", "nope", "big", "empty"} {
		reqs = append(reqs, v2Frame(kindGet, &getBody{Name: name, Eager: true})...)
	}
	if err := r.write(reqs); err != nil {
		t.Fatal(err)
	}
	r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, want := range []struct {
		status int
		data   []byte
	}{{StatusOK, a.Bytes()}, {StatusNotFound, nil}, {StatusTooLarge, nil}, {StatusOK, []byte{}}} {
		kind, rep, err := r.read()
		if err != nil || kind != kindReply || rep.Status != want.status {
			t.Fatalf("reply %s %+v, %v: want %d", kindName(kind), rep, err, want.status)
		}
		if want.data == nil {
			continue
		}
		got := make([]byte, len(want.data))
		if _, err := io.ReadFull(r.conn, got); err != nil || !bytes.Equal(got, want.data) || len(rep.Transfer) != 0 {
			t.Fatalf("eager GET's data: %v, equal %v, transfer %x", err, bytes.Equal(got, want.data), rep.Transfer)
		}
	}
	r.usable("four eager GETs")
}

// TestEagerClientPulls: a server that reads every eager GET before it
// answers any; then it sends one array whole, one with a damaged block,
// and a header promising more than an eager GET carries. The client must
// have pipelined the GETs, publish the good array, refuse the damaged one
// by name with nothing visible, and stop at the lying header.
func TestEagerClientPulls(t *testing.T) {
	local := teststore.Temp(t)
	raw, data := smallBlockArray(t, 2*arrayx.MinBlockSize, 7)
	bad := bytes.Clone(data)
	bad[arrayx.MinBlockSize+1] ^= 1
	h, err := arrayx.Unmarshal(raw, arrayx.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	h.Shape, h.NBytes = arrayx.Shape{MaxEagerBytes + 1}, MaxEagerBytes+1
	h.CRC32C = make([]uint32, h.NumBlocks())
	var huge []byte
	for { // the data offset grows with the CRC table
		if huge, err = h.Marshal(); err != nil {
			t.Fatal(err)
		}
		need := (int64(len(huge)) + arrayx.Alignment - 1) / arrayx.Alignment * arrayx.Alignment
		if need == h.DataOffset {
			break
		}
		h.DataOffset = need
	}
	got := make(chan int, 1)
	addr := scriptServerWith(t, []string{FeatureEager}, func(c net.Conn) {
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		n := 0
		for ; n < 4; n++ {
			var b getBody
			f, err := readFrame(c, func(byte) int { return 64 << 10 })
			if err != nil || f.kind != kindGet || f.decode(&b, true) != nil || !b.Eager {
				break
			}
		}
		got <- n
		for _, d := range [][]byte{data, bad} {
			writeMsg(c, Version2, kindReply, &replyBody{Status: StatusOK, Header: raw, Method: "write"})
			c.Write(d)
		}
		writeMsg(c, Version2, kindReply, &replyBody{Status: StatusNotFound, Code: "not_found", Message: "no array"})
		writeMsg(c, Version2, kindReply, &replyBody{Status: StatusOK, Header: huge, Method: "write"})
		c.Write(make([]byte, 1<<20))
	})
	c := dial(t, addr, nil)
	names := []string{"x0", "x1", "x2", "x3"}
	errs := make([]error, 4)
	perr := c.pullEager(context.Background(), 4, func(i int) (string, string) { return names[i], names[i] }, local,
		func(i int, st Stats, err error) { errs[i] = err })
	if n := <-got; n != 4 {
		t.Fatalf("the server read %d eager GETs before answering, want 4: the client waited for replies", n)
	}
	if errs[0] != nil || !errors.Is(errs[1], arrayx.ErrChecksum) || !errors.Is(errs[2], fs.ErrNotExist) ||
		!errors.Is(errs[3], ErrProtocol) || !errors.Is(perr, ErrProtocol) {
		t.Fatalf("outcomes %v, pipeline %v", errs, perr)
	}
	a, err := local.Open("x0")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if !bytes.Equal(a.Bytes(), data) {
		t.Fatal("x0 differs from what was sent")
	}
	for _, name := range names[1:] {
		if _, err := local.Open(name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v, want not found", name, err)
		}
	}
}
