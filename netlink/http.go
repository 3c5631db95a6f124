package netlink

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
)

// HTTPServer serves a store's arrays read-only over HTTP/1.1, for clients
// that speak nothing else (curl, a browser, Python's urllib):
//
//	GET /v1/arrays              JSON list of the arrays
//	GET /v1/arrays/NAME         JSON header: dtype, shape, order, nbytes, block_size, attrs, ...
//	GET /v1/arrays/NAME/data    the raw data bytes (Range requests supported)
//	GET /v1/arrays/NAME/file    the whole ARRAYX file
//
// NAME is one path segment: the "/" of a nested name is written %2F
// (/v1/arrays/sim%2Ftemperature/data). HEAD works wherever GET does; every
// other method is refused, as the endpoint is read-only.
//
// Bodies go from the array's file to the socket by sendfile(2), ranged or
// not, the same zero-copy path as the binary protocol's sender. The data and
// file responses carry an ETag derived from the array's header (and so its
// CRC table), so conditional requests (If-None-Match, If-Range) work, and
// X-Arrayx-Dtype, X-Arrayx-Shape and X-Arrayx-Order describe the data.
//
// The server applies the Config it shares with the binary Server: Token (as
// "Authorization: Bearer TOKEN"), MaxConns, IdleTimeout, ReadTimeout (for a
// request's headers), WriteTimeout (for each write, and each chunk of a
// body: a client that stops reading is cut off, a slow but steady one is
// not), MaxHeaderBytes and Logger. ReadOnly, MaxArrayBytes, Recv and Sync do
// not apply.
type HTTPServer struct {
	store *mmapstore.Store
	cfg   Config
	srv   *http.Server
	h     http.Handler
}

// httpConnKey carries the request's *httpConn in its context, so the handler
// can report how its body was sent.
type httpConnKey struct{}

// NewHTTPServer returns an HTTP server for store.
func NewHTTPServer(store *mmapstore.Store, cfg Config) *HTTPServer {
	s := &HTTPServer{store: store, cfg: cfg.withDefaults()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/arrays", s.list)
	mux.HandleFunc("GET /v1/arrays/{name}", s.header)
	mux.HandleFunc("GET /v1/arrays/{name}/data", s.body(false))
	mux.HandleFunc("GET /v1/arrays/{name}/file", s.body(true))
	mux.HandleFunc("/", s.notFound)
	s.h = s.guard(mux)
	s.srv = &http.Server{
		Handler:           s.h,
		ReadHeaderTimeout: s.cfg.ReadTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if hc, ok := c.(*httpConn); ok {
				return context.WithValue(ctx, httpConnKey{}, hc)
			}
			return ctx
		},
	}
	return s
}

// Handler returns the endpoint as an http.Handler, to mount in a server of
// one's own. Serve adds what a handler cannot: the connection limit, the
// per-write timeouts, and the report of how each body was sent.
func (s *HTTPServer) Handler() http.Handler { return s.h }

// Serve accepts connections on l until Shutdown or Close, and returns
// ErrServerClosed then.
func (s *HTTPServer) Serve(l net.Listener) error {
	var hl net.Listener = newHTTPListener(l, s.cfg.MaxConns, s.cfg.WriteTimeout)
	if s.cfg.TLS != nil {
		// HTTPS: bodies are encrypted, so copied, not sent by sendfile. A
		// plaintext request is answered by net/http with a 400 saying that
		// it went to an HTTPS server.
		hl = tls.NewListener(hl, minTLS(s.cfg.TLS))
	}
	err := s.srv.Serve(hl)
	if errors.Is(err, http.ErrServerClosed) {
		return ErrServerClosed
	}
	return err
}

// Shutdown stops accepting, closes idle connections and waits for responses
// in progress; when ctx ends first it returns ctx's error (call Close then).
func (s *HTTPServer) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// Close stops the server at once, cutting off responses in progress.
func (s *HTTPServer) Close() error { return s.srv.Close() }

