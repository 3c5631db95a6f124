// Package teststore opens stores and makes arrays for the tests of the
// packages above mmapstore (netlink, npy, the command, docs, python), so
// that each of those helpers lives in one place. mmapstore's own tests
// cannot import it (it imports mmapstore) and keep theirs.
//
// Every store it opens syncs never (mmapstore.SyncNever): these tests read
// arrays back from the page cache, in this process or another, and a sync
// only matters across a machine crash, which mmapstore's own tests cover.
// Stores and arrays are closed when the test ends.
package teststore

import (
	"encoding/binary"
	"testing"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/mmapstore"
)

// At opens the store in dir, creating dir if needed.
func At(t testing.TB, dir string) *mmapstore.Store {
	t.Helper()
	s, err := mmapstore.OpenStore(dir, &mmapstore.Options{Sync: mmapstore.SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Temp opens a store in a fresh temporary directory (t.TempDir: a disk on
// this project's machine).
func Temp(t testing.TB) *mmapstore.Store {
	t.Helper()
	return At(t, t.TempDir())
}

// Shm opens a store in a fresh directory on /dev/shm, the default store's
// filesystem, where receivers splice; without a tmpfs there it calls
// testutil.Unavailable.
func Shm(t testing.TB) *mmapstore.Store {
	t.Helper()
	return At(t, testutil.ShmDir(t))
}

// pattern is 64 KiB of bytes i*31+7, which Fill stamps.
var pattern = func() []byte {
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = byte(i*31 + 7)
	}
	return b
}()

// Fill writes the pattern of bytes i*31+7 into b, each 64 KiB chunk
// stamped in its first 8 bytes with seed and its offset, so that no two
// chunks (and so no two blocks) are alike and no two seeds give the same
// data: bytes moved to the wrong place, or another array's, cannot compare
// equal. boolean keeps only the low bit, as bool elements are 0 or 1.
func Fill(b []byte, seed uint64, boolean bool) {
	var stamp [8]byte
	for off := 0; off < len(b); off += len(pattern) {
		n := copy(b[off:], pattern)
		binary.LittleEndian.PutUint64(stamp[:], seed^uint64(off)*0x9e3779b97f4a7c15)
		copy(b[off:off+min(n, 8)], stamp[:])
	}
	if boolean {
		for i := range b {
			b[i] &= 1
		}
	}
}

// nameSeed is the seed NewArray fills the array name with: its FNV-1a hash.
func nameSeed(name string) uint64 {
	var seed uint64 = 1469598103934665603
	for _, c := range []byte(name) {
		seed = (seed ^ uint64(c)) * 1099511628211
	}
	return seed
}

// NewArray creates, fills with Fill(nameSeed(name)) and seals an array with
// attrs (nil for none): data that no other array of the test shares.
func NewArray(t testing.TB, st *mmapstore.Store, name string, dt arrayx.DType, shape arrayx.Shape, order arrayx.Order, attrs map[string]any) *mmapstore.Array {
	t.Helper()
	w, err := st.Create(name, dt, shape, order, &mmapstore.CreateOptions{Attrs: attrs})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	Fill(w.Bytes(), nameSeed(name), dt == arrayx.Bool)
	a, err := w.Seal()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// Put creates and seals an array holding exactly data (little-endian
// elements in memory order), for tests that need given values.
func Put(t testing.TB, st *mmapstore.Store, name string, dt arrayx.DType, shape arrayx.Shape, order arrayx.Order, data []byte) *mmapstore.Array {
	t.Helper()
	w, err := st.Create(name, dt, shape, order, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if len(data) != len(w.Bytes()) {
		t.Fatalf("teststore.Put %s: %d bytes of data for a %d-byte array", name, len(data), len(w.Bytes()))
	}
	copy(w.Bytes(), data)
	a, err := w.Seal()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}
