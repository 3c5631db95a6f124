package arrayx

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"

	"github.com/vmihailenco/msgpack/v5"
)

// Layout constants of ARRAYX v1 (docs/FORMAT.md).
const (
	PrefixSize   = 16   // magic, major, minor, header length
	Alignment    = 4096 // data_offset is a multiple of this
	MajorVersion = 1
	// MinorVersion 1 added the xxh3_128 table; readers of 1.0 ignore it.
	MinorVersion = 1

	MinBlockSize = 64 << 10 // smallest legal block_size
	MaxBlockSize = 1 << 30  // largest legal block_size

	// MaxAttrsBytes caps the msgpack encoding of attrs when writing.
	MaxAttrsBytes = 64 << 10

	// DefaultMaxHeaderBytes is the default reader limit on the header length H.
	DefaultMaxHeaderBytes = 1 << 20

	// Writers aim for at most this many blocks, with blocks of at least 4
	// MiB: 20 bytes of checksums a block then fit a 1 MiB header with room
	// for attrs.
	targetMaxBlocks = 32768

	// MaxDigestBlocks is the most blocks a writer records XXH3-128 digests
	// for: arrays of more (beyond 32 TiB, with 1 GiB blocks) carry CRC-32Cs
	// only, as their tables would not fit a header within readers' default
	// limit.
	MaxDigestBlocks = targetMaxBlocks
	minWriterBlock  = 4 << 20
	maxAttrsDepth   = 32 // nesting allowed in a header (attrs included)
	headerKeyDType  = "dtype"
	headerKeyShape  = "shape"
	headerKeyOrder  = "order"
	headerKeyNBytes = "nbytes"
	headerKeyOffset = "data_offset"
	headerKeyBlock  = "block_size"
	headerKeyCRC    = "crc32c"
	headerKeyXXH    = "xxh3_128"
	headerKeySealed = "sealed"
	headerKeyAttrs  = "attrs"
)

