// Tests of python/arrayx, the Python package, run with Debian's
// /usr/bin/python3, numpy and msgpack (.ci/run installs them; a missing one
// fails the tests, never skips them) against files the Go code wrote or
// built byte by byte, with Go's own reader as the referee for malformed ones.
package python_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/internal/testutil/teststore"
	"github.com/arrayx/arrayx/mmapstore"
	"github.com/vmihailenco/msgpack/v5"
)

// moduleDir is the directory holding the arrayx package: this test
// package's directory, where go test runs.
func moduleDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "arrayx", "__init__.py")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// preamble starts every script: arrayx imported from this directory, with
// the numpy CRC forced so that it is the code tested even where an
// accelerated CRC module is installed, and the JSON input in cases.
const preamble = `import hashlib
import json
import sys
import time

sys.path.insert(0, sys.argv[1])
import numpy as np  # noqa: E402
import arrayx  # noqa: E402

arrayx.set_crc32c_backend("numpy")
cases = json.load(sys.stdin)
`

// runPython runs preamble+script with in as JSON on stdin and decodes its
// standard output, JSON, into out.
func runPython(t *testing.T, script string, in, out any) {
	t.Helper()
	testutil.RequirePython(t, "numpy", "msgpack")
	cmd := pythonCmd(t, script, in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("python output %.500q: %v\nstderr: %s", stdout.String(), err, stderr.String())
	}
}

// pythonCmd is the command that runs preamble+script with in as JSON on
// stdin.
func pythonCmd(t *testing.T, script string, in any) *exec.Cmd {
	t.Helper()
	path := filepath.Join(t.TempDir(), "script.py")
	if err := os.WriteFile(path, []byte(preamble+script), 0o644); err != nil {
		t.Fatal(err)
	}
	stdin, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testutil.Python, "-B", "-I", path, moduleDir(t))
	cmd.Stdin = bytes.NewReader(stdin)
	return cmd
}

// writeArray creates, fills and seals an array with the Go API and returns
// its path and header.
func writeArray(t *testing.T, s *mmapstore.Store, name string, dt arrayx.DType, shape arrayx.Shape,
	order arrayx.Order, attrs map[string]any, fill func([]byte)) (string, *arrayx.Header) {
	t.Helper()
	w, err := s.Create(name, dt, shape, order, &mmapstore.CreateOptions{Attrs: attrs})
	if err != nil {
		t.Fatal(err)
	}
	fill(w.Bytes())
	a, err := w.Seal()
	if err != nil {
		t.Fatal(err)
	}
	h := a.Header().Clone()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	p, err := s.Path(name)
	if err != nil {
		t.Fatal(err)
	}
	return p, h
}

// value is element i's value (in memory order): small integers and
// quarters, exact in every dtype, bfloat16 and float16 included.
func value(dt arrayx.DType, i int) (re, im float64) {
	v := float64((i*37 + 11) % 97)
	switch dt {
	case arrayx.Bool:
		return float64(int(v) % 2), 0
	case arrayx.Uint8, arrayx.Uint16, arrayx.Uint32, arrayx.Uint64:
		return v, 0
	case arrayx.Complex64, arrayx.Complex128:
		return v - 48, (v - 48) / 4
	}
	return v - 48, 0
}

// fillValues writes value(dt, i) into every element of b.
func fillValues(dt arrayx.DType) func([]byte) {
	return func(b []byte) {
		size := dt.ItemSize()
		le := binary.LittleEndian
		for i := 0; i < len(b)/size; i++ {
			e := b[i*size : (i+1)*size]
			re, im := value(dt, i)
			switch dt {
			case arrayx.Bool, arrayx.Uint8:
				e[0] = byte(re)
			case arrayx.Int8:
				e[0] = byte(int8(re))
			case arrayx.Int16:
				le.PutUint16(e, uint16(int16(re)))
			case arrayx.Uint16:
				le.PutUint16(e, uint16(re))
			case arrayx.Int32:
				le.PutUint32(e, uint32(int32(re)))
			case arrayx.Uint32:
				le.PutUint32(e, uint32(re))
			case arrayx.Int64:
				le.PutUint64(e, uint64(int64(re)))
			case arrayx.Uint64:
				le.PutUint64(e, uint64(re))
			case arrayx.Float16:
				le.PutUint16(e, arrayx.Float32ToFloat16(float32(re)))
			case arrayx.BFloat16:
				le.PutUint16(e, arrayx.Float32ToBFloat16(float32(re)))
			case arrayx.Float32:
				le.PutUint32(e, math.Float32bits(float32(re)))
			case arrayx.Float64:
				le.PutUint64(e, math.Float64bits(re))
			case arrayx.Complex64:
				le.PutUint32(e, math.Float32bits(float32(re)))
				le.PutUint32(e[4:], math.Float32bits(float32(im)))
			case arrayx.Complex128:
				le.PutUint64(e, math.Float64bits(re))
				le.PutUint64(e[8:], math.Float64bits(im))
			}
		}
	}
}

