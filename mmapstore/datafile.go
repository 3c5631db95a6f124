package mmapstore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/zerocopy"
)

// Whole-array passes (verifying, sending by copy, landing received blocks)
// read and write the file at explicit offsets through small reused buffers,
// never through a fresh mapping of it. On virtual machines the first touch
// of each page of a new mapping is what costs: a CRC-32C over a fresh
// read-only mapping of a tmpfs file ran at 2 GB/s on the project's machine,
// over pread into a hot 1 MiB buffer at 7 GB/s (bench/RESULTS.md). A read
// also turns a file truncated behind our back into a short count, not a
// SIGBUS.

// chunkSize is the buffer of pread passes: small enough to stay in L2 while
// its CRC is computed.
const chunkSize = 1 << 20

// ReceiveBufferSize is the buffer Partial.ReceiveAt gathers received data
// in, one per call in progress: its CRC is computed piece by piece as the
// bytes arrive, and it is written with one pwrite when full. A block that
// fits in it and fails its CRC never reaches the file; a larger one is
// written a buffer at a time and judged at its end (it stays missing, and
// no held block is ever written). 1 MiB receives as fast as 4 MiB on the
// project's machine (BenchmarkReceiveVsLoop) at a quarter of the memory a
// slow sender can pin; 256 KiB was 20% slower.
const ReceiveBufferSize = 1 << 20

var (
	chunkPool = newBufPool(chunkSize, 8)
	landPool  = newBufPool(ReceiveBufferSize, 8)
)

// bufPool keeps up to a few spare buffers of one size. Unlike sync.Pool it
// does not lose them at every garbage collection (or at random, under the
// race detector): these are large, and every whole-array pass takes some.
type bufPool struct {
	size  int
	spare chan *[]byte
}

func newBufPool(size, keep int) *bufPool {
	return &bufPool{size: size, spare: make(chan *[]byte, keep)}
}

func (p *bufPool) Get() *[]byte {
	select {
	case b := <-p.spare:
		return b
	default:
		b := make([]byte, p.size)
		return &b
	}
}

func (p *bufPool) Put(b *[]byte) {
	select {
	case p.spare <- b:
	default: // enough spares: let it go
	}
}

// dataFile is the data region of an array's file: size bytes at offset base.
type dataFile struct {
	f          *os.File
	base, size int64
	name       string // the array's name, for errors
}

// errTruncated reports a file that ends before the data its header declares.
func (d dataFile) errTruncated(off int64) error {
	return fmt.Errorf("%w: %s: the file ends at data offset %d of %d (truncated behind our back?)", ErrFault, d.name, off, d.size)
}

// readAt fills p from data offset off, as io.ReaderAt: io.EOF past the data,
// ErrFault where the file ends before its header says.
func (d dataFile) readAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%w: read at %d", ErrRange, off)
	}
	if off >= d.size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	short := int64(len(p)) > d.size-off
	if short {
		p = p[:d.size-off]
	}
	n, err := d.f.ReadAt(p, d.base+off)
	if err == io.EOF || err == nil && n < len(p) {
		err = d.errTruncated(off + int64(n))
	}
	if err == nil && short {
		err = io.EOF
	}
	return n, err
}

// sendTo writes data bytes [off, off+n) to w: by sendfile(2) when w is a
// socket with a descriptor (nothing passes through user space), else, and
// for whatever the kernel refuses, by pread into a buffer and w.Write. It
// reports whether everything went by sendfile.
func (d dataFile) sendTo(w io.Writer, off, n int64) (int64, bool, error) {
	if err := d.checkRange(off, n); err != nil {
		return 0, false, err
	}
	var sent int64
	if sc, ok := w.(syscall.Conn); ok && !isFile(w) {
		s, handled, err := zerocopy.SendFile(sc, d.f, d.base+off, n)
		sent = s
		if err != nil {
			return sent, true, d.sendErr(off+sent, err)
		}
		if handled && sent == n {
			return sent, true, nil
		}
	}
	c, err := d.copyTo(w, off+sent, n-sent)
	return sent + c, false, err
}

// isFile reports whether w is a file: sendTo is for sockets, and a file's
// own offset is not ours to move.
func isFile(w io.Writer) bool {
	_, ok := w.(*os.File)
	return ok
}

func (d dataFile) sendErr(off int64, err error) error {
	if errors.Is(err, syscall.EFAULT) || errors.Is(err, syscall.EIO) {
		return fmt.Errorf("%w: %s: at data offset %d: %w", ErrFault, d.name, off, err)
	}
	return err
}

// copyTo writes data bytes [off, off+n) to w through a buffer filled by pread.
func (d dataFile) copyTo(w io.Writer, off, n int64) (int64, error) {
	if err := d.checkRange(off, n); err != nil {
		return 0, err
	}
	bp := chunkPool.Get()
	defer chunkPool.Put(bp)
	buf := *bp
	var done int64
	for done < n {
		c := int(min(n-done, int64(len(buf))))
		r, err := d.readAt(buf[:c], off+done)
		if err != nil && !(err == io.EOF && r == c) {
			return done, err
		}
		wn, err := w.Write(buf[:r])
		done += int64(wn)
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

func (d dataFile) checkRange(off, n int64) error {
	if off < 0 || n < 0 || off > d.size || n > d.size-off {
		return fmt.Errorf("%w: [%d, %d+%d) of %s's %d bytes", ErrRange, off, off, n, d.name, d.size)
	}
	return nil
}

// writeAt writes p at data offset off, marking a full filesystem ErrNoSpace.
func (d dataFile) writeAt(p []byte, off int64) error {
	if _, err := d.f.WriteAt(p, d.base+off); err != nil {
		return noSpace(err)
	}
	return nil
}

// blockSum computes the sums of block i of h from the file, a chunk at a
// time through buf: the CRC-32C, and the XXH3-128 when strong.
func (d dataFile) blockSum(h *arrayx.Header, i int, buf []byte, bh *arrayx.BlockHasher) (arrayx.BlockSum, error) {
	off, n := h.Block(i)
	bh.Reset()
	for done := int64(0); done < n; {
		c := int(min(n-done, int64(len(buf))))
		r, err := d.readAt(buf[:c], off+done)
		if err != nil && !(err == io.EOF && r == c) {
			return arrayx.BlockSum{}, err
		}
		bh.Write(buf[:r])
		done += int64(r)
	}
	return bh.Sum(), nil
}

// scanBlocks computes the sums of each block in [first, last) from the
// file (the XXH3-128 too when strong) and passes them to fn, in parallel
// (eachBlock: the lowest failing block's error is returned); fn errors stop
// the scan.
func (d dataFile) scanBlocks(h *arrayx.Header, first, last int, strong bool, fn func(i int, sum arrayx.BlockSum) error) error {
	return eachBlock(first, last, func() (func(int) error, func()) {
		bp := chunkPool.Get()
		bh := arrayx.NewBlockHasher(strong)
		return func(i int) error {
			sum, err := d.blockSum(h, i, *bp, bh)
			if err != nil {
				return fmt.Errorf("block %d: %w", i, err)
			}
			return fn(i, sum)
		}, func() { chunkPool.Put(bp) }
	})
}

// verify checks blocks [first, last) against h's tables.
func (d dataFile) verify(h *arrayx.Header, first, last int) error {
	return d.scanBlocks(h, first, last, h.XXH128 != nil, h.CheckSum)
}
