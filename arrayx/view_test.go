package arrayx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"slices"
	"testing"
)

// newFake returns a fakeArray of dtype dt holding the little-endian encoding
// of vals in 16-byte-aligned memory, and the buffer it was carved from.
func newFake[T any](tb testing.TB, dt DType, vals []T) (fakeArray, []byte) {
	tb.Helper()
	var enc bytes.Buffer
	if err := binary.Write(&enc, binary.LittleEndian, vals); err != nil {
		tb.Fatal(err)
	}
	h, err := NewHeader(dt, Shape{int64(len(vals))}, OrderC, nil)
	if err != nil {
		tb.Fatal(err)
	}
	b, buf := alignedBytes(enc.Len())
	copy(b, enc.Bytes())
	return fakeArray{h, b}, buf
}

// testView checks Data[T] on an array of its own dtype, a mismatched dtype, a
// region whose length is not a whole number of elements, and a misaligned
// region.
func testView[T Element](t *testing.T, dt, other DType, vals []T) {
	t.Run(dt.String(), func(t *testing.T) {
		if DTypeOf[T]() != dt {
			t.Fatalf("DTypeOf = %v, want %v", DTypeOf[T](), dt)
		}
		a, buf := newFake(t, dt, vals)
		got, err := Data[T](a)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, vals) {
			t.Fatalf("Data = %v, want %v", got, vals)
		}
		// The view aliases the array's memory: no copy.
		if reflect.ValueOf(got).Pointer() != reflect.ValueOf(a.b).Pointer() || cap(got)*int(reflect.TypeFor[T]().Size()) != len(a.b) {
			t.Error("view does not cover the array's bytes exactly")
		}
		got[len(got)-1] = got[0]
		if !bytes.Equal(a.b[len(a.b)-dt.ItemSize():], a.b[:dt.ItemSize()]) {
			t.Error("a write through the view did not reach the array's bytes")
		}
		got[len(got)-1] = vals[len(vals)-1]

		// Wrong dtype, same item size.
		wrong := fakeArray{a.h.Clone(), a.b}
		wrong.h.DType = other
		if _, err := Data[T](wrong); !errors.Is(err, ErrView) {
			t.Errorf("Data[%v] of a %v array: %v", dt, other, err)
		}

		// The data region disagrees with nbytes.
		if _, err := Data[T](fakeArray{a.h, a.b[:len(a.b)-1]}); !errors.Is(err, ErrView) {
			t.Errorf("short data region: %v", err)
		}
		// A region of nbytes that is not a whole number of elements (the
		// header is inconsistent, but a view must still refuse, not panic).
		if size := dt.ItemSize(); size > 1 {
			odd := a.h.Clone()
			odd.NBytes = int64(len(a.b) - 1)
			if _, err := Data[T](fakeArray{odd, a.b[:len(a.b)-1]}); !errors.Is(err, ErrView) {
				t.Errorf("%d bytes of %d-byte elements: %v", len(a.b)-1, size, err)
			}
		}

		// Misaligned: the same bytes one byte further into the buffer.
		mis := buf[1 : 1+len(a.b)]
		copy(mis, a.b)
		got, err = Data[T](fakeArray{a.h, mis})
		if reflect.TypeFor[T]().Align() == 1 {
			if err != nil || !slices.Equal(got, vals) {
				t.Errorf("byte-aligned type at odd address: %v, %v", got, err)
			}
		} else if !errors.Is(err, ErrView) {
			t.Errorf("misaligned view: %v, %v; want ErrView", got, err)
		}

		// Zero-size arrays give an empty, non-nil view.
		z, _ := newFake(t, dt, []T{})
		if got, err := Data[T](z); err != nil || got == nil || len(got) != 0 {
			t.Errorf("zero-size view: %#v, %v", got, err)
		}
	})
}

