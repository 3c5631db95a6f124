package mmapstore

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
)

var benchSizes = []int64{1 << 20, 64 << 20, 1 << 30}

func sizeName(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%dGiB", n>>30)
	}
	return fmt.Sprintf("%dMiB", n>>20)
}

// benchArray creates a sealed float64 array of nbytes on /dev/shm.
func benchArray(b *testing.B, nbytes int64) (*Store, string) {
	b.Helper()
	s, err := OpenStore(testutil.ShmOrTempDir(b), &Options{Sync: SyncNever})
	if err != nil {
		b.Fatal(err)
	}
	w, err := s.Create("x", arrayx.Float64, arrayx.Shape{nbytes / 8}, arrayx.OrderC, nil)
	if err != nil {
		b.Fatal(err)
	}
	x, _ := arrayx.Data[float64](w)
	for i := range x {
		x[i] = float64(i)
	}
	a, err := w.Seal()
	if err != nil {
		b.Fatal(err)
	}
	a.Close()
	return s, "x"
}

// BenchmarkOpen: Open must cost the same at every size (it never reads the
// data) with a constant number of allocations.
func BenchmarkOpen(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			s, name := benchArray(b, n)
			b.ReportAllocs()
			for b.Loop() {
				a, err := s.Open(name)
				if err != nil {
					b.Fatal(err)
				}
				a.Close()
			}
		})
	}
}

// BenchmarkReadFile is the copying baseline for Open: reading the same file.
func BenchmarkReadFile(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			s, name := benchArray(b, n)
			path, _ := s.Path(name)
			b.SetBytes(n)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := os.ReadFile(path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSeal measures Seal alone (CRC-32C on all cores, header rewrite,
// rename) on a filled tmpfs array; Create and the fill are not timed.
func BenchmarkSeal(b *testing.B) {
	for _, n := range benchSizes[1:] {
		b.Run(sizeName(n), func(b *testing.B) {
			s, err := OpenStore(testutil.ShmOrTempDir(b), &Options{Sync: SyncNever})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(n)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s.Remove("x") // freeing the old 1 GiB is not Seal's cost
				w, err := s.Create("x", arrayx.Uint8, arrayx.Shape{n}, arrayx.OrderC, nil)
				if err != nil {
					b.Fatal(err)
				}
				data := w.Bytes()
				for j := range data {
					data[j] = byte(j)
				}
				b.StartTimer()
				a, err := w.Seal()
				if err != nil {
					b.Fatal(err)
				}
				a.Close()
			}
		})
	}
}

// BenchmarkVerify measures checking every block of a cached array.
func BenchmarkVerify(b *testing.B) {
	for _, n := range benchSizes[1:] {
		b.Run(sizeName(n), func(b *testing.B) {
			s, name := benchArray(b, n)
			a, err := s.Open(name)
			if err != nil {
				b.Fatal(err)
			}
			defer a.Close()
			b.SetBytes(n)
			b.ReportAllocs()
			for b.Loop() {
				if err := a.Verify(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWaitExisting measures Wait for an array that is already there:
// the fixed cost a consumer pays on top of Open (setting up and tearing
// down the watch).
func BenchmarkWaitExisting(b *testing.B) {
	s, name := benchArray(b, 1<<20)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		a, err := s.Wait(ctx, name)
		if err != nil {
			b.Fatal(err)
		}
		a.Close()
	}
}

// BenchmarkVerifyVsPread compares Array.Verify of a freshly opened array
// with the floor it should approach: CRC-32C over the file read by pread
// into one hot 1 MiB buffer, on one core. It also times the CRC over a
// fresh read-only mapping, the way Verify used to read, for the record:
// first touches of a new mapping are what cost on virtual machines.
func BenchmarkVerifyVsPread(b *testing.B) {
	for _, n := range benchSizes[1:] {
		b.Run(sizeName(n), func(b *testing.B) {
			s, name := benchArray(b, n)
			var verify, pread, mapped time.Duration
			b.SetBytes(n)
			for i := 0; i < b.N; i++ {
				a, err := s.Open(name)
				if err != nil {
					b.Fatal(err)
				}
				t := time.Now()
				if err := a.Verify(); err != nil {
					b.Fatal(err)
				}
				verify += time.Since(t)
				a.Close()

				f, err := os.Open(filepath.Join(s.Dir(), name+Ext))
				if err != nil {
					b.Fatal(err)
				}
				buf := make([]byte, 1<<20)
				t = time.Now()
				var crc uint32
				for off := int64(0); off < n; off += int64(len(buf)) {
					m, _ := f.ReadAt(buf, a.Header().DataOffset+off)
					crc = arrayx.UpdateCRC32C(crc, buf[:m])
				}
				pread += time.Since(t)
				f.Close()

				a, err = s.Open(name)
				if err != nil {
					b.Fatal(err)
				}
				t = time.Now()
				crc = arrayx.CRC32C(a.Bytes())
				mapped += time.Since(t)
				a.Close()
			}
			gbps := func(d time.Duration) float64 { return float64(n*int64(b.N)) / d.Seconds() / 1e9 }
			b.ReportMetric(gbps(verify), "verify-GB/s")
			b.ReportMetric(gbps(pread), "pread-crc-GB/s")
			b.ReportMetric(gbps(mapped), "mmap-crc-GB/s")
			b.ReportMetric(pread.Seconds()/verify.Seconds(), "x-pread")
		})
	}
}

// BenchmarkSealVsCRC compares Seal of an array the producer has just
// filled (its pages hot, its mapping populated) with the CRC-32C of the
// same hot memory on all cores, and with the CRC-32C and XXH3-128 that
// Seal computes: the sums are Seal's floor, and the CRC alone what Seal
// cost before format 1.1 added the digest.
func BenchmarkSealVsCRC(b *testing.B) {
	for _, n := range benchSizes[1:] {
		b.Run(sizeName(n), func(b *testing.B) {
			s, err := OpenStore(testutil.ShmOrTempDir(b), &Options{Sync: SyncNever})
			if err != nil {
				b.Fatal(err)
			}
			var seal, crc, sums time.Duration
			b.SetBytes(n)
			for i := 0; i < b.N; i++ {
				s.Remove("x")
				w, err := s.Create("x", arrayx.Uint8, arrayx.Shape{n}, arrayx.OrderC, nil)
				if err != nil {
					b.Fatal(err)
				}
				data := w.Bytes()
				for j := range data {
					data[j] = byte(j)
				}
				t := time.Now()
				if err := forBlocks(w.Header(), data, 0, w.Header().NumBlocks(), func(_ int, block []byte) error {
					arrayx.CRC32C(block)
					return nil
				}); err != nil {
					b.Fatal(err)
				}
				crc += time.Since(t)
				t = time.Now()
				if _, _, err := computeSums(w.Header(), data); err != nil {
					b.Fatal(err)
				}
				sums += time.Since(t)
				t = time.Now()
				a, err := w.Seal()
				if err != nil {
					b.Fatal(err)
				}
				seal += time.Since(t)
				a.Close()
			}
			gbps := func(d time.Duration) float64 { return float64(n*int64(b.N)) / d.Seconds() / 1e9 }
			b.ReportMetric(gbps(seal), "seal-GB/s")
			b.ReportMetric(gbps(crc), "hot-crc-GB/s")
			b.ReportMetric(gbps(sums), "hot-sums-GB/s")
			b.ReportMetric(crc.Seconds()/seal.Seconds(), "x-crc")
			b.ReportMetric(sums.Seconds()/seal.Seconds(), "x-sums")
		})
	}
}
