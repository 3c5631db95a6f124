package mmapstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sync"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/zerocopy"
	mmap "github.com/edsrzf/mmap-go"
)

// partialSuffix marks a received array's partial file:
// ".NAME.arx.part-" and 16 hex digits of the SHA-256 of its header.
const partialSuffix = ".part-"

// ReceiveOptions tunes Store.Receive. The zero value means the defaults.
type ReceiveOptions struct {
	// MaxBytes refuses arrays with more data bytes than this; 0 means no limit.
	MaxBytes int64
	// Sync overrides the store's sync mode for the published array.
	Sync SyncMode
	// Checked, when set, is called as the blocks an interrupted transfer
	// left are checked before they are reused, with the bytes checked
	// since its last call (from several goroutines at once).
	Checked func(n int64)
}

// BlockRange is the blocks [Start, End) of an array.
type BlockRange struct{ Start, End int }

// Len returns the number of blocks in the range.
func (r BlockRange) Len() int { return r.End - r.Start }

// Per-block state of a partial.
const (
	blockMissing = iota
	blockLanding // a receiver is writing it
	blockHeld    // present and verified
)

// Partial is an array being received: a hidden, preallocated file that holds
// the sender's header byte for byte (with the first magic byte zeroed, so no
// reader accepts the file before it is complete) and the blocks received so
// far. A block is the unit: each is landed at its own offset, verified
// against the header's CRC table, and then held. Blocks may arrive in any
// order, from any number of goroutines (several connections filling one
// partial), and a block another receiver holds or is landing is never
// written again.
//
// Partial files survive Close and process crashes; the next Receive of the
// same name and header verifies what the file holds and keeps every good
// block, wherever it lies. Complete publishes the array by one atomic
// rename once every block is held: nothing partial is ever visible under a
// name.
type Partial struct {
	prune      func(file string) // removes directories Discard left empty
	fsys       dirFS
	file, name string // partial and final names within fsys
	display    string
	sync       bool
	header     []byte // the sender's prefix and header
	h          *arrayx.Header
	f          *os.File // nil once published or closed
	df         dataFile
	fresh      bool // the file holds nothing from an earlier transfer

	mu      sync.Mutex
	state   []uint8 // blockMissing, blockLanding or blockHeld, per block
	held    int64   // data bytes in held blocks
	changed chan struct{}
	resumed int64         // held when the partial was opened
	checked func(n int64) // ReceiveOptions.Checked
}