// fillRandom fills b with bytes from a seeded generator, quickly even under
// the race detector.
func fillRandom(seed uint64) func([]byte) {
	return func(b []byte) {
		r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		for i := 0; i+8 <= len(b); i += 8 {
			binary.LittleEndian.PutUint64(b[i:], r.Uint64())
		}
		for i := len(b) &^ 7; i < len(b); i++ {
			b[i] = byte(r.Uint32())
		}
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// readData returns the data region of the array file at path.
func readData(t *testing.T, path string, h *arrayx.Header) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b[h.DataOffset:]
}

// TestEveryDType reads arrays of every dtype, both orders, 0-d, empty and
// 1-d to 3-d shapes, and compares what numpy sees with what Go wrote: dtype,
// shape, strides, read-only memmap, the bytes, elements at given indices, the
// header (attrs included), read_header, and verify=True.
func TestEveryDType(t *testing.T) {
	s := teststore.Temp(t)
	type probe struct {
		Index  []int64
		Re, Im float64
	}
	type tcase struct {
		File, Name, DType, Descr, Order string
		N                               int64 // attrs["n"]
		Shape, Strides                  []int64
		NBytes, DataOffset, BlockSize   int64
		CRC, SHA                        string
		Probes                          []probe
	}
	var cases []tcase
	shapes := []arrayx.Shape{{2, 3, 4}, {5}, {}, {0, 3}, {3, 0, 2}, {1, 1, 7}}
	for _, dt := range arrayx.DTypes() {
		for _, order := range []arrayx.Order{arrayx.OrderC, arrayx.OrderF} {
			for si, sh := range shapes {
				name := fmt.Sprintf("%s-%s-%d", dt, order, si)
				p, h := writeArray(t, s, name, dt, sh, order, map[string]any{"name": name, "n": int64(si)}, fillValues(dt))
				descr, ok := dt.NumpyDescr()
				if !ok {
					descr = "<u2" // bfloat16: raw bits
				}
				c := tcase{File: p, Name: name, DType: dt.String(), Descr: descr, Order: order.String(), N: int64(si),
					Shape: sh, Strides: h.Strides(), NBytes: h.NBytes, DataOffset: h.DataOffset,
					BlockSize: h.BlockSize, SHA: sha(readData(t, p, h)), Probes: []probe{}}
				if c.Shape == nil {
					c.Shape = []int64{}
				}
				var table []byte
				for _, v := range h.CRC32C {
					table = binary.LittleEndian.AppendUint32(table, v)
				}
				c.CRC = hex.EncodeToString(table)
				if n, _ := sh.NumElements(); n > 0 {
					for k := range 4 {
						idx := make([]int64, len(sh))
						for d := range sh {
							idx[d] = int64(k*7+d*3) % sh[d]
							if k == 3 {
								idx[d] = sh[d] - 1
							}
						}
						off, err := h.Offset(idx...)
						if err != nil {
							t.Fatal(err)
						}
						re, im := value(dt, int(off)/dt.ItemSize())
						c.Probes = append(c.Probes, probe{idx, re, im})
					}
				}
				cases = append(cases, c)
			}
		}
	}
	script := `
out = []
for c in cases:
    arr, h = arrayx.open(c["File"], verify=True)
    values = arrayx.bfloat16_to_float32(arr) if h["dtype"] == "bfloat16" else arr
    probes = []
    for p in c["Probes"]:
        v = values[tuple(p["Index"])]
        probes.append([float(np.real(v)), float(np.imag(v))])
    header = dict(h, shape=list(h["shape"]), crc32c=h["crc32c"].hex())
    out.append({
        "descr": arr.dtype.str, "shape": list(arr.shape),
        "strides": list(arr.strides), "writeable": arr.flags.writeable,
        "memmap": isinstance(arr, np.memmap), "c": arr.flags.c_contiguous,
        "f": arr.flags.f_contiguous,
        "sha": hashlib.sha256(arr.tobytes(order="A")).hexdigest(),
        "probes": probes, "header": header,
        "read_header_same": arrayx.read_header(c["File"]) == h,
        "numpy_crcs": arrayx.block_crc32c(arr, h["block_size"]).tolist(),
    })
json.dump(out, sys.stdout)
`
	var got []struct {
		Descr          string
		Shape, Strides []int64
		Writeable      bool
		Memmap         bool
		C, F           bool
		SHA            string
		Probes         [][2]float64
		Header         struct {
			DType      string
			Shape      []int64
			Order      string
			NBytes     int64
			DataOffset int64 `json:"data_offset"`
			BlockSize  int64 `json:"block_size"`
			Sealed     bool
			CRC32C     string
			Attrs      map[string]any
		}
		ReadHeaderSame bool     `json:"read_header_same"`
		NumpyCRCs      []uint32 `json:"numpy_crcs"`
	}
	runPython(t, script, cases, &got)
	if len(got) != len(cases) {
		t.Fatalf("python returned %d results for %d arrays", len(got), len(cases))
	}
	for i, c := range cases {
		g := got[i]
		eq := func(what string, a, b any) {
			if fmt.Sprint(a) != fmt.Sprint(b) {
				t.Errorf("%s: %s: python %v, Go %v", c.Name, what, a, b)
			}
		}
		eq("dtype", g.Descr, c.Descr)
		eq("shape", g.Shape, c.Shape)
		if c.NBytes > 0 { // numpy gives empty arrays zero strides
			eq("strides", g.Strides, c.Strides)
		}
		eq("writeable", g.Writeable, false)
		eq("memmap", g.Memmap, c.NBytes > 0)
		eq("bytes", g.SHA, c.SHA)
		if len(c.Shape) >= 2 && c.Shape[0] > 1 && c.NBytes > 0 {
			eq("f_contiguous", g.F, c.Order == "F")
			eq("c_contiguous", g.C, c.Order == "C")
		}
		eq("probes", len(g.Probes), len(c.Probes))
		for k := range min(len(g.Probes), len(c.Probes)) {
			eq(fmt.Sprintf("element %v", c.Probes[k].Index), g.Probes[k], [2]float64{c.Probes[k].Re, c.Probes[k].Im})
		}
		gh := g.Header
		eq("header dtype", gh.DType, c.DType)
		eq("header shape", gh.Shape, c.Shape)
		eq("header order", gh.Order, c.Order)
		eq("header nbytes", gh.NBytes, c.NBytes)
		eq("header data_offset", gh.DataOffset, c.DataOffset)
		eq("header block_size", gh.BlockSize, c.BlockSize)
		eq("header sealed", gh.Sealed, true)
		eq("header crc32c", gh.CRC32C, c.CRC)
		eq("header attrs", gh.Attrs, map[string]any{"name": c.Name, "n": float64(c.N)})
		eq("read_header == open's header", g.ReadHeaderSame, true)
		var table []byte
		for _, v := range g.NumpyCRCs {
			table = binary.LittleEndian.AppendUint32(table, v)
		}
		eq("numpy CRC table", hex.EncodeToString(table), c.CRC)
	}
}

// TestNestedAttrs checks that attrs of every msgpack kind, nested, reach
// Python as the equivalent Python values.
func TestNestedAttrs(t *testing.T) {
	s := teststore.Temp(t)
	attrs := map[string]any{
		"units":   "m",
		"int":     int64(-7),
		"big":     uint64(1<<63 + 5),
		"float":   2.5,
		"f32":     float32(0.25),
		"yes":     true,
		"none":    nil,
		"bin":     []byte{0, 1, 255},
		"unicode": "héllo ✓",
		"list":    []any{int64(1), "two", 3.5, []any{}, map[string]any{"k": "v"}},
		"nested":  map[string]any{"a": map[string]any{"b": map[string]any{"c": []int64{1, 2, 3}}}},
		"intkeys": map[int64]string{1: "one", -2: "minus two"},
		"mixed":   map[any]any{"s": int64(1), int64(2): "i", 1.5: "f", false: "b", nil: "n"},
		// Distinct keys in msgpack, equal in Python: a list of pairs.
		"clash": map[any]any{int64(1): "int", true: "bool"},
	}
	p, _ := writeArray(t, s, "attrs", arrayx.Float64, arrayx.Shape{3}, arrayx.OrderC, attrs, fillValues(arrayx.Float64))
	script := `
want = {
    "units": "m", "int": -7, "big": 2**63 + 5, "float": 2.5, "f32": 0.25,
    "yes": True, "none": None, "bin": b"\x00\x01\xff", "unicode": "h\u00e9llo \u2713",
    "list": [1, "two", 3.5, [], {"k": "v"}],
    "nested": {"a": {"b": {"c": [1, 2, 3]}}},
    "intkeys": {1: "one", -2: "minus two"},
    "mixed": {"s": 1, 2: "i", 1.5: "f", False: "b", None: "n"},
    "clash": [(1, "int"), (True, "bool")],
}


def canon(v):
    """v with every type spelled out and dicts in a fixed order."""
    if isinstance(v, dict):
        return ("dict", sorted((repr(canon(k)), canon(x))
                               for k, x in v.items()))
    if isinstance(v, (list, tuple)):
        return (type(v).__name__, [canon(x) for x in v])
    return (type(v).__name__, v)


arr, h = arrayx.open(cases["file"], verify=True)
got = h["attrs"]
bad = sorted(k for k in set(want) | set(got)
             if k not in got or k not in want
             or canon(got[k]) != canon(want[k]))
json.dump({"bad": bad, "got": repr(got)}, sys.stdout)
`
	var got struct {
		Bad []string
		Got string
	}
	runPython(t, script, map[string]string{"file": p}, &got)
	if len(got.Bad) > 0 {
		t.Errorf("attrs differ at keys %v; python has %s", got.Bad, got.Got)
	}
}

// handBuilt writes a sealed file the way a foreign writer may: any legal
// block size, the data offset just past its header. It returns the path and
// the header.
func handBuilt(t *testing.T, path string, dt arrayx.DType, shape arrayx.Shape, order arrayx.Order,
	blockSize int64, fill func([]byte)) (string, *arrayx.Header) {
	t.Helper()
	h, err := arrayx.NewHeader(dt, shape, order, map[string]any{"writer": "hand"})
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, h.NBytes)
	fill(data)
	h.BlockSize, h.Sealed, h.CRC32C = blockSize, true, nil
	for off := int64(0); off < h.NBytes; off += blockSize {
		h.CRC32C = append(h.CRC32C, arrayx.CRC32C(data[off:min(off+blockSize, h.NBytes)]))
	}
	if h.CRC32C == nil {
		h.CRC32C = []uint32{}
	}
	h.DataOffset = 1 << 24
	for {
		enc, err := h.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		need := (int64(len(enc)) + arrayx.Alignment - 1) / arrayx.Alignment * arrayx.Alignment
		if need == h.DataOffset {
			file := append(enc, make([]byte, h.DataOffset-int64(len(enc)))...)
			if err := os.WriteFile(path, append(file, data...), 0o644); err != nil {
				t.Fatal(err)
			}
			return path, h
		}
		h.DataOffset = need
	}
}

