package npy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil/teststore"
)

// The tests in this file run /usr/bin/python3 with Debian's numpy: files
// numpy writes must import with identical values, and files Export writes
// must load in numpy with identical values, dtype, shape and fortran_order.

// importScript writes .npy files with numpy, each beside a .raw file of the
// little-endian bytes in the file's memory order (what the imported array
// must hold), and a manifest of what numpy says about each.
const importScript = `
import json, os, sys
import numpy as np

out = sys.argv[1]
rng = np.random.default_rng(5)

def read_header(f, v):
    if v == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    return np.lib.format.read_array_header_2_0(f)
cases = []

def values(dt, shape):
    dt = np.dtype(dt)
    n = int(np.prod(shape, dtype=np.int64))
    if dt.kind == 'b':
        a = rng.integers(0, 2, n).astype(dt)
    elif dt.kind in 'iu':
        info = np.iinfo(dt)
        a = rng.integers(info.min, info.max, n, dtype=dt, endpoint=True)
    elif dt.kind == 'f':
        a = (rng.standard_normal(n) * 1000).astype(dt)
        a[:3] = [np.nan, -np.inf, -0.0][:min(3, n)]
    else:
        a = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(dt)
        a[:1] = complex(np.nan, -0.0)
    return a.reshape(shape)

def add(name, a, version=None):
    path = os.path.join(out, name + '.npy')
    with open(path, 'wb') as f:
        np.lib.format.write_array(f, a, version=version, allow_pickle=False)
    with open(path, 'rb') as f:
        v = np.lib.format.read_magic(f)
        shape, fortran, dtype = read_header(f, v)
    le = a.astype(a.dtype.newbyteorder('<'), order='K')
    with open(path + '.raw', 'wb') as f:
        f.write(le.tobytes(order='F' if fortran else 'C'))
    cases.append(dict(name=name, path=path, descr=dtype.str, shape=list(shape),
                      fortran=bool(fortran), version=list(v)))

for code in ['?', 'i1', 'i2', 'i4', 'i8', 'u1', 'u2', 'u4', 'u8', 'f2', 'f4', 'f8', 'c8', 'c16']:
    dt = np.dtype(code)
    a = values(dt, (3, 4))
    f = np.asfortranarray(values(dt, (2, 3, 4)))
    add(dt.name + '-C', a)
    add(dt.name + '-F', f)
    add(dt.name + '-1d', values(dt, (7,)))
    add(dt.name + '-0d', values(dt, ()))
    add(dt.name + '-empty', np.zeros((0,), dt))
    add(dt.name + '-empty-3x0', np.zeros((3, 0), dt))
    add(dt.name + '-v2', a, version=(2, 0))
    add(dt.name + '-v3', f, version=(3, 0))
    if dt.itemsize > 1:
        big = dt.newbyteorder('>')
        add(dt.name + '-big-C', a.astype(big))
        add(dt.name + '-big-F', f.astype(big))
        add(dt.name + '-big-v2', f.astype(big), version=(2, 0))

json.dump(cases, open(os.path.join(out, 'manifest.json'), 'w'))
`

type numpyCase struct {
	Name, Path, Descr string
	Shape             []int64
	Fortran           bool
	Version           []int
}

func TestImportNumpy(t *testing.T) {
	dir := t.TempDir()
	runPython(t, importScript, dir)
	var cases []numpyCase
	readJSON(t, filepath.Join(dir, "manifest.json"), &cases)
	if len(cases) < 14*8 {
		t.Fatalf("only %d files from numpy", len(cases))
	}
	st := teststore.Temp(t)
	seen := setHooks(t)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			*seen = nil
			a, stats, err := Import(st, c.Name, c.Path, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			h := a.Header()
			wantDT, err := arrayx.ParseDType("<" + c.Descr[1:])
			if err != nil {
				t.Fatal(err)
			}
			wantOrder := arrayx.OrderC
			if c.Fortran {
				wantOrder = arrayx.OrderF
			}
			if h.DType != wantDT || !h.Shape.Equal(arrayx.Shape(c.Shape)) || h.Order != wantOrder {
				t.Errorf("imported %v %v %v; numpy wrote %s %v fortran_order=%v", h.DType, h.Shape, h.Order, c.Descr, c.Shape, c.Fortran)
			}
			raw, err := os.ReadFile(c.Path + ".raw")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.Bytes(), raw) {
				t.Errorf("data differs from numpy's tobytes:\ngot  % x\nwant % x", head(a.Bytes()), head(raw))
			}
			if err := a.Verify(); err != nil {
				t.Error(err)
			}
			want := MethodCopyFileRange
			switch {
			case h.NBytes == 0:
				want = MethodNone
			case c.Descr[0] == '>':
				want = MethodByteSwap
			case runtime.GOOS != "linux":
				want = MethodReadWrite
			}
			if stats.Method != want || stats.Bytes != h.NBytes || len(*seen) != 1 || (*seen)[0] != want {
				t.Errorf("stats %+v, hook saw %v; want method %s for %d bytes", stats, *seen, want, h.NBytes)
			}
		})
	}
}

