package mmapstore

import (
	"crypto/sha256"
	"encoding/hex"
)

// Digest identifies an array's content from its raw prefix and header (the
// first 16+H bytes of its file): the first 16 bytes of their SHA-256, in
// hex. The header holds the dtype, shape, order, attrs and the CRC-32C of
// every block, so two arrays with the same digest hold the same data (up to
// CRC-32C's odds), and one rewritten with other data gets another digest:
// peers compare arrays without reading them. The HTTP endpoint's ETag and
// the network protocol's LIST carry it.
func Digest(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:16])
}
