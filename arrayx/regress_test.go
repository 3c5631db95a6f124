package arrayx

import (
	"bytes"
	"testing"
)

// TestAttrsEncodingDeterministicTypedMaps: msgpack sorts only some map
// types itself; every map in attrs must encode the same way every time.
func TestAttrsEncodingDeterministicTypedMaps(t *testing.T) {
	attrs := map[string]any{
		"counts": map[string]int{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6},
		"nested": []map[string]float64{{"x": 1, "y": 2, "z": 3, "w": 4}},
		"ids":    map[int]string{3: "c", 1: "a", 2: "b", -7: "z"},
	}
	h, err := NewHeader(Float32, Shape{2}, OrderC, attrs)
	if err != nil {
		t.Fatal(err)
	}
	first, err := h.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		h2, _ := NewHeader(Float32, Shape{2}, OrderC, attrs)
		b, _ := h2.Marshal()
		if !bytes.Equal(b, first) {
			t.Fatal("the same attrs encoded differently")
		}
	}
}
