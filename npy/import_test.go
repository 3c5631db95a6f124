package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil/teststore"
	"github.com/arrayx/arrayx/mmapstore"
)

// TestImportMalformed: every malformed file is refused with a clear error,
// and the store is left exactly as it was: nothing listed, no file at all.
func TestImportMalformed(t *testing.T) {
	valid := npyFile(1, dict("'<f8'", "False", "(2, 3)"), f8x23)
	pickled, err := os.ReadFile(filepath.Join("testdata", "numpy_object.npy"))
	if err != nil {
		t.Fatal(err)
	}
	v2huge := append(append([]byte{}, magic...), 2, 0, 0xff, 0xff, 0xff, 0xff) // 4 GiB declared
	v2huge = append(v2huge, valid[10:]...)
	tests := []struct {
		name string
		file []byte
		err  error
		msg  string
	}{
		{"bad-magic", append([]byte("\x93NUMPI"), valid[6:]...), ErrBadMagic, "not a .npy file"},
		{"unknown-version", withByte(valid, 6, 9), ErrVersion, "9.0"},
		{"truncated-header", valid[:60], ErrTruncated, "header declares 118 bytes, file has 50"},
		{"truncated-data", valid[:len(valid)-1], ErrTruncated, "47 bytes of data after the header, shape (2, 3) of float64 needs 48"},
		{"trailing-bytes", append(append([]byte{}, valid...), 9), ErrTrailingBytes, "49 bytes of data after the header, shape (2, 3) of float64 needs 48"},
		{"lying-header-length-short", withHeaderLen(valid, 40), ErrInvalidHeader, "header ends where a value is expected"},
		{"lying-header-length-in-padding", withHeaderLen(valid, 100), ErrTrailingBytes, "66 bytes of data after the header, shape (2, 3) of float64 needs 48"},
		{"lying-header-length-long", withHeaderLen(valid, 130), ErrInvalidHeader, "after the header dict"},
		{"huge-header-length", v2huge, ErrHeaderTooLarge, "header declares 4294967295 bytes, limit 65536"},
		{"shape-size-mismatch", npyFile(1, dict("'<f8'", "False", "(3, 3)"), f8x23), ErrTruncated, "shape (3, 3) of float64 needs 72"},
		{"pickled-object", pickled, ErrPickle, "pickles"},
		{"non-literal", npyFile(1, dict("__import__('os').system('touch pwned')", "False", "(2, 3)"), f8x23), ErrInvalidHeader, `name "__import__"`},
		{"structured", npyFile(1, dict("[('x', '<f8')]", "False", "(6,)"), f8x23), ErrDType, "structured"},
		{"overflow", npyFile(1, dict("'<c16'", "False", "(4294967296, 4294967296)"), nil), ErrTooLarge, "overflows int64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := teststore.Temp(t)
			path := filepath.Join(t.TempDir(), tt.name+".npy")
			if err := os.WriteFile(path, tt.file, 0o644); err != nil {
				t.Fatal(err)
			}
			a, _, err := Import(st, "x", path, nil)
			if err == nil {
				a.Close()
				t.Fatal("imported")
			}
			if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q: want %v containing %q", err, tt.err, tt.msg)
			}
			if fe, ok := errors.AsType[*FileError](err); !ok || fe.Op != "import" || fe.Path != path ||
				!strings.HasPrefix(err.Error(), "npy: import "+path+": ") || strings.Contains(err.Error(), ": npy: ") {
				t.Errorf("error %q: want one *FileError line naming the file", err)
			}
			assertStoreEmpty(t, st)
		})
	}
}

// TestImportAbortsMidway truncates the .npy file after the array is created
// and before its data moves: the copy hits the early end, the error says
// truncated, and the half-filled array is removed.
func TestImportAbortsMidway(t *testing.T) {
	for _, tt := range []struct{ name, descr string }{{"copy", "'<f8'"}, {"byteswap", "'>f8'"}} {
		t.Run(tt.name, func(t *testing.T) {
			st := teststore.Temp(t)
			path := filepath.Join(t.TempDir(), "x.npy")
			if err := os.WriteFile(path, npyFile(1, dict(tt.descr, "False", "(100000,)"), make([]byte, 800000)), 0o644); err != nil {
				t.Fatal(err)
			}
			testHookBeforeData = func() {
				if err := os.Truncate(path, 1000); err != nil {
					t.Error(err)
				}
				assertListed(t, st, nil) // the writer's file is hidden until Seal
			}
			defer func() { testHookBeforeData = nil }()
			a, _, err := Import(st, "x", path, nil)
			if err == nil {
				a.Close()
				t.Fatal("imported a file truncated under it")
			}
			if !errors.Is(err, ErrTruncated) {
				t.Errorf("error %v: want ErrTruncated", err)
			}
			assertStoreEmpty(t, st)
		})
	}
}

