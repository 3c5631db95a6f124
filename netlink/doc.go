// Package netlink moves arrays between machines with no copy in user space:
// the sender writes a short header message, then the array's file straight
// from the page cache with sendfile(2); the receiver preallocates the
// destination, reads the socket directly into its writable mapping,
// verifies each block's CRC-32C as it completes, and publishes the array
// atomically. docs/PROTOCOL.md specifies the wire format.
//
// A Server serves a mmapstore.Store (PUT, GET, STAT, LIST, DELETE) with
// documented limits and timeouts, optional token authentication
// (HMAC-SHA256 challenge-response; the token never crosses the wire) and a
// read-only mode. A Client (Dial) pushes and pulls arrays.
//
// Transfers resume: an interrupted transfer leaves a hidden partial file on
// the receiver (see mmapstore.Partial), and the next transfer of the same
// array (same header, same CRC table) starts after its verified prefix,
// re-sending at most the one block that was in flight. A partial array is
// never visible under its name.
//
// Every transfer reports Stats: bytes, duration, and whether the sender
// used sendfile (ZeroCopy) or fell back to writing from the mapping (on
// platforms without sendfile, or with ForceCopy).
package netlink