// TestMultiBlockAndCorruption reads arrays of several CRC blocks, from Go's
// writer (4 MiB blocks, the last one short) and a hand-built file of the
// smallest legal blocks, checks every block with verify=True, and then
// corrupts data bytes: verify=True must raise ChecksumError naming the first
// bad block, as Go's Verify does, while open without verify still maps.
func TestMultiBlockAndCorruption(t *testing.T) {
	s := teststore.Temp(t)
	dir := t.TempDir()
	goPath, goH := writeArray(t, s, "big", arrayx.Float32, arrayx.Shape{3, 700001}, arrayx.OrderF, nil, fillRandom(1))
	if goH.NumBlocks() != 3 || goH.BlockSize != arrayx.ChooseBlockSize(goH.NBytes) {
		t.Fatalf("want 3 blocks of %d bytes, header has %d of %d", arrayx.ChooseBlockSize(goH.NBytes), goH.NumBlocks(), goH.BlockSize)
	}
	smallPath, smallH := handBuilt(t, filepath.Join(dir, "small.arx"), arrayx.Int16, arrayx.Shape{524788}, arrayx.OrderC,
		arrayx.MinBlockSize, fillRandom(2))
	if smallH.NumBlocks() != 17 {
		t.Fatalf("hand-built file has %d blocks, want 17", smallH.NumBlocks())
	}
	type tcase struct {
		Name, File string
		Flip       []int64 // data offsets of the bytes to corrupt
		Block      int     // the first bad block, -1 if none
		Offset     int64
		Bad        []int
		SHA        string
		CRC        []uint32
	}
	var cases []tcase
	for _, base := range []struct {
		name string
		path string
		h    *arrayx.Header
	}{{"go-writer", goPath, goH}, {"hand-built", smallPath, smallH}} {
		orig, err := os.ReadFile(base.path)
		if err != nil {
			t.Fatal(err)
		}
		bs, last := base.h.BlockSize, base.h.NBytes-1
		for _, flip := range [][]int64{nil, {bs + 12345}, {0, last}, {last}, {9*bs + 1, 10 * bs}} {
			if len(flip) > 0 && flip[len(flip)-1] > last {
				continue
			}
			c := tcase{Name: fmt.Sprintf("%s flip %v", base.name, flip), File: base.path, Flip: flip, Block: -1,
				SHA: sha(orig[base.h.DataOffset:]), CRC: base.h.CRC32C}
			if len(flip) > 0 {
				b := bytes.Clone(orig)
				for _, off := range flip {
					b[base.h.DataOffset+off] ^= 0x5a
					if i := int(off / bs); len(c.Bad) == 0 || c.Bad[len(c.Bad)-1] != i {
						c.Bad = append(c.Bad, i)
					}
				}
				c.Block, c.Offset = c.Bad[0], int64(c.Bad[0])*bs
				c.File = filepath.Join(dir, fmt.Sprintf("corrupt-%d.arx", len(cases)))
				if err := os.WriteFile(c.File, b, 0o644); err != nil {
					t.Fatal(err)
				}
				// Go's reader agrees on the first bad block.
				a, err := mmapstore.Open(c.File, nil)
				if err != nil {
					t.Fatal(err)
				}
				var ce *arrayx.ChecksumError
				if err := a.Verify(); !errors.As(err, &ce) || ce.Block != c.Block {
					t.Errorf("%s: Go's Verify: %v, want block %d", c.Name, err, c.Block)
				}
				a.Close()
			}
			cases = append(cases, c)
		}
	}
	script := `
out = []
for c in cases:
    arr, h = arrayx.open(c["File"])  # maps without reading the data
    r = {"sha": hashlib.sha256(arr.tobytes(order="A")).hexdigest(),
         "crc": arrayx.block_crc32c(arr, h["block_size"]).tolist(),
         "table": np.frombuffer(h["crc32c"], "<u4").tolist()}
    try:
        arrayx.open(c["File"], verify=True)
        r["error"] = None
    except arrayx.ChecksumError as e:
        r.update(error=str(e), block=e.block, offset=e.offset,
                 file_offset=e.file_offset, bad=e.bad_blocks,
                 want=e.want, got=e.got)
    out.append(r)
json.dump(out, sys.stdout)
`
	var got []struct {
		SHA        string
		CRC, Table []uint32
		Error      *string
		Block      int
		Offset     int64
		FileOffset int64 `json:"file_offset"`
		Bad        []int
		Want, Got  uint32
	}
	runPython(t, script, cases, &got)
	if len(got) != len(cases) {
		t.Fatalf("python returned %d results for %d files", len(got), len(cases))
	}
	for i, c := range cases {
		g := got[i]
		if c.Block < 0 {
			if g.SHA != c.SHA || fmt.Sprint(g.CRC) != fmt.Sprint(c.CRC) || fmt.Sprint(g.Table) != fmt.Sprint(c.CRC) {
				t.Errorf("%s: python's bytes or CRCs differ from Go's:\nCRCs  %v\ntable %v\nGo    %v", c.Name, g.CRC, g.Table, c.CRC)
			}
			if g.Error != nil {
				t.Errorf("%s: verify=True failed on a good file: %s", c.Name, *g.Error)
			}
			continue
		}
		if g.Error == nil {
			t.Errorf("%s: verify=True accepted a corrupted file", c.Name)
			continue
		}
		h := goH
		if strings.HasPrefix(c.Name, "hand") {
			h = smallH
		}
		if g.Block != c.Block || g.Offset != c.Offset || g.FileOffset != h.DataOffset+c.Offset ||
			fmt.Sprint(g.Bad) != fmt.Sprint(c.Bad) || g.Want != h.CRC32C[c.Block] || g.Got == g.Want {
			t.Errorf("%s: ChecksumError %+v, want block %d at %d, bad blocks %v", c.Name, g, c.Block, c.Offset, c.Bad)
		}
		for _, want := range []string{fmt.Sprintf("block %d of %d", c.Block, h.NumBlocks()), c.File, "checksum mismatch"} {
			if !strings.Contains(*g.Error, want) {
				t.Errorf("%s: message %q lacks %q", c.Name, *g.Error, want)
			}
		}
	}
}

