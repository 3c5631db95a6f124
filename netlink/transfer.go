package netlink

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
)

// Version 2 moves blocks. The receiver owns the transfer: it knows which
// blocks its partial holds, hands the missing ones out to the connections
// that carry the transfer (NEED), lands each run that arrives (DATA) block
// by block, and puts back what a connection did not deliver, whether it
// died or a block failed its CRC. The sender answers NEEDs. The same two
// halves serve push (server receives) and pull (client receives).

// assignBytes is how much a receiver asks one connection for at a time; it
// keeps two such assignments outstanding, so the sender never waits for a
// NEED, and shrinks them near the end so that streams finish together.
const assignBytes = 64 << 20

// maxBlockAttempts bounds how often one block is received before a
// transfer gives up on it: a block corrupted in flight is fetched again,
// one corrupt at the source fails the transfer with its checksum error.
const maxBlockAttempts = 3

// newTransferID returns a random transfer id: unguessable, so that no
// other client can join a transfer (and the server checks the name and
// header of a join besides).
func newTransferID() []byte {
	id := make([]byte, 16)
	rand.Read(id)
	return id
}

// recvMethod is how receivers land data, as Stats reports it: read into a
// small buffer, checked while hot in cache, written with pwrite
// (mmapstore.Partial.ReceiveAt).
const recvMethod = "pwrite"

// testHookRecv, when set, sees the start of every data phase a receiver
// runs on a connection, with its method.
var testHookRecv func(method string)

// recvTransfer is the receiving half of one transfer, shared by the
// connections that carry it.
type recvTransfer struct {
	id     []byte
	name   string // where it will be published
	header []byte // the sender's prefix and header
	p      *mmapstore.Partial
	h      *arrayx.Header
	chunk  int    // blocks per assignment, at most
	expect int    // connections expected to carry it (the sender's announced streams)
	relay  *relay // forwarding down a chain, for a relayed PUT

	mu        sync.Mutex
	pool      blockSet // missing blocks no connection is asked for
	conns     map[*conn]bool
	attempts  map[int]int
	wire      int64 // data bytes read from the network
	refetched int   // blocks received again after a bad CRC
	progress  func(int64)
	finishing bool
	damaged   bool          // a block failed maxBlockAttempts times: the source's copy is bad
	done      chan struct{} // closed when the array is published or the transfer failed
	err       error         // why it failed, once done
	work      chan struct{} // closed and replaced when blocks go back into the pool
}

func newRecvTransfer(id []byte, name string, header []byte, p *mmapstore.Partial, progress func(int64)) *recvTransfer {
	h := p.Header()
	t := &recvTransfer{
		id: id, name: name, header: header, p: p, h: h,
		chunk: max(1, int(assignBytes/h.BlockSize)), expect: 1,
		pool: newBlockSet(h.NumBlocks()), conns: map[*conn]bool{}, attempts: map[int]int{},
		progress: progress, done: make(chan struct{}), work: make(chan struct{}),
	}
	for _, r := range p.Missing() {
		t.pool.addRange(r)
	}
	return t
}

// attach adds a connection to the transfer; false if it is over or full.
func (t *recvTransfer) attach(c *conn, maxConns int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.finishing || len(t.conns) >= maxConns {
		return false
	}
	t.conns[c] = true
	return true
}

// detach removes a connection, putting back the blocks it was asked for
// and did not deliver. It reports whether it was the last connection.
func (t *recvTransfer) detach(c *conn, undelivered *blockSet) (last bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.conns, c)
	if undelivered != nil && undelivered.count > 0 {
		for _, r := range undelivered.ranges() {
			t.pool.addRange(r)
		}
		t.wake()
	}
	return len(t.conns) == 0
}

func (t *recvTransfer) wake() {
	close(t.work)
	t.work = make(chan struct{})
}

