// Package gonumview shows, as a runnable example, how to use an arrayx
// float64 array as a gonum matrix without copying it.
//
// mat.NewDense(r, c, data) keeps data as the matrix's backing slice, so
// passing arrayx.Data[float64](a) wraps the array's memory mapping itself:
// no element is copied, whatever the array's size.
//
// # Writable or read-only
//
// gonum writes into a matrix's backing slice whenever that matrix is the
// receiver of an operation (d.Mul, d.Scale, d.Add, d.Apply, d.Set, ...).
//
//   - Wrap a *mmapstore.Writer's data to compute into an array before it is
//     sealed: the results land in the file.
//   - Wrap a sealed array (*mmapstore.Array, a read-only mapping) only to read
//     it: use it as an operand, with results in new matrices (or in a
//     Writer's data). Writing into it faults and kills the process (a
//     SIGSEGV that Go cannot recover from unless debug.SetPanicOnFault is
//     set).
//
// # Order
//
// An array of shape (r, c) in C order is mat.NewDense(r, c, data). In
// Fortran order the same bytes are the transpose of mat.NewDense(c, r, data):
// use its T().
//
// # Lifetime
//
// Like every view of an arrayx array, the matrix is valid only until the
// Array is closed or the Writer sealed or aborted; do not use it afterwards.
package gonumview