// Receive prepares to receive the array whose prefix and header (the first
// 16+H bytes of its file, as the sender has them) are header, to be published
// under name. The header is validated and must be sealed (its CRC table is
// how the data is checked); size limits and free space are checked before
// anything is allocated. If a partial file of the same name and header exists,
// every block it holds is verified and the good ones are kept (Held,
// Missing); otherwise a new file is preallocated. A transfer of the same
// array already in progress, in any process, gives ErrBusy.
func (s *Store) Receive(name string, header []byte, opts *ReceiveOptions) (*Partial, error) {
	file, err := s.file(name)
	if err != nil {
		return nil, err
	}
	if opts == nil {
		opts = &ReceiveOptions{}
	}
	h, err := arrayx.Unmarshal(header, s.opts.Limits)
	if err != nil {
		return nil, fmt.Errorf("mmapstore: receive %s: %w", name, err)
	}
	if !h.Sealed {
		return nil, fmt.Errorf("mmapstore: receive %s: %w", name, arrayx.ErrNotSealed)
	}
	if opts.MaxBytes > 0 && h.NBytes > opts.MaxBytes {
		return nil, fmt.Errorf("mmapstore: receive %s: %w: %d bytes, the limit is %d", name, arrayx.ErrTooLarge, h.NBytes, opts.MaxBytes)
	}
	if h.FileSize() > math.MaxInt {
		return nil, fmt.Errorf("mmapstore: receive %s: %w: %d bytes cannot be mapped on this platform", name, arrayx.ErrTooLarge, h.FileSize())
	}
	pre, _ := arrayx.ParsePrefix(header, s.opts.Limits) // valid: Unmarshal accepted it
	header = bytes.Clone(header[:arrayx.PrefixSize+int(pre.HeaderLen)])
	sum := sha256.Sum256(header)
	dir, base := filepath.Split(file)
	p := &Partial{
		fsys: s.root, name: file, display: name, header: header, h: h,
		file:    dir + tempPrefix + base + partialSuffix + hex.EncodeToString(sum[:8]),
		state:   make([]uint8, h.NumBlocks()),
		changed: make(chan struct{}),
		checked: opts.Checked,
	}
	// Before anything is created; the partial's own file, if one is left
	// from an interrupted transfer, is reused and so not counted twice.
	release, err := s.reserve("receive "+name, h.FileSize(), p.file)
	if err != nil {
		return nil, err
	}
	defer release()
	for attempt := 1; ; attempt++ {
		d := filepath.Dir(file)
		err := s.mkdirs(d)
		if err == nil {
			if err = p.open(); err == nil {
				break
			}
		}
		if p.f == nil && d != "." && attempt < maxVanished && errors.Is(err, fs.ErrNotExist) {
			continue // a concurrent Remove pruned the directory just made
		}
		err = fmt.Errorf("mmapstore: receive %s: %w", name, err)
		if p.fresh && p.f != nil {
			// Nothing worth resuming: leave nothing behind (removed while
			// still locked, so no other transfer has it open).
			if rerr := p.fsys.Remove(p.file); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
				err = errors.Join(err, rerr)
			}
		}
		cerr := p.Close()
		s.pruneDirs(file) // the refusal leaves no empty directory either
		return nil, errors.Join(err, cerr)
	}
	p.prune = s.pruneDirs
	mode := opts.Sync
	if mode == SyncAuto {
		mode = s.opts.Sync
	}
	p.sync = mode == SyncAlways || mode == SyncAuto && !inMemoryFS(p.f)
	return p, nil
}