func TestData(t *testing.T) {
	testView(t, Int8, Uint8, []int8{-128, -1, 0, 1, 127})
	testView(t, Int16, Float16, []int16{-32768, -1, 0, 1, 32767})
	testView(t, Int32, Float32, []int32{-1 << 31, -1, 0, 1, 1<<31 - 1})
	testView(t, Int64, Float64, []int64{-1 << 63, -1, 0, 1, 1<<63 - 1})
	testView(t, Uint8, Bool, []uint8{0, 1, 2, 254, 255})
	testView(t, Uint16, BFloat16, []uint16{0, 1, 0x8000, 0xffff})
	testView(t, Uint32, Int32, []uint32{0, 1, 0x80000000, 0xffffffff})
	testView(t, Uint64, Complex64, []uint64{0, 1, 1 << 63, 1<<64 - 1})
	testView(t, Float32, Uint32, []float32{-1.5, 0, 1, 3.25e38})
	testView(t, Float64, Int64, []float64{-1.5, 0, 1, 1e300})
	testView(t, Complex64, Float64, []complex64{complex(1, -2), 0, complex(-3.5, 4)})
	testView(t, Complex128, Float64, []complex128{complex(1, -2), 0, complex(-3.5, 4e300)})
}

type meters float64

func TestDataNamedType(t *testing.T) {
	a, _ := newFake(t, Float64, []float64{1, 2.5})
	got, err := Data[meters](a)
	if err != nil || !slices.Equal(got, []meters{1, 2.5}) {
		t.Errorf("Data[meters] = %v, %v", got, err)
	}
}

func TestDataValidates(t *testing.T) {
	// Every Element type against every other dtype: only its own is accepted.
	for _, dt := range DTypes() {
		a := fakeArray{&Header{DType: dt, NBytes: 0}, []byte{}}
		check := func(name string, own DType, err error) {
			if (own == dt) != (err == nil) || (err != nil && !errors.Is(err, ErrView)) {
				t.Errorf("%s on a %v array: %v", name, dt, err)
			}
		}
		_, err := Data[int8](a)
		check("Data[int8]", Int8, err)
		_, err = Data[int16](a)
		check("Data[int16]", Int16, err)
		_, err = Data[int32](a)
		check("Data[int32]", Int32, err)
		_, err = Data[int64](a)
		check("Data[int64]", Int64, err)
		_, err = Data[uint8](a)
		check("Data[uint8]", Uint8, err)
		_, err = Data[uint16](a)
		check("Data[uint16]", Uint16, err)
		_, err = Data[uint32](a)
		check("Data[uint32]", Uint32, err)
		_, err = Data[uint64](a)
		check("Data[uint64]", Uint64, err)
		_, err = Data[float32](a)
		check("Data[float32]", Float32, err)
		_, err = Data[float64](a)
		check("Data[float64]", Float64, err)
		_, err = Data[complex64](a)
		check("Data[complex64]", Complex64, err)
		_, err = Data[complex128](a)
		check("Data[complex128]", Complex128, err)
		_, err = BoolBytes(a)
		check("BoolBytes", Bool, err)
		_, err = Float16Bits(a)
		check("Float16Bits", Float16, err)
		_, err = BFloat16Bits(a)
		check("BFloat16Bits", BFloat16, err)
	}
}