// guard applies what every route shares: the read-only rule, the token, and
// one log line per request.
func (s *HTTPServer) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			attrs := []any{"remote", r.RemoteAddr, "method", r.Method, "path", r.URL.EscapedPath(),
				"status", rec.status, "bytes", rec.bytes, "elapsed", time.Since(start)}
			if hc, ok := r.Context().Value(httpConnKey{}).(*httpConn); ok {
				if m := hc.takeMethod(); m != "" {
					attrs = append(attrs, "send", m)
				}
			}
			s.cfg.Logger.Info("http", attrs...)
		}()
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			rec.Header().Set("Allow", "GET, HEAD")
			s.fail(rec, http.StatusMethodNotAllowed, fmt.Errorf("method %s not allowed: the HTTP endpoint is read-only", r.Method))
			return
		}
		if len(s.cfg.Token) > 0 && !bearerOK(r.Header.Get("Authorization"), s.cfg.Token) {
			rec.Header().Set("WWW-Authenticate", `Bearer realm="arrayx"`)
			s.fail(rec, http.StatusUnauthorized, ErrUnauthorized)
			return
		}
		next.ServeHTTP(rec, r)
	})
}

// bearerOK compares the request's bearer token with the server's in
// constant time.
func bearerOK(auth string, token []byte) bool {
	scheme, got, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), token) == 1
}

// httpEntry is one array in the list.
type httpEntry struct {
	Name   string  `json:"name"`
	DType  string  `json:"dtype"`
	Shape  []int64 `json:"shape"`
	Order  string  `json:"order"`
	NBytes int64   `json:"nbytes"`
	ETag   string  `json:"etag"`
	URL    string  `json:"url"`
}

// httpHeader is the JSON form of an array's header.
type httpHeader struct {
	Name       string         `json:"name"`
	DType      string         `json:"dtype"`
	Shape      []int64        `json:"shape"`
	Order      string         `json:"order"`
	NBytes     int64          `json:"nbytes"`
	BlockSize  int64          `json:"block_size"`
	Blocks     int            `json:"blocks"`
	DataOffset int64          `json:"data_offset"`
	FileSize   int64          `json:"file_size"`
	ETag       string         `json:"etag"`
	Attrs      map[string]any `json:"attrs"`
	DataURL    string         `json:"data_url"`
	FileURL    string         `json:"file_url"`
}

func arrayURL(name string) string { return "/v1/arrays/" + url.PathEscape(name) }

