package arrayx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestUnmarshal is the table of hostile and edge-case headers: every field's
// bad values, map-level problems and prefix problems. Each case names the
// sentinel its error must wrap; want == nil means the input is accepted.
func TestUnmarshal(t *testing.T) {
	base := baseFields()
	// big is a valid shape/nbytes/crc set for a 1024x2 float32 array (8 KiB).
	big := base.set("shape", mp{}.uints(1024, 2)).set("nbytes", mp{}.uint(8192)).
		set("crc32c", mp{}.bin(make([]byte, 4)))
	rank := func(n int) mp {
		m := mp{}.arr(n)
		for range n {
			m = m.uint(1)
		}
		return m
	}
	// pad returns an unknown key whose string value makes the body n bytes long.
	pad := func(fs fields, n int) fields {
		fs = fs.with(kv("zz_pad", mp{}.str("")))
		short := len(fs.body())
		for extra := n - short; extra > 0; {
			s := strings.Repeat("p", extra)
			fs[len(fs)-1] = kv("zz_pad", mp{}.str(s))
			got := len(fs.body())
			if got == n {
				return fs
			}
			extra -= got - n
		}
		panic("pad: cannot reach size")
	}

	tests := []struct {
		name string
		in   []byte
		lim  Limits
		want error
	}{
		{"valid", headerBytes(base.body()), Limits{}, nil},
		{"valid-keys-reversed", headerBytes(reversed(base).body()), Limits{}, nil},
		{"valid-map16", headerBytes(map16(base)), Limits{}, nil},
		{"valid-map32", headerBytes(map32(base)), Limits{}, nil},
		{"valid-non-compact-ints", headerBytes(base.set("nbytes", mp{}.u64(24)).set("data_offset", mp{}.i64(4096)).
			set("block_size", mp{}.u32(4<<20)).set("shape", mp{}.arr(2).i8(2).u16(3)).body()), Limits{}, nil},
		{"valid-unsealed-no-crc", headerBytes(base.set("sealed", mp{}.boolean(false)).without("crc32c").body()), Limits{}, nil},
		{"valid-unsealed-with-crc", headerBytes(base.set("sealed", mp{}.boolean(false)).body()), Limits{}, nil},
		{"valid-attrs-nil", headerBytes(base.with(kv("attrs", mp{}.null())).body()), Limits{}, nil},
		{"valid-attrs", headerBytes(base.with(kv("attrs", mp{}.mapn(2).str("a").int(-5).str("b").arr(1).f64(1.5))).body()), Limits{}, nil},
		// attrs values may be any msgpack value, including maps with
		// non-string (hashable) keys and extension types.
		{"valid-attrs-nested-int-key", headerBytes(base.with(kv("attrs", mp{}.mapn(1).str("a").mapn(2).uint(1).str("x").null().boolean(true))).body()), Limits{}, nil},
		{"valid-attrs-ext", headerBytes(base.with(kv("attrs", mp{}.mapn(2).str("a").raw(0xd4, 42, 0).str("t").raw(0xd6, 0xff, 0, 0, 0, 1))).body()), Limits{}, nil},
		{"valid-unknown-key", headerBytes(base.with(kv("future", mp{}.mapn(1).str("x").arr(2).null().bin([]byte{1}))).body()), Limits{}, nil},
		{"valid-data-offset-8192", headerBytes(base.set("data_offset", mp{}.uint(8192)).body()), Limits{}, nil},
		{"valid-block-size-64KiB", headerBytes(base.set("block_size", mp{}.uint(64<<10)).body()), Limits{}, nil},
		{"valid-block-size-1GiB", headerBytes(base.set("block_size", mp{}.uint(1<<30)).body()), Limits{}, nil},
		{"valid-0d", headerBytes(base.set("shape", mp{}.arr(0)).set("nbytes", mp{}.uint(4)).body()), Limits{}, nil},
		{"valid-zero-size", headerBytes(base.set("shape", mp{}.uints(0, 3)).set("nbytes", mp{}.uint(0)).
			set("crc32c", mp{}.bin(nil)).body()), Limits{}, nil},
		{"valid-rank-64", headerBytes(base.set("shape", rank(64)).set("nbytes", mp{}.uint(4)).
			set("crc32c", mp{}.bin(make([]byte, 4))).body()), Limits{}, nil},
		{"valid-zero-dim-with-huge-dims", headerBytes(base.set("shape", mp{}.uints(0, 1<<40)).set("nbytes", mp{}.uint(0)).
			set("crc32c", mp{}.bin(nil)).body()), Limits{}, nil},
		{"valid-trailing-bytes-after-H", append(headerBytes(base.body()), 1, 2, 3), Limits{}, nil},
		{"valid-header-ends-at-data-offset", headerBytes(pad(base, 4096-PrefixSize).body()), Limits{}, nil},

		// dtype
		{"dtype-missing", headerBytes(base.without("dtype").body()), Limits{}, ErrInvalidHeader},
		{"dtype-int", headerBytes(base.set("dtype", mp{}.uint(12)).body()), Limits{}, ErrInvalidHeader},
		{"dtype-bin", headerBytes(base.set("dtype", mp{}.bin([]byte("float32"))).body()), Limits{}, ErrInvalidHeader},
		{"dtype-nil", headerBytes(base.set("dtype", mp{}.null()).body()), Limits{}, ErrInvalidHeader},
		{"dtype-unknown", headerBytes(base.set("dtype", mp{}.str("float128")).body()), Limits{}, ErrInvalidHeader},
		{"dtype-numpy-string", headerBytes(base.set("dtype", mp{}.str("<f4")).body()), Limits{}, ErrInvalidHeader},
		{"dtype-empty", headerBytes(base.set("dtype", mp{}.str("")).body()), Limits{}, ErrInvalidHeader},
		{"dtype-upper-case", headerBytes(base.set("dtype", mp{}.str("FLOAT32")).body()), Limits{}, ErrInvalidHeader},
		{"dtype-array", headerBytes(base.set("dtype", mp{}.arr(1).str("float32")).body()), Limits{}, ErrInvalidHeader},

		// shape
		{"shape-missing", headerBytes(base.without("shape").body()), Limits{}, ErrInvalidHeader},
		{"shape-string", headerBytes(base.set("shape", mp{}.str("2,3")).body()), Limits{}, ErrInvalidHeader},
		{"shape-nil", headerBytes(base.set("shape", mp{}.null()).body()), Limits{}, ErrInvalidHeader},
		{"shape-map", headerBytes(base.set("shape", mp{}.mapn(1).str("a").uint(6)).body()), Limits{}, ErrInvalidHeader},
		{"shape-int", headerBytes(base.set("shape", mp{}.uint(6)).body()), Limits{}, ErrInvalidHeader},
		{"shape-negative-fixint", headerBytes(base.set("shape", mp{}.arr(2).int(-1).uint(3)).body()), Limits{}, ErrInvalidHeader},
		{"shape-negative-int64", headerBytes(base.set("shape", mp{}.arr(2).i64(-2).uint(3)).body()), Limits{}, ErrInvalidHeader},
		{"shape-float64", headerBytes(base.set("shape", mp{}.arr(2).f64(2).uint(3)).body()), Limits{}, ErrInvalidHeader},
		{"shape-float32", headerBytes(base.set("shape", mp{}.arr(2).uint(2).f32(3)).body()), Limits{}, ErrInvalidHeader},
		{"shape-string-dim", headerBytes(base.set("shape", mp{}.arr(2).str("2").uint(3)).body()), Limits{}, ErrInvalidHeader},
		{"shape-nested", headerBytes(base.set("shape", mp{}.arr(1).uints(2, 3)).body()), Limits{}, ErrInvalidHeader},
		{"shape-bool-dim", headerBytes(base.set("shape", mp{}.arr(2).boolean(true).uint(3)).body()), Limits{}, ErrInvalidHeader},
		{"shape-uint64-over-int64", headerBytes(base.set("shape", mp{}.arr(2).u64(1<<63).uint(3)).body()), Limits{}, ErrInvalidHeader},
		{"shape-rank-65", headerBytes(base.set("shape", rank(65)).set("nbytes", mp{}.uint(4)).body()), Limits{}, ErrInvalidHeader},
		{"shape-array32-rank-65", headerBytes(base.set("shape", append(mp{}.raw(0xdd, 0, 0, 0, 65), rank(65)[3:]...)).
			set("nbytes", mp{}.uint(4)).body()), Limits{}, ErrInvalidHeader},
		{"shape-2^40x2^40", headerBytes(base.set("shape", mp{}.uints(1<<40, 1<<40)).body()), Limits{}, ErrTooLarge},
		{"shape-0x2^62x2^62", headerBytes(base.set("shape", mp{}.uints(0, 1<<62, 1<<62)).set("nbytes", mp{}.uint(0)).
			set("crc32c", mp{}.bin(nil)).body()), Limits{}, ErrTooLarge},
		{"shape-2^62x2^62x0", headerBytes(base.set("shape", mp{}.uints(1<<62, 1<<62, 0)).set("nbytes", mp{}.uint(0)).
			set("crc32c", mp{}.bin(nil)).body()), Limits{}, ErrTooLarge},
		{"shape-bytes-overflow", headerBytes(base.set("shape", mp{}.uints(1<<61)).set("nbytes", mp{}.uint(0)).body()), Limits{}, ErrTooLarge},
		{"shape-2^32x2^32", headerBytes(base.set("shape", mp{}.uints(1<<32, 1<<32)).body()), Limits{}, ErrTooLarge},

		// order
		{"order-missing", headerBytes(base.without("order").body()), Limits{}, ErrInvalidHeader},
		{"order-lower-c", headerBytes(base.set("order", mp{}.str("c")).body()), Limits{}, ErrInvalidHeader},
		{"order-A", headerBytes(base.set("order", mp{}.str("A")).body()), Limits{}, ErrInvalidHeader},
		{"order-CF", headerBytes(base.set("order", mp{}.str("CF")).body()), Limits{}, ErrInvalidHeader},
		{"order-empty", headerBytes(base.set("order", mp{}.str("")).body()), Limits{}, ErrInvalidHeader},
		{"order-int", headerBytes(base.set("order", mp{}.uint('C')).body()), Limits{}, ErrInvalidHeader},
		{"order-bin", headerBytes(base.set("order", mp{}.bin([]byte("C"))).body()), Limits{}, ErrInvalidHeader},

		// nbytes
		{"nbytes-missing", headerBytes(base.without("nbytes").body()), Limits{}, ErrInvalidHeader},
		{"nbytes-negative-fixint", headerBytes(base.set("nbytes", mp{}.int(-24)).body()), Limits{}, ErrInvalidHeader},
		{"nbytes-negative-int64", headerBytes(base.set("nbytes", mp{}.i64(-24)).body()), Limits{}, ErrInvalidHeader},
		{"nbytes-float", headerBytes(base.set("nbytes", mp{}.f64(24)).body()), Limits{}, ErrInvalidHeader},
		{"nbytes-string", headerBytes(base.set("nbytes", mp{}.str("24")).body()), Limits{}, ErrInvalidHeader},
		{"nbytes-nil", headerBytes(base.set("nbytes", mp{}.null()).body()), Limits{}, ErrInvalidHeader},
		{"nbytes-mismatch-small", headerBytes(base.set("nbytes", mp{}.uint(23)).body()), Limits{}, ErrInvalidHeader},
		{"nbytes-mismatch-large", headerBytes(base.set("nbytes", mp{}.uint(48)).body()), Limits{}, ErrInvalidHeader},
		{"nbytes-elements-not-bytes", headerBytes(base.set("nbytes", mp{}.uint(6)).body()), Limits{}, ErrInvalidHeader},
		{"nbytes-uint64-max", headerBytes(base.set("nbytes", mp{}.u64(math.MaxUint64)).body()), Limits{}, ErrInvalidHeader},

		// data_offset
		{"data-offset-missing", headerBytes(base.without("data_offset").body()), Limits{}, ErrInvalidHeader},
		{"data-offset-0", headerBytes(base.set("data_offset", mp{}.uint(0)).body()), Limits{}, ErrInvalidHeader},
		{"data-offset-16", headerBytes(base.set("data_offset", mp{}.uint(16)).body()), Limits{}, ErrInvalidHeader},
		{"data-offset-2048", headerBytes(base.set("data_offset", mp{}.uint(2048)).body()), Limits{}, ErrInvalidHeader},
		{"data-offset-4095", headerBytes(base.set("data_offset", mp{}.uint(4095)).body()), Limits{}, ErrInvalidHeader},
		{"data-offset-4097", headerBytes(base.set("data_offset", mp{}.uint(4097)).body()), Limits{}, ErrInvalidHeader},
		{"data-offset-negative", headerBytes(base.set("data_offset", mp{}.int(-4096)).body()), Limits{}, ErrInvalidHeader},
		{"data-offset-float", headerBytes(base.set("data_offset", mp{}.f64(4096)).body()), Limits{}, ErrInvalidHeader},
		{"data-offset-string", headerBytes(base.set("data_offset", mp{}.str("4096")).body()), Limits{}, ErrInvalidHeader},
		{"data-offset-inside-header", headerBytes(pad(base, 4096-PrefixSize+1).body()), Limits{}, ErrInvalidHeader},
		{"data-offset-plus-nbytes-overflows", headerBytes(big.set("data_offset", mp{}.uint(math.MaxInt64&^(Alignment-1))).body()), Limits{}, ErrTooLarge},

		// block_size
		{"block-size-missing", headerBytes(base.without("block_size").body()), Limits{}, ErrInvalidHeader},
		{"block-size-0", headerBytes(base.set("block_size", mp{}.uint(0)).body()), Limits{}, ErrInvalidHeader},
		{"block-size-64KiB-minus-1", headerBytes(base.set("block_size", mp{}.uint(64<<10-1)).body()), Limits{}, ErrInvalidHeader},
		{"block-size-32KiB", headerBytes(base.set("block_size", mp{}.uint(32<<10)).body()), Limits{}, ErrInvalidHeader},
		{"block-size-3MiB", headerBytes(base.set("block_size", mp{}.uint(3<<20)).body()), Limits{}, ErrInvalidHeader},
		{"block-size-4MiB-plus-1", headerBytes(base.set("block_size", mp{}.uint(4<<20+1)).body()), Limits{}, ErrInvalidHeader},
		{"block-size-2GiB", headerBytes(base.set("block_size", mp{}.uint(2<<30)).body()), Limits{}, ErrInvalidHeader},
		{"block-size-2^62", headerBytes(base.set("block_size", mp{}.uint(1<<62)).body()), Limits{}, ErrInvalidHeader},
		{"block-size-negative", headerBytes(base.set("block_size", mp{}.i32(-(4 << 20))).body()), Limits{}, ErrInvalidHeader},
		{"block-size-float", headerBytes(base.set("block_size", mp{}.f64(4<<20)).body()), Limits{}, ErrInvalidHeader},
		{"block-size-string", headerBytes(base.set("block_size", mp{}.str("4MiB")).body()), Limits{}, ErrInvalidHeader},

		// crc32c
		{"crc-two-for-one-block", headerBytes(base.set("crc32c", mp{}.bin(make([]byte, 8))).body()), Limits{}, ErrInvalidHeader},
		{"crc-none-for-one-block", headerBytes(base.set("crc32c", mp{}.bin(nil)).body()), Limits{}, ErrInvalidHeader},
		{"crc-3-bytes", headerBytes(base.set("crc32c", mp{}.bin(make([]byte, 3))).body()), Limits{}, ErrInvalidHeader},
		{"crc-5-bytes", headerBytes(base.set("crc32c", mp{}.bin(make([]byte, 5))).body()), Limits{}, ErrInvalidHeader},
		{"crc-str", headerBytes(base.set("crc32c", mp{}.str("\x00\x00\x00\x00")).body()), Limits{}, ErrInvalidHeader},
		{"crc-array", headerBytes(base.set("crc32c", mp{}.uints(12345)).body()), Limits{}, ErrInvalidHeader},
		{"crc-int", headerBytes(base.set("crc32c", mp{}.u32(12345)).body()), Limits{}, ErrInvalidHeader},
		{"crc-nil", headerBytes(base.set("crc32c", mp{}.null()).body()), Limits{}, ErrInvalidHeader},
		{"crc-for-zero-size-array", headerBytes(base.set("shape", mp{}.uints(0)).set("nbytes", mp{}.uint(0)).body()), Limits{}, ErrInvalidHeader},
		{"crc-unsealed-wrong-length", headerBytes(base.set("sealed", mp{}.boolean(false)).set("crc32c", mp{}.bin(make([]byte, 8))).body()), Limits{}, ErrInvalidHeader},

		// sealed
		{"sealed-missing", headerBytes(base.without("sealed").body()), Limits{}, ErrInvalidHeader},
		{"sealed-without-crc", headerBytes(base.without("crc32c").body()), Limits{}, ErrInvalidHeader},
		// xxh3_128 (format 1.1): optional, one 16-byte digest a block, with crc32c
		{"valid-xxh", headerBytes(base.set("xxh3_128", mp{}.bin(make([]byte, 16))).body()), Limits{}, nil},
		{"xxh-two-for-one-block", headerBytes(base.set("xxh3_128", mp{}.bin(make([]byte, 32))).body()), Limits{}, ErrInvalidHeader},
		{"xxh-none-for-one-block", headerBytes(base.set("xxh3_128", mp{}.bin(nil)).body()), Limits{}, ErrInvalidHeader},
		{"xxh-15-bytes", headerBytes(base.set("xxh3_128", mp{}.bin(make([]byte, 15))).body()), Limits{}, ErrInvalidHeader},
		{"xxh-str", headerBytes(base.set("xxh3_128", mp{}.str(strings.Repeat("x", 16))).body()), Limits{}, ErrInvalidHeader},
		{"xxh-without-crc", headerBytes(base.set("sealed", mp{}.boolean(false)).without("crc32c").set("xxh3_128", mp{}.bin(make([]byte, 16))).body()), Limits{}, ErrInvalidHeader},
		{"sealed-int", headerBytes(base.set("sealed", mp{}.uint(1)).body()), Limits{}, ErrInvalidHeader},
		{"sealed-string", headerBytes(base.set("sealed", mp{}.str("true")).body()), Limits{}, ErrInvalidHeader},
		{"sealed-nil", headerBytes(base.set("sealed", mp{}.null()).body()), Limits{}, ErrInvalidHeader},

		// attrs
		{"attrs-array", headerBytes(base.with(kv("attrs", mp{}.uints(1, 2))).body()), Limits{}, ErrInvalidHeader},
		{"attrs-string", headerBytes(base.with(kv("attrs", mp{}.str("units=m"))).body()), Limits{}, ErrInvalidHeader},
		{"attrs-int-key", headerBytes(base.with(kv("attrs", mp{}.mapn(1).uint(1).str("x"))).body()), Limits{}, ErrInvalidHeader},
		{"attrs-bin-key", headerBytes(base.with(kv("attrs", mp{}.mapn(1).bin([]byte("k")).str("x"))).body()), Limits{}, ErrInvalidHeader},
		{"attrs-nested-array-key", headerBytes(base.with(kv("attrs", mp{}.mapn(1).str("a").mapn(1).uints(1).str("x"))).body()), Limits{}, ErrInvalidHeader},
		{"attrs-nested-map-key", headerBytes(base.with(kv("attrs", mp{}.mapn(1).str("a").mapn(1).mapn(0).str("x"))).body()), Limits{}, ErrInvalidHeader},
		{"attrs-nested-bin-key", headerBytes(base.with(kv("attrs", mp{}.mapn(1).str("a").mapn(1).bin([]byte{1}).str("x"))).body()), Limits{}, ErrInvalidHeader},
		{"attrs-nested-ext-key", headerBytes(base.with(kv("attrs", mp{}.mapn(1).str("a").mapn(1).raw(0xd4, 1, 0).str("x"))).body()), Limits{}, ErrInvalidHeader},
		{"nesting-too-deep-in-attrs", headerBytes(base.with(kv("attrs", nested(40))).body()), Limits{}, ErrInvalidHeader},

		// the map itself
		{"empty-body", headerBytes(nil), Limits{}, ErrInvalidHeader},
		{"not-a-map-array", headerBytes(mp{}.uints(1, 2)), Limits{}, ErrInvalidHeader},
		{"not-a-map-nil", headerBytes(mp{}.null()), Limits{}, ErrInvalidHeader},
		{"not-a-map-string", headerBytes(mp{}.str("dtype")), Limits{}, ErrInvalidHeader},
		{"not-a-map-int", headerBytes(mp{}.uint(7)), Limits{}, ErrInvalidHeader},
		{"empty-map", headerBytes(mp{}.mapn(0)), Limits{}, ErrInvalidHeader},
		{"duplicate-dtype", headerBytes(base.with(kv("dtype", mp{}.str("float32"))).body()), Limits{}, ErrInvalidHeader},
		{"duplicate-shape-differs", headerBytes(base.with(kv("shape", mp{}.uints(3, 2))).body()), Limits{}, ErrInvalidHeader},
		{"duplicate-unknown-key", headerBytes(base.with(kv("x", mp{}.null()), kv("x", mp{}.null())).body()), Limits{}, ErrInvalidHeader},
		{"int-key", headerBytes(base.with(field{mp{}.uint(1), mp{}.null()}).body()), Limits{}, ErrInvalidHeader},
		{"bin-key", headerBytes(base.with(field{mp{}.bin([]byte("x")), mp{}.null()}).body()), Limits{}, ErrInvalidHeader},
		{"nil-key", headerBytes(base.with(field{mp{}.null(), mp{}.null()}).body()), Limits{}, ErrInvalidHeader},
		{"trailing-byte-inside-H", headerBytes(append(base.body(), 0xc0)), Limits{}, ErrInvalidHeader},
		{"trailing-zero-inside-H", headerBytes(append(base.body(), 0)), Limits{}, ErrInvalidHeader},
		{"map-declares-more-pairs", headerBytes(append(mp{}.mapn(len(base)+1), base.body()[1:]...)), Limits{}, ErrInvalidHeader},
		{"map-declares-fewer-pairs", headerBytes(append(mp{}.mapn(len(base)-1), base.body()[1:]...)), Limits{}, ErrInvalidHeader},
		{"reserved-0xc1", headerBytes(base.with(kv("x", mp{}.raw(0xc1))).body()), Limits{}, ErrInvalidHeader},
		{"map32-huge-count", headerBytes(mp{}.raw(0xdf, 0xff, 0xff, 0xff, 0xff)), Limits{}, ErrInvalidHeader},
		{"unknown-key-str32-huge", headerBytes(base.with(kv("x", mp{}.raw(0xdb, 0xff, 0xff, 0xff, 0xff))).body()), Limits{}, ErrInvalidHeader},
		{"body-truncated-mid-value", headerBytes(base.body()[:len(base.body())-2]), Limits{}, ErrInvalidHeader},

		// the prefix
		{"magic-zip", append([]byte("PK\x03\x04\x14\x00\x00\x00"), headerBytes(base.body())[8:]...), Limits{}, ErrBadMagic},
		{"magic-npy", append([]byte("\x93NUMPY\x01\x00"), headerBytes(base.body())[8:]...), Limits{}, ErrBadMagic},
		{"magic-crlf-mangled", withByte(headerBytes(base.body()), 4, '\n'), Limits{}, ErrBadMagic},
		{"magic-high-bit-stripped", withByte(headerBytes(base.body()), 0, 0x09), Limits{}, ErrBadMagic},
		{"magic-last-byte", withByte(headerBytes(base.body()), 7, 0), Limits{}, ErrBadMagic},
		{"major-0", append(prefix(0, 0, uint32(len(base.body()))), base.body()...), Limits{}, ErrVersion},
		{"major-2", append(prefix(2, 0, uint32(len(base.body()))), base.body()...), Limits{}, ErrVersion},
		{"major-256", append(prefix(256, 0, uint32(len(base.body()))), base.body()...), Limits{}, ErrVersion},
		{"minor-7-unknown-key", append(prefix(1, 7, uint32(len(base.with(kv("new_in_1.7", mp{}.uints(1))).body()))),
			base.with(kv("new_in_1.7", mp{}.uints(1))).body()...), Limits{}, nil},
		{"minor-65535", append(prefix(1, 0xffff, uint32(len(base.body()))), base.body()...), Limits{}, nil},
		{"H-over-default-limit", prefix(1, 0, DefaultMaxHeaderBytes+1), Limits{}, ErrHeaderTooLarge},
		{"H-at-default-limit-truncated", prefix(1, 0, DefaultMaxHeaderBytes), Limits{}, ErrTruncated},
		{"H-2^31-tiny-limit", prefix(1, 0, 1<<31), Limits{MaxHeaderBytes: 64}, ErrHeaderTooLarge},
		{"H-max-uint32", prefix(1, 0, math.MaxUint32), Limits{}, ErrHeaderTooLarge},
		{"H-over-custom-limit", headerBytes(base.body()), Limits{MaxHeaderBytes: len(base.body()) - 1}, ErrHeaderTooLarge},
		{"H-at-custom-limit", headerBytes(base.body()), Limits{MaxHeaderBytes: len(base.body())}, nil},
		{"negative-limit-means-default", headerBytes(base.body()), Limits{MaxHeaderBytes: -1}, nil},
		{"empty-input", nil, Limits{}, ErrTruncated},
		{"prefix-truncated-8", headerBytes(base.body())[:8], Limits{}, ErrTruncated},
		{"prefix-truncated-15", headerBytes(base.body())[:15], Limits{}, ErrTruncated},
		{"prefix-only", prefix(1, 0, uint32(len(base.body()))), Limits{}, ErrTruncated},
		{"header-truncated-by-1", headerBytes(base.body())[:PrefixSize+len(base.body())-1], Limits{}, ErrTruncated},
		{"H-larger-than-body", append(prefix(1, 0, uint32(len(base.body())+1)), base.body()...), Limits{}, ErrTruncated},
		{"H-smaller-than-body", append(prefix(1, 0, uint32(len(base.body())-1)), base.body()...), Limits{}, ErrInvalidHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := Unmarshal(tt.in, tt.lim)
			checkErr(t, err, tt.want)
			// An invalid field must be the one blamed, not a later consistency check.
			if key := blamedKey(tt.name); key != "" && errors.Is(tt.want, ErrInvalidHeader) &&
				!strings.Contains(err.Error(), key) {
				t.Errorf("error %q does not name %q", err, key)
			}
			if err != nil {
				if h != nil {
					t.Errorf("header %+v returned with error", h)
				}
				return
			}
			if err := h.Validate(); err != nil {
				t.Errorf("accepted header does not validate: %v", err)
			}
		})
	}
}