func head(b []byte) []byte { return b[:min(len(b), 32)] }

// exportCheckScript loads each exported file with numpy and reports what it
// found: the header as numpy reads it, whether the values equal the
// expected bytes (plain and memory-mapped load), and whether numpy.save of
// the loaded array writes the very same bytes.
const exportCheckScript = `
import io, json, sys
import numpy as np

def read_header(f, v):
    if v == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    return np.lib.format.read_array_header_2_0(f)

res = {}
for c in json.load(open(sys.argv[1])):
    with open(c['path'], 'rb') as f:
        v = np.lib.format.read_magic(f)
        shape, fortran, dtype = read_header(f, v)
    a = np.load(c['path'], allow_pickle=False)
    m = np.load(c['path'], mmap_mode='r', allow_pickle=False)
    raw = open(c['raw'], 'rb').read()
    order = 'F' if fortran else 'C'
    buf = io.BytesIO()
    np.save(buf, a)
    res[c['name']] = dict(
        version=list(v), descr=dtype.str, shape=list(a.shape), fortran=bool(fortran),
        values=a.tobytes(order=order) == raw, mmap=m.tobytes(order=order) == raw,
        numpy_fortran=bool(a.flags.f_contiguous and not a.flags.c_contiguous),
        identical=buf.getvalue() == open(c['path'], 'rb').read())
json.dump(res, sys.stdout)
`

type exportResult struct {
	Version               []int
	Descr                 string
	Shape                 []int64
	Fortran, Values, Mmap bool
	NumpyFortran          bool `json:"numpy_fortran"`
	Identical             bool
}

func TestExportNumpy(t *testing.T) {
	dir := t.TempDir()
	st := teststore.Temp(t)
	seen := setHooks(t)
	shapes := []struct {
		shape arrayx.Shape
		order arrayx.Order
	}{
		{arrayx.Shape{3, 4}, arrayx.OrderC},
		{arrayx.Shape{3, 4}, arrayx.OrderF},
		{arrayx.Shape{2, 3, 4}, arrayx.OrderF},
		{arrayx.Shape{1000}, arrayx.OrderC},
		{arrayx.Shape{5}, arrayx.OrderF},
		{arrayx.Shape{}, arrayx.OrderC},
		{arrayx.Shape{0}, arrayx.OrderC},
		{arrayx.Shape{3, 0}, arrayx.OrderF},
	}
	type entry struct {
		Name    string  `json:"name"`
		Path    string  `json:"path"`
		Raw     string  `json:"raw"`
		Descr   string  `json:"descr"`
		Shape   []int64 `json:"shape"`
		Fortran bool    `json:"fortran"`
	}
	var manifest []entry
	for i, dt := range sharedDTypes() {
		for j, s := range shapes {
			name := fmt.Sprintf("%v-%v-%v", dt, strings.Trim(strings.ReplaceAll(s.shape.String(), ", ", "x"), "(,)"), s.order)
			n, _ := s.shape.NumElements()
			data := randomData(dt, n*int64(dt.ItemSize()), uint64(i*100+j))
			a := teststore.Put(t, st, name, dt, s.shape, s.order, data)
			path := filepath.Join(dir, name+".npy")
			*seen = nil
			stats, err := Export(a, path, nil)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			want := MethodCopyFileRange
			switch {
			case n == 0:
				want = MethodNone
			case runtime.GOOS != "linux":
				want = MethodReadWrite
			}
			if stats.Method != want || len(*seen) != 1 || (*seen)[0] != want || stats.Bytes != int64(len(data)) {
				t.Errorf("%s: stats %+v, hook saw %v; want %s", name, stats, *seen, want)
			}
			if err := os.WriteFile(path+".raw", data, 0o644); err != nil {
				t.Fatal(err)
			}
			descr, _ := dt.NumpyDescr()
			manifest = append(manifest, entry{name, path, path + ".raw", descr, s.shape, s.order == arrayx.OrderF})
		}
	}
	mpath := filepath.Join(dir, "manifest.json")
	writeJSON(t, mpath, manifest)
	var results map[string]exportResult
	if err := json.Unmarshal(runPython(t, exportCheckScript, mpath), &results); err != nil {
		t.Fatal(err)
	}
	for _, e := range manifest {
		t.Run(e.Name, func(t *testing.T) {
			r, ok := results[e.Name]
			if !ok {
				t.Fatal("numpy reported nothing")
			}
			if r.Descr != e.Descr || !arrayx.Shape(r.Shape).Equal(arrayx.Shape(e.Shape)) || r.Fortran != e.Fortran ||
				len(r.Version) != 2 || r.Version[0] != 1 || r.Version[1] != 0 {
				t.Errorf("numpy read %s %v fortran_order=%v version %v; want %s %v %v 1.0",
					r.Descr, r.Shape, r.Fortran, r.Version, e.Descr, e.Shape, e.Fortran)
			}
			if !r.Values || !r.Mmap {
				t.Errorf("values differ (np.load: equal=%v, mmap_mode='r': equal=%v)", r.Values, r.Mmap)
			}
			// numpy.save marks an array Fortran-ordered only when it is not
			// also C-contiguous; where it would choose as we did, the whole
			// file must be what it writes, byte for byte.
			if r.NumpyFortran == e.Fortran && !r.Identical {
				t.Error("file differs from what numpy.save writes for the same array")
			}
		})
	}
}

