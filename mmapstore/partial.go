package mmapstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/arrayx/arrayx/arrayx"
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
}

// Partial is an array being received, in order, from another machine: a
// hidden, preallocated file that holds the sender's header byte for byte
// (with the first magic byte zeroed, so no reader accepts the file before it
// is complete) and the data received so far. Held says how much of the data
// is present and verified; the sender resumes there. Partial files survive
// Close and process crashes, and are found again by the next Receive of the
// same name and header.
type Partial struct {
	prune         func(file string) // removes directories Discard left empty
	fsys          dirFS
	file, name    string // partial and final names within fsys
	display       string
	sync          bool
	header        []byte // the sender's prefix and header
	h             *arrayx.Header
	f             *os.File
	mm            mmap.MMap
	held, resumed int64
	fresh         bool // the file holds nothing from an earlier transfer
}

// Receive prepares to receive the array whose prefix and header (the first
// 16+H bytes of its file, as the sender has them) are header, to be published
// under name. The header is validated and must be sealed (its CRC table is
// how the data is checked); size limits and free space are checked before
// anything is allocated. If a partial file of the same name and header exists,
// its data is verified block by block from the start and Held reports the
// verified prefix; otherwise a new file is preallocated and Held is 0. A
// transfer of the same array already in progress gives ErrBusy.
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
	pre, _ := arrayx.ParsePrefix(header, s.opts.Limits) // valid: Unmarshal accepted it
	header = bytes.Clone(header[:arrayx.PrefixSize+int(pre.HeaderLen)])
	sum := sha256.Sum256(header)
	dir, base := filepath.Split(file)
	p := &Partial{
		fsys: s.root, name: file, display: name, header: header, h: h,
		file: dir + tempPrefix + base + partialSuffix + hex.EncodeToString(sum[:8]),
	}
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
	reuse := !created
	if reuse {
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() || fi.Size() != size {
			reuse, p.fresh = false, true
			if err := f.Truncate(0); err != nil {
				return err
			}
		}
	}
	if !reuse {
		if free, ok := freeSpace(f); ok && free < size {
			return fmt.Errorf("%w: %d bytes needed, %d free", ErrNoSpace, size, free)
		}
		if err := preallocate(f, size); err != nil {
			return err
		}
	}
	if size > int64(int(^uint(0)>>1)) {
		return fmt.Errorf("%w: %d bytes cannot be mapped on this platform", arrayx.ErrTooLarge, size)
	}
	p.mm, err = mmap.MapRegion(f, int(size), mmap.RDWR, 0, 0)
	if err != nil {
		return fmt.Errorf("mmap: %w", err)
	}
	want := p.incompleteHeader()
	// The first byte is 0, or already restored by a Complete that then
	// failed to rename: either way the rest must match exactly.
	if reuse && (p.mm[0] != 0 && p.mm[0] != p.header[0] || !bytes.Equal(p.mm[1:len(want)], want[1:])) {
		reuse = false // same hash, other bytes: never trust it
		clear(p.mm)
	}
	if !reuse {
		copy(p.mm, want)
		return nil
	}
	// Count the leading blocks whose data matches the CRC table.
	var bad []bool = make([]bool, p.h.NumBlocks())
	err = forBlocks(p.h, p.Bytes(), 0, len(bad), func(i int, block []byte) error {
		bad[i] = p.h.CheckBlock(i, block) != nil
		return nil
	})
	if err != nil {
		return err
	}
	n := 0
	for n < len(bad) && !bad[n] {
		n++
	}
	p.held = min(int64(n)*p.h.BlockSize, p.h.NBytes)
	p.resumed = p.held
	return nil
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

// Bytes returns the writable data region (NBytes bytes).
func (p *Partial) Bytes() []byte {
	if p.mm == nil {
		return nil
	}
	return p.mm[p.h.DataOffset:]
}

// File returns the partial's open file, for receivers that write with
// splice(2) rather than through the mapping. Do not close it.
func (p *Partial) File() *os.File { return p.f }

// InMemory reports whether the partial lives on tmpfs or ramfs.
func (p *Partial) InMemory() bool { return p.f != nil && inMemoryFS(p.f) }

