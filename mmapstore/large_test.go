package mmapstore

import (
	"errors"
	"testing"

	"github.com/arrayx/arrayx/arrayx"
)

// TestLargerThan4GiB creates a 4.5 GiB array (preallocated zeros, a few
// marked elements past the 4 GiB line), seals, reopens and verifies it:
// offsets, block counts and views must all work past 32 bits.
func TestLargerThan4GiB(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the 4.5 GiB array")
	}
	const n = 9 << 29 / 8 // 4.5 GiB of float64
	s, err := OpenStore(t.TempDir(), &Options{Sync: SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w, err := s.Create("big", arrayx.Float64, arrayx.Shape{n / 1024, 1024}, arrayx.OrderC, nil)
	if errors.Is(err, ErrNoSpace) {
		t.Skipf("the disk lacks room for 4.5 GiB: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	x, err := arrayx.Data[float64](w)
	if err != nil {
		t.Fatal(err)
	}
	marks := []int{0, 1<<29 + 7, n - 1} // element 2^29 sits at byte offset 4 GiB
	for _, i := range marks {
		x[i] = float64(i) + 0.5
	}
	a, err := w.Seal()
	if err != nil {
		t.Fatal(err)
	}
	a.Close()

	b, err := s.Open("big")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	h := b.Header()
	if h.NBytes != 9<<29 || h.BlockSize != 4<<20 || h.NumBlocks() != 1152 {
		t.Fatalf("nbytes %d block %d blocks %d", h.NBytes, h.BlockSize, h.NumBlocks())
	}
	y, _ := arrayx.Data[float64](b)
	for _, i := range marks {
		if y[i] != float64(i)+0.5 {
			t.Fatalf("element %d = %v", i, y[i])
		}
	}
	off, _ := h.Offset(int64(n/1024-1), 1023)
	if off != h.NBytes-8 {
		t.Fatalf("offset of the last element %d", off)
	}
	if err := b.Verify(); err != nil {
		t.Fatal(err)
	}
}