// TestUnmarshalFields checks the values decoded from the base header and from
// variants that exercise each optional field.
func TestUnmarshalFields(t *testing.T) {
	base := baseFields()
	h, err := Unmarshal(headerBytes(base.body()), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := &Header{
		DType: Float32, Shape: Shape{2, 3}, Order: OrderC, NBytes: 24, DataOffset: 4096,
		BlockSize: 4 << 20, Sealed: true, CRC32C: []uint32{CRC32C(goldenData())},
	}
	if !headersEqual(h, want) {
		t.Errorf("got %+v\nwant %+v", h, want)
	}

	h, err = Unmarshal(headerBytes(base.set("order", mp{}.str("F")).set("sealed", mp{}.boolean(false)).without("crc32c").
		with(kv("attrs", mp{}.mapn(3).str("units").str("m").str("n").int(-3).str("raw").bin([]byte{0, 1}))).body()), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if h.Order != OrderF || h.Sealed || h.CRC32C != nil {
		t.Errorf("order %v sealed %v crc %v", h.Order, h.Sealed, h.CRC32C)
	}
	if h.Attrs["units"] != "m" || !bytes.Equal(h.Attrs["raw"].([]byte), []byte{0, 1}) {
		t.Errorf("attrs %#v", h.Attrs)
	}
	if n, ok := h.Attrs["n"]; !ok || toInt64(n) != -3 {
		t.Errorf("attrs[n] = %#v", n)
	}

	// The CRC table decodes as little-endian uint32s, in order: a 3x65536
	// float32 array in 64 KiB blocks has 12 of them.
	var table []byte
	var wantCRC []uint32
	for i := range 12 {
		v := uint32(0x01020304) * uint32(i+1)
		wantCRC = append(wantCRC, v)
		table = binary.LittleEndian.AppendUint32(table, v)
	}
	multi := base.set("block_size", mp{}.uint(64<<10)).set("shape", mp{}.uints(3, 65536)).
		set("nbytes", mp{}.uint(3*65536*4))
	h, err = Unmarshal(headerBytes(multi.set("crc32c", mp{}.bin(table)).body()), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if h.NumBlocks() != 12 || !slices.Equal(h.CRC32C, wantCRC) {
		t.Errorf("blocks %d, crc %08x, want %08x", h.NumBlocks(), h.CRC32C, wantCRC)
	}
	for _, n := range []int{11, 13} {
		_, err := Unmarshal(headerBytes(multi.set("crc32c", mp{}.bin(make([]byte, 4*n))).body()), Limits{})
		checkErr(t, err, ErrInvalidHeader)
	}
}

// toInt64 converts any Go integer to int64 (attrs decode ints of various widths).
func toInt64(v any) int64 {
	switch x := v.(type) {
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int64:
		return x
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		return int64(x)
	}
	return math.MinInt64
}

// blamedKey maps a TestUnmarshal case name to the header key its error must name.
func blamedKey(name string) string {
	for _, p := range [][2]string{{"dtype-", "dtype"}, {"shape-", "shape"}, {"order-", "order"},
		{"nbytes-", "nbytes"}, {"data-offset-", "data_offset"}, {"block-size-", "block_size"},
		{"crc-", "crc32c"}, {"sealed-", "sealed"}, {"attrs-", "attrs"}} {
		if strings.HasPrefix(name, p[0]) {
			return p[1]
		}
	}
	return ""
}

func reversed(fs fields) fields {
	out := make(fields, len(fs))
	for i, f := range fs {
		out[len(fs)-1-i] = f
	}
	return out
}

// map16 and map32 encode fs with the wide map headers.
func map16(fs fields) []byte {
	return append(mp{}.raw(0xde, 0, byte(len(fs))), fs.body()[1:]...)
}

func map32(fs fields) []byte {
	return append(mp{}.raw(0xdf, 0, 0, 0, byte(len(fs))), fs.body()[1:]...)
}

// nested returns n maps nested in each other: {"a": {"a": ... nil}}.
func nested(n int) mp {
	m := mp{}
	for range n {
		m = m.mapn(1).str("a")
	}
	return m.null()
}

func withByte(b []byte, i int, v byte) []byte {
	b = append([]byte{}, b...)
	b[i] = v
	return b
}

// validHeader returns a valid sealed header for the golden array.
func validHeader() *Header {
	return &Header{
		DType: Float32, Shape: Shape{2, 3}, Order: OrderC, NBytes: 24, DataOffset: 4096,
		BlockSize: 4 << 20, Sealed: true, CRC32C: []uint32{CRC32C(goldenData())},
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(h *Header)
		want   error
	}{
		{"valid", func(h *Header) {}, nil},
		{"valid-unsealed", func(h *Header) { h.Sealed, h.CRC32C = false, nil }, nil},
		{"valid-order-F", func(h *Header) { h.Order = OrderF }, nil},
		{"valid-zero-size", func(h *Header) { h.Shape, h.NBytes, h.CRC32C = Shape{2, 0}, 0, []uint32{} }, nil},
		{"valid-0d", func(h *Header) { h.Shape, h.NBytes = nil, 4 }, nil},
		{"dtype-zero", func(h *Header) { h.DType = 0 }, ErrInvalidHeader},
		{"dtype-16", func(h *Header) { h.DType = Complex128 + 1 }, ErrInvalidHeader},
		{"dtype-255", func(h *Header) { h.DType = 255 }, ErrInvalidHeader},
		{"order-zero", func(h *Header) { h.Order = 0 }, ErrInvalidHeader},
		{"order-A", func(h *Header) { h.Order = 'A' }, ErrInvalidHeader},
		{"shape-negative", func(h *Header) { h.Shape = Shape{-2, -3} }, ErrInvalidHeader},
		{"shape-rank-65", func(h *Header) { h.Shape, h.NBytes = make(Shape, 65), 0 }, ErrInvalidHeader},
		{"shape-overflow", func(h *Header) { h.Shape = Shape{1 << 40, 1 << 40} }, ErrTooLarge},
		{"shape-zero-hides-overflow", func(h *Header) { h.Shape, h.NBytes = Shape{0, 1 << 62, 1 << 62}, 0 }, ErrTooLarge},
		{"shape-bytes-overflow", func(h *Header) { h.Shape = Shape{1 << 61} }, ErrTooLarge},
		{"nbytes-mismatch", func(h *Header) { h.NBytes = 25 }, ErrInvalidHeader},
		{"nbytes-negative", func(h *Header) { h.NBytes = -24 }, ErrInvalidHeader},
		{"nbytes-elements", func(h *Header) { h.NBytes = 6 }, ErrInvalidHeader},
		{"data-offset-0", func(h *Header) { h.DataOffset = 0 }, ErrInvalidHeader},
		{"data-offset-negative", func(h *Header) { h.DataOffset = -4096 }, ErrInvalidHeader},
		{"data-offset-unaligned", func(h *Header) { h.DataOffset = 4100 }, ErrInvalidHeader},
		{"data-offset-overflow", func(h *Header) {
			h.Shape, h.NBytes, h.DataOffset = Shape{1 << 20}, 4<<20, math.MaxInt64&^(Alignment-1)
		}, ErrTooLarge},
		{"block-size-0", func(h *Header) { h.BlockSize = 0 }, ErrInvalidHeader},
		{"block-size-negative", func(h *Header) { h.BlockSize = -1 << 20 }, ErrInvalidHeader},
		{"block-size-min-minus-1", func(h *Header) { h.BlockSize = MinBlockSize - 1 }, ErrInvalidHeader},
		{"block-size-min-half", func(h *Header) { h.BlockSize = MinBlockSize / 2 }, ErrInvalidHeader},
		{"block-size-max-double", func(h *Header) { h.BlockSize = MaxBlockSize * 2 }, ErrInvalidHeader},
		{"block-size-not-power", func(h *Header) { h.BlockSize = 5 << 20 }, ErrInvalidHeader},
		{"block-size-min", func(h *Header) { h.BlockSize = MinBlockSize }, nil},
		{"block-size-max", func(h *Header) { h.BlockSize = MaxBlockSize }, nil},
		{"crc-too-many", func(h *Header) { h.CRC32C = []uint32{1, 2} }, ErrInvalidHeader},
		{"crc-empty-for-one-block", func(h *Header) { h.CRC32C = []uint32{} }, ErrInvalidHeader},
		{"sealed-without-crc", func(h *Header) { h.CRC32C = nil }, ErrInvalidHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := validHeader()
			tt.modify(h)
			checkErr(t, h.Validate(), tt.want)
			// Marshal validates too and must refuse exactly what Validate refuses.
			_, err := h.Marshal()
			checkErr(t, err, tt.want)
		})
	}
}

func TestMarshalRefusesDataOffsetInsideHeader(t *testing.T) {
	h := validHeader()
	h.Attrs = map[string]any{"blob": strings.Repeat("x", 5000)}
	_, err := h.Marshal()
	checkErr(t, err, ErrInvalidHeader)
	h.DataOffset = 8192
	b, err := h.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !headersEqual(got, h) {
		t.Errorf("round trip: got %+v, want %+v", got, h)
	}
}

func TestMarshalUnencodableAttrs(t *testing.T) {
	h := validHeader()
	h.Attrs = map[string]any{"ch": make(chan int)}
	_, err := h.Marshal()
	checkErr(t, err, ErrInvalidHeader)
	_, err = NewHeader(Float32, Shape{2}, OrderC, h.Attrs)
	checkErr(t, err, ErrInvalidHeader)
}

// TestMarshalPrefix checks the fixed prefix written by Marshal byte by byte.
func TestMarshalPrefix(t *testing.T) {
	b, err := validHeader().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x89, 0x41, 0x52, 0x58, 0x0d, 0x0a, 0x1a, 0x0a, 1, 0, 1, 0}
	if !bytes.Equal(b[:12], want) {
		t.Errorf("prefix % x, want % x", b[:12], want)
	}
	if h := binary.LittleEndian.Uint32(b[12:]); int(h) != len(b)-PrefixSize {
		t.Errorf("H = %d, header is %d bytes", h, len(b)-PrefixSize)
	}
	p, err := ParsePrefix(b, Limits{})
	if err != nil || p.Major != 1 || p.Minor != 1 || int(p.HeaderLen) != len(b)-PrefixSize {
		t.Errorf("ParsePrefix = %+v, %v", p, err)
	}
}

// TestReadHeader covers the size checks that only ReadHeader can make.
func TestReadHeader(t *testing.T) {
	hdr := headerBytes(baseFields().body())
	file := fileBytes(t, hdr, 4096, goldenData())
	tests := []struct {
		name string
		file []byte
		size int64 // -1: len(file)
		lim  Limits
		want error
	}{
		{"valid", file, -1, Limits{}, nil},
		{"trailing-byte", append(append([]byte{}, file...), 0), -1, Limits{}, ErrTrailingBytes},
		{"trailing-block", append(append([]byte{}, file...), make([]byte, 4096)...), -1, Limits{}, ErrTrailingBytes},
		{"data-truncated-by-1", file[:len(file)-1], -1, Limits{}, ErrTruncated},
		{"data-missing", file[:4096], -1, Limits{}, ErrTruncated},
		{"padding-truncated", file[:len(hdr)], -1, Limits{}, ErrTruncated},
		{"header-truncated", file[:len(hdr)-1], -1, Limits{}, ErrTruncated},
		{"prefix-only", file[:PrefixSize], -1, Limits{}, ErrTruncated},
		{"prefix-truncated", file[:PrefixSize-1], -1, Limits{}, ErrTruncated},
		{"empty", nil, -1, Limits{}, ErrTruncated},
		{"negative-size", file, -5, Limits{}, ErrTruncated},
		{"bad-magic", withByte(file, 1, 'B'), -1, Limits{}, ErrBadMagic},
		{"major-2", withByte(file, 8, 2), -1, Limits{}, ErrVersion},
		{"minor-7", withByte(file, 10, 7), -1, Limits{}, nil},
		{"H-over-limit", file, -1, Limits{MaxHeaderBytes: len(hdr) - PrefixSize - 1}, ErrHeaderTooLarge},
		{"H-past-end", append(prefix(1, 0, 1<<20), make([]byte, 100)...), -1, Limits{}, ErrTruncated},
		{"bad-header", withByte(file, PrefixSize, 0x90), -1, Limits{}, ErrInvalidHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size := tt.size
			if size == -1 {
				size = int64(len(tt.file))
			}
			h, err := ReadHeader(bytes.NewReader(tt.file), size, tt.lim)
			checkErr(t, err, tt.want)
			if err == nil && h.FileSize() != size {
				t.Errorf("FileSize %d, file is %d bytes", h.FileSize(), size)
			}
		})
	}
}

