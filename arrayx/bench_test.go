package arrayx

import (
	"bytes"
	"testing"
)

// benchHeader returns a sealed header for an array of shape, with its
// encoding (prefix and msgpack header).
func benchHeader(b *testing.B, dt DType, shape Shape, attrs map[string]any) []byte {
	b.Helper()
	h, err := NewHeader(dt, shape, OrderC, attrs)
	if err != nil {
		b.Fatal(err)
	}
	h.Sealed, h.CRC32C = true, make([]uint32, h.NumBlocks())
	for i := range h.CRC32C {
		h.CRC32C[i] = uint32(i) * 0x9e3779b9
	}
	enc, err := h.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	return enc
}

func BenchmarkUnmarshal(b *testing.B) {
	cases := []struct {
		name  string
		dt    DType
		shape Shape
		attrs map[string]any
	}{
		{"typical", Float32, Shape{1000, 1000}, map[string]any{"units": "m", "source": "bench"}},
		// 256 GiB in 4 MiB blocks: the largest table writers produce.
		{"65536-blocks", Uint8, Shape{256 << 30}, nil},
	}
	for _, c := range cases {
		enc := benchHeader(b, c.dt, c.shape, c.attrs)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Unmarshal(enc, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReadHeader(b *testing.B) {
	enc := benchHeader(b, Float32, Shape{1000, 1000}, map[string]any{"units": "m"})
	h, err := Unmarshal(enc, Limits{})
	if err != nil {
		b.Fatal(err)
	}
	// A reader over the header only; the size says the data follows.
	r := bytes.NewReader(enc)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadHeader(r, h.FileSize(), Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshal(b *testing.B) {
	for _, c := range []struct {
		name  string
		shape Shape
	}{{"typical", Shape{1000, 1000}}, {"65536-blocks", Shape{256 << 30}}} {
		h, err := Unmarshal(benchHeader(b, Uint8, c.shape, nil), Limits{})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.Marshal(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkScanMsgpack(b *testing.B) {
	enc := benchHeader(b, Uint8, Shape{256 << 30}, nil)
	body := enc[PrefixSize:]
	// No SetBytes: the scan jumps over the 256 KiB CRC table without reading
	// it, so bytes per second would mean nothing.
	b.ReportAllocs()
	for b.Loop() {
		if _, err := scanMsgpack(body, maxAttrsDepth); err != nil {
			b.Fatal(err)
		}
	}
}
