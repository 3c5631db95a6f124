package arrayx

import (
	"bytes"
	"strings"
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

// TestFieldErrorsWrappedOnce: a bad field is named once, not wrapped again
// by the code that decodes the map ("invalid header: nbytes: arrayx:
// invalid header: nbytes: negative" before).
func TestFieldErrorsWrappedOnce(t *testing.T) {
	h, err := NewHeader(Uint8, Shape{4}, OrderC, nil)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := h.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// nbytes is 4, encoded as a positive fixint after its key: make it -1.
	i := bytes.Index(enc, []byte("\xa6nbytes\x04"))
	if i < 0 {
		t.Fatalf("no nbytes 4 in %x", enc)
	}
	enc[i+7] = 0xff // negative fixint -1
	_, err = Unmarshal(enc, Limits{})
	if err == nil || strings.Count(err.Error(), "invalid header") != 1 || strings.Count(err.Error(), "nbytes") != 1 {
		t.Fatalf("error %q: want the field named once", err)
	}
}
