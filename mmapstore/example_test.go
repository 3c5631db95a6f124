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
	os.Setenv(mmapstore.EnvStore, dir) // the store this example uses
	ctx := context.Background()

	store, err := mmapstore.OpenStore(mmapstore.DefaultDir(), nil) // $ARRAYX_STORE or /dev/shm/arrayx
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	// Producer: a writer is a writable mapping of a preallocated, hidden file.
	w, err := store.Create("sim/temperature", arrayx.Float64, arrayx.Shape{1000, 1000}, arrayx.OrderC,
		&mmapstore.CreateOptions{Attrs: map[string]any{"units": "K"}})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Abort()                   // no-op once sealed
	x, err := arrayx.Data[float64](w) // []float64 over the mapping
	if err != nil {
		log.Fatal(err)
	}
	for i := range x {
		x[i] = 273.15 + float64(i%1000)/100
	}
	_, err = w.Seal() // CRC-32C per block on all cores, header rewrite, atomic rename
	if err != nil {
		log.Fatal(err)
	}

	// Consumer (any process): returns as soon as the sealed array exists.
	a, err := store.Wait(ctx, "sim/temperature")
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	t, err := arrayx.Data[float64](a) // read-only, zero-copy, valid until a.Close
	if err != nil {
		log.Fatal(err)
	}
	err = a.Verify() // optional: check every block's CRC
	h := a.Header()
	fmt.Printf("%v %v %v %.2f\n", h.DType, h.Shape, h.Attrs["units"], t[1001])
	fmt.Println("verify:", err)
	// Output:
	// float64 (1000, 1000) K 273.16
	// verify: <nil>
}