// TestCRC32C checks the numpy CRC-32C (and the accelerated module, if one is
// installed) against Go's on slices of every awkward length and offset and
// on block tables of several block sizes.
func TestCRC32C(t *testing.T) {
	data := make([]byte, 9<<20+4321)
	fillRandom(7)(data)
	path := filepath.Join(t.TempDir(), "data.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	type slice struct{ Off, N int }
	type table struct {
		N, BlockSize int
		Want         []uint32
	}
	in := struct {
		File   string
		Slices []slice
		Want   []uint32
		Tables []table
	}{File: path}
	for _, n := range []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 63, 64, 65, 127, 128, 129, 1000, 4095, 4096, 4097,
		65535, 65536, 65537, 1<<19 - 1, 1 << 19, 1<<19 + 1, 1<<19 + 64, 1<<22 - 1, 1 << 22, 1<<22 + 65, len(data)} {
		for _, off := range []int{0, 1, 3, 61} {
			if off+n <= len(data) {
				in.Slices = append(in.Slices, slice{off, n})
				in.Want = append(in.Want, arrayx.CRC32C(data[off:off+n]))
			}
		}
	}
	for _, tb := range []table{{1000, 1, nil}, {10000, 64, nil}, {100000, 100, nil}, {len(data), 4096, nil},
		{len(data), 65536, nil}, {len(data), 1 << 19, nil}, {len(data), 1 << 20, nil}, {len(data), 1 << 22, nil},
		{len(data), 1 << 23, nil}, {1 << 22, 1 << 20, nil}, {0, 65536, nil}, {65536*3 + 1, 65536, nil}} {
		for off := 0; off < tb.N; off += tb.BlockSize {
			tb.Want = append(tb.Want, arrayx.CRC32C(data[off:min(off+tb.BlockSize, tb.N)]))
		}
		if tb.Want == nil {
			tb.Want = []uint32{}
		}
		in.Tables = append(in.Tables, tb)
	}
	script := `
data = np.fromfile(cases["File"], dtype=np.uint8)
bad = []
for backend in sorted(arrayx._format._BACKENDS):  # numpy, and any CRC module
    arrayx.set_crc32c_backend(backend)
    if arrayx.crc32c(b"123456789") != 0xE3069283:
        bad.append(f"{backend}: check value")
    for s, want in zip(cases["Slices"], cases["Want"]):
        part = data[s["Off"]:s["Off"] + s["N"]]
        if arrayx.crc32c(part) != want:
            bad.append(f"{backend}: crc32c of {s}")
        if arrayx.crc32c(part.tobytes()) != want:
            bad.append(f"{backend}: crc32c of bytes {s}")
        cut = s["N"] // 3
        if arrayx.crc32c(part[cut:], arrayx.crc32c(part[:cut])) != want:
            bad.append(f"{backend}: continued crc32c of {s}")
    for tb in cases["Tables"]:
        got = arrayx.block_crc32c(data[:tb["N"]], tb["BlockSize"])
        if got.dtype != np.uint32 or got.tolist() != tb["Want"]:
            bad.append(f"{backend}: table of {tb['N']} bytes in blocks "
                       f"of {tb['BlockSize']}")
json.dump(bad, sys.stdout)
`
	var bad []string
	runPython(t, script, in, &bad)
	for _, b := range bad {
		t.Errorf("python CRC-32C differs from Go's: %s", b)
	}
}