// limitedReaderAt fails the test when asked for bytes beyond max or past its data.
type limitedReaderAt struct {
	tb   testing.TB
	data []byte
	max  int64
}

func (r *limitedReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > r.max {
		r.tb.Errorf("ReadAt(%d bytes, off %d): reads past byte %d", len(p), off, r.max)
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, r.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// TestHeaderLimitBeforeAllocation checks that a declared H over the limit is
// refused from the prefix alone: nothing past the prefix is read and nothing
// in proportion to H is allocated.
func TestHeaderLimitBeforeAllocation(t *testing.T) {
	pre := prefix(1, 0, 1<<31)
	r := &limitedReaderAt{tb: t, data: pre, max: PrefixSize}
	lim := Limits{MaxHeaderBytes: 64}
	for _, size := range []int64{PrefixSize, 1 << 40, math.MaxInt64} {
		_, err := ReadHeader(r, size, lim)
		checkErr(t, err, ErrHeaderTooLarge)
	}
	_, err := Unmarshal(pre, lim)
	checkErr(t, err, ErrHeaderTooLarge)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const runs = 100
	allocs := testing.AllocsPerRun(runs, func() {
		if _, err := ReadHeader(r, math.MaxInt64, lim); !errors.Is(err, ErrHeaderTooLarge) {
			t.Fatal(err)
		}
		if _, err := Unmarshal(pre, Limits{}); !errors.Is(err, ErrHeaderTooLarge) {
			t.Fatal(err)
		}
	})
	runtime.ReadMemStats(&after)
	perRun := (after.TotalAlloc - before.TotalAlloc) / (runs + 1)
	t.Logf("%.0f allocations, %d bytes per run", allocs, perRun)
	if allocs > 20 || perRun > 4096 {
		t.Errorf("refusing an oversized header allocated %.0f times, %d bytes per run", allocs, perRun)
	}

	// A header length within the limit but past the end of the file is
	// refused before the header buffer is allocated, too.
	r = &limitedReaderAt{tb: t, data: prefix(1, 0, DefaultMaxHeaderBytes), max: PrefixSize}
	runtime.ReadMemStats(&before)
	_, err = ReadHeader(r, 4096, Limits{})
	runtime.ReadMemStats(&after)
	checkErr(t, err, ErrTruncated)
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
		t.Errorf("ReadHeader allocated %d bytes for a header the file cannot hold", n)
	}
}

// eofAtEndReaderAt returns io.EOF along with a full read that ends at the end
// of its data, which io.ReaderAt explicitly permits ("If the n = len(p) bytes
// returned by ReadAt are at the end of the input source, ReadAt may return
// either err == EOF or err == nil").
type eofAtEndReaderAt []byte

func (r eofAtEndReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off > int64(len(r)) {
		return 0, io.EOF
	}
	n := copy(p, r[off:])
	if off+int64(n) == int64(len(r)) {
		return n, io.EOF
	}
	return n, nil
}

// TestReadHeaderEOFAtEnd is a regression test (fixed in b774623): ReadHeader
// used to fail with "arrayx: reading header: EOF", wrapping no sentinel,
// whenever the header read ended exactly at the end of the file and the
// ReaderAt reported io.EOF with n == len(p): a valid file with nbytes 0 whose
// header fills the page (16+H == data_offset), and a 16-byte file declaring
// H = 0, where bytes.Reader returns (0, io.EOF) for the empty read at its end
// and os.File returns (0, nil).
func TestReadHeaderEOFAtEnd(t *testing.T) {
	t.Run("full-read-with-EOF", func(t *testing.T) {
		fs := baseFields().set("shape", mp{}.uints(0)).set("nbytes", mp{}.uint(0)).set("crc32c", mp{}.bin(nil))
		fs = fs.with(kv("pad", mp{}.str("")))
		n := 4096 - PrefixSize - len(fs.body()) - 2 // str16 header is 3 bytes, fixstr 1
		fs[len(fs)-1] = kv("pad", mp{}.str(strings.Repeat("p", n)))
		file := headerBytes(fs.body())
		if len(file) != 4096 {
			t.Fatalf("file is %d bytes, want 4096", len(file))
		}
		if _, err := ReadHeader(bytes.NewReader(file), int64(len(file)), Limits{}); err != nil {
			t.Fatalf("bytes.Reader: %v", err)
		}
		if _, err := ReadHeader(eofAtEndReaderAt(file), int64(len(file)), Limits{}); err != nil {
			t.Errorf("ReaderAt returning io.EOF with a full read at the end: %v", err)
		}
	})
	t.Run("empty-header-at-end", func(t *testing.T) {
		file := prefix(1, 0, 0)
		_, err := ReadHeader(bytes.NewReader(file), int64(len(file)), Limits{})
		if !errors.Is(err, ErrInvalidHeader) {
			t.Errorf("16-byte file with H = 0: got %v, want an error wrapping %v", err, ErrInvalidHeader)
		}
	})
}

// errReaderAt returns its error, after copying what it has.
type errReaderAt struct {
	data []byte
	err  error
}

func (r errReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(r.data)) {
		return 0, r.err
	}
	n := copy(p, r.data[off:])
	if n < len(p) {
		return n, r.err
	}
	return n, nil
}

