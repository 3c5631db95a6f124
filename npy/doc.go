// Package npy converts between numpy's .npy files and arrayx arrays.
//
// Import reads a .npy file into a new array of an mmapstore.Store; Export
// writes an array as a .npy file that numpy.load reads back with the same
// dtype, shape, fortran_order and values. Both move the data region from
// file to file in the kernel on Linux: copy_file_range(2) within a
// filesystem (which may share extents), sendfile(2) between filesystems (a
// .npy on disk and a store on tmpfs), so no byte passes through user space.
// Where neither works (other systems) they fall back to one copy between
// the file and the array's mapping. Stats reports which method ran.
//
// ReadHeader, ParseHeader and MarshalHeader work on the header alone.
//
// # The .npy format
//
// A .npy file is the magic "\x93NUMPY", a major and minor version byte, the
// header length (uint16 little-endian in version 1.0, uint32 in 2.0 and
// 3.0), the header, then the raw data. The header is the text of a Python
// dict literal with the keys 'descr' (a numpy type string such as '<f8'),
// 'fortran_order' (True or False) and 'shape' (a tuple of integers), padded
// with spaces and a newline so that the data starts at a multiple of 64
// bytes. Versions 1.0 and 2.0 headers are latin-1, 3.0 headers UTF-8.
//
// Reading accepts versions 1.0, 2.0 and 3.0. Writing produces exactly the
// bytes numpy.save writes for the same array: version 1.0 (2.0 only if the
// header outgrew 65,535 bytes, which no shape arrayx allows can make), keys
// sorted, the same padding.
//
// # Untrusted input
//
// A .npy file is treated as hostile. The header length is checked against
// Limits (DefaultMaxHeaderBytes, 64 KiB) and against the file size before
// a header byte is read or allocated: numpy itself reads the header first
// and checks its length afterwards. The header is parsed, never evaluated,
// by a small parser of exactly the Python literals a header uses (strings,
// integers, True, False, None, tuples, lists, dicts, at most 16 deep);
// names, calls, operators, floats and comments are syntax errors. The dict
// must have exactly the three keys, each once. The shape's byte size is
// computed with overflow checks, and the file must hold exactly that many
// bytes after the header: fewer is ErrTruncated, more ErrTrailingBytes,
// each naming both sizes. Errors wrap the sentinels in errors.go; problems
// inside the header are a *HeaderError giving the byte offset.
//
// # Dtypes
//
// Every dtype numpy and arrayx share is supported: bool ('|b1'), int8 to
// int64, uint8 to uint64, float16, float32, float64, complex64 and
// complex128. A descr's byte-order character may be '<', '>', '|', '=' or
// absent, with numpy's meanings ('=', '|' and none are the host's order).
// Big-endian data ('>f8') is converted to little-endian while it is read,
// a chunk at a time in the array's mapping (method "byteswap"). Object
// arrays ('|O') are pickles and are refused with ErrPickle: this package
// never unpickles. Structured, string, datetime and long double dtypes are
// refused with ErrDType, as is exporting bfloat16, which numpy lacks.
//
// # Atomicity
//
// Import creates the array with Store.Create, fills it and seals it; any
// failure aborts it, so nothing is ever visible in the store under the
// name. Export writes a hidden temporary file beside the destination,
// fsyncs it, renames it over the destination and fsyncs the directory
// (ExportOptions.NoSync skips the fsyncs).
package npy