// kv is one pair of a hand-built msgpack map. Keys and values are encoded
// by msgpack (shortest integers); msgpack.RawMessage gives exact bytes.
type kv struct{ k, v any }

// omap is a msgpack map written in its given order, duplicates included.
type omap []kv

func (m omap) EncodeMsgpack(enc *msgpack.Encoder) error {
	if err := enc.EncodeMapLen(len(m)); err != nil {
		return err
	}
	for _, p := range m {
		if err := enc.Encode(p.k); err != nil {
			return err
		}
		if err := enc.Encode(p.v); err != nil {
			return err
		}
	}
	return nil
}

// set returns a copy of m with key's value replaced (or appended).
func (m omap) set(key string, v any) omap {
	out := append(omap{}, m...)
	for i, p := range out {
		if p.k == key {
			out[i].v = v
			return out
		}
	}
	return append(out, kv{key, v})
}

// del returns a copy of m without key.
func (m omap) del(key string) omap {
	var out omap
	for _, p := range m {
		if p.k != key {
			out = append(out, p)
		}
	}
	return out
}

func mpEncode(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// assemble lays out a file: prefix (magic, version, H = len(body)), body,
// zeros up to off, data.
func assemble(major, minor uint16, body []byte, off int, data []byte) []byte {
	b := append([]byte{}, arrayx.Magic[:]...)
	b = binary.LittleEndian.AppendUint16(b, major)
	b = binary.LittleEndian.AppendUint16(b, minor)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(body)))
	b = append(b, body...)
	if off > len(b) {
		b = append(b, make([]byte, off-len(b))...)
	}
	return append(b, data...)
}

func crcTable(data []byte, bs int) []byte {
	table := []byte{}
	for off := 0; off < len(data); off += bs {
		table = binary.LittleEndian.AppendUint32(table, arrayx.CRC32C(data[off:min(off+bs, len(data))]))
	}
	return table
}

// nested returns depth arrays nested around a 1: [[...[1]...]].
func nested(depth int) any {
	var v any = int64(1)
	for range depth {
		v = []any{v}
	}
	return v
}

