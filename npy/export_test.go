package npy

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil/teststore"
	"github.com/arrayx/arrayx/mmapstore"
)

// memArray is an arrayx.Array with no file behind it.
type memArray struct {
	h    *arrayx.Header
	data []byte
}

func (m memArray) Header() *arrayx.Header { return m.h }
func (m memArray) Bytes() []byte          { return m.data }

// assertOnly checks that dir holds exactly the named files: no temporary
// file is left behind.
func assertOnly(tb testing.TB, dir string, names ...string) {
	tb.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		tb.Errorf("directory holds %v, want %v", got, names)
	}
}

// TestExportPaths: the kernel path, the portable path, and an array with no
// file write the same file.
func TestExportPaths(t *testing.T) {
	st := teststore.Temp(t)
	data := randomData(arrayx.Int32, 4*100000, 1)
	a := teststore.Put(t, st, "x", arrayx.Int32, arrayx.Shape{1000, 100}, arrayx.OrderF, data)
	want, err := MarshalHeader(arrayx.Int32, arrayx.Shape{1000, 100}, arrayx.OrderF)
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, data...)
	kernel := MethodCopyFileRange
	if runtime.GOOS != "linux" {
		kernel = MethodReadWrite
	}
	tests := []struct {
		name       string
		a          arrayx.Array
		kernelCopy bool
		method     string
	}{
		{"kernel", a, true, kernel},
		{"portable", a, false, MethodReadWrite},
		{"no-file", memArray{a.Header(), a.Bytes()}, true, MethodReadWrite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "x.npy")
			kernelCopy = tt.kernelCopy
			defer func() { kernelCopy = true }()
			seen := setHooks(t)
			stats, err := Export(tt.a, path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if stats.Method != tt.method || stats.Bytes != int64(len(data)) || len(*seen) != 1 || (*seen)[0] != tt.method {
				t.Errorf("stats %+v, hook %v; want %s", stats, *seen, tt.method)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Error("file differs")
			}
			if fi, err := os.Stat(path); err == nil && runtime.GOOS != "windows" && fi.Mode().Perm() != 0o644 {
				t.Errorf("mode %v, want 0644", fi.Mode().Perm())
			}
			assertOnly(t, dir, "x.npy")
		})
	}
}

// TestExportRefused: a refused export leaves whatever was at the
// destination untouched and no temporary file behind.
func TestExportRefused(t *testing.T) {
	st := teststore.Temp(t)
	bf := teststore.Put(t, st, "bf", arrayx.BFloat16, arrayx.Shape{4}, arrayx.OrderC, make([]byte, 8))
	closed := teststore.Put(t, st, "c", arrayx.Float64, arrayx.Shape{4}, arrayx.OrderC, make([]byte, 32))
	closed.Close()
	tests := []struct {
		name string
		a    arrayx.Array
		err  error
		msg  string
	}{
		{"bfloat16", bf, ErrDType, "bfloat16 has no numpy dtype"},
		{"closed", closed, mmapstore.ErrClosed, "the array's data is 0 bytes, its header declares 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "x.npy")
			if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Export(tt.a, path, nil)
			if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %v: want %v containing %q", err, tt.err, tt.msg)
			}
			if fe, ok := errors.AsType[*FileError](err); !ok || fe.Op != "export" || fe.Path != path {
				t.Errorf("error %v: want a *FileError naming %s", err, path)
			}
			if b, _ := os.ReadFile(path); string(b) != "old" {
				t.Errorf("destination changed to %q", b)
			}
			assertOnly(t, dir, "x.npy")
		})
	}
	if _, err := Export(closed, filepath.Join(t.TempDir(), "no", "such", "dir.npy"), nil); err == nil {
		t.Error("export into a missing directory succeeded")
	}
}

// TestExportReplaces: an existing file is replaced by rename, so a reader
// that opened the old file keeps reading the old contents.
func TestExportReplaces(t *testing.T) {
	st := teststore.Temp(t)
	a := teststore.Put(t, st, "x", arrayx.Uint8, arrayx.Shape{3}, arrayx.OrderC, []byte{1, 2, 3})
	dir := t.TempDir()
	path := filepath.Join(dir, "x.npy")
	if err := os.WriteFile(path, []byte("old contents"), 0o644); err != nil {
		t.Fatal(err)
	}
	old, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if _, err := Export(a, path, &ExportOptions{NoSync: true}); err != nil {
		t.Fatal(err)
	}
	h, err := func() (*Header, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		fi, _ := f.Stat()
		return ReadHeader(f, fi.Size(), Limits{})
	}()
	if err != nil || h.DType != arrayx.Uint8 || !h.Shape.Equal(arrayx.Shape{3}) {
		t.Errorf("exported header %+v, %v", h, err)
	}
	if runtime.GOOS != "windows" {
		b := make([]byte, 3)
		if _, err := old.ReadAt(b, 0); err != nil || string(b) != "old" {
			t.Errorf("old file reads %q, %v", b, err)
		}
	}
	assertOnly(t, dir, "x.npy")
}

// TestRoundTrip: export then import gives the same array, for every shared
// dtype and both orders.
func TestRoundTrip(t *testing.T) {
	st := teststore.Temp(t)
	dir := t.TempDir()
	for i, dt := range sharedDTypes() {
		for _, order := range []arrayx.Order{arrayx.OrderC, arrayx.OrderF} {
			shape := arrayx.Shape{4, 3, 2}
			data := randomData(dt, 24*int64(dt.ItemSize()), uint64(i))
			a := teststore.Put(t, st, "src", dt, shape, order, data)
			path := filepath.Join(dir, "rt.npy")
			if _, err := Export(a, path, &ExportOptions{NoSync: true}); err != nil {
				t.Fatal(err)
			}
			b, _, err := Import(st, "dst", path, nil)
			if err != nil {
				t.Fatal(err)
			}
			h := b.Header()
			if h.DType != dt || !h.Shape.Equal(shape) || h.Order != order || !bytes.Equal(b.Bytes(), data) {
				t.Errorf("%v %v: came back as %v %v %v", dt, order, h.DType, h.Shape, h.Order)
			}
			b.Close()
		}
	}
}
