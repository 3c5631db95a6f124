package zerocopy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/arrayx/arrayx/internal/testutil"
	"golang.org/x/sys/unix"
)

// offset is f's own file offset.
func offset(t testing.TB, f *os.File) int64 {
	t.Helper()
	off, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		t.Fatal(err)
	}
	return off
}

func seek(t testing.TB, f *os.File, off int64) {
	t.Helper()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		t.Fatal(err)
	}
}

// filled is n bytes of b.
func filled(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }

// halfCloser is a connection whose write side can be shut.
type halfCloser interface {
	net.Conn
	syscall.Conn
	CloseWrite() error
}

// connPair connects a client to a listener on loopback TCP or a Unix
// socket and returns both ends: send is a *net.TCPConn or *net.UnixConn.
func connPair(t testing.TB, network string) (send halfCloser, recv net.Conn) {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "s")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial(network, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return c.(halfCloser), r
}

// readAll reads c until EOF in the background.
func readAll(c net.Conn) <-chan []byte {
	ch := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(c)
		ch <- b
	}()
	return ch
}

// SendFile sends ranges of a file at explicit offsets to a socket, without
// reading or moving the file's own offset.
func TestSendFile(t *testing.T) {
	data := pattern(3<<20+5, 1)
	src := fileWith(t, testutil.ShmDir(t), data)
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			seek(t, src, 12345) // whatever it is, SendFile must leave it
			send, recv := connPair(t, network)
			got := readAll(recv)
			rec := record(t)
			var want []byte
			for _, r := range []struct{ off, n int64 }{
				{4097, 2<<20 + 3},           // unaligned, several calls' worth
				{0, 100},                    // back to the start
				{int64(len(data)) - 1, 1},   // the last byte
				{int64(len(data)) - 10, 10}, // up to the end exactly
			} {
				n, handled, err := SendFile(send, src, r.off, r.n)
				if n != r.n || !handled || err != nil {
					t.Fatalf("SendFile [%d, +%d): (%d, %v, %v), want (%d, true, nil)", r.off, r.n, n, handled, err, r.n)
				}
				want = append(want, data[r.off:r.off+r.n]...)
			}
			if err := send.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			if b := <-got; !bytes.Equal(b, want) {
				t.Errorf("the receiver got %d bytes, not the %d of the ranges sent", len(b), len(want))
			}
			if off := offset(t, src); off != 12345 {
				t.Errorf("the source's offset moved to %d", off)
			}
			rec.only(t, OpSendfile, int64(len(want)))
		})
	}
}

