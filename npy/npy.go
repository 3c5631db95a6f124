package npy

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"os"
	"strings"
	"time"

	"github.com/arrayx/arrayx/internal/zerocopy"
)

// Methods Stats reports: how the data bytes moved.
const (
	// MethodCopyFileRange: copy_file_range(2) between the two files; the
	// kernel copied (or shared extents), no byte passed through user space.
	MethodCopyFileRange = "copy_file_range"
	// MethodReadWrite: the portable path, reads from the .npy file into the
	// array's mapping on import and writes from the array's mapping on
	// export. One copy, no intermediate buffer.
	MethodReadWrite = "read/write"
	// MethodSendfile: sendfile(2) between the two files, where
	// copy_file_range cannot cross filesystems; also a copy in the kernel.
	MethodSendfile = "sendfile"
	// MethodByteSwap: a big-endian .npy read into the mapping and converted
	// to little-endian in place, a chunk at a time.
	MethodByteSwap = "byteswap"
	// MethodNone: the array is empty, no data moved.
	MethodNone = "none"
)

// Stats describes one Import or Export.
type Stats struct {
	Bytes    int64         // data bytes moved
	Method   string        // how: the Method constants, joined by "+" when one path took over from another midway
	Duration time.Duration // the whole operation, checksums and fsync included
}

// String is a one-line summary: "8000000 bytes in 0.004 s, 2.00 GB/s, copy_file_range".
func (s Stats) String() string {
	sec := s.Duration.Seconds()
	rate := 0.0
	if sec > 0 {
		rate = float64(s.Bytes) / sec / 1e9
	}
	return fmt.Sprintf("%d bytes in %.3f s, %.2f GB/s, %s", s.Bytes, sec, rate, s.Method)
}

// Test hooks. testHookCopy sees the method and byte count of every data
// move, so tests can assert that the kernel path was taken;
// testHookBeforeData runs in Import after the array is created and before
// its data moves. kernelCopy off makes Linux take the portable path, so
// tests cover it there too.
var (
	testHookCopy       func(method string, n int64)
	testHookBeforeData func()
	kernelCopy         = true
)

// moveData moves n bytes from src at srcOff to dst at dstOff, in the kernel
// where it can: copy_file_range, then sendfile (which crosses filesystems)
// from wherever copy_file_range stopped. rest copies the bytes from offset
// from (relative to the start of the range) to n when the kernel cannot,
// which also tells a source that really ended early apart. It returns the
// method used. sendfile moves dst's own offset: dst is a writer's or a
// temporary file, whose offset nothing else uses.
func moveData(dst *os.File, dstOff int64, src *os.File, srcOff, n int64, rest func(from int64) error) (string, error) {
	if n == 0 {
		return reportCopy(MethodNone, 0), nil
	}
	var methods []string
	var done int64
	if kernelCopy {
		for _, m := range []struct {
			name string
			copy func(dst *os.File, dstOff int64, src *os.File, srcOff, n int64) (int64, bool, error)
		}{{MethodCopyFileRange, zerocopy.CopyFileRange}, {MethodSendfile, zerocopy.SendFileToFile}} {
			// Not handled: the kernel stopped after c bytes (or none), and
			// the next way takes over from there.
			c, _, err := m.copy(dst, dstOff+done, src, srcOff+done, n-done)
			if c > 0 {
				methods = append(methods, m.name)
				done += c
			}
			if err != nil {
				return "", err
			}
			if done == n {
				break
			}
		}
	}
	if done < n {
		if err := rest(done); err != nil {
			return "", err
		}
		methods = append(methods, MethodReadWrite)
	}
	return reportCopy(strings.Join(methods, "+"), n), nil
}

func reportCopy(method string, n int64) string {
	if testHookCopy != nil {
		testHookCopy(method, n)
	}
	return method
}

// swapChunk is how much readSwapped reads before converting: small enough to
// convert while it is still in cache, a multiple of every item size.
const swapChunk = 1 << 20

// readSwapped reads len(dst) bytes of big-endian items of size bytes from
// src at off into dst, converting each chunk to little-endian as it lands.
func readSwapped(dst []byte, src io.ReaderAt, off int64, size int) error {
	for done := 0; done < len(dst); {
		c := min(len(dst)-done, swapChunk)
		if err := readFull(src, dst[done:done+c], off+int64(done), "data"); err != nil {
			return err
		}
		swapBytes(dst[done:done+c], size)
		done += c
	}
	return nil
}

// swapBytes reverses the byte order of each size-byte item of b in place.
func swapBytes(b []byte, size int) {
	switch size {
	case 2:
		for i := 0; i+2 <= len(b); i += 2 {
			b[i], b[i+1] = b[i+1], b[i]
		}
	case 4:
		for i := 0; i+4 <= len(b); i += 4 {
			binary.LittleEndian.PutUint32(b[i:], bits.ReverseBytes32(binary.LittleEndian.Uint32(b[i:])))
		}
	case 8:
		for i := 0; i+8 <= len(b); i += 8 {
			binary.LittleEndian.PutUint64(b[i:], bits.ReverseBytes64(binary.LittleEndian.Uint64(b[i:])))
		}
	}
}
