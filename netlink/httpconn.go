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
	"syscall"
	"time"
)

// httpChunk is the most one sendfile-backed write may take before the write
// deadline is renewed: the timeout bounds a stall, not a whole body.
const httpChunk = 64 << 20

// testHookHTTPSend, when set, sees how each response body was sent
// ("sendfile" or "copy") and how many bytes went that way.
var testHookHTTPSend func(method string, n int64)

// fileSection presents bytes [base, base+size) of f as an io.ReadSeeker for
// http.ServeContent. It keeps f's descriptor offset as its position and
// exposes f's SyscallConn: net's sendfile path recognizes the source by that
// interface and sends from the descriptor's current offset, so a body served
// through a section still goes out by sendfile. The section owns f's offset:
// nothing else may read f through it meanwhile (ReadAt is fine).
type fileSection struct {
	f          *os.File
	base, size int64
}

func (s *fileSection) Read(p []byte) (int, error) {
	cur, err := s.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	left := s.base + s.size - cur
	if left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	return s.f.Read(p)
}

func (s *fileSection) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		cur, err := s.f.Seek(0, io.SeekCurrent)
		if err != nil {
			return 0, err
		}
		off += cur - s.base
	case io.SeekEnd:
		off += s.size
	default:
		return 0, fmt.Errorf("netlink: seek: invalid whence %d", whence)
	}
	if off < 0 || off > s.size {
		return 0, fmt.Errorf("netlink: seek to %d outside a section of %d bytes", off, s.size)
	}
	if _, err := s.f.Seek(s.base+off, io.SeekStart); err != nil {
		return 0, err
	}
	return off, nil
}

func (s *fileSection) SyscallConn() (syscall.RawConn, error) { return s.f.SyscallConn() }

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
	rf, ok := c.Conn.(io.ReaderFrom)
	lr, limited := src.(*io.LimitedReader)
	var isFile bool
	if limited {
		_, isFile = lr.R.(syscall.Conn)
	}
	if !ok || !isFile {
		n, err := io.Copy(writerOnly{c}, src)
		c.sent("copy", n)
		return n, err
	}
	var total int64
	for lr.N > 0 {
		c.Conn.SetWriteDeadline(time.Now().Add(c.writeTimeout))
		chunk := &io.LimitedReader{R: lr.R, N: min(lr.N, httpChunk)}
		n, err := rf.ReadFrom(chunk)
		lr.N -= n
		total += n
		if err != nil {
			c.sent("sendfile", total)
			return total, err
		}
		if n == 0 {
			break // the file ended early (truncated behind our back)
		}
	}
	c.sent("sendfile", total)
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