// Several goroutines send ranges of one file at once, each to its own
// connection: none sees another's offset.
func TestSendFileConcurrent(t *testing.T) {
	data := pattern(4<<20, 2)
	src := fileWith(t, testutil.ShmDir(t), data)
	const parts = 4
	size := int64(len(data)) / parts
	errs := make(chan error, parts)
	for i := range parts {
		send, recv := connPair(t, "unix")
		got := readAll(recv)
		go func() {
			off := int64(i) * size
			n, handled, err := SendFile(send, src, off, size)
			send.CloseWrite()
			b := <-got
			switch {
			case n != size || !handled || err != nil:
				errs <- fmt.Errorf("part %d: (%d, %v, %v)", i, n, handled, err)
			case !bytes.Equal(b, data[off:off+size]):
				errs <- fmt.Errorf("part %d: received the wrong %d bytes", i, len(b))
			default:
				errs <- nil
			}
		}()
	}
	for range parts {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if off := offset(t, src); off != 0 {
		t.Errorf("the source's offset moved to %d", off)
	}
}

// bigSparse creates a sparse file of size bytes on /dev/shm, zero but for
// the given bytes, in a handful of pages of memory.
func bigSparse(t testing.TB, size int64, marks map[int64]byte) *os.File {
	t.Helper()
	f := fileWith(t, testutil.ShmDir(t), nil)
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for off, b := range marks {
		if _, err := f.WriteAt([]byte{b}, off); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// A range past 2 GiB, more than the kernel moves in one call
// (MAX_RW_COUNT), at offsets past 2^31, every byte checked on arrival:
// cheap from a sparse file on tmpfs, whose holes are sent from the zero
// page, over a Unix socket (0.4-0.9 s on the project's VM, against 1-3 s
// over loopback TCP). Socket buffers keep each call far below the cap; the
// cap itself is tested in TestSendFileToFile/past-2GiB.
func TestSendFilePast2GiB(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping in -short mode: sends 2.1 GiB over a Unix socket")
	}
	const size, start int64 = 2<<30 + 100<<20, 4095
	marks := map[int64]byte{start: 1, 1<<31 - 1: 2, 1 << 31: 3, 1<<31 + 3*4096 + 7: 4, maxRound - 1: 5, maxRound: 6, size - 1: 7}
	src := bigSparse(t, size, marks)
	seek(t, src, 77)
	send, recv := connPair(t, "unix")
	rec := record(t)
	type result struct {
		n   int64
		err error
	}
	got := make(chan result, 1)
	go func() {
		// Check every byte as it arrives: the marks where they belong,
		// zeros everywhere else.
		buf, zero := make([]byte, 1<<20), make([]byte, 1<<20)
		var pos int64 = start
		for {
			c, err := io.ReadFull(recv, buf)
			b := buf[:c]
			for off, want := range marks {
				if i := off - pos; i >= 0 && i < int64(c) {
					if b[i] != want {
						got <- result{pos, fmt.Errorf("byte %d is %d, want %d", off, b[i], want)}
						return
					}
					b[i] = 0
				}
			}
			if !bytes.Equal(b, zero[:c]) {
				got <- result{pos, fmt.Errorf("non-zero bytes in [%d, +%d)", pos, c)}
				return
			}
			pos += int64(c)
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				got <- result{pos - start, nil}
				return
			}
			if err != nil {
				got <- result{pos, err}
				return
			}
		}
	}()
	begin := time.Now()
	n, handled, err := SendFile(send, src, start, size-start)
	if n != size-start || !handled || err != nil {
		t.Fatalf("SendFile of %d bytes from %d: (%d, %v, %v)", size-start, start, n, handled, err)
	}
	send.CloseWrite()
	if r := <-got; r.err != nil || r.n != size-start {
		t.Fatalf("the receiver got %d bytes (%v), want %d", r.n, r.err, size-start)
	}
	t.Logf("sent %d bytes in %v in %d sendfile calls", n, time.Since(begin), len(rec.only(t, OpSendfile, n)))
	if off := offset(t, src); off != 77 {
		t.Errorf("the source's offset moved to %d", off)
	}
}

// A write deadline bounds SendFile: it stops with os.ErrDeadlineExceeded and
// handled true, reporting what it sent. A peer that goes away is an error
// too, never a refusal.
func TestSendFileErrors(t *testing.T) {
	data := pattern(64<<20, 5) // more than any socket buffer on loopback
	src := fileWith(t, testutil.ShmDir(t), data)
	t.Run("deadline-past", func(t *testing.T) {
		send, recv := connPair(t, "tcp")
		got := readAll(recv)
		rec := record(t)
		send.SetWriteDeadline(time.Now().Add(-time.Second))
		n, handled, err := SendFile(send, src, 0, 1<<20)
		if n != 0 || !handled || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("SendFile past its deadline: (%d, %v, %v), want (0, true, os.ErrDeadlineExceeded)", n, handled, err)
		}
		send.Close()
		if b := <-got; len(b) != 0 {
			t.Errorf("the receiver got %d bytes", len(b))
		}
		rec.none(t)
	})
	for _, network := range []string{"tcp", "unix"} {
		t.Run("deadline-during-"+network, func(t *testing.T) {
			send, _ := connPair(t, network) // nobody reads: the buffers fill
			rec := record(t)
			send.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
			begin := time.Now()
			n, handled, err := SendFile(send, src, 0, int64(len(data)))
			if n <= 0 || n >= int64(len(data)) || !handled || !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("SendFile into a full socket: (%d, %v, %v), want some bytes, true and os.ErrDeadlineExceeded", n, handled, err)
			}
			if d := time.Since(begin); d < 150*time.Millisecond || d > 10*time.Second {
				t.Errorf("SendFile returned after %v, want about the 200 ms deadline", d)
			}
			rec.only(t, OpSendfile, n)
		})
	}
	t.Run("peer-closed", func(t *testing.T) {
		send, recv := connPair(t, "tcp")
		recv.Close()
		n, handled, err := SendFile(send, src, 0, int64(len(data)))
		if !handled || !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) || n == int64(len(data)) {
			t.Fatalf("SendFile to a closed peer: (%d, %v, %v), want handled true and EPIPE or ECONNRESET", n, handled, err)
		}
	})
}