// assignment is how many blocks one NEED asks a connection for: at most
// assignBytes, and at most a share of what is left that lets every
// connection (those expected to join too) keep two assignments.
func (t *recvTransfer) assignment() int {
	conns := max(len(t.conns), t.expect)
	return min(t.chunk, max(1, (t.pool.count+2*conns-1)/(2*conns)))
}

// take hands out one assignment of missing blocks to a connection that has
// have blocks outstanding, unless it has two assignments' worth already.
func (t *recvTransfer) take(have int) ([]mmapstore.BlockRange, chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.assignment()
	if have >= 2*n {
		return nil, t.work
	}
	return t.pool.take(n), t.work
}

// count records wire bytes.
func (t *recvTransfer) count(n int64, landed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.wire += n
	if landed && t.progress != nil {
		t.progress(n)
	}
}

// landed is called once block i is held: the last one publishes.
func (t *recvTransfer) landed() {
	if t.p.Held() != t.h.NBytes {
		return
	}
	t.mu.Lock()
	if t.finishing {
		t.mu.Unlock()
		return
	}
	t.finishing = true
	t.mu.Unlock()
	a, err := t.p.Complete()
	if err == nil {
		err = a.Close()
	}
	t.end(err)
}

// failed puts block i back for another attempt, or fails the transfer if
// it has failed too often, and returns why.
func (t *recvTransfer) failed(i int, cause error) error {
	t.mu.Lock()
	t.attempts[i]++
	if t.attempts[i] < maxBlockAttempts {
		t.refetched++
		t.pool.add(i)
		t.wake()
		t.mu.Unlock()
		return nil
	}
	t.damaged = true
	t.mu.Unlock()
	err := fmt.Errorf("%w (received %d times)", cause, maxBlockAttempts)
	t.fail(err)
	return err
}

// fail ends the transfer with err unless it already ended. Connections
// waiting for work see the end at once; those receiving finish their run
// first.
func (t *recvTransfer) fail(err error) {
	t.mu.Lock()
	if t.finishing {
		t.mu.Unlock()
		return
	}
	t.finishing = true
	t.mu.Unlock()
	t.end(err)
}

func (t *recvTransfer) end(err error) {
	t.mu.Lock()
	t.err = err
	close(t.done)
	t.mu.Unlock()
}

// result returns the outcome once done.
func (t *recvTransfer) result() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// ended reports whether the transfer is over.
func (t *recvTransfer) ended() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

// serve carries the transfer on c: it asks for blocks, lands the runs that
// arrive, and returns once the transfer is over (nil: published) or c
// fails. The caller tells the sender how it ended.
func (t *recvTransfer) serve(c *conn) error {
	mine := newBlockSet(t.h.NumBlocks()) // asked for on c, not yet arrived
	defer func() { t.detach(c, &mine) }()
	t.landed() // resumed or seeded whole: nothing to ask for
	if testHookRecv != nil {
		testHookRecv(recvMethod)
	}
	ask := func() (chan struct{}, error) {
		var work chan struct{}
		for {
			rs, w := t.take(mine.count)
			work = w
			if len(rs) == 0 {
				break
			}
			nb := needBody{Transfer: t.id}
			for _, r := range rs {
				mine.addRange(r)
				nb.Ranges = append(nb.Ranges, []int64{int64(r.Start), int64(r.End)})
			}
			if err := c.send(kindNeed, &nb); err != nil {
				return nil, err
			}
		}
		return work, nil
	}
	for {
		if t.ended() {
			return t.result()
		}
		work, err := ask()
		if err != nil {
			return err
		}
		if mine.count == 0 {
			// Nothing in flight here: wait for blocks another connection
			// gave back, the end, or a stop.
			select {
			case <-work:
			case <-t.done:
			case <-c.ctx.Done():
				return c.stopCause()
			}
			continue
		}
		f, err := c.recv(c.readTimeout)
		if err != nil {
			return err
		}
		switch f.kind {
		case kindData:
			var d dataBody
			if err := f.decode(&d, true); err != nil {
				return err
			}
			if err := t.land(c, &d, &mine); err != nil {
				return err
			}
		case kindReply:
			var r replyBody
			if err := f.decode(&r, true); err != nil {
				return err
			}
			if err := replyErr(&r); err != nil {
				return err
			}
			return fmt.Errorf("%w: a REPLY of 200 in the middle of a transfer", ErrProtocol)
		default:
			return fmt.Errorf("%w: %s in the middle of a transfer", ErrProtocol, kindName(f.kind))
		}
	}
}

