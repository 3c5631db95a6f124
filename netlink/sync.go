package netlink

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
)

// Syncing makes one side's sealed arrays the other's: a local store and a
// server, in either direction. Arrays are compared by their digests (the
// SHA-256 of their headers, from a paged LIST on the server and from the
// headers alone locally), so an unchanged dataset costs no data read on
// either side. A changed array is sent with Push or Pull, whose receiver
// copies the blocks its old version holds unchanged (equal XXH3-128
// digests) and asks only for the others: a changed array costs its changed
// blocks. Small arrays stream over one connection as eager PUTs or GETs
// (eager.go), so that each does not pay a round trip.

// SyncOptions select what a sync moves.
type SyncOptions struct {
	// SrcPrefix and DstPrefix are the names' prefixes on each side: the
	// array SrcPrefix+"x" becomes DstPrefix+"x". A prefix names a
	// directory: "sim" and "sim/" are the same.
	SrcPrefix, DstPrefix string
	// Include and Exclude are path.Match patterns on names relative to the
	// prefixes ("*" does not cross "/"): with Include, only the names one
	// matches; never those an Exclude matches.
	Include, Exclude []string
	// Delete removes what the destination has under its prefix, within
	// the selection, and the source does not.
	Delete bool
	// DryRun plans and reports, moving and removing nothing.
	DryRun bool
	// Names, when not nil, restricts the sync to these relative names
	// (SyncWatch passes the arrays that changed).
	Names []string
	// Transfers is how many arrays too large to go eagerly (see NoEager)
	// are sent at once, each on a connection of its own (the client's, and
	// more dialled as it was). 0 means DefaultSyncTransfers.
	Transfers int
	// NoEager sends small arrays like large ones, a NEED-driven transfer
	// each, instead of streaming them as eager PUTs or GETs on one
	// connection (FeatureEager); for comparison.
	NoEager bool
}

// DefaultSyncTransfers is SyncOptions.Transfers's default.
const DefaultSyncTransfers = 4

// Sync actions, in SyncItem.Action.
const (
	SyncIdentical = "identical" // same digest, and digests per block: nothing sent
	SyncWhole     = "whole"     // sent whole: new, or nothing reusable on the destination
	SyncDelta     = "delta"     // only some blocks sent; the others copied on the destination
	SyncDelete    = "delete"    // removed from the destination
)

// SyncItem is what a sync did, or would do, with one array.
type SyncItem struct {
	Name   string `json:"name"` // relative to the prefixes
	Action string `json:"action"`
	NBytes int64  `json:"nbytes"`
	// Bytes is the data sent (a dry run: that would be sent, from the
	// headers of both versions); Reused what the destination copied from
	// its old version instead.
	Bytes  int64  `json:"bytes"`
	Reused int64  `json:"reused"`
	Error  string `json:"error,omitempty"`
}

// SyncReport is a sync's outcome.
type SyncReport struct {
	DryRun    bool          `json:"dry_run"`
	Checked   int           `json:"checked"` // arrays of the source in the selection
	Identical int           `json:"identical"`
	Whole     int           `json:"whole"`
	Delta     int           `json:"delta"`
	Deleted   int           `json:"deleted"`
	Failed    int           `json:"failed"`
	Bytes     int64         `json:"bytes"` // data on the wire
	Duration  time.Duration `json:"duration_ns"`
	Items     []SyncItem    `json:"items"` // every array but the identical ones, in name order
}

func (r SyncReport) String() string {
	verb := "moved"
	if r.DryRun {
		verb = "would move"
	}
	s := fmt.Sprintf("%d checked, %d identical, %d sent whole, %d sent as deltas, %d deleted; %s %d bytes of data in %.3f s",
		r.Checked, r.Identical, r.Whole, r.Delta, r.Deleted, verb, r.Bytes, r.Duration.Seconds())
	if r.Failed > 0 {
		s += fmt.Sprintf("; %d FAILED", r.Failed)
	}
	return s
}

// errSyncFailed means some arrays of a sync failed; the report names them.
var errSyncFailed = errors.New("netlink: sync: some arrays failed")

// syncSide is one side of a sync: what it holds under its prefix, by
// relative name, with digests.
type syncSide struct {
	digests map[string]string
	nbytes  map[string]int64
}

