package npy

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/internal/testutil/teststore"
)

var benchSizes = []int64{1 << 20, 64 << 20}

// benchMethods runs fn once with the kernel path and once with the portable
// path forced.
func benchMethods(b *testing.B, fn func(b *testing.B, n int64)) {
	for _, n := range benchSizes {
		for _, kernel := range []bool{true, false} {
			name := fmt.Sprintf("%dMiB/kernel", n>>20)
			if !kernel {
				name = fmt.Sprintf("%dMiB/read-write", n>>20)
			}
			b.Run(name, func(b *testing.B) {
				kernelCopy = kernel
				defer func() { kernelCopy = true }()
				fn(b, n)
			})
		}
	}
}

// BenchmarkImport imports a float64 .npy file into a store on the same
// filesystem; the time includes creating, checksumming and sealing the array.
func BenchmarkImport(b *testing.B) {
	benchMethods(b, func(b *testing.B, n int64) {
		dir := testutil.ShmOrTempDir(b)
		hdr, err := MarshalHeader(arrayx.Float64, arrayx.Shape{n / 8}, arrayx.OrderC)
		if err != nil {
			b.Fatal(err)
		}
		path := filepath.Join(dir, "x.npy")
		if err := os.WriteFile(path, append(hdr, randomData(arrayx.Float64, n, 1)...), 0o644); err != nil {
			b.Fatal(err)
		}
		st := teststore.At(b, filepath.Join(dir, "store"))
		b.SetBytes(n)
		b.ReportAllocs()
		for b.Loop() {
			a, _, err := Import(st, "x", path, nil)
			if err != nil {
				b.Fatal(err)
			}
			a.Close()
		}
	})
}

// BenchmarkExport exports a sealed float64 array to a .npy file beside its
// store (fsync included; free on tmpfs).
func BenchmarkExport(b *testing.B) {
	benchMethods(b, func(b *testing.B, n int64) {
		dir := testutil.ShmOrTempDir(b)
		st := teststore.At(b, filepath.Join(dir, "store"))
		a := teststore.Put(b, st, "x", arrayx.Float64, arrayx.Shape{n / 8}, arrayx.OrderC, randomData(arrayx.Float64, n, 1))
		path := filepath.Join(dir, "x.npy")
		b.SetBytes(n)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Export(a, path, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
