package arrayx

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// dtypeTable is the format's dtype list, written out independently of dtype.go.
var dtypeTable = []struct {
	dt    DType
	name  string
	size  int
	numpy string // "" when numpy has no equivalent
}{
	{Bool, "bool", 1, "|b1"},
	{Int8, "int8", 1, "|i1"},
	{Int16, "int16", 2, "<i2"},
	{Int32, "int32", 4, "<i4"},
	{Int64, "int64", 8, "<i8"},
	{Uint8, "uint8", 1, "|u1"},
	{Uint16, "uint16", 2, "<u2"},
	{Uint32, "uint32", 4, "<u4"},
	{Uint64, "uint64", 8, "<u8"},
	{Float16, "float16", 2, "<f2"},
	{BFloat16, "bfloat16", 2, ""},
	{Float32, "float32", 4, "<f4"},
	{Float64, "float64", 8, "<f8"},
	{Complex64, "complex64", 8, "<c8"},
	{Complex128, "complex128", 16, "<c16"},
}

func TestDTypeTable(t *testing.T) {
	all := DTypes()
	if len(all) != len(dtypeTable) {
		t.Fatalf("DTypes() has %d entries, the format has %d", len(all), len(dtypeTable))
	}
	for i, tt := range dtypeTable {
		t.Run(tt.name, func(t *testing.T) {
			if all[i] != tt.dt {
				t.Errorf("DTypes()[%d] = %v", i, all[i])
			}
			if !tt.dt.Valid() {
				t.Error("not Valid")
			}
			if got := tt.dt.String(); got != tt.name {
				t.Errorf("String() = %q", got)
			}
			if got := tt.dt.ItemSize(); got != tt.size {
				t.Errorf("ItemSize() = %d, want %d", got, tt.size)
			}
			np, ok := tt.dt.NumpyDescr()
			if np != tt.numpy || ok != (tt.numpy != "") {
				t.Errorf("NumpyDescr() = %q, %v; want %q", np, ok, tt.numpy)
			}
			if got, err := ParseDType(tt.name); got != tt.dt || err != nil {
				t.Errorf("ParseDType(%q) = %v, %v", tt.name, got, err)
			}
			if tt.numpy != "" {
				// Every numpy spelling: as written, without the byte-order
				// character, and with '<', '|' and '=' (native, little-endian here).
				for _, s := range []string{tt.numpy, tt.numpy[1:], "<" + tt.numpy[1:], "|" + tt.numpy[1:], "=" + tt.numpy[1:]} {
					if got, err := ParseDType(s); got != tt.dt || err != nil {
						t.Errorf("ParseDType(%q) = %v, %v", s, got, err)
					}
				}
				be := ">" + tt.numpy[1:]
				got, err := ParseDType(be)
				if tt.size == 1 {
					if got != tt.dt || err != nil {
						t.Errorf("ParseDType(%q) = %v, %v; byte order is moot for 1-byte types", be, got, err)
					}
				} else if !errors.Is(err, ErrDType) || !strings.Contains(err.Error(), "big-endian") {
					t.Errorf("ParseDType(%q) = %v, %v; want an ErrDType mentioning big-endian", be, got, err)
				}
			}
		})
	}
}

func TestParseDType(t *testing.T) {
	tests := []struct {
		in   string
		want DType // 0: error
	}{
		{"<f8", Float64},
		{"f8", Float64},
		{"|u1", Uint8},
		{"?", Bool},
		{"|?", Bool},
		{"b1", Bool},
		{"=i4", Int32},
		{">i1", Int8},
		{"|i1", Int8},
		{">u1", Uint8},
		{">b1", Bool},
		{">?", Bool},
		{"c16", Complex128},
		{"<c8", Complex64},
		{"f2", Float16},
		{"bfloat16", BFloat16},
		{"", 0},
		{"<", 0},
		{"|", 0},
		{"f", 0},
		{"d", 0},
		{"float", 0},
		{"Float64", 0},
		{"float64 ", 0},
		{" float64", 0},
		{"<f16", 0},
		{"<f8 ", 0},
		{"<<f8", 0},
		{"<V8", 0},
		{"O", 0},
		{"<U4", 0},
		{"S10", 0},
		{"<M8[ns]", 0},
		{"bf16", 0},
		{"<bf16", 0},
		{"int", 0},
		{"dtype(1)", 0},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDType(tt.in)
			if tt.want == 0 {
				if !errors.Is(err, ErrDType) {
					t.Errorf("ParseDType(%q) = %v, %v; want ErrDType", tt.in, got, err)
				}
				if got != 0 {
					t.Errorf("ParseDType(%q) returned %v with its error", tt.in, got)
				}
				return
			}
			if got != tt.want || err != nil {
				t.Errorf("ParseDType(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
	for _, s := range []string{">f8", ">i2", ">u8", ">c16", ">f2"} {
		_, err := ParseDType(s)
		if !errors.Is(err, ErrDType) || !strings.Contains(err.Error(), "big-endian") {
			t.Errorf("ParseDType(%q): %v; want an ErrDType mentioning big-endian", s, err)
		}
	}
}

func TestInvalidDType(t *testing.T) {
	for _, d := range []DType{0, Complex128 + 1, 100, 255} {
		if d.Valid() {
			t.Errorf("%d is Valid", d)
		}
		if d.ItemSize() != 0 {
			t.Errorf("ItemSize(%d) = %d", d, d.ItemSize())
		}
		if s, ok := d.NumpyDescr(); ok || s != "" {
			t.Errorf("NumpyDescr(%d) = %q, %v", d, s, ok)
		}
		if want := "dtype(" + strconv.Itoa(int(d)) + ")"; d.String() != want {
			t.Errorf("String() = %q, want %q", d.String(), want)
		}
		_, err := NewHeader(d, Shape{1}, OrderC, nil)
		checkErr(t, err, ErrDType)
	}
}

func TestDTypeOf(t *testing.T) {
	type celsius float64
	checks := []struct {
		got, want DType
	}{
		{DTypeOf[int8](), Int8}, {DTypeOf[int16](), Int16}, {DTypeOf[int32](), Int32}, {DTypeOf[int64](), Int64},
		{DTypeOf[uint8](), Uint8}, {DTypeOf[uint16](), Uint16}, {DTypeOf[uint32](), Uint32}, {DTypeOf[uint64](), Uint64},
		{DTypeOf[float32](), Float32}, {DTypeOf[float64](), Float64},
		{DTypeOf[complex64](), Complex64}, {DTypeOf[complex128](), Complex128},
		{DTypeOf[celsius](), Float64}, {DTypeOf[byte](), Uint8}, {DTypeOf[rune](), Int32},
	}
	for i, c := range checks {
		if c.got != c.want {
			t.Errorf("case %d: DTypeOf = %v, want %v", i, c.got, c.want)
		}
	}
}
