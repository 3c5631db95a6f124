package npy

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil/teststore"
)

// TestStreamRoundTrip exports every shared dtype to a stream and imports it
// back, read a byte at a time: the same header, the same data, the same
// bytes as Export writes to a file.
func TestStreamRoundTrip(t *testing.T) {
	st := teststore.Temp(t)
	for _, dt := range sharedDTypes() {
		for _, order := range []arrayx.Order{arrayx.OrderC, arrayx.OrderF} {
			name := dt.String() + "-" + order.String()
			data := randomData(dt, int64(dt.ItemSize())*12, 3)
			a := teststore.Put(t, st, "src/"+name, dt, arrayx.Shape{3, 4}, order, data)
			var buf bytes.Buffer
			if _, err := ExportTo(&buf, a); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			b, stats, err := ImportFrom(st, "dst/"+name, iotest.OneByteReader(bytes.NewReader(buf.Bytes())), nil)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if h := b.Header(); h.DType != dt || h.Order != order || !h.Shape.Equal(arrayx.Shape{3, 4}) ||
				!bytes.Equal(b.Bytes(), data) || stats.Bytes != int64(len(data)) {
				t.Errorf("%s: came back as %v %v %v, %d bytes", name, h.DType, h.Shape, h.Order, stats.Bytes)
			}
			b.Close()
		}
	}
}

func TestImportFromBigEndian(t *testing.T) {
	st := teststore.Temp(t)
	data := []byte{0, 0, 0, 1, 0, 0, 1, 0, 0x12, 0x34, 0x56, 0x78}
	a, stats, err := ImportFrom(st, "be", bytes.NewReader(npyFile(2, dict("'>i4'", "False", "(3,)"), data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	want := []byte{1, 0, 0, 0, 0, 1, 0, 0, 0x78, 0x56, 0x34, 0x12}
	if !bytes.Equal(a.Bytes(), want) || stats.Method != MethodByteSwap {
		t.Errorf("got % x by %s, want % x by %s", a.Bytes(), stats.Method, want, MethodByteSwap)
	}
}

// TestImportFromMalformed: a bad stream is refused, naming the problem, and
// leaves nothing in the store.
func TestImportFromMalformed(t *testing.T) {
	valid := npyFile(1, dict("'<f8'", "False", "(2, 3)"), f8x23)
	v2huge := append(append([]byte{}, magic...), 2, 0, 0xff, 0xff, 0xff, 0xff)
	for _, tt := range []struct {
		name string
		in   []byte
		err  error
		msg  string
	}{
		{"empty", nil, ErrTruncated, "the stream ends in the prefix"},
		{"bad-magic", append([]byte("\x93NUMPI"), valid[6:]...), ErrBadMagic, "not a .npy file"},
		{"truncated-header", valid[:60], ErrTruncated, "the stream ends in the header"},
		{"truncated-data", valid[:len(valid)-1], ErrTruncated, "the stream ends in the data"},
		{"trailing-bytes", append(append([]byte{}, valid...), 9), ErrTrailingBytes, "goes on after the 48 bytes of data"},
		{"huge-header-length", v2huge, ErrHeaderTooLarge, "header declares 4294967295 bytes, limit 65536"},
		{"non-literal", npyFile(1, dict("__import__('os')", "False", "(2, 3)"), f8x23), ErrInvalidHeader, `name "__import__"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := teststore.Temp(t)
			a, _, err := ImportFrom(st, "x", bytes.NewReader(tt.in), nil)
			if err == nil {
				a.Close()
				t.Fatal("imported")
			}
			if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.msg) || !strings.HasPrefix(err.Error(), "npy: import -: ") {
				t.Errorf("error %q: want %v containing %q", err, tt.err, tt.msg)
			}
			assertStoreEmpty(t, st)
		})
	}
}

func TestExportToRefuses(t *testing.T) {
	st := teststore.Temp(t)
	a := teststore.NewArray(t, st, "bf", arrayx.BFloat16, arrayx.Shape{2}, arrayx.OrderC, nil)
	_, err := ExportTo(io.Discard, a)
	if !errors.Is(err, ErrDType) || !strings.HasPrefix(err.Error(), "npy: export -: ") {
		t.Errorf("export of bfloat16: %v, want ErrDType", err)
	}
}