// TestReadHeaderReaderErrors checks what ReadHeader reports when the reader
// fails or holds less than the size it was given (a file truncated between
// stat and read).
func TestReadHeaderReaderErrors(t *testing.T) {
	file := fileBytes(t, headerBytes(baseFields().body()), 4096, goldenData())
	size := int64(len(file))
	disk := errors.New("disk on fire")
	tests := []struct {
		name string
		r    io.ReaderAt
		want error
	}{
		{"io-error-in-prefix", errReaderAt{file[:8], disk}, disk},
		{"io-error-in-header", errReaderAt{file[:40], disk}, disk},
		{"shrunk-to-nothing", errReaderAt{nil, io.EOF}, ErrTruncated},
		{"shrunk-in-prefix", errReaderAt{file[:10], io.EOF}, ErrTruncated},
		{"shrunk-in-header", errReaderAt{file[:40], io.EOF}, ErrTruncated},
		{"short-read-unexpected-eof", errReaderAt{file[:40], io.ErrUnexpectedEOF}, ErrTruncated},
		{"shrunk-in-data", errReaderAt{file[:4100], io.EOF}, nil}, // only the header is read
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadHeader(tt.r, size, Limits{})
			checkErr(t, err, tt.want)
		})
	}
}

func TestCheckFileSize(t *testing.T) {
	h := validHeader()
	checkErr(t, h.CheckFileSize(4096+24), nil)
	checkErr(t, h.CheckFileSize(4096+23), ErrTruncated)
	checkErr(t, h.CheckFileSize(0), ErrTruncated)
	checkErr(t, h.CheckFileSize(-1), ErrTruncated)
	checkErr(t, h.CheckFileSize(4096+25), ErrTrailingBytes)
	checkErr(t, h.CheckFileSize(math.MaxInt64), ErrTrailingBytes)
}