// normPrefix makes a prefix name a directory.
func normPrefix(p string) string {
	p = strings.Trim(p, "/")
	if p == "" {
		return ""
	}
	return p + "/"
}

// selected reports whether the relative name is in the selection.
func (o *SyncOptions) selected(rel string) (bool, error) {
	if o.Names != nil && !slices.Contains(o.Names, rel) {
		return false, nil
	}
	if len(o.Include) > 0 {
		in := false
		for _, pat := range o.Include {
			ok, err := path.Match(pat, rel)
			if err != nil {
				return false, fmt.Errorf("netlink: sync: include pattern %q: %w", pat, err)
			}
			in = in || ok
		}
		if !in {
			return false, nil
		}
	}
	for _, pat := range o.Exclude {
		ok, err := path.Match(pat, rel)
		if err != nil {
			return false, fmt.Errorf("netlink: sync: exclude pattern %q: %w", pat, err)
		}
		if ok {
			return false, nil
		}
	}
	return true, nil
}

// remoteSide lists the server's arrays under prefix.
func (cl *Client) remoteSide(ctx context.Context, prefix string, o *SyncOptions) (syncSide, error) {
	side := syncSide{digests: map[string]string{}, nbytes: map[string]int64{}}
	entries, err := cl.List(ctx, prefix)
	if err != nil {
		return side, err
	}
	for _, e := range entries {
		rel := strings.TrimPrefix(e.Name, prefix)
		if ok, err := o.selected(rel); err != nil {
			return side, err
		} else if ok {
			side.digests[rel], side.nbytes[rel] = e.Digest, e.NBytes
		}
	}
	return side, nil
}

// localSide lists the store's arrays under prefix, reading their headers.
func localSide(st *mmapstore.Store, prefix string, o *SyncOptions) (syncSide, map[string]*arrayx.Header, error) {
	side := syncSide{digests: map[string]string{}, nbytes: map[string]int64{}}
	headers := map[string]*arrayx.Header{}
	names, err := st.List()
	if err != nil {
		return side, nil, err
	}
	for _, name := range names {
		rel, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		if ok, err := o.selected(rel); err != nil {
			return side, nil, err
		} else if !ok {
			continue
		}
		info, err := st.Info(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed since the listing
		}
		if err != nil {
			return side, nil, err
		}
		side.digests[rel], side.nbytes[rel], headers[rel] = info.Digest, info.Header.NBytes, info.Header
	}
	return side, headers, nil
}

// changedBytes is what sending src over dst costs: the bytes of the blocks
// dst does not hold unchanged (dst nil: all of them).
func changedBytes(src, dst *arrayx.Header) int64 {
	if dst == nil {
		return src.NBytes
	}
	var n int64
	for i := range src.NumBlocks() {
		if !src.SameBlock(dst, i) {
			_, bn := src.Block(i)
			n += bn
		}
	}
	return n
}

// SyncPush makes the server's arrays under o.DstPrefix those of store under
// o.SrcPrefix. The error reports a failure to list either side or a
// pattern error; arrays that fail are in the report (Failed, and each
// item's Error), with an error wrapping all of them.
func (cl *Client) SyncPush(ctx context.Context, store *mmapstore.Store, o *SyncOptions) (SyncReport, error) {
	start := time.Now()
	o.SrcPrefix, o.DstPrefix = normPrefix(o.SrcPrefix), normPrefix(o.DstPrefix)
	src, srcHeaders, err := localSide(store, o.SrcPrefix, o)
	if err != nil {
		return SyncReport{}, err
	}
	dst, err := cl.remoteSide(ctx, o.DstPrefix, o)
	if err != nil {
		return SyncReport{}, err
	}
	return cl.runSync(ctx, src, dst, o, start, syncOps{
		plan: func(rel string) (int64, error) {
			var old *arrayx.Header
			if _, ok := dst.digests[rel]; ok {
				var err error
				if old, err = cl.Stat(ctx, o.DstPrefix+rel); err != nil {
					return 0, err
				}
			}
			return changedBytes(srcHeaders[rel], old), nil
		},
		strong: func(rel string) bool { return srcHeaders[rel].XXH128 != nil },
		send: func(c *Client, rel string) (Stats, error) {
			a, err := store.Open(o.SrcPrefix + rel)
			if err != nil {
				return Stats{}, err
			}
			defer a.Close()
			return c.Push(ctx, a, o.DstPrefix+rel)
		},
		// A small array goes eagerly when the destination lacks it, or when
		// it is one block (which a change leaves nothing to reuse of).
		eager: func(rel string) bool {
			h := srcHeaders[rel]
			_, held := dst.digests[rel]
			return !o.NoEager && h.NBytes > 0 && h.NBytes <= MaxEagerBytes && (!held || h.NumBlocks() == 1)
		},
		sendEager: func(c *Client, rels []string, done func(int, Stats, error)) error {
			return c.pushEager(ctx, len(rels), func(i int) (*mmapstore.Array, string, error) {
				a, err := store.Open(o.SrcPrefix + rels[i])
				return a, o.DstPrefix + rels[i], err
			}, done)
		},
		remove: func(rel string) error { return cl.Delete(ctx, o.DstPrefix+rel) },
	})
}

