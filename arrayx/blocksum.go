package arrayx

import "github.com/zeebo/xxh3"

// BlockSum is what a sealed header records of one data block: its CRC-32C,
// which catches damage, and (from format 1.1) its XXH3-128, which tells
// whether two blocks are equal without comparing them.
type BlockSum struct {
	CRC32C uint32
	XXH128 [16]byte // zero when not computed
}

// SumBlock returns the sums of one block: the CRC-32C, and the XXH3-128
// too when strong is set.
func SumBlock(data []byte, strong bool) BlockSum {
	s := BlockSum{CRC32C: CRC32C(data)}
	if strong {
		s.XXH128 = xxh3.Hash128(data).Bytes()
	}
	return s
}

// BlockHasher sums a block piece by piece, so that each piece is summed
// while it is hot in the cache. Its zero value is not ready: use
// NewBlockHasher.
type BlockHasher struct {
	crc    uint32
	strong bool
	xxh    *xxh3.Hasher
}

// NewBlockHasher returns a hasher of CRC-32C and, when strong, XXH3-128.
func NewBlockHasher(strong bool) *BlockHasher {
	b := &BlockHasher{strong: strong}
	if strong {
		b.xxh = xxh3.New()
	}
	return b
}

// Reset starts a new block.
func (b *BlockHasher) Reset() {
	b.crc = 0
	if b.strong {
		b.xxh.Reset()
	}
}

// Write adds p to the block.
func (b *BlockHasher) Write(p []byte) {
	b.crc = UpdateCRC32C(b.crc, p)
	if b.strong {
		b.xxh.Write(p)
	}
}

// Sum returns the block's sums.
func (b *BlockHasher) Sum() BlockSum {
	s := BlockSum{CRC32C: b.crc}
	if b.strong {
		s.XXH128 = b.xxh.Sum128().Bytes()
	}
	return s
}
