package docs

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/internal/testutil/teststore"
	"github.com/arrayx/arrayx/mmapstore"
)

// fenced returns the body of the fenced code block that follows the HTML
// comment marker <!-- name --> in FORMAT.md.
func fenced(t *testing.T, name string) string {
	t.Helper()
	doc, err := os.ReadFile("FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)<!-- " + regexp.QuoteMeta(name) + " -->\\s*```[a-z]*\\n(.*?)```")
	m := re.FindSubmatch(doc)
	if m == nil {
		t.Fatalf("FORMAT.md has no code block marked %q", name)
	}
	return string(m[1])
}

// exampleFile is the worked example of FORMAT.md: float32 [[0 1 2] [3 4 5]]
// with attrs {"units": "m"}, sealed.
func exampleFile(t *testing.T) (prefixAndHeader []byte, h *arrayx.Header) {
	h, err := arrayx.NewHeader(arrayx.Float32, arrayx.Shape{2, 3}, arrayx.OrderC, map[string]any{"units": "m"})
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 24)
	for i := range 6 {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(float32(i)))
	}
	sum := arrayx.SumBlock(data, true)
	h.Sealed, h.CRC32C, h.XXH128 = true, []uint32{sum.CRC32C}, [][16]byte{sum.XXH128}
	b, err := h.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b, h
}

func TestFormatExampleBytes(t *testing.T) {
	b, h := exampleFile(t)
	if got, want := hex.Dump(b), fenced(t, "example-hexdump"); got != want {
		t.Fatalf("FORMAT.md's example bytes differ from the code's.\ncode:\n%s\ndoc:\n%s", got, want)
	}
	facts := fenced(t, "example-facts")
	for _, want := range []string{
		fmt.Sprintf("H = %d", len(b)-arrayx.PrefixSize),
		fmt.Sprintf("data_offset = %d", h.DataOffset),
		fmt.Sprintf("file size = %d", h.FileSize()),
		fmt.Sprintf("crc32c[0] = %08x", h.CRC32C[0]),
		fmt.Sprintf("xxh3_128[0] = %x", h.XXH128[0]),
	} {
		if !strings.Contains(facts, want) {
			t.Errorf("FORMAT.md example facts lack %q:\n%s", want, facts)
		}
	}
}

// TestFormatTables checks the numbers the prose states against the code.
func TestFormatTables(t *testing.T) {
	doc, err := os.ReadFile("FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	for _, dt := range arrayx.DTypes() {
		np, ok := dt.NumpyDescr()
		if !ok {
			np = "none"
		}
		row := fmt.Sprintf("| `%s` | %d | `%s` |", dt, dt.ItemSize(), np)
		if np == "none" {
			row = fmt.Sprintf("| `%s` | %d | none |", dt, dt.ItemSize())
		}
		if !strings.Contains(text, row) {
			t.Errorf("FORMAT.md lacks the dtype row %q", row)
		}
	}
	for _, v := range []string{"", "123456789"} {
		if d := fmt.Sprintf("%x", arrayx.SumBlock([]byte(v), true).XXH128); !strings.Contains(text, "`"+d+"`") {
			t.Errorf("FORMAT.md lacks the XXH3-128 test vector of %q, %s", v, d)
		}
	}
	if !strings.Contains(text, fmt.Sprintf("at most %s blocks", group(arrayx.MaxDigestBlocks))) ||
		!strings.Contains(text, fmt.Sprintf("no XXH3-128 beyond %s blocks", group(arrayx.MaxDigestBlocks))) ||
		arrayx.ChooseBlockSize(128<<30) != 4<<20 || arrayx.ChooseBlockSize(128<<30+1) != 8<<20 {
		t.Error("FORMAT.md's block and digest limits are out of date")
	}
	magic := strings.ToUpper(hex.EncodeToString(arrayx.Magic[:]))
	spaced := regexp.MustCompile("..").ReplaceAllString(magic, "$0 ")
	if !strings.Contains(text, strings.TrimSpace(spaced)) {
		t.Errorf("FORMAT.md lacks the magic %q", spaced)
	}
}