// SyncPull makes store's arrays under o.DstPrefix the server's under
// o.SrcPrefix; as SyncPush otherwise.
func (cl *Client) SyncPull(ctx context.Context, store *mmapstore.Store, o *SyncOptions) (SyncReport, error) {
	start := time.Now()
	o.SrcPrefix, o.DstPrefix = normPrefix(o.SrcPrefix), normPrefix(o.DstPrefix)
	src, err := cl.remoteSide(ctx, o.SrcPrefix, o)
	if err != nil {
		return SyncReport{}, err
	}
	dst, dstHeaders, err := localSide(store, o.DstPrefix, o)
	if err != nil {
		return SyncReport{}, err
	}
	srcHeader := func(rel string) (*arrayx.Header, error) { return cl.Stat(ctx, o.SrcPrefix+rel) }
	return cl.runSync(ctx, src, dst, o, start, syncOps{
		plan: func(rel string) (int64, error) {
			h, err := srcHeader(rel)
			if err != nil {
				return 0, err
			}
			return changedBytes(h, dstHeaders[rel]), nil
		},
		// The local copy's header tells whether the server's array has
		// digests: equal header digests mean equal headers.
		strong: func(rel string) bool { return dstHeaders[rel] != nil && dstHeaders[rel].XXH128 != nil },
		send: func(c *Client, rel string) (Stats, error) {
			return c.Pull(ctx, o.SrcPrefix+rel, store, o.DstPrefix+rel)
		},
		// As for a push; an array no larger than our version's block has
		// one block, or a layout of its own that nothing would be reused of.
		eager: func(rel string) bool {
			n, old := src.nbytes[rel], dstHeaders[rel]
			return !o.NoEager && n <= MaxEagerBytes && (old == nil || n <= old.BlockSize)
		},
		sendEager: func(c *Client, rels []string, done func(int, Stats, error)) error {
			return c.pullEager(ctx, len(rels), func(i int) (string, string) {
				return o.SrcPrefix + rels[i], o.DstPrefix + rels[i]
			}, store, done)
		},
		remove: func(rel string) error { return store.Remove(o.DstPrefix + rel) },
	})
}

// syncOps are a sync's direction-specific steps, by relative name.
type syncOps struct {
	plan   func(rel string) (int64, error)            // bytes a send would move (dry run)
	strong func(rel string) bool                      // its header has per-block digests
	send   func(c *Client, rel string) (Stats, error) // on one of the sync's connections
	remove func(rel string) error
	// eager tells the arrays to send with sendEager, pipelined on one
	// connection, when the server takes them (nil: none).
	eager     func(rel string) bool
	sendEager func(c *Client, rels []string, done func(i int, st Stats, err error)) error
}