func (s *HTTPServer) list(w http.ResponseWriter, r *http.Request) {
	names, err := s.store.List()
	if err != nil {
		s.fail(w, http.StatusInternalServerError, err)
		return
	}
	out := make([]httpEntry, 0, len(names))
	for _, n := range names {
		info, err := s.store.Info(n)
		if err != nil {
			continue // removed or replaced meanwhile
		}
		h := info.Header
		out = append(out, httpEntry{Name: n, DType: h.DType.String(), Shape: shapeOrEmpty(h.Shape),
			Order: h.Order.String(), NBytes: h.NBytes, ETag: `"` + info.Digest + `"`, URL: arrayURL(n)})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *HTTPServer) header(w http.ResponseWriter, r *http.Request) {
	a, ok := s.open(w, r)
	if !ok {
		return
	}
	defer a.Close()
	h, name := a.Header(), r.PathValue("name")
	tag, err := etag(a)
	if err != nil {
		s.fail(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("ETag", tag)
	w.Header().Set("Cache-Control", "no-cache")
	if r.Header.Get("If-None-Match") == tag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeJSON(w, http.StatusOK, httpHeader{
		Name: name, DType: h.DType.String(), Shape: shapeOrEmpty(h.Shape), Order: h.Order.String(),
		NBytes: h.NBytes, BlockSize: h.BlockSize, Blocks: h.NumBlocks(), DataOffset: h.DataOffset,
		FileSize: h.FileSize(), ETag: tag, Attrs: jsonAttrs(h.Attrs),
		DataURL: arrayURL(name) + "/data", FileURL: arrayURL(name) + "/file",
	})
}

// body serves the data region, or the whole file, with http.ServeContent
// (ranges, conditional requests, HEAD) over a section of the array's own
// descriptor, so the copy into the socket is sendfile's.
func (s *HTTPServer) body(whole bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, ok := s.open(w, r)
		if !ok {
			return
		}
		defer a.Close()
		h := a.Header()
		tag, err := etag(a)
		if err != nil {
			s.fail(w, http.StatusInternalServerError, err)
			return
		}
		sec := &fileSection{a: a, f: a.File(), base: 0, size: h.NBytes}
		if whole {
			sec.base, sec.size = -h.DataOffset, h.FileSize()
			w.Header().Set("X-Arrayx-Data-Offset", strconv.FormatInt(h.DataOffset, 10))
		}
		hd := w.Header()
		hd.Set("Content-Type", "application/octet-stream")
		hd.Set("ETag", tag)
		hd.Set("Cache-Control", "no-cache")
		hd.Set("X-Arrayx-Dtype", h.DType.String())
		hd.Set("X-Arrayx-Shape", formatShape(h.Shape))
		hd.Set("X-Arrayx-Order", h.Order.String())
		var modTime time.Time
		if fi, err := a.File().Stat(); err == nil {
			modTime = fi.ModTime()
		}
		http.ServeContent(eagerHeader{w}, r, "", modTime, sec)
	}
}

// open validates the request's name and opens the array, answering the
// request itself when it cannot.
func (s *HTTPServer) open(w http.ResponseWriter, r *http.Request) (*mmapstore.Array, bool) {
	name := r.PathValue("name")
	if err := mmapstore.ValidateName(name); err != nil {
		s.fail(w, http.StatusBadRequest, err)
		return nil, false
	}
	a, err := s.store.OpenWith(name, &mmapstore.OpenOptions{Limits: s.cfg.limits()})
	if err != nil {
		status := http.StatusInternalServerError
		switch {
		case errors.Is(err, fs.ErrNotExist):
			status, err = http.StatusNotFound, fmt.Errorf("no array %q", name)
		case errors.Is(err, arrayx.ErrHeaderTooLarge):
			status = http.StatusRequestEntityTooLarge // over this server's Config.MaxHeaderBytes
		}
		s.fail(w, status, err)
		return nil, false
	}
	return a, true
}

func (s *HTTPServer) notFound(w http.ResponseWriter, r *http.Request) {
	msg := "no such endpoint: the routes are /v1/arrays, /v1/arrays/NAME, /v1/arrays/NAME/data and /v1/arrays/NAME/file"
	if strings.HasPrefix(r.URL.Path, "/v1/arrays/") {
		msg += ` (write the "/" of a nested name as %2F)`
	}
	s.fail(w, http.StatusNotFound, errors.New(msg))
}

// fail answers with a JSON error body.
func (s *HTTPServer) fail(w http.ResponseWriter, status int, err error) {
	if status >= 500 {
		s.cfg.Logger.Warn("http error", "status", status, "err", err)
	}
	writeJSON(w, status, map[string]any{"error": err.Error(), "status": status})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // attrs are made JSON-safe first, so this is a bug
		status, b = http.StatusInternalServerError, fmt.Appendf(nil, `{"error":%q,"status":500}`, err.Error())
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// etag identifies an array's content by its raw header, which holds the
// dtype, shape, attrs and the CRC of every block: a sealed array that
// changes gets a new header, and with it a new tag. The header is unreadable
// only when the file was truncated behind the store's back.
func etag(a *mmapstore.Array) (string, error) {
	d := a.Digest()
	if d == "" {
		return "", fmt.Errorf("%w: %s: reading its header", mmapstore.ErrFault, a.Path())
	}
	return `"` + d + `"`, nil
}

// formatShape writes a shape as comma-separated sizes; a 0-d shape is "".
func formatShape(s arrayx.Shape) string {
	parts := make([]string, len(s))
	for i, n := range s {
		parts[i] = strconv.FormatInt(n, 10)
	}
	return strings.Join(parts, ",")
}

// shapeOrEmpty keeps a 0-d shape a JSON [] rather than null.
func shapeOrEmpty(s arrayx.Shape) []int64 {
	if s == nil {
		return []int64{}
	}
	return s
}

// jsonAttrs converts attrs to values encoding/json accepts: maps with
// non-string keys get their keys formatted, NaN and infinities become the
// strings "NaN", "Infinity" and "-Infinity" (JSON has no such numbers), and
// msgpack extension values their hex.
func jsonAttrs(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = jsonValue(v)
	}
	return out
}

func jsonValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return jsonAttrs(v)
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[fmt.Sprint(k)] = jsonValue(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = jsonValue(x)
		}
		return out
	case float32:
		return jsonFloat(float64(v))
	case float64:
		return jsonFloat(v)
	case string, bool, nil, int64, uint64, []byte:
		return v
	default: // msgpack extension values, kept raw by the decoder
		return fmt.Sprintf("%x", v)
	}
}

func jsonFloat(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return f
}