// land receives one DATA run into the partial, block by block. A run must
// be whole blocks that were asked for on this connection and have not
// arrived yet. A block that fails its CRC goes back for another attempt.
func (t *recvTransfer) land(c *conn, d *dataBody, mine *blockSet) error {
	bs, nbytes := t.h.BlockSize, t.h.NBytes
	if string(d.Transfer) != string(t.id) {
		return fmt.Errorf("%w: DATA for transfer %x on a connection carrying %x", ErrProtocol, d.Transfer, t.id)
	}
	if d.Offset < 0 || d.Length <= 0 || d.Offset >= nbytes || d.Length > nbytes-d.Offset || d.Offset%bs != 0 ||
		(d.Offset+d.Length)%bs != 0 && d.Offset+d.Length != nbytes {
		return fmt.Errorf("%w: DATA run [%d, %d+%d) is not whole blocks of %d bytes within %d", ErrProtocol, d.Offset, d.Offset, d.Length, bs, nbytes)
	}
	run := mmapstore.BlockRange{Start: int(d.Offset / bs), End: int((d.Offset + d.Length + bs - 1) / bs)}
	if !mine.hasAll(run) {
		return fmt.Errorf("%w: DATA run of blocks [%d, %d) was not asked for on this connection (or came twice)", ErrProtocol, run.Start, run.End)
	}
	for i := run.Start; i < run.End; i++ {
		off, n := t.h.Block(i)
		if err := c.blockDeadline(); err != nil {
			return err
		}
		got, err := t.p.ReceiveAt(dataReader{c}, off, n)
		var ce *arrayx.ChecksumError
		switch {
		case errors.As(err, &ce):
			t.count(got, false)
			mine.remove(i)
			if err := t.failed(i, err); err != nil {
				return err
			}
		case err != nil:
			t.count(got, false)
			return err
		default:
			t.count(got, true)
			mine.remove(i)
			t.landed()
		}
	}
	return nil
}

// stats returns the wire bytes and the blocks fetched again.
func (t *recvTransfer) stats() (int64, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.wire, t.refetched
}

// source is what a sender reads: a sealed array, or (for a relay, or a GET
// of an array still arriving) a partial whose blocks it waits for.
type source interface {
	Header() *arrayx.Header
	RawHeader() []byte
	SendData(w io.Writer, off, n int64) (int64, bool, error)
	CopyData(w io.Writer, off, n int64) (int64, error)
	CheckFile() error
	// HeldFrom waits for block i and returns how many blocks from i on,
	// at most max, can be sent now.
	HeldFrom(ctx context.Context, i, max int) (int, error)
}

// arraySource is a sealed array as a source: every block is there.
type arraySource struct{ *mmapstore.Array }

func (arraySource) HeldFrom(_ context.Context, _, max int) (int, error) { return max, nil }

// sendTransfer is the sending half of one transfer, shared by the
// connections that carry it.
type sendTransfer struct {
	id        []byte
	name      string
	src       source
	h         *arrayx.Header
	forceCopy bool
	progress  func(int64)
	sent      atomic.Int64 // data bytes sent on every connection, to tell an idle connection the transfer lives
	chained   bool         // a push with a relay chain: the receiver may send keepalives

	mu    sync.Mutex
	refs  int
	close func() error // releases src when the last connection is done
	pmu   sync.Mutex   // serializes progress calls
}

