package npy

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/mmapstore"
)

// npyFile builds a .npy file by hand: the given version and dict text, padded
// as numpy pads (spaces and a newline to a multiple of 64), then data.
func npyFile(major int, dict string, data []byte) []byte {
	plen := prefixLen(major)
	hlen := len(dict) + 1
	pad := Alignment - (plen+hlen)%Alignment
	b := append([]byte{}, magic...)
	b = append(b, byte(major), 0)
	if major == 1 {
		b = binary.LittleEndian.AppendUint16(b, uint16(hlen+pad))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(hlen+pad))
	}
	b = append(b, dict...)
	b = append(b, strings.Repeat(" ", pad)+"\n"...)
	return append(b, data...)
}

// withHeaderLen overwrites the header length field of a version 1.0 file.
func withHeaderLen(b []byte, n uint16) []byte {
	b = append([]byte{}, b...)
	binary.LittleEndian.PutUint16(b[8:], n)
	return b
}

// withByte returns a copy of b with b[i] = v.
func withByte(b []byte, i int, v byte) []byte {
	b = append([]byte{}, b...)
	b[i] = v
	return b
}

// dict formats a header dict as numpy writes it.
func dict(descr, fortran, shape string) string {
	return "{'descr': " + descr + ", 'fortran_order': " + fortran + ", 'shape': " + shape + ", }"
}

// recordingReader is an io.ReaderAt over b that remembers the furthest byte
// read, so tests can check that nothing past the prefix was read.
type recordingReader struct {
	b   []byte
	end int64
}

func (r *recordingReader) ReadAt(p []byte, off int64) (int, error) {
	r.end = max(r.end, off+int64(len(p)))
	return bytes.NewReader(r.b).ReadAt(p, off)
}

// assertStoreEmpty checks that the store lists nothing and that its
// directory holds no file at all, temporary ones included.
func assertStoreEmpty(tb testing.TB, st *mmapstore.Store) {
	tb.Helper()
	names, err := st.List()
	if err != nil {
		tb.Fatal(err)
	}
	if len(names) != 0 {
		tb.Errorf("store lists %v after a failed import", names)
	}
	filepath.WalkDir(st.Dir(), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			tb.Errorf("file %s left in the store", p)
		}
		return nil
	})
}

// randomData returns n bytes of seeded random array data for dt; bools are
// 0 or 1, as numpy requires.
func randomData(dt arrayx.DType, n int64, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(dt)))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
		if dt == arrayx.Bool {
			b[i] &= 1
		}
	}
	return b
}

// sharedDTypes are the dtypes numpy and arrayx share: all but bfloat16.
func sharedDTypes() []arrayx.DType {
	var out []arrayx.DType
	for _, dt := range arrayx.DTypes() {
		if _, ok := dt.NumpyDescr(); ok {
			out = append(out, dt)
		}
	}
	return out
}

// setHooks installs the copy hook for the test and returns the methods seen.
func setHooks(tb testing.TB) *[]string {
	tb.Helper()
	var mu sync.Mutex
	var seen []string
	testHookCopy = func(method string, n int64) {
		mu.Lock()
		seen = append(seen, method)
		mu.Unlock()
	}
	tb.Cleanup(func() { testHookCopy = nil })
	return &seen
}

// runPython runs a Python script with arguments, with Debian's numpy, and
// returns its stdout. The numpy tests fail (never skip) without numpy.
func runPython(tb testing.TB, script string, args ...string) []byte {
	tb.Helper()
	testutil.RequirePython(tb, "numpy")
	cmd := exec.Command(testutil.Python, append([]string{"-c", script}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("%s: %v\n%s", testutil.Python, err, stderr.Bytes())
	}
	return out
}

func readJSON(tb testing.TB, path string, v any) {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		tb.Fatal(err)
	}
}

func writeJSON(tb testing.TB, path string, v any) {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
}
