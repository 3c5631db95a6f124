package mmapstore_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
)

// A producer creates, fills and seals an array; a consumer (normally another
// process) waits for it and reads it through its mapping, without a copy.
func Example() {
	dir, _ := os.MkdirTemp("", "arrayx-example-")
	defer os.RemoveAll(dir)

	store, err := mmapstore.OpenStore(dir, nil) // or mmapstore.DefaultDir()
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	// Producer: the writer is a writable mapping of a preallocated file.
	w, err := store.Create("sim/temperature", arrayx.Float64, arrayx.Shape{1000, 1000}, arrayx.OrderC,
		&mmapstore.CreateOptions{Attrs: map[string]any{"units": "K"}})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Abort() // no-op once sealed
	x, _ := arrayx.Data[float64](w)
	for i := range x {
		x[i] = 273.15 + float64(i%1000)/100
	}
	if _, err := w.Seal(); err != nil { // CRCs, header, atomic rename
		log.Fatal(err)
	}

	// Consumer: Wait returns as soon as the sealed array exists, mapped read-only.
	a, err := store.Wait(context.Background(), "sim/temperature")
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	t, _ := arrayx.Data[float64](a) // valid until a.Close
	h := a.Header()
	fmt.Printf("%v %v %v %.2f\n", h.DType, h.Shape, h.Attrs["units"], t[1001])
	fmt.Println("verify:", a.Verify())
	// Output:
	// float64 (1000, 1000) K 273.16
	// verify: <nil>
}