// TestMalformed feeds the Python reader files edited or built byte by byte, one
// defect each, plus unusual but valid ones. Python must raise FormatError
// (a ValueError) naming the problem, from open (verify=True) and
// read_header alike, and accept exactly the files Go's reader accepts.
func TestMalformed(t *testing.T) {
	data := make([]byte, 24)
	for i := range 6 {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(float32(i)))
	}
	const bs = 4 << 20
	good := omap{{"dtype", "float32"}, {"shape", []int64{2, 3}}, {"order", "C"}, {"nbytes", 24},
		{"data_offset", 4096}, {"block_size", bs}, {"sealed", true}, {"crc32c", crcTable(data, bs)},
		{"attrs", omap{{"units", "m"}}}}
	file := func(h omap) []byte { return assemble(1, 0, mpEncode(t, h), 4096, data) }
	goodFile := file(good)
	hlen := len(mpEncode(t, good))
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(goodFile)) }
	setH := func(h uint32) []byte {
		return edit(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[12:], h); return b })
	}
	raw := func(b ...byte) msgpack.RawMessage { return msgpack.RawMessage(b) }
	big := strings.Repeat("x", 5000)

	// The writer's own unsealed temporary file, caught before Seal.
	s := teststore.Temp(t)
	w, err := s.Create("unsealed", arrayx.Float32, arrayx.Shape{2, 3}, arrayx.OrderC, nil)
	if err != nil {
		t.Fatal(err)
	}
	fillValues(arrayx.Float32)(w.Bytes())
	tmp, _ := filepath.Glob(filepath.Join(s.Dir(), ".unsealed.arx.tmp-*"))
	if len(tmp) != 1 {
		t.Fatalf("want the writer's temporary file, found %v", tmp)
	}
	unsealed, err := os.ReadFile(tmp[0])
	if err != nil {
		t.Fatal(err)
	}
	w.Abort()

	cases := []struct {
		name string
		file []byte
		want string // lower-case substring of the message; "" means valid
	}{
		// Valid, if unusual.
		{"reference layout", goodFile, ""},
		{"higher minor version, unknown keys", assemble(1, 9, mpEncode(t, append(good,
			kv{"future", omap{{[]any{1}, "list key"}, {raw(0xc4, 1, 0), nil}}}, kv{"zz", nested(20)})), 4096, data), ""},
		{"attrs nil", file(good.set("attrs", nil)), ""},
		{"no attrs", file(good.del("attrs")), ""},
		{"keys in another order", file(omap{good[7], good[8], good[6], good[5], good[4], good[3], good[2], good[1], good[0]}), ""},
		{"wide integer encodings", file(good.set("nbytes", raw(0xcf, 0, 0, 0, 0, 0, 0, 0, 24)).
			set("shape", []any{raw(0xd0, 2), raw(0xd3, 0, 0, 0, 0, 0, 0, 0, 3)}).set("data_offset", raw(0xd2, 0, 0, 0x10, 0))), ""},
		{"str8 and str16 keys", file(omap{{raw(0xd9, 5, 'd', 't', 'y', 'p', 'e'), "float32"}}.set("shape", []int64{2, 3}).
			set("order", raw(0xda, 0, 1, 'C')).set("nbytes", 24).set("data_offset", 4096).set("block_size", bs).
			set("sealed", true).set("crc32c", crcTable(data, bs))), ""},
		{"map16 header", assemble(1, 0, append([]byte{0xde, 0, byte(len(good))}, mpEncode(t, good)[1:]...), 4096, data), ""},
		{"data offset beyond the minimum", assemble(1, 0, mpEncode(t, good.set("data_offset", 8192)), 8192, data), ""},
		{"nesting 32 deep", file(good.set("attrs", omap{{"deep", nested(30)}})), ""},
		{"invalid UTF-8 in an attrs string", file(good.set("attrs", omap{{"s", raw(0xa2, 0xff, 0xfe)}})), ""},

		// 1. Prefix.
		{"empty file", []byte{}, "truncated: file is 0 bytes"},
		{"15 bytes", goodFile[:15], "truncated: file is 15 bytes"},
		{"bad magic", edit(func(b []byte) []byte { b[0] = 0x88; return b }), "bad magic"},
		{"text-mode mangled magic", edit(func(b []byte) []byte { return append(b[:4], b[5:]...) }), "bad magic"},
		{"major version 2", edit(func(b []byte) []byte { b[8] = 2; return b }), "major version 2"},
		{"major version 0", edit(func(b []byte) []byte { b[8] = 0; return b }), "major version 0"},
		// 2. Header length.
		{"header length over the limit", setH(1<<20 + 1), "header length 1048577 exceeds the limit of 1048576"},
		{"header length 4 GiB", setH(math.MaxUint32), "exceeds the limit"},
		{"header length beyond the file", goodFile[:16+hlen-1], fmt.Sprintf("truncated: header declares %d bytes, file has %d", hlen, hlen-1)},
		// 3. Decoding.
		{"header length short of the map", setH(uint32(hlen - 3)), "msgpack truncated"},
		{"header length past the map", setH(uint32(hlen + 5)), "5 bytes after the header map"},
		{"header not a map", assemble(1, 0, mpEncode(t, []int{1, 2}), 4096, data), "not a msgpack map"},
		{"reserved byte", assemble(1, 0, []byte{0x81, 0xa1, 'x', 0xc1}, 4096, data), "reserved"},
		{"string length lie", file(good.set("attrs", omap{{"s", raw(0xdb, 0x7f, 0xff, 0xff, 0xff, 'a')}})), "msgpack truncated"},
		{"array length lie", file(good.set("shape", raw(0xdd, 0xff, 0xff, 0xff, 0xff, 2, 3))), "msgpack truncated"},
		{"nesting 33 deep", file(good.set("attrs", omap{{"deep", nested(31)}})), "nested deeper than 32"},
		{"duplicate key", file(append(good, kv{"dtype", "float32"})), "dtype: duplicate key"},
		{"missing key", file(good.del("block_size")), "block_size: missing"},
		{"integer key", file(append(good, kv{7, "x"})), "a key is not a string"},
		{"binary key", file(append(good, kv{[]byte("x"), "x"})), "a key is not a string"},
		// 4. Fields.
		{"unknown dtype", file(good.set("dtype", "float8")), "dtype: 'float8' is not an arrayx dtype name"},
		{"numpy type string as dtype", file(good.set("dtype", "<f4")), "is not an arrayx dtype name"},
		{"dtype not a string", file(good.set("dtype", 7)), "dtype: not a string"},
		{"dtype as binary", file(good.set("dtype", []byte("float32"))), "dtype: not a string"},
		{"bad order", file(good.set("order", "X")), "order: 'x'"},
		{"shape not an array", file(good.set("shape", 6)), "shape: not an array"},
		{"negative dimension", file(good.set("shape", []int64{-2, 3})), "shape: negative"},
		{"float dimension", file(good.set("shape", []any{2.0, 3})), "shape: not an integer"},
		{"rank 65", file(good.set("shape", make([]int64, 65))), "rank 65 exceeds 64"},
		{"shape overflows int64", file(good.set("shape", []int64{1 << 62, 4}).set("nbytes", 0)), "overflows int64"},
		{"overflow beside a zero dimension", file(good.set("shape", []int64{0, 1 << 62, 1 << 62}).set("nbytes", 0)), "overflows int64"},
		{"lying nbytes", assemble(1, 0, mpEncode(t, good.set("nbytes", 20).set("crc32c", crcTable(data[:20], bs))), 4096, data[:20]),
			"nbytes: 20, but shape (2, 3) of float32 is 24 bytes"},
		{"nbytes a float", file(good.set("nbytes", 24.0)), "nbytes: not an integer"},
		{"nbytes negative", file(good.set("nbytes", -24)), "nbytes: negative"},
		{"nbytes beyond int64", file(good.set("nbytes", uint64(1<<63))), "exceeds 2^63-1"},
		{"misaligned data offset", assemble(1, 0, mpEncode(t, good.set("data_offset", 4100)), 4100, data),
			"data_offset: 4100 is not a positive multiple of 4096"},
		{"data offset 0", file(good.set("data_offset", 0)), "data_offset: 0 is not a positive multiple"},
		{"data offset inside the header", file(good.set("attrs", omap{{"big", big}})), "data_offset: 4096 is inside the"},
		{"block size not a power of two", file(good.set("block_size", 100000)), "block_size: 100000 is not a power of two"},
		{"block size too small", file(good.set("block_size", 32768)), "block_size: 32768"},
		{"block size too large", file(good.set("block_size", int64(1)<<31)), "block_size: 2147483648"},
		{"CRC table too long", file(good.set("crc32c", make([]byte, 8))), "crc32c: 2 checksums for 1 blocks"},
		{"CRC table torn", file(good.set("crc32c", make([]byte, 5))), "not a whole number"},
		{"CRC table not binary", file(good.set("crc32c", "abcd")), "crc32c: not binary"},
		{"sealed without CRC table", file(good.del("crc32c")), "crc32c: missing from a sealed header"},
		{"sealed not a bool", file(good.set("sealed", 1)), "sealed: not a bool"},
		{"attrs not a map", file(good.set("attrs", []int{1})), "attrs: not a map"},
		{"attrs integer key", file(good.set("attrs", omap{{1, "x"}})), "attrs: a key is not a string"},
		{"attrs duplicate key", file(good.set("attrs", omap{{"a", 1}, {"a", 2}})), "attrs: duplicate key 'a'"},
		{"nested duplicate key", file(good.set("attrs", omap{{"m", omap{{1, "x"}, {1, "y"}}}})), "duplicate key 1"},
		{"nested list key", file(good.set("attrs", omap{{"m", omap{{[]int{1}, "x"}}}})), "map key of type array"},
		{"nested binary key", file(good.set("attrs", omap{{"m", omap{{[]byte("k"), "x"}}}})), "map key of type binary"},
		// 5. File size.
		{"truncated data", goodFile[:len(goodFile)-1], "truncated: file is 4119 bytes, header declares data_offset 4096 + nbytes 24 = 4120"},
		{"trailing bytes", append(bytes.Clone(goodFile), 0), "trailing bytes after data: file is 4121 bytes"},
		{"data missing", goodFile[:4096], "truncated: file is 4096 bytes"},
		// 6. Sealed.
		{"sealed flag false", file(good.set("sealed", false)), "not sealed"},
		{"writer's temporary file", unsealed, "not sealed"},
	}
	dir := t.TempDir()
	type in struct{ Name, File string }
	var files []in
	for i, c := range cases {
		p := filepath.Join(dir, fmt.Sprintf("case%02d.arx", i))
		if err := os.WriteFile(p, c.file, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, in{c.name, p})
	}
	script := `
def attempt(f, *args, **kw):
    try:
        f(*args, **kw)
        return None
    except arrayx.FormatError as e:
        return {"type": type(e).__name__, "value_error": isinstance(e, ValueError),
                "msg": str(e)}
    except Exception as e:
        return {"type": type(e).__name__, "unexpected": True, "msg": repr(e)}

out = []
for c in cases:
    out.append({"open": attempt(arrayx.open, c["File"], verify=True),
                "read_header": attempt(arrayx.read_header, c["File"])})
json.dump(out, sys.stdout)
`
	type result struct {
		Type       string
		ValueError bool `json:"value_error"`
		Unexpected bool
		Msg        string
	}
	var got []struct {
		Open       *result
		ReadHeader *result `json:"read_header"`
	}
	runPython(t, script, files, &got)
	if len(got) != len(cases) {
		t.Fatalf("python returned %d results for %d files", len(got), len(cases))
	}
	for i, c := range cases {
		g := got[i]
		var goErr error
		if a, err := mmapstore.Open(files[i].File, nil); err != nil {
			goErr = err
		} else {
			goErr = a.Verify()
			a.Close()
		}
		if (goErr == nil) != (c.want == "") {
			t.Errorf("%s: test expects valid=%v, but Go's reader says %v", c.name, c.want == "", goErr)
		}
		if c.want == "" {
			if g.Open != nil || g.ReadHeader != nil {
				t.Errorf("%s: python refused a valid file: open %+v, read_header %+v", c.name, g.Open, g.ReadHeader)
			}
			continue
		}
		for _, r := range []struct {
			fn  string
			res *result
		}{{"open", g.Open}, {"read_header", g.ReadHeader}} {
			switch {
			case r.res == nil:
				t.Errorf("%s: python's %s accepted it (Go: %v)", c.name, r.fn, goErr)
			case r.res.Unexpected || r.res.Type != "FormatError" || !r.res.ValueError:
				t.Errorf("%s: python's %s raised %s, want FormatError: %s", c.name, r.fn, r.res.Type, r.res.Msg)
			case !strings.Contains(strings.ToLower(r.res.Msg), c.want) || !strings.HasPrefix(r.res.Msg, files[i].File+": "):
				t.Errorf("%s: python's %s says %q, want the path and %q (Go: %v)", c.name, r.fn, r.res.Msg, c.want, goErr)
			}
		}
	}
}