func TestBitViews(t *testing.T) {
	b, buf := alignedBytes(6)
	copy(b, []byte{0, 1, 2, 0x3c, 0x80, 0x3f})

	bools, err := BoolBytes(fakeArray{&Header{DType: Bool, NBytes: 6}, b})
	if err != nil || !bytes.Equal(bools, b) {
		t.Errorf("BoolBytes = %v, %v", bools, err)
	}
	// bool is one byte: any address will do.
	if _, err := BoolBytes(fakeArray{&Header{DType: Bool, NBytes: 5}, buf[1:6]}); err != nil {
		t.Errorf("BoolBytes at an odd address: %v", err)
	}

	bits, err := Float16Bits(fakeArray{&Header{DType: Float16, NBytes: 6}, b})
	if err != nil || !slices.Equal(bits, []uint16{0x0100, 0x3c02, 0x3f80}) {
		t.Errorf("Float16Bits = %04x, %v", bits, err)
	}
	if got := Float16ToFloat32(bits[1]); got != 1.001953125 {
		t.Errorf("Float16ToFloat32(%#04x) = %v", bits[1], got)
	}
	bits, err = BFloat16Bits(fakeArray{&Header{DType: BFloat16, NBytes: 6}, b})
	if err != nil || !slices.Equal(bits, []uint16{0x0100, 0x3c02, 0x3f80}) {
		t.Errorf("BFloat16Bits = %04x, %v", bits, err)
	}
	if got := BFloat16ToFloat32(bits[2]); got != 1 {
		t.Errorf("BFloat16ToFloat32(%#04x) = %v", bits[2], got)
	}

	for _, f := range []func(Array) ([]uint16, error){Float16Bits, BFloat16Bits} {
		dt := Float16
		if _, err := f(fakeArray{&Header{DType: dt, NBytes: 6}, b}); err != nil {
			dt = BFloat16
		}
		if _, err := f(fakeArray{&Header{DType: dt, NBytes: 5}, buf[1:6]}); !errors.Is(err, ErrView) {
			t.Errorf("odd length: %v", err)
		}
		if _, err := f(fakeArray{&Header{DType: dt, NBytes: 6}, buf[1:7]}); !errors.Is(err, ErrView) {
			t.Errorf("misaligned: %v", err)
		}
	}
}

// TestCastSliceAllAlignments slides a window over a buffer and checks that
// castSlice accepts exactly the aligned offsets, never panicking.
func TestCastSliceAllAlignments(t *testing.T) {
	_, buf := alignedBytes(64)
	for off := range 16 {
		b := buf[off : off+32]
		_, err16 := castSlice[complex128](b)
		_, err8 := castSlice[float64](b)
		_, err4 := castSlice[uint32](b)
		_, err2 := castSlice[int16](b)
		_, err1 := castSlice[uint8](b)
		// complex128 is aligned like float64 in Go.
		for _, c := range []struct {
			err   error
			align int
		}{{err16, int(reflect.TypeFor[complex128]().Align())}, {err8, 8}, {err4, 4}, {err2, 2}, {err1, 1}} {
			if want := off%c.align == 0; (c.err == nil) != want {
				t.Errorf("offset %d, alignment %d: %v", off, c.align, c.err)
			}
		}
	}
	if _, err := castSlice[uint32](make([]byte, 6)); !errors.Is(err, ErrView) {
		t.Errorf("6 bytes as uint32: %v", err)
	}
	if got, err := castSlice[uint64](nil); err != nil || got == nil || len(got) != 0 {
		t.Errorf("nil as uint64: %#v, %v", got, err)
	}
}

func TestCast(t *testing.T) {
	b, buf := alignedBytes(16)
	for i := range b {
		b[i] = byte(i)
	}
	u32, err := Cast[uint32](b)
	if err != nil || !slices.Equal(u32, []uint32{0x03020100, 0x07060504, 0x0b0a0908, 0x0f0e0d0c}) {
		t.Errorf("Cast[uint32] = %08x, %v", u32, err)
	}
	c128, err := Cast[complex128](b)
	if err != nil || len(c128) != 1 {
		t.Errorf("Cast[complex128] = %v, %v", c128, err)
	}
	if _, err := Cast[uint32](b[:15]); !errors.Is(err, ErrView) {
		t.Errorf("15 bytes as uint32: %v", err)
	}
	if _, err := Cast[float64](buf[4:20]); !errors.Is(err, ErrView) {
		t.Errorf("4-byte-aligned bytes as float64: %v", err)
	}
	if got, err := Cast[int8](buf[1:4]); err != nil || len(got) != 3 {
		t.Errorf("Cast[int8] at an odd address: %v, %v", got, err)
	}
	if got, err := Cast[float32](nil); err != nil || got == nil || len(got) != 0 {
		t.Errorf("Cast[float32](nil) = %#v, %v", got, err)
	}
}
