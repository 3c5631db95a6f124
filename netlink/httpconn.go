package netlink

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/arrayx/arrayx/mmapstore"
)

// httpChunk is the most one sendfile-backed write may take before the write
// deadline is renewed: the timeout bounds a stall, not a whole body.
const httpChunk = 64 << 20

// testHookHTTPSend, when set, sees how each response body was sent
// ("sendfile", or "write" or "copy" through user space) and how many bytes
// went that way.
var testHookHTTPSend func(method string, n int64)

// fileSection presents bytes [base, base+size) of an array's data region
// (base -DataOffset for the whole file) as an io.ReadSeeker for
// http.ServeContent. It keeps its own position and reads at explicit
// offsets, so the array's file offset is never moved and any number of
// responses may share one array. httpConn.ReadFrom recognizes it and sends
// the body with the array's explicit-offset sendfile.
type fileSection struct {
	a          *mmapstore.Array
	f          *os.File // the array's file, for the bytes before the data region
	base, size int64
	pos        int64 // within the section
}

func (s *fileSection) Read(p []byte) (int, error) {
	if s.pos >= s.size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), s.size-s.pos)]
	var n int
	var err error
	if off := s.base + s.pos; off < 0 { // the prefix and header
		n, err = s.f.ReadAt(p[:min(int64(len(p)), -off)], s.a.Header().DataOffset+off)
	} else {
		n, err = s.a.ReadAt(p, off)
	}
	s.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (s *fileSection) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += s.pos
	case io.SeekEnd:
		off += s.size
	default:
		return 0, fmt.Errorf("netlink: seek: invalid whence %d", whence)
	}
	if off < 0 || off > s.size {
		return 0, fmt.Errorf("netlink: seek to %d outside a section of %d bytes", off, s.size)
	}
	s.pos = off
	return off, nil
}

// sendTo writes the next n bytes of the section to w: the file's prefix and
// header (if the section covers them) by a write, the data by the array's
// SendData (sendfile where w allows). It reports whether the data went by
// sendfile.
func (s *fileSection) sendTo(w io.Writer, n int64) (int64, bool, error) {
	n = min(n, s.size-s.pos)
	var done int64
	if off := s.base + s.pos; off < 0 && n > 0 {
		head := make([]byte, min(n, -off))
		if _, err := io.ReadFull(s, head); err != nil {
			return 0, false, err
		}
		m, err := w.Write(head)
		done += int64(m)
		if err != nil {
			return done, false, err
		}
	}
	if done == n {
		return done, true, nil
	}
	m, zc, err := s.a.SendData(w, s.base+s.pos, n-done)
	s.pos += m
	return done + m, zc, err
}

// statusRecorder notes a response's status and size for the log. It forwards ReadFrom, which is what keeps net/http's sendfile path
// open through the wrapper.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

func (r *statusRecorder) ReadFrom(src io.Reader) (int64, error) {
	r.wrote = true
	var n int64
	var err error
	if rf, ok := r.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(r.ResponseWriter, src)
	}
	r.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// eagerHeader sends the status line and headers as soon as a successful
// status is written. Until the header is out, net/http copies the first 512
// bytes of a body through a buffer (to sniff its type); once it is out, the
// whole body goes to the connection's ReadFrom, and so to sendfile.
type eagerHeader struct{ http.ResponseWriter }

func (e eagerHeader) WriteHeader(code int) {
	e.ResponseWriter.WriteHeader(code)
	if code >= 200 && code < 300 {
		http.NewResponseController(e.ResponseWriter).Flush()
	}
}

func (e eagerHeader) ReadFrom(src io.Reader) (int64, error) {
	if rf, ok := e.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(e.ResponseWriter, src)
}

func (e eagerHeader) Unwrap() http.ResponseWriter { return e.ResponseWriter }

// httpListener caps simultaneous connections, answering the ones over the
// cap with a 503, and wraps each accepted connection in an httpConn.
type httpListener struct {
	net.Listener
	slots        chan struct{}
	writeTimeout time.Duration
}

func newHTTPListener(l net.Listener, maxConns int, writeTimeout time.Duration) *httpListener {
	return &httpListener{Listener: l, slots: make(chan struct{}, maxConns), writeTimeout: writeTimeout}
}

func (l *httpListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &httpConn{Conn: c, writeTimeout: l.writeTimeout, release: func() { <-l.slots }}, nil
		default:
			go refuseHTTP(c)
		}
	}
}

// refuseHTTP answers a connection over the cap with a 503. It reads the
// request's head first (briefly, and bounded): a response that arrives before
// the request confuses clients, which take it for a stray reply on an idle
// connection.
func refuseHTTP(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	http.ReadRequest(bufio.NewReader(io.LimitReader(c, 64<<10)))
	const body = `{"error":"netlink: server unavailable: connection limit reached","status":503}` + "\n"
	fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nConnection: close\r\nRetry-After: 1\r\n\r\n%s", len(body), body)
}

// httpConn renews its write deadline before every write and every chunk of
// a sendfile, so WriteTimeout bounds a stall rather than a whole response.
// Its ReadFrom is what net/http calls to send a file-backed body.
type httpConn struct {
	net.Conn
	writeTimeout time.Duration
	once         sync.Once
	release      func()

	// How the last body was sent, for the request's log line.
	mu         sync.Mutex
	lastMethod string
}

func (c *httpConn) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	return c.Conn.Write(p)
}

func (c *httpConn) ReadFrom(src io.Reader) (int64, error) {
	lr, limited := src.(*io.LimitedReader)
	var sec *fileSection
	if limited {
		sec, _ = lr.R.(*fileSection)
	}
	if sec == nil {
		n, err := io.Copy(writerOnly{c}, src)
		c.sent("copy", n)
		return n, err
	}
	var total int64
	zeroCopy := true
	for lr.N > 0 {
		c.Conn.SetWriteDeadline(time.Now().Add(c.writeTimeout))
		n, zc, err := sec.sendTo(c.Conn, min(lr.N, httpChunk))
		lr.N -= n
		total += n
		zeroCopy = zeroCopy && zc
		if err != nil || n == 0 {
			c.sent(sendMethod(zeroCopy), total)
			return total, err // n == 0: the file ended early (truncated behind our back)
		}
	}
	c.sent(sendMethod(zeroCopy), total)
	return total, nil
}

func (c *httpConn) sent(method string, n int64) {
	c.mu.Lock()
	c.lastMethod = method
	c.mu.Unlock()
	if testHookHTTPSend != nil {
		testHookHTTPSend(method, n)
	}
}

// takeMethod returns how the last body was sent and forgets it.
func (c *httpConn) takeMethod() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.lastMethod
	c.lastMethod = ""
	return m
}

// CloseWrite keeps net/http's graceful close (a half-close) working.
func (c *httpConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

func (c *httpConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// writerOnly hides a writer's ReadFrom, so io.Copy does not recurse into it.
type writerOnly struct{ io.Writer }