func TestBlocksAndCheckBlock(t *testing.T) {
	h := &Header{DType: Uint8, Shape: Shape{3*MinBlockSize + 5}, Order: OrderC, NBytes: 3*MinBlockSize + 5,
		DataOffset: 4096, BlockSize: MinBlockSize}
	if n := h.NumBlocks(); n != 4 {
		t.Fatalf("NumBlocks = %d, want 4", n)
	}
	data := make([]byte, h.NBytes)
	for i := range data {
		data[i] = byte(i * 7)
	}
	wantRanges := [][2]int64{{0, MinBlockSize}, {MinBlockSize, MinBlockSize}, {2 * MinBlockSize, MinBlockSize}, {3 * MinBlockSize, 5}}
	h.CRC32C = make([]uint32, 4)
	for i, w := range wantRanges {
		off, n := h.Block(i)
		if off != w[0] || n != w[1] {
			t.Errorf("Block(%d) = %d, %d; want %d, %d", i, off, n, w[0], w[1])
		}
		h.CRC32C[i] = CRC32C(data[off : off+n])
	}
	h.Sealed = true
	checkErr(t, h.Validate(), nil)
	for i := range 4 {
		off, n := h.Block(i)
		checkErr(t, h.CheckBlock(i, data[off:off+n]), nil)
	}
	bad := append([]byte{}, data[2*MinBlockSize:3*MinBlockSize]...)
	bad[100] ^= 1
	err := h.CheckBlock(2, bad)
	var ce *ChecksumError
	if !errors.As(err, &ce) || !errors.Is(err, ErrChecksum) {
		t.Fatalf("CheckBlock on corrupt data: %v", err)
	}
	if ce.Block != 2 || ce.Offset != 2*MinBlockSize || ce.Want != h.CRC32C[2] || ce.Got != CRC32C(bad) {
		t.Errorf("ChecksumError %+v", ce)
	}
	if !strings.Contains(ce.Error(), "block 2") {
		t.Errorf("message %q does not name the block", ce.Error())
	}
	checkErr(t, h.CheckBlock(-1, nil), ErrIndex)
	checkErr(t, h.CheckBlock(4, nil), ErrIndex)

	// An unsealed header has no table: every block is out of range.
	h.CRC32C = nil
	checkErr(t, h.CheckBlock(0, data[:MinBlockSize]), ErrIndex)
	if (&Header{}).NumBlocks() != 0 {
		t.Error("NumBlocks of a zero header is not 0")
	}
}