func newSendTransfer(id []byte, name string, src source, forceCopy bool, progress func(int64)) *sendTransfer {
	return &sendTransfer{id: id, name: name, src: src, h: src.Header(), forceCopy: forceCopy, progress: progress, refs: 1}
}

// sendChunk bounds one step of sending: the write deadline is renewed per
// chunk, so a stalled peer fails after the write timeout, a slow one not.
const sendChunk = 64 << 20

// sendResult is how a connection's part of a transfer went.
type sendResult struct {
	bytes    int64
	zeroCopy bool
	final    *replyBody // the receiver's REPLY that ended it (push)
}

// serve answers the NEEDs that arrive on c with DATA runs until the
// transfer ends on c: with a REPLY from the receiver when push (the
// client sends), with an empty NEED when pull (the server sends).
func (s *sendTransfer) serve(c *conn, push bool) (sendResult, error) {
	res := sendResult{zeroCopy: true}
	var (
		mu      sync.Mutex
		queue   []mmapstore.BlockRange
		pending = newBlockSet(s.h.NumBlocks()) // asked for, not yet sent
		over    bool                           // the reader saw the end
		rerr    error
		wakec   = make(chan struct{}, 1)
	)
	wake := func() {
		select {
		case wakec <- struct{}{}:
		default:
		}
	}
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		defer wake()
		final, err := s.readNeeds(c, push, func(rs []mmapstore.BlockRange) error {
			mu.Lock()
			defer mu.Unlock()
			for _, r := range rs {
				if pending.hasAny(r) {
					return fmt.Errorf("%w: NEED asks again for blocks [%d, %d) not yet sent", ErrProtocol, r.Start, r.End)
				}
				pending.addRange(r)
			}
			queue = append(queue, rs...)
			wake()
			return nil
		}, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return pending.count > 0
		})
		mu.Lock()
		// The end: what is queued is no longer wanted; a range being sent
		// finishes (the receiver may have it all already, its bookkeeping
		// here lagging behind).
		over, rerr, res.final, queue = true, err, final, nil
		mu.Unlock()
		// Interrupt a send in progress: the receiver has given up.
		if err != nil {
			c.stop(err)
		} else if final != nil && final.Status != StatusOK {
			c.stop(replyErr(final))
		}
	}()
	var werr error
	for werr == nil {
		mu.Lock()
		if len(queue) == 0 {
			done := over
			mu.Unlock()
			if done {
				break
			}
			<-wakec
			continue
		}
		r := queue[0]
		queue = queue[1:]
		mu.Unlock()
		werr = s.sendRange(c, r, &res, func(i int) {
			mu.Lock()
			pending.remove(i)
			mu.Unlock()
		})
	}
	if werr != nil {
		c.stop(werr) // the reader stops too
	}
	<-readerDone
	mu.Lock()
	defer mu.Unlock()
	if rerr != nil {
		return res, rerr
	}
	if werr != nil {
		return res, werr
	}
	if pending.count > 0 {
		return res, fmt.Errorf("%w: the transfer ended with %d blocks asked for and not sent", ErrProtocol, pending.count)
	}
	if res.final != nil {
		return res, replyErr(res.final)
	}
	return res, nil
}

