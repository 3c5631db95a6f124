package npy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
)

// ImportFrom is Import from a stream (a pipe, a socket, stdin) rather than
// a file: the header is read and validated, the array created, and exactly
// the declared data read into its mapping; bytes after the data are
// refused. On any error nothing appears in the store. Errors are *FileError
// with Path "-".
func ImportFrom(st *mmapstore.Store, name string, r io.Reader, opts *ImportOptions) (*mmapstore.Array, Stats, error) {
	a, stats, err := importStream(st, name, r, opts)
	if err != nil {
		return nil, Stats{}, &FileError{Op: "import", Path: "-", Err: err}
	}
	return a, stats, nil
}

func importStream(st *mmapstore.Store, name string, r io.Reader, opts *ImportOptions) (*mmapstore.Array, Stats, error) {
	if opts == nil {
		opts = &ImportOptions{}
	}
	start := time.Now()
	br := bufio.NewReader(r)
	// The prefix of version 1 is shorter: peek at what it has, then the rest.
	pre, err := br.Peek(prefixLen(1))
	if err != nil && len(pre) < magicLen+2 {
		return nil, Stats{}, streamErr(err, "prefix")
	}
	if len(pre) >= magicLen+2 && pre[magicLen] > 1 {
		pre, err = br.Peek(prefixLen(2))
	}
	_, _, plen, hlen, perr := parsePrefix(pre)
	if perr != nil {
		return nil, Stats{}, perr
	}
	if hlen > opts.Limits.maxHeader() {
		return nil, Stats{}, fmt.Errorf("%w: header declares %d bytes, limit %d", ErrHeaderTooLarge, hlen, opts.Limits.maxHeader())
	}
	head := make([]byte, int64(plen)+hlen)
	if _, err := io.ReadFull(br, head); err != nil {
		return nil, Stats{}, streamErr(err, "header")
	}
	h, err := ParseHeader(head, opts.Limits)
	if err != nil {
		return nil, Stats{}, err
	}
	w, err := st.Create(name, h.DType, h.Shape, h.Order, &mmapstore.CreateOptions{Attrs: opts.Attrs, Sync: opts.Sync})
	if err != nil {
		return nil, Stats{}, err
	}
	defer w.Abort() // does nothing once sealed
	data := w.Bytes()
	if _, err := io.ReadFull(br, data); err != nil {
		return nil, Stats{}, streamErr(err, "data")
	}
	if n, _ := br.Read(make([]byte, 1)); n > 0 {
		return nil, Stats{}, fmt.Errorf("%w: the stream goes on after the %d bytes of data", ErrTrailingBytes, h.NBytes)
	}
	method := MethodReadWrite
	if h.BigEndian {
		swapBytes(data, swapSize(h.DType))
		method = MethodByteSwap
	}
	if h.NBytes == 0 {
		method = MethodNone
	}
	a, err := w.Seal()
	if err != nil {
		return nil, Stats{}, err
	}
	return a, Stats{Bytes: h.NBytes, Method: reportCopy(method, h.NBytes), Duration: time.Since(start)}, nil
}

// streamErr says a stream ended before what of the .npy file.
func streamErr(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: the stream ends in the %s", ErrTruncated, what)
	}
	return err
}

// ExportTo is Export to a stream: the .npy header, then the data from the
// array's mapping. A stream cannot be replaced atomically: a failure leaves
// the reader with a short file, which readers refuse (ErrTruncated). Errors
// are *FileError with Path "-".
func ExportTo(w io.Writer, a arrayx.Array) (Stats, error) {
	start := time.Now()
	h := a.Header()
	err := func() error {
		hdr, err := MarshalHeader(h.DType, h.Shape, h.Order)
		if err != nil {
			return err
		}
		data := a.Bytes()
		if int64(len(data)) != h.NBytes {
			return fmt.Errorf("%w: the array's data is %d bytes, its header declares %d", mmapstore.ErrClosed, len(data), h.NBytes)
		}
		if _, err := w.Write(hdr); err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}()
	if err != nil {
		return Stats{}, &FileError{Op: "export", Path: "-", Err: err}
	}
	method := MethodReadWrite
	if h.NBytes == 0 {
		method = MethodNone
	}
	return Stats{Bytes: h.NBytes, Method: reportCopy(method, h.NBytes), Duration: time.Since(start)}, nil
}
