// Package netlink moves arrays between machines: the sender writes a short
// header message, then the array's file straight from the page cache with
// sendfile(2); the receiver preallocates the destination, asks for the
// blocks it lacks (NEED), checks each block's CRC-32C while its bytes are
// hot and writes it in place (DATA), and publishes the array atomically.
// One transfer may use several TCP connections (DialOptions.Streams). The
// protocol is versioned and negotiated: version 2 (blocks) and version 1
// (one stream, one range) are both spoken, so this package interoperates
// with the previous release. docs/PROTOCOL.md specifies the wire format.
//
// A Server serves a mmapstore.Store (PUT, GET, STAT, LIST, DELETE) with
// documented limits and timeouts, optional token authentication
// (HMAC-SHA256 challenge-response; the token never crosses the wire) and a
// read-only mode. A Client (Dial) pushes and pulls arrays.
//
// Only missing blocks cross the network: an interrupted transfer leaves a
// hidden partial file on the receiver (see mmapstore.Partial), and the next
// transfer of the same array (same header, same CRC table) asks only for
// the blocks it lacks, wherever they lie; a receiver holding an older
// version of the array under the same name copies the unchanged blocks
// from it in the kernel. A block that arrives corrupt is asked for again.
// A partial array is never visible under its name.
//
// Every transfer reports Stats: bytes, duration, streams, and whether the
// sender used sendfile (ZeroCopy) or copied through a buffer (on platforms
// without sendfile, or with ForceCopy).
package netlink