// runSync compares the sides and carries out (or, in a dry run, plans)
// what makes dst equal to src: the arrays to send go out o.Transfers at a
// time, each on a connection of its own.
func (cl *Client) runSync(ctx context.Context, src, dst syncSide, o *SyncOptions, start time.Time, ops syncOps) (SyncReport, error) {
	r := SyncReport{DryRun: o.DryRun}
	var errs []error
	fail := func(it *SyncItem, err error) {
		it.Error = err.Error()
		r.Failed++
		errs = append(errs, err)
	}
	for _, rel := range sortedKeys(src.digests) {
		r.Checked++
		// Equal header digests mean equal headers, and with per-block
		// digests in them, equal data; a 1.0 array is sent again.
		if d, ok := dst.digests[rel]; ok && d == src.digests[rel] && d != "" && ops.strong(rel) {
			r.Identical++
			continue
		}
		r.Items = append(r.Items, SyncItem{Name: rel, NBytes: src.nbytes[rel]})
	}
	outcome := make([]error, len(r.Items))
	if o.DryRun {
		for i := range r.Items {
			it := &r.Items[i]
			n, err := ops.plan(it.Name)
			it.Bytes, it.Reused, outcome[i] = n, it.NBytes-n, err
		}
	} else {
		cl.sendAll(ctx, r.Items, outcome, o.Transfers, ops)
	}
	for i := range r.Items {
		it := &r.Items[i]
		it.Action = SyncWhole
		if it.Reused > 0 {
			it.Action = SyncDelta
		}
		switch {
		case outcome[i] != nil:
			it.Bytes, it.Reused = 0, 0
			fail(it, outcome[i])
		case it.Action == SyncDelta:
			r.Delta++
		default:
			r.Whole++
		}
		r.Bytes += it.Bytes
	}
	if o.Delete {
		for _, rel := range sortedKeys(dst.digests) {
			if _, ok := src.digests[rel]; ok {
				continue
			}
			it := SyncItem{Name: rel, Action: SyncDelete, NBytes: dst.nbytes[rel]}
			if !o.DryRun {
				if err := ops.remove(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
					fail(&it, err)
				}
			}
			if it.Error == "" {
				r.Deleted++
			}
			r.Items = append(r.Items, it)
		}
	}
	r.Duration = time.Since(start)
	if len(errs) > 0 {
		return r, fmt.Errorf("%w (%d of them): %w", errSyncFailed, len(errs), errors.Join(errs...))
	}
	return r, nil
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// SyncWatch keeps the server following store, as SyncPush once and then
// again for every change Store.Watch reports (gathered for debounce),
// until ctx ends; it then returns ctx's cause. Removals propagate with
// o.Delete. Each round's report (and error) goes to report. A failed round
// does not stop the watch: a broken connection is dialled again, and the
// arrays that failed are tried again after retryEvery (or with the next
// change); a restart catches up with one full sync.
func (cl *Client) SyncWatch(ctx context.Context, store *mmapstore.Store, o *SyncOptions, debounce time.Duration,
	report func(SyncReport, error)) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	changes := make(chan []string, 1)
	watchErr := make(chan error, 1)
	go func() {
		watchErr <- store.Watch(ctx, debounce, func(names []string) {
			select {
			case changes <- names:
			case <-ctx.Done():
			}
		})
	}()
	// A round syncs names (nil: everything) and returns what to try again:
	// the arrays that failed, or all of them when no side could be listed.
	type pending struct {
		names []string
		all   bool
	}
	round := func(p pending) pending {
		r := *o
		r.SrcPrefix, r.DstPrefix = normPrefix(o.SrcPrefix), normPrefix(o.DstPrefix)
		if !p.all {
			r.Names = p.names
		}
		rep, err := cl.SyncPush(ctx, store, &r)
		report(rep, err)
		if errors.Is(err, ErrBroken) || err != nil && rep.Checked == 0 {
			cl.Reconnect(ctx) // if it fails too, the next round says so
		}
		if err != nil && rep.Checked == 0 {
			return p
		}
		var again pending
		for _, it := range rep.Items {
			if it.Error != "" {
				again.names = append(again.names, it.Name)
			}
		}
		return again
	}
	retry := round(pending{names: o.Names, all: o.Names == nil}) // the catch-up
	tick := time.NewTicker(retryEvery)
	defer tick.Stop()
	for {
		select {
		case err := <-watchErr:
			return err
		case changed := <-changes:
			if retry.all {
				retry = round(retry)
				continue
			}
			for _, name := range changed {
				if rel, ok := strings.CutPrefix(name, normPrefix(o.SrcPrefix)); ok && !slices.Contains(retry.names, rel) {
					retry.names = append(retry.names, rel)
				}
			}
			if len(retry.names) > 0 {
				retry = round(retry)
			}
		case <-tick.C:
			if retry.all || len(retry.names) > 0 {
				retry = round(retry)
			}
		}
	}
}

// retryEvery is how soon SyncWatch tries failed arrays again.
var retryEvery = 5 * time.Second