func TestCRC32C(t *testing.T) {
	// The CRC-32C check value (RFC 3720 B.4 / the catalogue's "123456789").
	if got := CRC32C([]byte("123456789")); got != 0xe3069283 {
		t.Errorf("CRC32C(123456789) = %08x, want e3069283", got)
	}
	if got := CRC32C(make([]byte, 32)); got != 0x8a9136aa {
		t.Errorf("CRC32C(32 zero bytes) = %08x, want 8a9136aa", got)
	}
	if got := CRC32C(nil); got != 0 {
		t.Errorf("CRC32C(nil) = %08x, want 0", got)
	}
}

func TestClone(t *testing.T) {
	h := validHeader()
	h.Attrs = map[string]any{"a": "b"}
	c := h.Clone()
	if !headersEqual(h, c) {
		t.Fatalf("clone differs: %+v vs %+v", c, h)
	}
	c.Shape[0], c.CRC32C[0], c.Attrs["a"] = 99, 99, "changed"
	if h.Shape[0] != 2 || h.CRC32C[0] == 99 || h.Attrs["a"] != "b" {
		t.Errorf("clone shares memory with the original: %+v", h)
	}
	u := validHeader()
	u.CRC32C, u.Attrs = nil, nil
	if c := u.Clone(); c.CRC32C != nil || c.Attrs != nil {
		t.Errorf("clone of nil fields: crc %v attrs %v", c.CRC32C, c.Attrs)
	}
}

