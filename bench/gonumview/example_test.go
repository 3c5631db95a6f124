package gonumview_test

import (
	"fmt"
	"log"
	"os"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
	"gonum.org/v1/gonum/mat"
)

// A producer computes straight into an array's writable mapping through a
// gonum matrix; a consumer wraps the sealed, read-only array as a matrix and
// multiplies with it. Neither copies the array.
func Example() {
	dir, err := os.MkdirTemp("", "gonumview-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := mmapstore.OpenStore(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	// Producer: the Writer's mapping is writable, so gonum may write into it.
	w, err := store.Create("m", arrayx.Float64, arrayx.Shape{3, 4}, arrayx.OrderC, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer w.Abort() // no-op once sealed
	x, err := arrayx.Data[float64](w)
	if err != nil {
		log.Fatal(err)
	}
	a := mat.NewDense(3, 4, x) // C order: rows of 4
	fmt.Println("writer, no copy:", &x[0] == &a.RawMatrix().Data[0])
	a.Apply(func(i, j int, _ float64) float64 { return float64(10*i + j) }, a) // writes into the file
	if _, err := w.Seal(); err != nil {
		log.Fatal(err)
	}

	// Consumer: the sealed array is mapped read-only; use it only as an
	// operand, with results in new matrices.
	arr, err := store.Open("m")
	if err != nil {
		log.Fatal(err)
	}
	defer arr.Close() // m must not be used after this
	y, err := arrayx.Data[float64](arr)
	if err != nil {
		log.Fatal(err)
	}
	m := mat.NewDense(3, 4, y)
	fmt.Println("reader, no copy:", &y[0] == &m.RawMatrix().Data[0])

	var p mat.Dense
	p.Mul(m, m.T()) // the Gram matrix, 3x3, in new memory
	fmt.Printf("m mT =\n%v\n", mat.Formatted(&p))
	for j := range 4 {
		fmt.Print(mat.Sum(m.ColView(j)), " ") // column views do not copy either
	}
	fmt.Println()
	// Output:
	// writer, no copy: true
	// reader, no copy: true
	// m mT =
	// ⎡  14    74   134⎤
	// ⎢  74   534   994⎥
	// ⎣ 134   994  1854⎦
	// 30 33 36 39
}