// A source shorter than the range: sendfile returns 0 at its end, which
// SendFile does not take for the end of the source (older kernels return 0
// for refusals too), so it reports what it sent with handled false.
func TestSendFileShortSource(t *testing.T) {
	data := pattern(1000, 6)
	src := fileWith(t, testutil.ShmDir(t), data)
	send, recv := connPair(t, "tcp")
	got := readAll(recv)
	rec := record(t)
	n, handled, err := SendFile(send, src, 10, 5000)
	if n != 990 || handled || err != nil {
		t.Errorf("SendFile of 5000 bytes from offset 10 of 1000: (%d, %v, %v), want (990, false, nil)", n, handled, err)
	}
	n, handled, err = SendFile(send, src, 2000, 10)
	if n != 0 || handled || err != nil {
		t.Errorf("SendFile past the source's end: (%d, %v, %v), want (0, false, nil)", n, handled, err)
	}
	send.CloseWrite()
	if b := <-got; !bytes.Equal(b, data[10:]) {
		t.Errorf("the receiver got %d bytes, want the source's last 990", len(b))
	}
	rec.only(t, OpSendfile, 990)
}

// noConn is a syscall.Conn without a descriptor.
type noConn struct{}

func (noConn) SyscallConn() (syscall.RawConn, error) { return nil, errors.ErrUnsupported }

func TestSendFileNoDescriptor(t *testing.T) {
	src := fileWith(t, t.TempDir(), pattern(10, 0))
	if n, handled, err := SendFile(noConn{}, src, 0, 10); n != 0 || handled || err != nil {
		t.Errorf("SendFile to a conn without a descriptor: (%d, %v, %v), want (0, false, nil)", n, handled, err)
	}
}

// fileCopy is CopyFileRange or SendFileToFile.
type fileCopy func(dst *os.File, dstOff int64, src *os.File, srcOff, n int64) (int64, bool, error)

// checkRangeCopy copies [srcOff, +n) of data, in src, to dstOff of dst,
// which holds old, and checks the result: n bytes moved at the right place
// and nothing else changed, src's offset untouched, and the hook saw op.
// It returns dst's offset afterwards.
func checkRangeCopy(t *testing.T, fn fileCopy, op string, dst *os.File, old []byte, dstOff int64, src *os.File, data []byte, srcOff, n int64) int64 {
	t.Helper()
	seek(t, src, 7)
	rec := record(t)
	c, handled, err := fn(dst, dstOff, src, srcOff, n)
	if c != n || !handled || err != nil {
		t.Fatalf("%s of %d bytes: (%d, %v, %v), want (%d, true, nil)", op, n, c, handled, err, n)
	}
	want := append([]byte(nil), old...)
	if end := dstOff + n; end > int64(len(want)) {
		want = append(want, make([]byte, end-int64(len(want)))...)
	}
	copy(want[dstOff:], data[srcOff:srcOff+n])
	if got := contents(t, dst); !bytes.Equal(got, want) {
		t.Errorf("the destination holds %d bytes, not the %d expected (the range at the wrong place, or bytes outside it changed)", len(got), len(want))
	}
	if off := offset(t, src); off != 7 {
		t.Errorf("the source's offset moved to %d", off)
	}
	rec.only(t, op, n)
	return offset(t, dst)
}

