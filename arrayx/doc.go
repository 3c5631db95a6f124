// Package arrayx holds the core types of the ARRAYX v1 array format: dtypes,
// shapes and orders, the file header with its codec and validation, the
// per-block CRC-32C table, and typed zero-copy views.
//
// An ARRAYX file is a 16-byte prefix (magic, version, header length), a
// msgpack header, zero padding, then the raw little-endian data at a
// 4096-aligned offset; docs/FORMAT.md is the byte-exact reference. Files and
// stores live in package mmapstore; this package does no I/O beyond reading a
// header through an io.ReaderAt.
//
// # Untrusted input
//
// Everything that parses (ParsePrefix, Unmarshal, ReadHeader) treats its input
// as hostile: the header length is checked against Limits before anything is
// allocated, the msgpack bytes are scanned for well-formedness and nesting
// depth before they are decoded, sizes are multiplied with overflow checks,
// and every field is validated. A bad file gives an error wrapping one of the
// sentinels in errors.go, never a panic.
//
// # Views
//
// Data[float64](a) returns a []float64 over an array's memory without
// copying. The view is exactly as long-lived as the memory it covers: for an
// array from package mmapstore, until that array (or writer) is closed. bool,
// float16 and bfloat16 have no exact Go type and are viewed as raw bytes or
// bits (BoolBytes, Float16Bits, BFloat16Bits) with conversion helpers.
package arrayx