// TestAPI covers the module's smaller promises: read_header on paths and
// file objects, the header limit, allow_unsealed, the exception classes,
// OSError for a missing file, verify() on an array, and bfloat16 widening in
// both orders and for 0-d arrays.
func TestAPI(t *testing.T) {
	s := teststore.Temp(t)
	f32, _ := writeArray(t, s, "f32", arrayx.Float32, arrayx.Shape{2, 3}, arrayx.OrderC, map[string]any{"units": "m"},
		fillValues(arrayx.Float32))
	bf, _ := writeArray(t, s, "bf", arrayx.BFloat16, arrayx.Shape{3, 4}, arrayx.OrderF, nil, fillValues(arrayx.BFloat16))
	bf0, _ := writeArray(t, s, "bf0", arrayx.BFloat16, arrayx.Shape{}, arrayx.OrderC, nil, fillValues(arrayx.BFloat16))
	w, err := s.Create("partial", arrayx.Float32, arrayx.Shape{2, 3}, arrayx.OrderC, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	tmp, _ := filepath.Glob(filepath.Join(s.Dir(), ".partial.arx.tmp-*"))
	if len(tmp) != 1 {
		t.Fatalf("want the writer's temporary file, found %v", tmp)
	}
	want := make([]float64, 12)
	for i := range want {
		want[i], _ = value(arrayx.BFloat16, i)
	}
	in := map[string]any{"f32": f32, "bf": bf, "bf0": bf0, "tmp": tmp[0], "missing": filepath.Join(s.Dir(), "missing.arx"),
		"bf_values": want}
	script := `
import io
import os

c = cases
fails = []


def check(cond, what):
    if not cond:
        fails.append(what)


def raises(exc, f, *args, **kw):
    try:
        f(*args, **kw)
    except exc as e:
        return str(e)
    fails.append(f"{f.__name__}{args} did not raise {exc.__name__}")
    return ""


check(issubclass(arrayx.FormatError, ValueError), "FormatError is a ValueError")
check(issubclass(arrayx.ChecksumError, arrayx.FormatError),
      "ChecksumError is a FormatError")
arr, h = opened = arrayx.open(c["f32"])
check(opened.array is arr and opened.header is h, "ArrayFile fields")
check(isinstance(arr, np.memmap) and arr.dtype == np.dtype("<f4"), "memmap")
check(raises(ValueError, arr.__setitem__, (0, 0), 1.0) != "", "read-only")
with open(c["f32"], "rb") as f:
    check(arrayx.read_header(f) == h, "read_header(file object)")
with open(c["f32"], "rb") as f:
    check(arrayx.read_header(io.BytesIO(f.read())) == h,
          "read_header(BytesIO)")
check(arrayx.read_header(c["f32"].encode()) == h, "read_header(bytes path)")
msg = raises(arrayx.FormatError, arrayx.open, c["f32"], max_header=50)
check("exceeds the limit of 50 bytes" in msg, f"max_header: {msg}")
check(arrayx.read_header(c["f32"], max_header=200) == h, "max_header=200")
arrayx.verify(arr, h)
bad = dict(h, crc32c=b"\0\0\0\0")
msg = raises(arrayx.ChecksumError, arrayx.verify, arr, bad)
check("block 0 of 1" in msg, f"verify message: {msg}")
raises(FileNotFoundError, arrayx.open, c["missing"])
msg = raises(arrayx.FormatError, arrayx.read_header, c["tmp"])
check("not sealed" in msg, f"unsealed: {msg}")
u = arrayx.read_header(c["tmp"], allow_unsealed=True)
check(u["sealed"] is False and u["crc32c"] is None, f"allow_unsealed: {u}")
msg = raises(arrayx.FormatError, arrayx.open, c["tmp"])
check("not sealed" in msg, f"open unsealed: {msg}")
check(arrayx.crc32c(b"123456789") == 0xE3069283, "check value")
check(arrayx.crc32c(b"") == 0, "empty CRC")

bits, h = arrayx.open(c["bf"], verify=True)
check(h["dtype"] == "bfloat16" and bits.dtype == np.dtype("<u2"), "bf16 bits")
wide = arrayx.bfloat16_to_float32(bits)
check(wide.dtype == np.dtype("<f4") and wide.shape == (3, 4)
      and wide.flags.f_contiguous, f"bf16 widened: {wide.dtype} {wide.flags}")
check(wide.ravel(order="F").tolist() == c["bf_values"], f"bf16: {wide}")
bits0, h0 = arrayx.open(c["bf0"], verify=True)
w0 = arrayx.bfloat16_to_float32(bits0)
check(bits0.shape == () and isinstance(w0, np.ndarray) and w0.shape == ()
      and float(w0) == c["bf_values"][0], f"0-d bf16: {w0!r}")
msg = raises(arrayx.FormatError, arrayx.open, os.path.dirname(c["f32"]))
check("not a regular file" in msg, f"directory: {msg}")
raises(TypeError, arrayx.bfloat16_to_float32, np.zeros(2, np.float32))
json.dump(fails, sys.stdout)
`
	var fails []string
	runPython(t, script, in, &fails)
	for _, f := range fails {
		t.Error(f)
	}
}

// TestCLI runs python -m arrayx on a good file, a corrupted one and
// one with a bad magic.
func TestCLI(t *testing.T) {
	testutil.RequirePython(t, "numpy", "msgpack")
	s := teststore.Temp(t)
	good, h := writeArray(t, s, "cli", arrayx.Float64, arrayx.Shape{4, 5}, arrayx.OrderF, map[string]any{"units": "m/s"},
		fillValues(arrayx.Float64))
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	corrupt, badMagic := filepath.Join(dir, "corrupt.arx"), filepath.Join(dir, "magic.arx")
	b[h.DataOffset+7] ^= 1
	if err := os.WriteFile(corrupt, b, 0o644); err != nil {
		t.Fatal(err)
	}
	b[0] = 'X'
	if err := os.WriteFile(badMagic, b, 0o644); err != nil {
		t.Fatal(err)
	}
	pkg := moduleDir(t)
	for _, c := range []struct {
		args     []string
		ok       bool
		contains []string
	}{
		{[]string{good}, true, []string{"dtype:       float64 (numpy <f8)", "shape:       (4, 5)", "order:       F", `"units": "m/s"`,
			"[[-37.  14. -32.  19. -27.]"}},
		{[]string{good, "--verify"}, true, []string{"verify:      ok, 1 block checked in"}},
		{[]string{corrupt}, true, []string{"shape:       (4, 5)"}},
		{[]string{corrupt, "--verify"}, false, []string{"arrayx: error: " + corrupt + ": checksum mismatch in block 0 of 1"}},
		{[]string{badMagic}, false, []string{"bad magic"}},
	} {
		cmd := exec.Command(testutil.Python, append([]string{"-B", "-m", "arrayx"}, c.args...)...)
		cmd.Dir = pkg // -m finds the package in the working directory
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if (err == nil) != c.ok {
			t.Errorf("python -m arrayx %v: %v, want success %v\n%s%s", c.args, err, c.ok, stdout.String(), stderr.String())
		}
		for _, want := range c.contains {
			if !strings.Contains(stdout.String()+stderr.String(), want) {
				t.Errorf("python -m arrayx %v: output lacks %q:\n%s%s", c.args, want, stdout.String(), stderr.String())
			}
		}
	}
}

// TestCRCSpeed measures the numpy CRC-32C and open(verify=True) on a 64 MiB
// array Go wrote, and logs the rates (go test -v -run CRCSpeed ./python/).
func TestCRCSpeed(t *testing.T) {
	s := teststore.Temp(t)
	p, h := writeArray(t, s, "speed", arrayx.Float32, arrayx.Shape{4096, 4096}, arrayx.OrderC, nil, func(b []byte) {
		fillRandom(3)(b[:1<<20])
		for n := 1 << 20; n < len(b); n *= 2 {
			copy(b[n:], b[:n])
		}
	})
	script := `
arr, h = arrayx.open(cases["file"])
data = np.asarray(arr)
crc_rate = 0
for _ in range(3):  # the first pass also faults the pages in
    t0 = time.perf_counter()
    table = arrayx.block_crc32c(data, h["block_size"])
    crc_rate = max(crc_rate, data.nbytes / (time.perf_counter() - t0) / 1e6)
t0 = time.perf_counter()
arrayx.open(cases["file"], verify=True)
verify_rate = data.nbytes / (time.perf_counter() - t0) / 1e6
json.dump({"crc": crc_rate, "verify": verify_rate,
           "ok": table.tobytes() == h["crc32c"]}, sys.stdout)
`
	var got struct {
		CRC, Verify float64
		OK          bool
	}
	runPython(t, script, map[string]string{"file": p}, &got)
	if !got.OK {
		t.Fatalf("numpy CRC table of %s differs from Go's", p)
	}
	t.Logf("python numpy CRC-32C: %.0f MB/s over %d MiB in %d blocks; open(verify=True): %.0f MB/s",
		got.CRC, h.NBytes>>20, h.NumBlocks(), got.Verify)
}