// TestPythonReader runs FORMAT.md's Python reader with Debian's numpy and
// msgpack (/usr/bin/python3) over arrays the Go code wrote, for every dtype,
// both orders, a 0-d and an empty array. .ci/run installs the packages; a
// missing one fails the test.
func TestPythonReader(t *testing.T) {
	testutil.RequirePython(t, "numpy", "msgpack")
	dir := t.TempDir()
	s := teststore.At(t, dir)
	type want struct {
		File, DType, Order string
		Shape              []int64
		Probe              *float64 // value at the last index of every dimension; nil if empty
	}
	var cases []want
	for _, dt := range arrayx.DTypes() {
		for _, sh := range []arrayx.Shape{{2, 3, 4}, {}, {0, 3}} {
			for _, order := range []arrayx.Order{arrayx.OrderC, arrayx.OrderF} {
				name := fmt.Sprintf("%s-%s-%d", dt, order, len(sh))
				if sh.Equal(arrayx.Shape{0, 3}) {
					name += "-empty"
				}
				w, err := s.Create(name, dt, sh, order, &mmapstore.CreateOptions{Attrs: map[string]any{"n": 1}})
				if err != nil {
					t.Fatal(err)
				}
				fillIndex(w.Bytes(), dt)
				a, err := w.Seal()
				if err != nil {
					t.Fatal(err)
				}
				var probe *float64
				if n, _ := sh.NumElements(); n > 0 {
					idx := make([]int64, len(sh))
					for i := range sh {
						idx[i] = sh[i] - 1
					}
					off, err := a.Header().Offset(idx...)
					if err != nil {
						t.Fatal(err)
					}
					v := float64(off / int64(dt.ItemSize()))
					if dt == arrayx.Bool {
						v = float64(int(v) % 2)
					}
					probe = &v
				}
				a.Close()
				p, _ := s.Path(name)
				cases = append(cases, want{p, dt.String(), order.String(), sh, probe})
			}
		}
	}
	reader := fenced(t, "python-reader")
	driver := `
import json, sys
import numpy as np
out = []
for c in json.load(sys.stdin):
    arr, h = read_arrayx(c["File"])
    readonly = not arr.flags.writeable
    if h["dtype"] == "bfloat16":   # raw bits: widen to float32
        u = np.asarray(arr).astype(np.uint32, order="K") << np.uint32(16)
        arr = u.reshape(1).view(np.float32).reshape(()) if u.ndim == 0 else u.view(np.float32)
    flat = np.asarray(arr).ravel(order="K")
    n = flat.size
    if h["dtype"] == "bool":
        expect = (np.arange(n) % 2).astype(bool)
    else:
        expect = np.arange(n).astype(flat.dtype)
    probe = None
    if n:
        v = arr[tuple(d - 1 for d in arr.shape)]
        probe = float(np.real(v))
    out.append({"dtype": h["dtype"], "shape": list(arr.shape),
                "f": bool(arr.flags.f_contiguous), "c": bool(arr.flags.c_contiguous),
                "mem_ok": bool(np.array_equal(flat, expect)), "probe": probe,
                "readonly": readonly})
json.dump(out, sys.stdout)
`
	script := filepath.Join(dir, "reader.py")
	if err := os.WriteFile(script, []byte(reader+driver), 0o644); err != nil {
		t.Fatal(err)
	}
	in, _ := json.Marshal(cases)
	cmd := exec.Command(testutil.Python, script)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("python reader failed (.ci/run installs python3-numpy and python3-msgpack): %v\n%s", err, stderr)
	}
	var got []struct {
		DType    string
		Shape    []int64
		F, C     bool
		MemOK    bool `json:"mem_ok"`
		Probe    *float64
		ReadOnly bool
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("python output %q: %v", out, err)
	}
	if len(got) != len(cases) {
		t.Fatalf("python read %d arrays, want %d", len(got), len(cases))
	}
	for i, c := range cases {
		g := got[i]
		if g.DType != c.DType || !arrayx.Shape(g.Shape).Equal(c.Shape) || !g.MemOK || !g.ReadOnly {
			t.Errorf("%s: python saw %+v", c.File, g)
		}
		if len(c.Shape) > 1 && c.Shape[0] > 0 && (c.Order == "F") != g.F {
			t.Errorf("%s: order %s but python's f_contiguous = %v", c.File, c.Order, g.F)
		}
		if c.Probe != nil && (g.Probe == nil || *g.Probe != *c.Probe) {
			t.Errorf("%s: element at the last index: python %v, Go %v", c.File, g.Probe, *c.Probe)
		}
	}
}

// fillIndex writes element i = i in memory order (bool: i%2).
func fillIndex(b []byte, dt arrayx.DType) {
	size := dt.ItemSize()
	for i := 0; i < len(b)/size; i++ {
		e := b[i*size : (i+1)*size]
		switch dt {
		case arrayx.Bool:
			e[0] = byte(i % 2)
		case arrayx.Int8, arrayx.Uint8:
			e[0] = byte(i)
		case arrayx.Int16, arrayx.Uint16:
			binary.LittleEndian.PutUint16(e, uint16(i))
		case arrayx.Int32, arrayx.Uint32:
			binary.LittleEndian.PutUint32(e, uint32(i))
		case arrayx.Int64, arrayx.Uint64:
			binary.LittleEndian.PutUint64(e, uint64(i))
		case arrayx.Float16:
			binary.LittleEndian.PutUint16(e, arrayx.Float32ToFloat16(float32(i)))
		case arrayx.BFloat16:
			binary.LittleEndian.PutUint16(e, arrayx.Float32ToBFloat16(float32(i)))
		case arrayx.Float32, arrayx.Complex64:
			binary.LittleEndian.PutUint32(e, math.Float32bits(float32(i)))
		case arrayx.Float64, arrayx.Complex128:
			binary.LittleEndian.PutUint64(e, math.Float64bits(float64(i)))
		}
	}
}

// group writes n with commas between thousands, as the prose does.
func group(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