// Magic is the first 8 bytes of every ARRAYX file: "\x89ARX\r\n\x1a\n".
var Magic = [8]byte{0x89, 'A', 'R', 'X', '\r', '\n', 0x1a, '\n'}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC32C returns the CRC-32C (Castagnoli) of b, hardware-accelerated where the
// CPU supports it.
func CRC32C(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// UpdateCRC32C returns the CRC-32C of the bytes summed into crc followed by b,
// so a block can be checked piece by piece while each piece is hot in cache:
// UpdateCRC32C(UpdateCRC32C(0, x), y) == CRC32C(x ++ y).
func UpdateCRC32C(crc uint32, b []byte) uint32 { return crc32.Update(crc, castagnoli, b) }

// Header describes an array: the msgpack header of an ARRAYX file.
//
// A Header obtained from an open array is shared: treat it as read-only.
type Header struct {
	DType      DType
	Shape      Shape
	Order      Order
	NBytes     int64 // product(Shape) * DType.ItemSize()
	DataOffset int64 // file offset of the data, a multiple of Alignment
	BlockSize  int64 // CRC block size, a power of two in [MinBlockSize, MaxBlockSize]
	// CRC32C holds one checksum per block; nil when absent (unsealed arrays).
	CRC32C []uint32
	// XXH128 holds each block's XXH3-128, the digest that tells whether two
	// blocks are equal; nil when absent (unsealed arrays, and arrays sealed
	// by writers of format 1.0).
	XXH128 [][16]byte
	Sealed bool
	Attrs  map[string]any // optional user metadata
}

// NewHeader lays out a new, unsealed array: it computes nbytes, chooses the
// block size, and reserves room before data_offset for the header as it will
// be once sealed (with its CRC and digest tables), so sealing rewrites it in
// place.
func NewHeader(dt DType, shape Shape, order Order, attrs map[string]any) (*Header, error) {
	if !dt.Valid() {
		return nil, fmt.Errorf("%w: %v", ErrDType, dt)
	}
	if !order.Valid() {
		return nil, invalid("order", "%q: want \"C\" or \"F\"", string(rune(order)))
	}
	if err := shape.Check(dt.ItemSize()); err != nil {
		return nil, err
	}
	n, err := shape.NumElements()
	if err != nil {
		return nil, err
	}
	if len(attrs) > 0 {
		enc, err := encodeAttrs(attrs)
		if err != nil {
			return nil, err
		}
		if len(enc) > MaxAttrsBytes {
			return nil, fmt.Errorf("%w: %d bytes encoded, limit %d", ErrAttrsTooLarge, len(enc), MaxAttrsBytes)
		}
		// Keep our own copy, as a reader will see it: the room reserved for
		// the header must not change if the caller edits its map later.
		if attrs, err = decodeAttrs(msgpack.NewDecoder(bytes.NewReader(enc))); err != nil {
			return nil, fmt.Errorf("%w: attrs: %w", ErrInvalidHeader, err)
		}
	}
	h := &Header{
		DType:      dt,
		Shape:      append(Shape{}, shape...),
		Order:      order,
		NBytes:     n * int64(dt.ItemSize()),
		DataOffset: Alignment,
		Sealed:     true,
		Attrs:      attrs,
	}
	h.BlockSize = ChooseBlockSize(h.NBytes)
	// Refuse before allocating the table: 4 bytes a block alone must fit.
	nb := h.NumBlocks()
	if nb > (DefaultMaxHeaderBytes-PrefixSize)/4 {
		return nil, fmt.Errorf("%w: %d bytes need %d CRC blocks, more than a header within readers' default limit of %d bytes holds",
			ErrTooLarge, h.NBytes, nb, DefaultMaxHeaderBytes)
	}
	h.CRC32C = make([]uint32, nb)
	if nb <= MaxDigestBlocks {
		h.XXH128 = make([][16]byte, nb)
	}
	// Encoded integers grow with their value, so iterate to a fixed point; the
	// offset only grows, so this ends after a few rounds.
	for {
		body, err := h.encodeBody()
		if err != nil {
			return nil, err
		}
		if len(body) > DefaultMaxHeaderBytes {
			return nil, fmt.Errorf("%w: its header would be %d bytes, over readers' default limit of %d",
				ErrTooLarge, len(body), DefaultMaxHeaderBytes)
		}
		need := alignUp(int64(PrefixSize+len(body)), Alignment)
		if need <= h.DataOffset {
			break
		}
		h.DataOffset = need
	}
	if h.NBytes > math.MaxInt64-h.DataOffset {
		return nil, fmt.Errorf("%w: %d bytes of data", ErrTooLarge, h.NBytes)
	}
	h.Sealed, h.CRC32C, h.XXH128 = false, nil, nil
	return h, nil
}

// ChooseBlockSize returns the writer's block size for nbytes of data: the
// smallest power of two of at least 4 MiB giving at most 32,768 blocks,
// capped at MaxBlockSize.
func ChooseBlockSize(nbytes int64) int64 {
	bs := int64(minWriterBlock)
	for bs < MaxBlockSize && ceilDiv(nbytes, bs) > targetMaxBlocks {
		bs <<= 1
	}
	return bs
}

// NumBlocks returns ceil(NBytes / BlockSize), the length of the CRC table.
func (h *Header) NumBlocks() int {
	if h.BlockSize <= 0 {
		return 0
	}
	return int(ceilDiv(h.NBytes, h.BlockSize))
}

// Block returns the data-region byte range [off, off+n) of block i.
func (h *Header) Block(i int) (off, n int64) {
	off = int64(i) * h.BlockSize
	return off, min(h.BlockSize, h.NBytes-off)
}

// FileSize returns the exact size of the file: DataOffset + NBytes.
func (h *Header) FileSize() int64 { return h.DataOffset + h.NBytes }

// Strides returns the byte strides of the array's dimensions.
func (h *Header) Strides() []int64 { return Strides(h.Shape, h.Order, h.DType.ItemSize()) }

// Offset returns the data-region byte offset of the element at index.
func (h *Header) Offset(index ...int64) (int64, error) {
	return Offset(h.Shape, h.Order, h.DType.ItemSize(), index...)
}

// CheckBlock compares block i's data with the header's checksums.
// It returns a *ChecksumError on mismatch.
func (h *Header) CheckBlock(i int, data []byte) error {
	if i < 0 || i >= len(h.CRC32C) {
		return fmt.Errorf("%w: block %d of %d", ErrIndex, i, len(h.CRC32C))
	}
	return h.CheckSum(i, SumBlock(data, h.XXH128 != nil))
}

// CheckSum compares got, the sums computed over block i's data, with the
// header's tables: the CRC-32C, and the XXH3-128 when the header has one.
// It returns a *ChecksumError on mismatch.
func (h *Header) CheckSum(i int, got BlockSum) error {
	if i < 0 || i >= len(h.CRC32C) {
		return fmt.Errorf("%w: block %d of %d", ErrIndex, i, len(h.CRC32C))
	}
	off, _ := h.Block(i)
	if got.CRC32C != h.CRC32C[i] {
		return &ChecksumError{Block: i, Offset: off, Want: h.CRC32C[i], Got: got.CRC32C}
	}
	if h.XXH128 != nil && got.XXH128 != h.XXH128[i] {
		return &ChecksumError{Block: i, Offset: off, Want: h.CRC32C[i], Got: got.CRC32C, Digest: true}
	}
	return nil
}

// SameBlock reports whether block i of h and block i of o hold the same
// bytes, as far as their headers tell: both sealed with XXH3-128 tables
// (a CRC-32C match is no proof at millions of blocks), the same block
// length, and the same digest and CRC.
func (h *Header) SameBlock(o *Header, i int) bool {
	if h.XXH128 == nil || o.XXH128 == nil || i < 0 || i >= len(h.XXH128) || i >= len(o.XXH128) {
		return false
	}
	_, n := h.Block(i)
	_, on := o.Block(i)
	return n == on && h.XXH128[i] == o.XXH128[i] && h.CRC32C[i] == o.CRC32C[i]
}

// Validate checks every field and their consistency. It does not know the
// encoded header length or the file size; Unmarshal and CheckFileSize do.
func (h *Header) Validate() error {
	if !h.DType.Valid() {
		return invalid(headerKeyDType, "%v is not a valid dtype", h.DType)
	}
	if !h.Order.Valid() {
		return invalid(headerKeyOrder, "%q: want \"C\" or \"F\"", string(rune(h.Order)))
	}
	if err := h.Shape.Check(h.DType.ItemSize()); err != nil {
		return err
	}
	n, err := h.Shape.NumElements()
	if err != nil {
		return err
	}
	hi, want := bits.Mul64(uint64(n), uint64(h.DType.ItemSize()))
	if hi != 0 || want > math.MaxInt64 {
		return fmt.Errorf("%w: shape %v of %v", ErrTooLarge, h.Shape, h.DType)
	}
	if h.NBytes < 0 || uint64(h.NBytes) != want {
		return invalid(headerKeyNBytes, "%d, but shape %v of %v is %d bytes", h.NBytes, h.Shape, h.DType, want)
	}
	if h.DataOffset < PrefixSize || h.DataOffset%Alignment != 0 {
		return invalid(headerKeyOffset, "%d is not a positive multiple of %d", h.DataOffset, Alignment)
	}
	if h.NBytes > math.MaxInt64-h.DataOffset {
		return fmt.Errorf("%w: data_offset %d + nbytes %d overflows int64", ErrTooLarge, h.DataOffset, h.NBytes)
	}
	if h.BlockSize < MinBlockSize || h.BlockSize > MaxBlockSize || h.BlockSize&(h.BlockSize-1) != 0 {
		return invalid(headerKeyBlock, "%d is not a power of two from %d to %d", h.BlockSize, MinBlockSize, MaxBlockSize)
	}
	if h.CRC32C != nil && len(h.CRC32C) != h.NumBlocks() {
		return invalid(headerKeyCRC, "%d checksums for %d blocks", len(h.CRC32C), h.NumBlocks())
	}
	if h.Sealed && h.CRC32C == nil {
		return invalid(headerKeyCRC, "missing from a sealed header")
	}
	if h.XXH128 != nil && len(h.XXH128) != h.NumBlocks() {
		return invalid(headerKeyXXH, "%d digests for %d blocks", len(h.XXH128), h.NumBlocks())
	}
	if h.XXH128 != nil && h.CRC32C == nil {
		return invalid(headerKeyXXH, "present without %s", headerKeyCRC)
	}
	return nil
}

// CheckFileSize checks that a file of size bytes holds exactly this array.
func (h *Header) CheckFileSize(size int64) error {
	want := h.FileSize()
	switch {
	case size < want:
		return fmt.Errorf("%w: file is %d bytes, header declares data_offset %d + nbytes %d = %d",
			ErrTruncated, size, h.DataOffset, h.NBytes, want)
	case size > want:
		return fmt.Errorf("%w: file is %d bytes, header declares data_offset %d + nbytes %d = %d",
			ErrTrailingBytes, size, h.DataOffset, h.NBytes, want)
	}
	return nil
}

// Clone returns a deep copy of h (attrs are copied one level deep).
func (h *Header) Clone() *Header {
	c := *h
	c.Shape = append(Shape{}, h.Shape...)
	if h.CRC32C != nil {
		c.CRC32C = append([]uint32{}, h.CRC32C...)
	}
	if h.XXH128 != nil {
		c.XXH128 = append([][16]byte{}, h.XXH128...)
	}
	if h.Attrs != nil {
		c.Attrs = make(map[string]any, len(h.Attrs))
		for k, v := range h.Attrs {
			c.Attrs[k] = v
		}
	}
	return &c
}

func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 {
		q++
	}
	return q
}

func alignUp(n, a int64) int64 { return ceilDiv(n, a) * a }