// TestNumpyFixtures reads files numpy wrote (kept in testdata, regenerated
// with -update), so the formats it writes are covered without Python too.
func TestNumpyFixtures(t *testing.T) {
	if *update {
		runPython(t, fixtureScript, "testdata")
	}
	tests := []struct {
		file      string
		major     int
		dt        arrayx.DType
		bigEndian bool
		shape     arrayx.Shape
		order     arrayx.Order
		err       error
	}{
		{"numpy_v2_int32_F.npy", 2, arrayx.Int32, false, arrayx.Shape{2, 3}, arrayx.OrderF, nil},
		{"numpy_v3_float64.npy", 3, arrayx.Float64, false, arrayx.Shape{4}, arrayx.OrderC, nil},
		{"numpy_big_complex64.npy", 1, arrayx.Complex64, true, arrayx.Shape{2, 2}, arrayx.OrderC, nil},
		{"numpy_float16_0d.npy", 1, arrayx.Float16, false, arrayx.Shape{}, arrayx.OrderC, nil},
		{"numpy_object.npy", 1, 0, false, nil, 0, ErrPickle},
		{"numpy_structured.npy", 1, 0, false, nil, 0, ErrDType},
		{"numpy_unicode.npy", 1, 0, false, nil, 0, ErrDType},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			h, err := ReadHeader(bytes.NewReader(b), int64(len(b)), Limits{})
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("got %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Major != tt.major || h.DType != tt.dt || h.BigEndian != tt.bigEndian || !h.Shape.Equal(tt.shape) || h.Order != tt.order {
				t.Errorf("got %+v", h)
			}
		})
	}
}

const fixtureScript = `
import os, sys
import numpy as np
out = sys.argv[1]
def save(name, a, version=None, allow_pickle=False):
    with open(os.path.join(out, name), 'wb') as f:
        np.lib.format.write_array(f, a, version=version, allow_pickle=allow_pickle)
save('numpy_v2_int32_F.npy', np.asfortranarray(np.arange(6, dtype='<i4').reshape(2, 3)), version=(2, 0))
save('numpy_v3_float64.npy', np.array([1.5, -2, np.inf, np.nan]), version=(3, 0))
save('numpy_big_complex64.npy', np.array([[1+2j, 3-4j], [0.5j, -1]], dtype='>c8'))
save('numpy_float16_0d.npy', np.float16(0.333).reshape(()))
save('numpy_object.npy', np.array([{'a': 1}, None], dtype=object), allow_pickle=True)
save('numpy_structured.npy', np.zeros(2, dtype=[('x', '<f4'), ('y', '<i2')]))
save('numpy_unicode.npy', np.array(['ab', 'c']))
`