// open reuses the partial file if it holds this header and size, else starts
// a new one.
func (p *Partial) open() error {
	size := p.h.FileSize()
	// Locked until Close or Complete (ErrBusy if another transfer holds it),
	// which also keeps Store.Clean away from it (clean.go).
	f, created, err := openPartialFile(p.fsys, p.file)
	if err != nil {
		return err
	}
	p.f, p.fresh = f, created
	p.df = dataFile{f: f, base: p.h.DataOffset, size: p.h.NBytes, name: p.display}
	reuse := !created
	if reuse {
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		reuse = fi.Mode().IsRegular() && fi.Size() == size && p.holdsHeader()
	}
	if !reuse {
		p.fresh = true
		if err := f.Truncate(0); err != nil {
			return err
		}
		if free, ok := freeSpace(f); ok && free < size {
			return fmt.Errorf("%w: %d bytes needed, %d free", ErrNoSpace, size, free)
		}
		// Reserved now, so that a full filesystem is an error before any
		// data moves rather than in the middle of the transfer.
		if err := preallocate(f, size); err != nil {
			return err
		}
		if _, err := f.WriteAt(p.incompleteHeader(), 0); err != nil {
			return noSpace(err)
		}
		return nil
	}
	// Keep every block that still matches the CRC table.
	err = p.df.scanBlocks(p.h, 0, len(p.state), p.h.XXH128 != nil, func(i int, sum arrayx.BlockSum) error {
		if p.h.CheckSum(i, sum) == nil {
			p.state[i] = blockHeld // each i is one goroutine's alone
		}
		if p.checked != nil {
			_, n := p.h.Block(i)
			p.checked(n)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, st := range p.state {
		if st == blockHeld {
			_, n := p.h.Block(i)
			p.held += n
		}
	}
	p.resumed = p.held
	return nil
}

// holdsHeader reports whether the partial file starts with this transfer's
// header. The first byte is 0, or already restored by a Complete that then
// failed to rename: either way the rest must match exactly (the same hash
// with other bytes is never trusted).
func (p *Partial) holdsHeader() bool {
	got := make([]byte, len(p.header))
	if _, err := p.f.ReadAt(got, 0); err != nil {
		return false
	}
	return (got[0] == 0 || got[0] == p.header[0]) && bytes.Equal(got[1:], p.header[1:])
}

// incompleteHeader is the header as stored while incomplete: the first
// magic byte zeroed.
func (p *Partial) incompleteHeader() []byte {
	b := bytes.Clone(p.header)
	b[0] = 0
	return b
}

// Header returns the array's header. Do not modify it.
func (p *Partial) Header() *arrayx.Header { return p.h }

// RawHeader returns the sender's prefix and header, byte for byte. Do not
// modify it.
func (p *Partial) RawHeader() []byte { return p.header }

// Held returns how many data bytes are present and verified.
func (p *Partial) Held() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held
}

// Resumed returns what Held was when the partial was opened: the verified
// data an interrupted transfer left.
func (p *Partial) Resumed() int64 { return p.resumed }

// HasBlock reports whether block i is present and verified.
func (p *Partial) HasBlock(i int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return i >= 0 && i < len(p.state) && p.state[i] == blockHeld
}

// Missing returns the blocks not yet held (landing ones included), as
// ranges in order.
func (p *Partial) Missing() []BlockRange {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []BlockRange
	for i := 0; i < len(p.state); {
		if p.state[i] == blockHeld {
			i++
			continue
		}
		j := i + 1
		for j < len(p.state) && p.state[j] != blockHeld {
			j++
		}
		out = append(out, BlockRange{i, j})
		i = j
	}
	return out
}

// claim marks block i as being landed by the caller, unless it is held or
// another receiver is landing it.
func (p *Partial) claim(i int) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.f == nil {
		return false, fmt.Errorf("%w: %s", ErrClosed, p.display)
	}
	if p.state[i] != blockMissing {
		return false, nil
	}
	p.state[i] = blockLanding
	return true, nil
}

// release ends the caller's claim on block i: held if it verified, missing
// again if not.
func (p *Partial) release(i int, verified bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !verified {
		p.state[i] = blockMissing
		return
	}
	p.state[i] = blockHeld
	_, n := p.h.Block(i)
	p.held += n
	close(p.changed) // wakes WaitBlock
	p.changed = make(chan struct{})
}

// ReceiveAt reads data bytes [off, off+n) from r and lands them in the
// partial. off must be the start of a block, and off+n the end of one (or of
// the data). Each block is gathered in a small reused buffer, its CRC-32C
// (and XXH3-128, when the header has them) computed piece by piece as the bytes arrive (while they are hot in cache),
// and written to the file at its own offset (pwrite) once it verifies; the
// file's offset and any mapping of it are never used, so any number of
// goroutines may receive into one partial at once. A block that is already
// held, or that another goroutine is landing, is read from r and dropped.
//
// It stops at the first block that fails: a mismatch is an
// *arrayx.ChecksumError naming the block, which stays missing (the caller
// may fetch it again), and the bytes of the run after it are left unread in
// r. The count is the bytes consumed from r.
func (p *Partial) ReceiveAt(r io.Reader, off, n int64) (int64, error) {
	bs := p.h.BlockSize
	if off < 0 || n < 0 || off > p.h.NBytes || n > p.h.NBytes-off || off%bs != 0 ||
		(off+n)%bs != 0 && off+n != p.h.NBytes {
		return 0, fmt.Errorf("%w: [%d, %d+%d) is not a run of whole blocks of %s (block size %d, %d bytes)",
			ErrRange, off, off, n, p.display, bs, p.h.NBytes)
	}
	bp := landPool.Get()
	defer landPool.Put(bp)
	bh := arrayx.NewBlockHasher(p.h.XXH128 != nil)
	var got int64
	for got < n {
		i := int((off + got) / bs)
		land, err := p.claim(i)
		if err != nil {
			return got, err
		}
		m, err := p.landBlock(r, i, *bp, bh, land)
		got += m
		if land {
			p.release(i, err == nil)
		}
		if err != nil {
			return got, fmt.Errorf("mmapstore: receive %s: %w", p.display, err)
		}
	}
	return got, nil
}

// landBlock reads block i from r into buf, checking its sums with bh, and
// writes it to the file if land (else drops it). A block larger than buf is
// written a buffer at a time and checked at its end.
func (p *Partial) landBlock(r io.Reader, i int, buf []byte, bh *arrayx.BlockHasher, land bool) (int64, error) {
	off, n := p.h.Block(i)
	bh.Reset()
	var got int64 // bytes of the block read
	var fill int  // bytes of buf holding data not yet written
	for got < n {
		if fill == len(buf) {
			if land {
				if err := p.df.writeAt(buf, off+got-int64(fill)); err != nil {
					return got, err
				}
			}
			fill = 0
		}
		c, err := r.Read(buf[fill:min(len(buf), fill+int(n-got))])
		if c > 0 {
			if land {
				bh.Write(buf[fill : fill+c])
			}
			fill += c
			got += int64(c)
		}
		if err != nil && got < n {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return got, err
		}
	}
	if !land {
		return got, nil
	}
	if err := p.h.CheckSum(i, bh.Sum()); err != nil {
		return got, err // a block that fits in buf never reached the file
	}
	return got, p.df.writeAt(buf[:fill], off+n-int64(fill))
}

// WaitBlock returns once block i is held, or with ctx's error, or ErrClosed
// once the partial is closed or published: a relay forwards each block as
// soon as it is verified.
func (p *Partial) WaitBlock(ctx context.Context, i int) error {
	if i < 0 || i >= len(p.state) {
		return fmt.Errorf("%w: block %d of %d", ErrRange, i, len(p.state))
	}
	for {
		p.mu.Lock()
		held, closed, ch := p.state[i] == blockHeld, p.f == nil, p.changed
		p.mu.Unlock()
		switch {
		case held:
			return nil
		case closed:
			return fmt.Errorf("%w: %s", ErrClosed, p.display)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Seed fills the partial, in the kernel, with every block that old (a sealed
// array, typically the previous version under the same name) holds
// unchanged: a block at the same index with the same size, CRC-32C and
// XXH3-128 (Header.SameBlock; an array without digests seeds nothing), in
// an array of the same block size. Runs of such blocks are shared as
// reflinks where the filesystem can (btrfs, XFS) and copied with
// copy_file_range otherwise; nothing passes through user space, and if the
// kernel can do neither, nothing is seeded and the blocks are received
// instead. Every seeded block is then verified against the new header like
// a received one: a copy from the partial's file; a reflink from the old
// file, whose extents the partial now shares, and whose pages, unlike the
// partial's, are likely in the page cache. It returns the data bytes seeded
// and how ("reflink", "copy_file_range", or "" for none).
func (p *Partial) Seed(old *Array) (int64, string, error) {
	src, err := old.region()
	if err != nil {
		return 0, "", err
	}
	oh := old.Header()
	if oh.BlockSize != p.h.BlockSize {
		return 0, "", nil
	}
	var (
		seeded  int64
		methods []string
	)
	for _, r := range p.seedRuns(oh) {
		off, _ := p.h.Block(r.Start)
		end, n := p.h.Block(r.End - 1)
		size := end + n - off
		method := zerocopy.OpReflink
		handled, err := zerocopy.Reflink(p.f, p.h.DataOffset+off, src.f, oh.DataOffset+off, size)
		if err == nil && !handled {
			method = zerocopy.OpCopyFileRange
			var c int64
			c, handled, err = zerocopy.CopyFileRange(p.f, p.h.DataOffset+off, src.f, oh.DataOffset+off, size)
			handled = handled && c == size
		}
		if err != nil || !handled {
			p.releaseRun(r, nil)
			return seeded, joinMethods(methods), noSpace(err)
		}
		from := p.df
		if method == zerocopy.OpReflink {
			from = src
		}
		bad := make([]bool, r.Len())
		err = from.scanBlocks(p.h, r.Start, r.End, p.h.XXH128 != nil, func(i int, sum arrayx.BlockSum) error {
			bad[i-r.Start] = p.h.CheckSum(i, sum) != nil
			return nil
		})
		if err != nil {
			p.releaseRun(r, nil)
			return seeded, joinMethods(methods), err
		}
		seeded += p.releaseRun(r, bad)
		if len(methods) == 0 || methods[len(methods)-1] != method {
			methods = append(methods, method)
		}
	}
	return seeded, joinMethods(methods), nil
}

// seedRuns claims the missing blocks that old holds unchanged and returns
// them as runs.
func (p *Partial) seedRuns(old *arrayx.Header) []BlockRange {
	p.mu.Lock()
	defer p.mu.Unlock()
	var runs []BlockRange
	for i := range len(p.state) {
		if p.state[i] != blockMissing || !p.h.SameBlock(old, i) {
			continue
		}
		p.state[i] = blockLanding
		if k := len(runs) - 1; k >= 0 && runs[k].End == i {
			runs[k].End++
		} else {
			runs = append(runs, BlockRange{i, i + 1})
		}
	}
	return runs
}

// releaseRun ends the claims on a run: blocks not marked bad are held (bad
// nil: none is). It returns the bytes now held.
func (p *Partial) releaseRun(r BlockRange, bad []bool) int64 {
	var held int64
	for i := r.Start; i < r.End; i++ {
		ok := bad != nil && !bad[i-r.Start]
		p.release(i, ok)
		if ok {
			_, n := p.h.Block(i)
			held += n
		}
	}
	return held
}

func joinMethods(m []string) string {
	out := ""
	for i, s := range m {
		if i > 0 {
			out += "+"
		}
		out += s
	}
	return out
}

// Complete publishes the array once every block is held: it restores the
// magic, flushes if the sync mode says so, and renames the file to its name.
// It returns the array mapped read-only.
func (p *Partial) Complete() (*Array, error) {
	p.mu.Lock()
	f, held := p.f, p.held
	p.mu.Unlock()
	if f == nil {
		return nil, fmt.Errorf("%w: %s", ErrClosed, p.display)
	}
	if held != p.h.NBytes {
		return nil, fmt.Errorf("mmapstore: complete %s: %d of %d bytes verified", p.display, held, p.h.NBytes)
	}
	// Blocks are checked as they land; a file cut behind our back since
	// would publish holes.
	if fi, err := f.Stat(); err != nil {
		return nil, fmt.Errorf("mmapstore: complete %s: %w", p.display, err)
	} else if fi.Size() != p.h.FileSize() {
		return nil, fmt.Errorf("%w: %s: the partial file is %d bytes, not %d (truncated behind our back?)", ErrFault, p.display, fi.Size(), p.h.FileSize())
	}
	if _, err := f.WriteAt(p.header[:1], 0); err != nil {
		return nil, fmt.Errorf("mmapstore: complete %s: %w", p.display, err)
	}
	if p.sync {
		if err := f.Sync(); err != nil {
			return nil, fmt.Errorf("mmapstore: complete %s: fsync: %w", p.display, err)
		}
	}
	mm, err := mmap.MapRegion(f, int(p.h.FileSize()), mmap.RDONLY, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("mmapstore: complete %s: mmap: %w", p.display, err)
	}
	if err := p.fsys.Rename(p.file, p.name); err != nil {
		mm.Unmap()
		return nil, fmt.Errorf("mmapstore: complete %s: %w", p.display, err)
	}
	p.detach() // the Array owns the file now (the lock goes with it until Close)
	a := &Array{path: p.display, h: p.h, f: f, mm: mm, data: mm[p.h.DataOffset:]}
	if p.sync {
		if err := syncDir(p.fsys, p.name); err != nil {
			return a, fmt.Errorf("mmapstore: complete %s: published, but fsync of its directory failed: %w", p.display, err)
		}
	}
	return a, nil
}

// detach forgets the file and wakes every WaitBlock. It returns the file.
func (p *Partial) detach() *os.File {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.f
	if f != nil {
		p.f = nil
		close(p.changed)
		p.changed = make(chan struct{})
	}
	return f
}

// Close releases the partial, keeping its file so that the next Receive of
// the same array resumes with the blocks it holds. It is idempotent.
func (p *Partial) Close() error {
	if f := p.detach(); f != nil {
		return f.Close() // also drops the lock
	}
	return nil
}

// Discard removes the partial's file and closes the partial.
func (p *Partial) Discard() error {
	f := p.detach()
	if f == nil {
		return nil
	}
	var err error
	// Removed before closing, while still locked: no other transfer has it.
	if rerr := p.fsys.Remove(p.file); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = rerr
	}
	err = errors.Join(err, f.Close())
	if p.prune != nil {
		p.prune(p.file)
	}
	return err
}

// PartialSource reads the blocks a partial holds, through a descriptor of
// its own that stays valid after the partial is published or closed: a
// relay sends each block on as soon as it is verified, while more arrive.
type PartialSource struct {
	p *Partial
	d dataFile
}

// Source returns a reader of the partial's held blocks. Close it when done.
func (p *Partial) Source() (*PartialSource, error) {
	p.mu.Lock()
	f := p.f
	p.mu.Unlock()
	if f == nil {
		return nil, fmt.Errorf("%w: %s", ErrClosed, p.display)
	}
	g, err := dupFile(f)
	if err != nil {
		return nil, fmt.Errorf("mmapstore: %s: %w", p.display, err)
	}
	return &PartialSource{p: p, d: dataFile{f: g, base: p.h.DataOffset, size: p.h.NBytes, name: p.display}}, nil
}

// Header returns the array's header.
func (s *PartialSource) Header() *arrayx.Header { return s.p.h }

// HeldFrom waits until block i is held (or ctx ends, or the partial is
// closed without it) and returns how many blocks from i on, at most max,
// are held now: a run that can be sent.
func (s *PartialSource) HeldFrom(ctx context.Context, i, max int) (int, error) {
	if err := s.p.WaitBlock(ctx, i); err != nil {
		return 0, err
	}
	n := 1
	for n < max && s.p.HasBlock(i+n) {
		n++
	}
	return n, nil
}

// held checks that every block of data bytes [off, off+n) is held.
func (s *PartialSource) held(off, n int64) error {
	h := s.p.h
	if n == 0 {
		return nil
	}
	for i := int(off / h.BlockSize); i <= int((off+n-1)/h.BlockSize); i++ {
		if !s.p.HasBlock(i) {
			return fmt.Errorf("%w: %s: block %d is not held yet", ErrRange, s.p.display, i)
		}
	}
	return nil
}

// SendData is Array.SendData for held blocks.
func (s *PartialSource) SendData(w io.Writer, off, n int64) (int64, bool, error) {
	if err := s.held(off, n); err != nil {
		return 0, false, err
	}
	return s.d.sendTo(w, off, n)
}

// CopyData is Array.CopyData for held blocks.
func (s *PartialSource) CopyData(w io.Writer, off, n int64) (int64, error) {
	if err := s.held(off, n); err != nil {
		return 0, err
	}
	return s.d.copyTo(w, off, n)
}

// CheckFile reports an ErrFault if the file is shorter than its header says.
func (s *PartialSource) CheckFile() error {
	fi, err := s.d.f.Stat()
	if err != nil {
		return fmt.Errorf("mmapstore: %s: %w", s.p.display, err)
	}
	if fi.Size() < s.d.base+s.d.size {
		return s.d.errTruncated(max(fi.Size()-s.d.base, 0))
	}
	return nil
}

// Close releases the source's descriptor.
func (s *PartialSource) Close() error { return s.d.f.Close() }

// RawHeader returns the sender's prefix and header, byte for byte. Do not
// modify it.
func (s *PartialSource) RawHeader() []byte { return s.p.header }