// TestHeaderStridesAndOffset checks the Header conveniences against the
// package functions.
func TestHeaderStridesAndOffset(t *testing.T) {
	h := validHeader()
	if got := h.Strides(); !slices.Equal(got, []int64{12, 4}) {
		t.Errorf("Strides = %v", got)
	}
	off, err := h.Offset(1, 2)
	if err != nil || off != 20 {
		t.Errorf("Offset(1, 2) = %d, %v; want 20", off, err)
	}
	if _, err := h.Offset(2, 0); !errors.Is(err, ErrIndex) {
		t.Errorf("Offset(2, 0): %v", err)
	}
}

// TestUnmarshalDoesNotAliasInput checks that a parsed header owns its memory:
// overwriting the input afterwards (a reused buffer, an unmapped page) must
// not change it.
func TestUnmarshalDoesNotAliasInput(t *testing.T) {
	attrs := mp{}.mapn(4).str("s").str("string value").str("b").bin([]byte("binary value")).
		str("e").raw(0xc7, 4, 9, 'e', 'x', 't', '!').str("l").arr(1).mapn(1).str("k").str("nested")
	in := headerBytes(baseFields().with(kv("attrs", attrs)).body())
	h, err := Unmarshal(in, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	before, err := h.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		in[i] = 0xee
	}
	after, err := h.Marshal()
	if err != nil || !bytes.Equal(before, after) {
		t.Errorf("header changed when its input was overwritten (%v):\n% x\n% x", err, before, after)
	}
}
