package arrayx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/zeebo/xxh3"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	goldenFile = "float32_2x3.arx"
	// goldenV10 is the same array as the format 1.0 writer wrote it
	// (before the XXH3-128 table): every later reader must read it.
	goldenV10 = "float32_2x3_v1.0.arx"
)

// writeGolden builds the golden file with the package's writer path.
func writeGolden(tb testing.TB) []byte {
	tb.Helper()
	_, file := sealedFile(tb, Float32, Shape{2, 3}, OrderC,
		map[string]any{"units": "m", "source": "golden"}, goldenData())
	return file
}

// TestGolden checks the writer's output byte for byte against the committed
// file. Run with -update to rewrite it after an intended format change.
func TestGolden(t *testing.T) {
	got := writeGolden(t)
	path := filepath.Join("testdata", goldenFile)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", path, len(got))
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Fatalf("writer output differs from %s at byte %d (got %d bytes, want %d)\ngot  % x\nwant % x",
			path, i, len(got), len(want), window(got, i), window(want, i))
	}

	// The golden file's layout, checked without the package's decoder.
	if len(want) != 4096+24 {
		t.Errorf("golden file is %d bytes, want 4120", len(want))
	}
	if !bytes.Equal(want[:8], Magic[:]) || binary.LittleEndian.Uint16(want[8:]) != 1 || binary.LittleEndian.Uint16(want[10:]) != 1 {
		t.Errorf("golden prefix % x", want[:12])
	}
	hlen := int(binary.LittleEndian.Uint32(want[12:]))
	if PrefixSize+hlen > 4096 {
		t.Fatalf("H = %d does not fit before data_offset", hlen)
	}
	for i, c := range want[PrefixSize+hlen : 4096] {
		if c != 0 {
			t.Fatalf("padding byte %d is %#x, want 0", PrefixSize+hlen+i, c)
		}
	}
	if !bytes.Equal(want[4096:], goldenData()) {
		t.Errorf("golden data % x", want[4096:])
	}

	// And read back.
	h, err := ReadHeader(bytes.NewReader(want), int64(len(want)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	wantH := &Header{
		DType: Float32, Shape: Shape{2, 3}, Order: OrderC, NBytes: 24, DataOffset: 4096, BlockSize: 4 << 20,
		CRC32C: []uint32{crc32.Checksum(goldenData(), crc32.MakeTable(crc32.Castagnoli))},
		XXH128: [][16]byte{xxh3.Hash128(goldenData()).Bytes()}, Sealed: true,
		Attrs: map[string]any{"units": "m", "source": "golden"},
	}
	if !headersEqual(h, wantH) {
		t.Errorf("golden header\n got %+v\nwant %+v", h, wantH)
	}
	checkErr(t, h.CheckBlock(0, want[4096:]), nil)
	bad := slices.Clone(want[4096:])
	bad[5] ^= 1
	checkErr(t, h.CheckBlock(0, bad), ErrChecksum)
}

// TestGoldenV10 reads the file the format 1.0 writer wrote: the same
// array, without the XXH3-128 table, still verifies by its CRC-32C, and
// its blocks are never taken as equal to another array's (SameBlock needs
// digests on both sides).
func TestGoldenV10(t *testing.T) {
	old, err := os.ReadFile(filepath.Join("testdata", goldenV10))
	if err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint16(old[10:]) != 0 {
		t.Fatalf("%s is not a 1.0 file", goldenV10)
	}
	h, err := ReadHeader(bytes.NewReader(old), int64(len(old)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if h.XXH128 != nil || len(h.CRC32C) != 1 || !h.Sealed {
		t.Fatalf("1.0 header read as %+v", h)
	}
	checkErr(t, h.CheckBlock(0, old[4096:]), nil)
	cur, _ := sealedFile(t, Float32, Shape{2, 3}, OrderC, map[string]any{"units": "m", "source": "golden"}, goldenData())
	if h.SameBlock(cur, 0) || cur.SameBlock(h, 0) || !cur.SameBlock(cur, 0) {
		t.Error("SameBlock trusted a CRC-32C alone, or refused identical digests")
	}
	if !bytes.Equal(old[4096:], goldenData()) {
		t.Error("1.0 golden data changed")
	}
}

func window(b []byte, i int) []byte {
	return b[max(0, i-8):min(len(b), i+8)]
}

// TestIndependentWriter assembles a file by hand from the format description
// alone (keys in another order, an unknown key, a newer minor version,
// several CRC blocks, a generous data_offset) and checks the reader's view.
func TestIndependentWriter(t *testing.T) {
	const (
		rows, cols = 3, 50000
		blockSize  = 64 << 10
		dataOffset = 8192
	)
	// uint16 in Fortran order: element (i, j) at index i + j*rows.
	data := make([]byte, rows*cols*2)
	for j := range cols {
		for i := range rows {
			binary.LittleEndian.PutUint16(data[2*(i+j*rows):], uint16(i*1000+j))
		}
	}
	crcs := crcTable(data, blockSize)
	if len(crcs) != 4*5 {
		t.Fatalf("%d checksum bytes, want 5 blocks", len(crcs))
	}

	body := mp{}.mapn(10).
		str("x-writer").mapn(2).str("name").str("handmade").str("version").arr(3).uint(0).uint(1).f64(2.5).
		str("crc32c").bin(crcs).
		str("sealed").boolean(true).
		str("attrs").mapn(2).str("units").str("mm").str("scale").f64(0.25).
		str("block_size").u32(blockSize).
		str("data_offset").u16(dataOffset).
		str("nbytes").uint(uint64(len(data))).
		str("order").str("F").
		str("shape").arr(2).uint(rows).u64(cols).
		str("dtype").str("uint16")
	hdr := append(prefix(1, 3, uint32(len(body))), body...)
	file := make([]byte, dataOffset, dataOffset+len(data))
	copy(file, hdr)
	file = append(file, data...)

	h, err := ReadHeader(bytes.NewReader(file), int64(len(file)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := &Header{
		DType: Uint16, Shape: Shape{rows, cols}, Order: OrderF, NBytes: int64(len(data)),
		DataOffset: dataOffset, BlockSize: blockSize, Sealed: true,
		Attrs: map[string]any{"units": "mm", "scale": 0.25},
	}
	for i := 0; i < len(crcs); i += 4 {
		want.CRC32C = append(want.CRC32C, binary.LittleEndian.Uint32(crcs[i:]))
	}
	if !headersEqual(h, want) {
		t.Fatalf("header\n got %+v\nwant %+v", h, want)
	}
	if _, ok := h.Attrs["x-writer"]; ok {
		t.Error("the unknown top-level key leaked into attrs")
	}
	h2, err := Unmarshal(file, Limits{})
	if err != nil || !reflect.DeepEqual(h, h2) {
		t.Errorf("Unmarshal disagrees with ReadHeader: %+v, %v", h2, err)
	}

	// Every block verifies, and element offsets follow Fortran order.
	payload := file[h.DataOffset:]
	for i := range h.NumBlocks() {
		off, n := h.Block(i)
		checkErr(t, h.CheckBlock(i, payload[off:off+n]), nil)
	}
	for _, ij := range [][2]int64{{0, 0}, {2, 0}, {0, 1}, {1, 49999}, {2, 49999}} {
		off, err := h.Offset(ij[0], ij[1])
		if err != nil {
			t.Fatal(err)
		}
		if got, want := binary.LittleEndian.Uint16(payload[off:]), uint16(ij[0]*1000+ij[1]); got != want {
			t.Errorf("element %v at offset %d is %d, want %d", ij, off, got, want)
		}
	}
	corrupt := append([]byte{}, payload...)
	corrupt[3*blockSize+17] ^= 0x80
	off, n := h.Block(3)
	if err := h.CheckBlock(3, corrupt[off:off+n]); !errors.Is(err, ErrChecksum) {
		t.Errorf("corrupt block 3: %v", err)
	}
}