// SyncFollow keeps store following the server, as SyncPull once and then
// again every poll (default DefaultSyncPoll), until ctx ends; it then
// returns ctx's cause. A server has no way to announce its changes, so
// each round lists it: an unchanged dataset costs one listing (about 100
// bytes an array) per round and moves nothing. Removals propagate with
// o.Delete. Each round's report (and error) goes to report; a failed round
// does not stop the following (a broken connection is dialled again, and
// what failed is tried again in the next round).
func (cl *Client) SyncFollow(ctx context.Context, store *mmapstore.Store, o *SyncOptions, poll time.Duration,
	report func(SyncReport, error)) error {
	if poll <= 0 {
		poll = DefaultSyncPoll
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		r := *o
		rep, err := cl.SyncPull(ctx, store, &r)
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		report(rep, err)
		if errors.Is(err, ErrBroken) || err != nil && rep.Checked == 0 {
			cl.Reconnect(ctx) // if it fails too, the next round says so
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-tick.C:
		}
	}
}

// DefaultSyncPoll is how often SyncFollow lists the server by default.
const DefaultSyncPoll = 2 * time.Second

// sendAll sends every item, recording its bytes and outcome. The small
// arrays ops.eager picks stream as eager PUTs or GETs on the client's
// connection;
// the others go with ops.send, transfers at a time, on connections dialled
// as the client's was (if some cannot be dialled, on fewer; with none, on
// the client's once the eager ones are done). Once the destination runs out
// of space nothing more is sent: each array left is reported as not sent.
func (cl *Client) sendAll(ctx context.Context, items []SyncItem, outcome []error, transfers int, ops syncOps) {
	if transfers <= 0 {
		transfers = DefaultSyncTransfers
	}
	var eager, rest []int
	for i := range items {
		if ops.eager != nil && ops.eager(items[i].Name) && cl.c.has(FeatureEager) {
			eager = append(eager, i)
		} else {
			rest = append(rest, i)
		}
	}
	var full atomic.Bool // the destination ran out of space: send no more
	record := func(i int, st Stats, err error) {
		items[i].Bytes, items[i].Reused, outcome[i] = st.Bytes, st.Seeded, err
		if errors.Is(err, mmapstore.ErrNoSpace) {
			full.Store(true)
		}
	}
	var conns []*Client
	if len(eager) == 0 {
		conns = append(conns, cl)
	}
	for len(conns) < min(transfers, len(rest)) {
		c, err := Dial(ctx, cl.addr, &cl.opts)
		if err != nil {
			break
		}
		defer c.Close()
		conns = append(conns, c)
	}
	send := func(idx []int) {
		if len(idx) == 0 {
			return
		}
		next := make(chan int)
		var wg sync.WaitGroup
		for _, c := range conns {
			wg.Go(func() {
				for i := range next {
					if full.Load() {
						outcome[i] = fmt.Errorf("%w: %s not sent: the destination ran out of space", mmapstore.ErrNoSpace, items[i].Name)
						continue
					}
					st, err := ops.send(c, items[i].Name)
					record(i, st, err)
				}
			})
		}
		for _, i := range idx {
			next <- i
		}
		close(next)
		wg.Wait()
	}
	if len(eager) == 0 {
		send(rest)
		return
	}
	// Once more, NEED-driven: arrays that arrived with a damaged block
	// (only it is sent again), or had grown too large to go eagerly.
	var again []int
	pipeline := func() {
		rels := make([]string, len(eager))
		for k, i := range eager {
			rels[k] = items[i].Name
		}
		reported := make([]bool, len(eager))
		err := ops.sendEager(cl, rels, func(k int, st Stats, err error) {
			reported[k] = true
			record(eager[k], st, err)
			if errors.Is(err, arrayx.ErrChecksum) || errors.Is(err, arrayx.ErrTooLarge) {
				again = append(again, eager[k])
			}
		})
		for k, done := range reported {
			if !done { // the connection failed before the pipeline began
				record(eager[k], Stats{}, err)
			}
		}
	}
	if len(conns) == 0 {
		pipeline()
		conns = append(conns, cl)
		send(append(rest, again...))
		return
	}
	var wg sync.WaitGroup
	wg.Go(pipeline)
	send(rest)
	wg.Wait()
	send(again)
}