// readNeeds reads the receiver's messages on c until the end: NEEDs are
// validated and passed to add; push ends with a REPLY, returned; pull with
// an empty NEED. While waiting, a read timeout is forgiven as long as the
// transfer moves on some connection (this one may simply have nothing left
// to do while others finish) or this one still has blocks to send.
func (s *sendTransfer) readNeeds(c *conn, push bool, add func([]mmapstore.BlockRange) error, busy func() bool) (*replyBody, error) {
	nblocks := int64(s.h.NumBlocks())
	last := s.sent.Load()
	for {
		f, err := c.recv(c.readTimeout)
		var bf *errBeforeFrame
		if errors.As(err, &bf) && isTimeout(bf.err) {
			if now := s.sent.Load(); now != last || busy() {
				last = now
				continue
			}
		}
		if err != nil {
			return nil, err
		}
		switch {
		case f.kind == kindNeed:
			var nb needBody
			if err := f.decode(&nb, true); err != nil {
				return nil, err
			}
			if string(nb.Transfer) != string(s.id) {
				return nil, fmt.Errorf("%w: NEED for transfer %x on a connection carrying %x", ErrProtocol, nb.Transfer, s.id)
			}
			if len(nb.Ranges) == 0 {
				if push && s.chained {
					continue // a keepalive: the receiver is waiting for its chain (relay.go)
				}
				if push {
					return nil, fmt.Errorf("%w: an empty NEED ends a pull, not a push", ErrProtocol)
				}
				return nil, nil // serve checks that nothing asked for is left unsent
			}
			rs := make([]mmapstore.BlockRange, 0, len(nb.Ranges))
			var total int64
			for _, r := range nb.Ranges {
				if len(r) != 2 || r[0] < 0 || r[0] >= r[1] || r[1] > nblocks {
					return nil, fmt.Errorf("%w: NEED range %v is not [start, end) within %d blocks", ErrProtocol, r, nblocks)
				}
				total += r[1] - r[0]
				if total > nblocks {
					return nil, fmt.Errorf("%w: NEED asks for more than the %d blocks there are", ErrProtocol, nblocks)
				}
				rs = append(rs, mmapstore.BlockRange{Start: int(r[0]), End: int(r[1])})
			}
			// Within one NEED too, no block twice.
			seen := newBlockSet(int(nblocks))
			for _, r := range rs {
				if seen.hasAny(r) {
					return nil, fmt.Errorf("%w: NEED asks twice for blocks in [%d, %d)", ErrProtocol, r.Start, r.End)
				}
				seen.addRange(r)
			}
			if err := add(rs); err != nil {
				return nil, err
			}
		case f.kind == kindReply && push:
			var r replyBody
			if err := f.decode(&r, true); err != nil {
				return nil, err
			}
			return &r, nil
		default:
			return nil, fmt.Errorf("%w: %s in the middle of a transfer", ErrProtocol, kindName(f.kind))
		}
	}
}

// sendRange sends blocks r as DATA runs of at most sendChunk bytes, each
// as soon as its blocks are held (at once for a sealed array).
func (s *sendTransfer) sendRange(c *conn, r mmapstore.BlockRange, res *sendResult, sent func(block int)) error {
	bs := s.h.BlockSize
	per := max(1, int(sendChunk/bs))
	for i := r.Start; i < r.End; {
		held, err := s.src.HeldFrom(c.ctx, i, min(per, r.End-i))
		if err != nil {
			return c.explain(err)
		}
		j := i + held
		off, _ := s.h.Block(i)
		end, n := s.h.Block(j - 1)
		length := end + n - off
		// A file cut short is said in a REPLY before a run promises bytes
		// that are not there.
		if err := s.src.CheckFile(); err != nil {
			status, code := classify(err)
			c.send(kindReply, &replyBody{Status: status, Code: code, Message: publicMessage(err, "")})
			return err
		}
		// send renews the write deadline; it bounds the run's bytes too.
		if err := c.send(kindData, &dataBody{Transfer: s.id, Offset: off, Length: length}); err != nil {
			return err
		}
		var w int64
		var zc bool
		if s.forceCopy {
			w, err = s.src.CopyData(c.nc, off, length)
		} else {
			w, zc, err = s.src.SendData(c.nc, off, length)
		}
		res.bytes += w
		res.zeroCopy = res.zeroCopy && zc
		s.sent.Add(w)
		if s.progress != nil && w > 0 {
			s.pmu.Lock()
			s.progress(w)
			s.pmu.Unlock()
		}
		if err != nil {
			return c.explain(err)
		}
		for k := i; k < j; k++ {
			sent(k)
		}
		i = j
	}
	return nil
}