// Held returns how many data bytes are present and verified: the offset from
// which the sender must send. It is a multiple of the block size, or NBytes.
func (p *Partial) Held() int64 { return p.held }

// Resumed returns what Held was when the partial was opened.
func (p *Partial) Resumed() int64 { return p.resumed }

// Verify checks the blocks that lie wholly within the first upTo data bytes
// and beyond Held, in order, advancing Held past each good one. Receivers call
// it as data arrives, while the bytes are hot in cache. A mismatch is an
// *arrayx.ChecksumError naming the block; Held stays before it, so a resumed
// transfer fetches it again.
func (p *Partial) Verify(upTo int64) error {
	if p.mm == nil {
		return ErrClosed
	}
	upTo = min(upTo, p.h.NBytes)
	data := p.Bytes()
	for p.held < upTo {
		i := int(p.held / p.h.BlockSize)
		off, n := p.h.Block(i)
		if off+n > upTo {
			return nil
		}
		// forBlocks turns a fault (the file truncated behind our back) into
		// ErrFault rather than a crash.
		if err := forBlocks(p.h, data, i, i+1, p.h.CheckBlock); err != nil {
			return fmt.Errorf("mmapstore: receive %s: %w", p.display, err)
		}
		p.held = off + n
	}
	return nil
}

// Complete publishes the array once every block has been verified: it
// restores the magic, flushes if the sync mode says so, and renames the file
// to its name. It returns the array mapped read-only.
func (p *Partial) Complete() (*Array, error) {
	if p.mm == nil {
		return nil, fmt.Errorf("%w: %s", ErrClosed, p.display)
	}
	if p.held != p.h.NBytes {
		return nil, fmt.Errorf("mmapstore: complete %s: %d of %d bytes verified", p.display, p.held, p.h.NBytes)
	}
	p.mm[0] = p.header[0]
	if p.sync {
		if err := p.mm.Flush(); err != nil {
			return nil, fmt.Errorf("mmapstore: complete %s: msync: %w", p.display, err)
		}
		if err := p.f.Sync(); err != nil {
			return nil, fmt.Errorf("mmapstore: complete %s: fsync: %w", p.display, err)
		}
	}
	mm, err := mmap.MapRegion(p.f, int(p.h.FileSize()), mmap.RDONLY, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("mmapstore: complete %s: mmap: %w", p.display, err)
	}
	if err := p.fsys.Rename(p.file, p.name); err != nil {
		mm.Unmap()
		return nil, fmt.Errorf("mmapstore: complete %s: %w", p.display, err)
	}
	// Tearing down the writable mapping's page tables takes about 80 ms per
	// GiB here, and nothing needs to wait for it: the data is in the file,
	// published. Unmap it in the background, off the transfer's reply.
	rw := p.mm
	p.mm = nil
	go rw.Unmap()
	if p.sync {
		if err := syncDir(p.fsys, p.name); err != nil {
			mm.Unmap()
			return nil, fmt.Errorf("mmapstore: complete %s: fsync directory: %w", p.display, err)
		}
	}
	a := &Array{path: p.display, h: p.h, f: p.f, mm: mm, data: mm[p.h.DataOffset:]}
	p.f = nil // the Array owns it now (the lock goes with it until Close)
	return a, nil
}

// Close releases the partial, keeping its file so that the next Receive of
// the same array resumes from Held. It is idempotent.
func (p *Partial) Close() error {
	var errs []error
	if p.mm != nil {
		errs = append(errs, p.mm.Unmap())
		p.mm = nil
	}
	if p.f != nil {
		errs = append(errs, p.f.Close()) // also drops the lock
		p.f = nil
	}
	return errors.Join(errs...)
}

// Discard removes the partial's file and closes the partial.
func (p *Partial) Discard() error {
	var err error
	// Removed before Close, while still locked: no other transfer has it.
	if rerr := p.fsys.Remove(p.file); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = rerr
	}
	err = errors.Join(err, p.Close())
	if p.prune != nil {
		p.prune(p.file)
	}
	return err
}

var _ arrayx.Array = (*Partial)(nil)