func TestCopyFileRange(t *testing.T) {
	data := pattern(3<<20+17, 7)
	for _, fs := range []struct {
		name string
		dir  func(testing.TB) string
	}{{"tmpfs", testutil.ShmDir}, {"disk", testutil.DiskDir}} {
		t.Run(fs.name, func(t *testing.T) {
			dir := fs.dir(t)
			src := fileWith(t, dir, data)
			old := filled(1<<20, 0xee)
			dst := fileWith(t, dir, old)
			seek(t, dst, 11)
			n := int64(len(data)) - 5 - 1000
			if off := checkRangeCopy(t, CopyFileRange, OpCopyFileRange, dst, old, 3, src, data, 5, n); off != 11 {
				t.Errorf("the destination's offset moved to %d", off)
			}
		})
	}
	t.Run("short-source", func(t *testing.T) {
		dir := testutil.ShmDir(t)
		src := fileWith(t, dir, data[:1000])
		dst := fileWith(t, dir, nil)
		rec := record(t)
		c, handled, err := CopyFileRange(dst, 0, src, 100, 5000)
		if c != 900 || handled || err != nil {
			t.Errorf("CopyFileRange of 5000 bytes from offset 100 of 1000: (%d, %v, %v), want (900, false, nil)", c, handled, err)
		}
		if got := contents(t, dst); !bytes.Equal(got, data[100:1000]) {
			t.Errorf("the destination holds %d bytes, want the source's last 900", len(got))
		}
		rec.only(t, OpCopyFileRange, 900)
	})
	// Between /dev/shm and a disk Linux refuses copy_file_range (EXDEV):
	// nothing moves, and the caller takes another way.
	t.Run("cross-fs", func(t *testing.T) {
		src := fileWith(t, testutil.ShmDir(t), data)
		old := filled(100, 0xee)
		dst := fileWith(t, testutil.DiskDir(t), old)
		roff, woff := int64(0), int64(0)
		if _, err := unix.CopyFileRange(int(src.Fd()), &roff, int(dst.Fd()), &woff, 1, 0); err != unix.EXDEV {
			t.Fatalf("copy_file_range from /dev/shm to %s: %v, want EXDEV (the test's premise)", filepath.Dir(dst.Name()), err)
		}
		rec := record(t)
		c, handled, err := CopyFileRange(dst, 0, src, 0, int64(len(data)))
		if c != 0 || handled || err != nil {
			t.Errorf("CopyFileRange across filesystems: (%d, %v, %v), want (0, false, nil)", c, handled, err)
		}
		if got := contents(t, dst); !bytes.Equal(got, old) {
			t.Error("the destination changed")
		}
		rec.none(t)
	})
	// copy_file_range refuses an O_APPEND destination (EBADF): a refusal,
	// not an error.
	t.Run("append-dst", func(t *testing.T) {
		dir := testutil.ShmDir(t)
		src := fileWith(t, dir, data)
		old := filled(100, 0xee)
		dst := fileWith(t, dir, old)
		app, err := os.OpenFile(dst.Name(), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer app.Close()
		rec := record(t)
		c, handled, err := CopyFileRange(app, 0, src, 0, int64(len(data)))
		if c != 0 || handled || err != nil {
			t.Errorf("CopyFileRange to an O_APPEND file: (%d, %v, %v), want (0, false, nil)", c, handled, err)
		}
		if got := contents(t, dst); !bytes.Equal(got, old) {
			t.Error("the destination changed")
		}
		rec.none(t)
	})
}

func TestSendFileToFile(t *testing.T) {
	data := pattern(3<<20+17, 8)
	for _, tc := range []struct {
		name     string
		src, dst func(testing.TB) string
	}{{"tmpfs-to-disk", testutil.ShmDir, testutil.DiskDir}, {"disk-to-tmpfs", testutil.DiskDir, testutil.ShmDir}} {
		t.Run(tc.name, func(t *testing.T) {
			src := fileWith(t, tc.src(t), data)
			old := filled(1<<20, 0xee)
			dst := fileWith(t, tc.dst(t), old)
			seek(t, dst, 11)
			const dstOff, srcOff = 4096 + 1, 9
			n := int64(len(data)) - srcOff - 3
			// As documented: dst's own offset ends after what was written.
			if off := checkRangeCopy(t, SendFileToFile, OpSendfile, dst, old, dstOff, src, data, srcOff, n); off != dstOff+n {
				t.Errorf("the destination's offset is %d, want %d", off, dstOff+n)
			}
		})
	}
	t.Run("short-source", func(t *testing.T) {
		src := fileWith(t, testutil.DiskDir(t), data[:1000])
		dst := fileWith(t, testutil.ShmDir(t), nil)
		rec := record(t)
		c, handled, err := SendFileToFile(dst, 50, src, 100, 5000)
		if c != 900 || handled || err != nil {
			t.Errorf("SendFileToFile of 5000 bytes from offset 100 of 1000: (%d, %v, %v), want (900, false, nil)", c, handled, err)
		}
		if got := contents(t, dst); !bytes.Equal(got, append(make([]byte, 50), data[100:1000]...)) {
			t.Errorf("the destination holds %d bytes, want 50 zeros and the source's last 900", len(got))
		}
		if off := offset(t, dst); off != 950 {
			t.Errorf("the destination's offset is %d, want 950", off)
		}
		rec.only(t, OpSendfile, 900)
	})
	// sendfile refuses an O_APPEND destination (EINVAL: it would not write
	// at the offset asked): a refusal, nothing written.
	t.Run("append-dst", func(t *testing.T) {
		src := fileWith(t, testutil.ShmDir(t), data)
		old := filled(100, 0xee)
		dst := fileWith(t, testutil.DiskDir(t), old)
		app, err := os.OpenFile(dst.Name(), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer app.Close()
		rec := record(t)
		c, handled, err := SendFileToFile(app, 0, src, 0, int64(len(data)))
		if c != 0 || handled || err != nil {
			t.Errorf("SendFileToFile to an O_APPEND file: (%d, %v, %v), want (0, false, nil)", c, handled, err)
		}
		if got := contents(t, dst); !bytes.Equal(got, old) {
			t.Error("the destination changed")
		}
		rec.none(t)
	})
	// More than the kernel moves in one call: the first call stops at
	// MAX_RW_COUNT and the loop carries on at the right offset. /dev/null
	// discards, so a sparse 2.1 GiB source costs no memory and little time.
	t.Run("past-2GiB", func(t *testing.T) {
		const size, start int64 = 2<<30 + 100<<20, 4095
		src := bigSparse(t, size, nil)
		null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer null.Close()
		rec := record(t)
		c, handled, err := SendFileToFile(null, 0, src, start, size-start)
		if c != size-start || !handled || err != nil {
			t.Fatalf("SendFileToFile of %d bytes: (%d, %v, %v)", size-start, c, handled, err)
		}
		calls := rec.only(t, OpSendfile, c)
		if len(calls) < 2 || calls[0].n != maxRound {
			t.Errorf("sendfile calls %v: want the first of %d bytes (the kernel's cap) and more after it", calls, maxRound)
		}
	})
	// A full filesystem is a failure, not a refusal: handled true, the error
	// wraps ENOSPC, and n is what reached the file.
	t.Run("no-space", func(t *testing.T) {
		mnt := testutil.Tmpfs(t, "1m")
		src := fileWith(t, testutil.ShmDir(t), data)
		dst := fileWith(t, mnt, nil)
		rec := record(t)
		c, handled, err := SendFileToFile(dst, 0, src, 0, int64(len(data)))
		if !handled || !errors.Is(err, syscall.ENOSPC) || c >= int64(len(data)) {
			t.Fatalf("SendFileToFile of %d bytes into 1 MiB: (%d, %v, %v), want fewer bytes, true and ENOSPC", len(data), c, handled, err)
		}
		if got := contents(t, dst); int64(len(got)) != c || !bytes.Equal(got, data[:c]) {
			t.Errorf("the destination holds %d bytes, want the %d reported", len(got), c)
		}
		rec.only(t, OpSendfile, c)
	})
}

// usedBytes is the space in use on f's filesystem once everything written
// has reached it.
func usedBytes(t testing.TB, f *os.File) int64 {
	t.Helper()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		t.Fatal(err)
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Blocks-st.Bfree) * int64(st.Bsize)
}

// tmpfs has no reflinks: Reflink is refused, with no error, nothing changed.
func TestReflinkTmpfs(t *testing.T) {
	dir := testutil.ShmDir(t)
	data := pattern(1<<20, 9)
	src := fileWith(t, dir, data)
	old := filled(4096, 0xee)
	dst := fileWith(t, dir, old)
	rec := record(t)
	for _, r := range []struct{ dstOff, srcOff, n int64 }{{0, 0, 0}, {0, 4096, 8192}} {
		if handled, err := Reflink(dst, r.dstOff, src, r.srcOff, r.n); handled || err != nil {
			t.Errorf("Reflink %+v on tmpfs: (%v, %v), want (false, nil)", r, handled, err)
		}
	}
	if got := contents(t, dst); !bytes.Equal(got, old) {
		t.Error("the destination changed")
	}
	rec.none(t)
}

// On XFS with reflinks, Reflink shares extents: the copy reads back equal,
// the filesystem's used space does not grow by its size, and writing the
// copy leaves the source alone.
func TestReflinkXFS(t *testing.T) {
	mnt := testutil.XFS(t)
	const size = 16 << 20
	data := pattern(size+100, 10) // ends in a partial block
	src := fileWith(t, mnt, data)
	if err := src.Sync(); err != nil {
		t.Fatal(err)
	}
	// shares checks that dst grew by less than a tenth of the n bytes it
	// was given, and reads back want.
	shares := func(t *testing.T, dst *os.File, before, n int64, want []byte) {
		t.Helper()
		if grew := usedBytes(t, dst) - before; grew > n/10 {
			t.Errorf("used space grew by %d bytes for %d bytes reflinked: copied, not shared", grew, n)
		}
		if got := contents(t, dst); !bytes.Equal(got, want) {
			t.Errorf("the destination holds %d bytes, not the %d expected", len(got), len(want))
		}
	}
	t.Run("whole-file", func(t *testing.T) {
		dst := fileWith(t, mnt, nil)
		rec := record(t)
		before := usedBytes(t, dst)
		if handled, err := Reflink(dst, 0, src, 0, 0); !handled || err != nil {
			t.Fatalf("Reflink (FICLONE) on XFS: (%v, %v), want (true, nil)", handled, err)
		}
		shares(t, dst, before, size, data)
		rec.only(t, OpReflink, int64(len(data))) // FICLONE gives no count: the hook sees the file's size
		// Copy on write: the source keeps its bytes.
		if _, err := dst.WriteAt(filled(4096, 0xff), 8192); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(contents(t, src), data) {
			t.Error("writing the reflinked copy changed the source")
		}
	})
	t.Run("range", func(t *testing.T) {
		dst := fileWith(t, mnt, nil)
		rec := record(t)
		before := usedBytes(t, dst)
		const dstOff, srcOff, n = 1 << 20, 2 << 20, 8 << 20
		if handled, err := Reflink(dst, dstOff, src, srcOff, n); !handled || err != nil {
			t.Fatalf("Reflink (FICLONERANGE) on XFS: (%v, %v), want (true, nil)", handled, err)
		}
		shares(t, dst, before, n, append(make([]byte, dstOff), data[srcOff:srcOff+n]...))
		rec.only(t, OpReflink, n)
	})
	t.Run("to-eof", func(t *testing.T) {
		// A range may end at src's end, off a block boundary.
		dst := fileWith(t, mnt, nil)
		rec := record(t)
		const srcOff = size - 4096
		if handled, err := Reflink(dst, 0, src, srcOff, int64(len(data))-srcOff); !handled || err != nil {
			t.Fatalf("Reflink of src's last 4196 bytes: (%v, %v), want (true, nil)", handled, err)
		}
		if got := contents(t, dst); !bytes.Equal(got, data[srcOff:]) {
			t.Errorf("the destination holds %d bytes, want the source's last %d", len(got), len(data)-srcOff)
		}
		rec.only(t, OpReflink, int64(len(data))-srcOff)
	})
	// A range off the block size is refused (handled false: the caller
	// copies it) or an error naming EINVAL; either way nothing changes.
	t.Run("misaligned", func(t *testing.T) {
		old := filled(64<<10, 0xee)
		dst := fileWith(t, mnt, old)
		rec := record(t)
		for _, r := range []struct{ dstOff, srcOff, n int64 }{{0, 100, 8192}, {100, 0, 8192}, {0, 0, 8191}} {
			handled, err := Reflink(dst, r.dstOff, src, r.srcOff, r.n)
			if err == nil && handled || err != nil && !errors.Is(err, unix.EINVAL) {
				t.Errorf("Reflink of the misaligned %+v: (%v, %v), want refused or EINVAL", r, handled, err)
			}
		}
		if got := contents(t, dst); !bytes.Equal(got, old) {
			t.Error("the destination changed")
		}
		rec.none(t)
	})
	t.Run("closed", func(t *testing.T) {
		dst := fileWith(t, mnt, nil)
		closed := fileWith(t, mnt, nil)
		closed.Close()
		for name, fn := range map[string]func() (bool, error){
			"src": func() (bool, error) { return Reflink(dst, 0, closed, 0, 0) },
			"dst": func() (bool, error) { return Reflink(closed, 0, src, 0, 0) },
		} {
			if handled, err := fn(); !handled || err == nil {
				t.Errorf("Reflink with a closed %s: (%v, %v), want handled true and an error", name, handled, err)
			}
		}
	})
}

func TestKernelVersion(t *testing.T) {
	for _, tc := range []struct {
		rel          string
		major, minor int
	}{
		{"6.18.44-fc-v1045", 6, 18},
		{"5.3.0", 5, 3},
		{"5.2.21-arch1", 5, 2},
		{"4.19.0-26-amd64", 4, 19},
		{"10.0", 10, 0},
		{"5.15", 5, 15},
		{"6", 6, 0},
		{"6.", 6, 0},
		{"6.x", 6, 0},
		{"", 0, 0},
		{"abc", 0, 0},
		{".7", 0, 7}, // not a release, but harmless: 0.7 is old
		{"3.10.0-1160.el7.x86_64", 3, 10},
		{"6.1\x00\x00\x00", 6, 1}, // utsname's NUL padding
		{"6.19\x009.9", 6, 19},
	} {
		if major, minor := kernelVersion([]byte(tc.rel)); major != tc.major || minor != tc.minor {
			t.Errorf("kernelVersion(%q) = %d.%d, want %d.%d", tc.rel, major, minor, tc.major, tc.minor)
		}
	}
}