func assertListed(tb testing.TB, st *mmapstore.Store, want []string) {
	tb.Helper()
	names, err := st.List()
	if err != nil {
		tb.Fatal(err)
	}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		tb.Errorf("store lists %v, want %v", names, want)
	}
}

// TestImportPaths covers both ways the data moves, and the byte swap across
// several chunks: the imported array holds the same values either way.
func TestImportPaths(t *testing.T) {
	const n = 300000 // 2.4 MB: more than two byte-swap chunks
	le := make([]byte, 8*n)
	be := make([]byte, 8*n)
	for i := range n {
		v := math.Float64bits(float64(i) * 1.5)
		binary.LittleEndian.PutUint64(le[8*i:], v)
		binary.BigEndian.PutUint64(be[8*i:], v)
	}
	kernel, crossFS := MethodCopyFileRange, MethodSendfile
	if runtime.GOOS != "linux" {
		kernel, crossFS = MethodReadWrite, MethodReadWrite
	}
	tests := []struct {
		name, descr string
		data        []byte
		kernelCopy  bool
		shm         bool // the store on /dev/shm, the .npy on the test's disk
		method      string
	}{
		{"kernel", "'<f8'", le, true, false, kernel},
		{"kernel across filesystems", "'<f8'", le, true, true, crossFS},
		{"portable", "'<f8'", le, false, false, MethodReadWrite},
		{"byteswap", "'>f8'", be, true, false, MethodByteSwap},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := teststore.Temp(t)
			if tt.shm {
				st = teststore.Shm(t)
			}
			path := filepath.Join(t.TempDir(), "x.npy")
			if err := os.WriteFile(path, npyFile(1, dict(tt.descr, "False", "(300000,)"), tt.data), 0o644); err != nil {
				t.Fatal(err)
			}
			kernelCopy = tt.kernelCopy
			defer func() { kernelCopy = true }()
			seen := setHooks(t)
			a, stats, err := Import(st, "x", path, &ImportOptions{Attrs: map[string]any{"source": "x.npy"}})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if !bytes.Equal(a.Bytes(), le) {
				t.Error("imported data differs")
			}
			if stats.Method != tt.method || stats.Bytes != 8*n || len(*seen) != 1 || (*seen)[0] != tt.method {
				t.Errorf("stats %+v, hook %v; want %s", stats, *seen, tt.method)
			}
			if err := a.Verify(); err != nil {
				t.Error(err)
			}
			if a.Header().Attrs["source"] != "x.npy" {
				t.Errorf("attrs %v", a.Header().Attrs)
			}
			assertListed(t, st, []string{"x"})
		})
	}
}

func TestImportNotRegular(t *testing.T) {
	st := teststore.Temp(t)
	dir := t.TempDir()
	_, _, err := Import(st, "x", dir, nil)
	if !errors.Is(err, ErrNotRegular) {
		t.Errorf("directory: %v", err)
	}
	_, _, err = Import(st, "x", filepath.Join(dir, "missing.npy"), nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	assertStoreEmpty(t, st)
}

func TestImportBadName(t *testing.T) {
	st := teststore.Temp(t)
	path := filepath.Join(t.TempDir(), "x.npy")
	if err := os.WriteFile(path, npyFile(1, dict("'<f8'", "False", "(2, 3)"), f8x23), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Import(st, "../x", path, nil); !errors.Is(err, mmapstore.ErrInvalidName) {
		t.Errorf("got %v, want ErrInvalidName", err)
	}
	assertStoreEmpty(t, st)
}

// TestImportReplaces: importing under an existing name replaces the array,
// as Seal does.
func TestImportReplaces(t *testing.T) {
	st := teststore.Temp(t)
	teststore.Put(t, st, "x", arrayx.Int8, arrayx.Shape{1}, arrayx.OrderC, []byte{7})
	path := filepath.Join(t.TempDir(), "x.npy")
	if err := os.WriteFile(path, npyFile(1, dict("'<f8'", "False", "(2, 3)"), f8x23), 0o644); err != nil {
		t.Fatal(err)
	}
	a, _, err := Import(st, "x", path, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	h, err := st.Stat("x")
	if err != nil || h.DType != arrayx.Float64 {
		t.Errorf("after import: %+v, %v", h, err)
	}
}
