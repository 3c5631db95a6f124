package netlink

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/internal/testutil/teststore"
	"github.com/arrayx/arrayx/mmapstore"
)

// serveHTTP starts an HTTP server on loopback and returns its base URL.
func serveHTTP(t testing.TB, st *mmapstore.Store, cfg Config) (*HTTPServer, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewHTTPServer(st, cfg)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return srv, "http://" + l.Addr().String()
}

// sendLog records what testHookHTTPSend saw.
type sendLog struct {
	mu    sync.Mutex
	sends []string
}

func recordHTTPSends(t *testing.T) *sendLog {
	sl := &sendLog{}
	testHookHTTPSend = func(method string, n int64) {
		sl.mu.Lock()
		sl.sends = append(sl.sends, fmt.Sprintf("%s %d", method, n))
		sl.mu.Unlock()
	}
	t.Cleanup(func() { testHookHTTPSend = nil })
	return sl
}

func (sl *sendLog) take() []string {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	s := sl.sends
	sl.sends = nil
	return s
}

// await takes the sends once there are n: the hook runs after the body is
// written, so the client may have read the response first.
func (sl *sendLog) await(n int) []string {
	testutil.Eventually(5*time.Second, func() bool {
		sl.mu.Lock()
		defer sl.mu.Unlock()
		return len(sl.sends) >= n
	})
	return sl.take()
}

type httpResult struct {
	status int
	header http.Header
	body   []byte
}

func httpDo(t testing.TB, method, url string, hdr map[string]string) httpResult {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return httpResult{resp.StatusCode, resp.Header, body}
}

// jsonError checks a JSON error reply and returns its message.
func jsonError(t testing.TB, r httpResult, status int) string {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d (body %s)", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	var e struct {
		Error  string `json:"error"`
		Status int    `json:"status"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Status != status || e.Error == "" {
		t.Fatalf("error body %s: %v", r.body, err)
	}
	return e.Error
}

func TestHTTPList(t *testing.T) {
	st := teststore.Temp(t)
	b := teststore.NewArray(t, st, "b", arrayx.Float64, arrayx.Shape{3, 4}, arrayx.OrderF, nil)
	a := teststore.NewArray(t, st, "a/nested", arrayx.Int32, arrayx.Shape{}, arrayx.OrderC, nil)
	_, base := serveHTTP(t, st, Config{})
	r := httpDo(t, "GET", base+"/v1/arrays", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, type %q", r.status, r.header.Get("Content-Type"))
	}
	var got []httpEntry
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	want := []httpEntry{
		{Name: "a/nested", DType: "int32", Shape: []int64{}, Order: "C", NBytes: 4, ETag: `"` + a.Digest() + `"`, URL: "/v1/arrays/a%2Fnested"},
		{Name: "b", DType: "float64", Shape: []int64{3, 4}, Order: "F", NBytes: 96, ETag: `"` + b.Digest() + `"`, URL: "/v1/arrays/b"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("list\n got %+v\nwant %+v", got, want)
	}
	if !bytes.Contains(r.body, []byte(`"shape":[]`)) {
		t.Errorf("a 0-d shape should be [] in JSON: %s", r.body)
	}
}

func TestHTTPHeader(t *testing.T) {
	st := teststore.Temp(t)
	attrs := richAttrs("x")
	attrs["nan"], attrs["inf"] = math.NaN(), math.Inf(-1)
	a := teststore.NewArray(t, st, "dir/x", arrayx.Float32, arrayx.Shape{2, 3}, arrayx.OrderC, attrs)
	_, base := serveHTTP(t, st, Config{})
	r := httpDo(t, "GET", base+"/v1/arrays/dir%2Fx", nil)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var got map[string]any
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	h := a.Header()
	for k, want := range map[string]any{
		"name": "dir/x", "dtype": "float32", "order": "C", "nbytes": 24.0, "block_size": float64(h.BlockSize),
		"blocks": 1.0, "data_offset": float64(h.DataOffset), "file_size": float64(h.FileSize()),
		"data_url": "/v1/arrays/dir%2Fx/data", "file_url": "/v1/arrays/dir%2Fx/file",
		"etag": r.header.Get("ETag"),
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	if fmt.Sprint(got["shape"]) != "[2 3]" {
		t.Errorf("shape %v", got["shape"])
	}
	at := got["attrs"].(map[string]any)
	if at["units"] != "m/s" || at["nan"] != "NaN" || at["inf"] != "-Infinity" || at["ünï"] != "códe ✓" ||
		at["blob"] != "AAEC/w==" || fmt.Sprint(at["nested"]) != "map[deeper:map[n:7] k:v]" {
		t.Errorf("attrs %v", at)
	}

	r2 := httpDo(t, "GET", base+"/v1/arrays/dir%2Fx", map[string]string{"If-None-Match": r.header.Get("ETag")})
	if r2.status != http.StatusNotModified || len(r2.body) != 0 {
		t.Errorf("If-None-Match: status %d, %d body bytes", r2.status, len(r2.body))
	}
}

func TestHTTPData(t *testing.T) {
	st := teststore.Temp(t)
	// More than httpChunk, so the body takes several sendfile chunks.
	n := int64(httpChunk + 3<<20 + 8)
	a := teststore.NewArray(t, st, "big", arrayx.Uint64, arrayx.Shape{n / 8}, arrayx.OrderC, nil)
	small := teststore.NewArray(t, st, "m", arrayx.Int16, arrayx.Shape{5, 7}, arrayx.OrderF, nil)
	file := fileOf(t, st, "big")
	_, base := serveHTTP(t, st, Config{})
	sl := recordHTTPSends(t)

	r := httpDo(t, "GET", base+"/v1/arrays/big/data", nil)
	if r.status != 200 || !bytes.Equal(r.body, a.Bytes()) {
		t.Fatalf("data: status %d, %d bytes, want %d equal bytes", r.status, len(r.body), n)
	}
	if got := sl.await(1); fmt.Sprint(got) != fmt.Sprintf("[sendfile %d]", n) {
		t.Errorf("sends %v, want one sendfile of %d bytes", got, n)
	}
	for k, want := range map[string]string{
		"Content-Type": "application/octet-stream", "Content-Length": fmt.Sprint(n), "Accept-Ranges": "bytes",
		"X-Arrayx-Dtype": "uint64", "X-Arrayx-Shape": fmt.Sprint(n / 8), "X-Arrayx-Order": "C",
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	tag := r.header.Get("ETag")
	if len(tag) != 34 || tag[0] != '"' {
		t.Errorf("ETag %q", tag)
	}

	r = httpDo(t, "GET", base+"/v1/arrays/big/file", nil)
	if r.status != 200 || !bytes.Equal(r.body, file) {
		t.Fatalf("file: status %d, %d bytes, want the %d-byte file", r.status, len(r.body), len(file))
	}
	if got := r.header.Get("X-Arrayx-Data-Offset"); got != fmt.Sprint(a.Header().DataOffset) {
		t.Errorf("X-Arrayx-Data-Offset %q", got)
	}
	if got := sl.await(1); fmt.Sprint(got) != fmt.Sprintf("[sendfile %d]", len(file)) {
		t.Errorf("file sends %v", got)
	}

	r = httpDo(t, "GET", base+"/v1/arrays/m/data", nil)
	if r.status != 200 || !bytes.Equal(r.body, small.Bytes()) || r.header.Get("X-Arrayx-Shape") != "5,7" ||
		r.header.Get("X-Arrayx-Order") != "F" || r.header.Get("X-Arrayx-Dtype") != "int16" {
		t.Fatalf("small data: %d %v", r.status, r.header)
	}
	if got := sl.await(1); fmt.Sprint(got) != "[sendfile 70]" {
		t.Errorf("small sends %v: even a body under 512 bytes should go by sendfile", got)
	}

	r = httpDo(t, "HEAD", base+"/v1/arrays/big/data", nil)
	if r.status != 200 || len(r.body) != 0 || r.header.Get("Content-Length") != fmt.Sprint(n) {
		t.Errorf("HEAD: %d, %d body bytes, length %q", r.status, len(r.body), r.header.Get("Content-Length"))
	}
	if got := sl.take(); len(got) != 0 {
		t.Errorf("HEAD sent a body: %v", got)
	}
}

func TestHTTPRanges(t *testing.T) {
	st := teststore.Temp(t)
	a := teststore.NewArray(t, st, "x", arrayx.Float64, arrayx.Shape{1000}, arrayx.OrderC, nil)
	data, n := a.Bytes(), int64(8000)
	file := fileOf(t, st, "x")
	_, base := serveHTTP(t, st, Config{})
	sl := recordHTTPSends(t)
	tag := httpDo(t, "HEAD", base+"/v1/arrays/x/data", nil).header.Get("ETag")

	for _, tc := range []struct {
		path, rng  string
		start, end int64 // want bytes [start, end]
		whole      []byte
	}{
		{"data", "bytes=0-0", 0, 0, data},
		{"data", "bytes=8-15", 8, 15, data},
		{"data", "bytes=4000-", 4000, n - 1, data},
		{"data", "bytes=-16", n - 16, n - 1, data},
		{"data", "bytes=7990-99999", 7990, n - 1, data},
		{"file", "bytes=0-15", 0, 15, file},
		{"file", fmt.Sprintf("bytes=%d-", a.Header().DataOffset), a.Header().DataOffset, int64(len(file)) - 1, file},
	} {
		t.Run(tc.path+"/"+tc.rng, func(t *testing.T) {
			r := httpDo(t, "GET", base+"/v1/arrays/x/"+tc.path, map[string]string{"Range": tc.rng})
			want := tc.whole[tc.start : tc.end+1]
			if r.status != http.StatusPartialContent || !bytes.Equal(r.body, want) {
				t.Fatalf("status %d, %d bytes, want 206 and %d equal bytes", r.status, len(r.body), len(want))
			}
			if cr := fmt.Sprintf("bytes %d-%d/%d", tc.start, tc.end, len(tc.whole)); r.header.Get("Content-Range") != cr {
				t.Errorf("Content-Range %q, want %q", r.header.Get("Content-Range"), cr)
			}
			if got := sl.await(1); fmt.Sprint(got) != fmt.Sprintf("[sendfile %d]", len(want)) {
				t.Errorf("sends %v: a range should go by sendfile too", got)
			}
		})
	}

	t.Run("unsatisfiable", func(t *testing.T) {
		r := httpDo(t, "GET", base+"/v1/arrays/x/data", map[string]string{"Range": "bytes=8000-"})
		if r.status != http.StatusRequestedRangeNotSatisfiable || r.header.Get("Content-Range") != "bytes */8000" {
			t.Errorf("status %d, Content-Range %q", r.status, r.header.Get("Content-Range"))
		}
	})
	t.Run("multipart", func(t *testing.T) {
		r := httpDo(t, "GET", base+"/v1/arrays/x/data", map[string]string{"Range": "bytes=0-3,100-107"})
		mt, params, err := mime.ParseMediaType(r.header.Get("Content-Type"))
		if r.status != http.StatusPartialContent || err != nil || mt != "multipart/byteranges" {
			t.Fatalf("status %d, type %q", r.status, r.header.Get("Content-Type"))
		}
		mr := multipart.NewReader(bytes.NewReader(r.body), params["boundary"])
		for _, want := range [][]byte{data[0:4], data[100:108]} {
			p, err := mr.NextPart()
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(p)
			if !bytes.Equal(got, want) {
				t.Errorf("part %q: %x, want %x", p.Header.Get("Content-Range"), got, want)
			}
		}
		sl.await(1) // multipart bodies are assembled through a pipe: copied
	})
	t.Run("if-range", func(t *testing.T) {
		r := httpDo(t, "GET", base+"/v1/arrays/x/data", map[string]string{"Range": "bytes=0-7", "If-Range": tag})
		if r.status != http.StatusPartialContent || len(r.body) != 8 {
			t.Errorf("matching If-Range: status %d, %d bytes", r.status, len(r.body))
		}
		r = httpDo(t, "GET", base+"/v1/arrays/x/data", map[string]string{"Range": "bytes=0-7", "If-Range": `"stale"`})
		if r.status != http.StatusOK || int64(len(r.body)) != n {
			t.Errorf("stale If-Range: status %d, %d bytes, want the whole body", r.status, len(r.body))
		}
		r = httpDo(t, "GET", base+"/v1/arrays/x/data", map[string]string{"If-None-Match": tag})
		if r.status != http.StatusNotModified {
			t.Errorf("If-None-Match: status %d", r.status)
		}
		sl.await(2)
	})
}

func TestHTTPETagFollowsContent(t *testing.T) {
	st := teststore.Temp(t)
	a := teststore.NewArray(t, st, "x", arrayx.Uint8, arrayx.Shape{100}, arrayx.OrderC, nil)
	_, base := serveHTTP(t, st, Config{})
	tag1 := httpDo(t, "HEAD", base+"/v1/arrays/x/data", nil).header.Get("ETag")
	a.Close()
	w, err := st.Create("x", arrayx.Uint8, arrayx.Shape{100}, arrayx.OrderC, nil)
	if err != nil {
		t.Fatal(err)
	}
	copy(w.Bytes(), a.Header().Shape.String()) // different content, same header shape
	b, err := w.Seal()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	tag2 := httpDo(t, "HEAD", base+"/v1/arrays/x/data", nil).header.Get("ETag")
	if tag1 == "" || tag1 == tag2 {
		t.Errorf("ETag %q before and %q after replacing the data", tag1, tag2)
	}
}

func TestHTTPErrors(t *testing.T) {
	st := teststore.Temp(t)
	teststore.NewArray(t, st, "x", arrayx.Uint8, arrayx.Shape{10}, arrayx.OrderC, nil)
	outside := t.TempDir()
	if err := os.WriteFile(outside+"/secret.arx", []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside+"/secret.arx", st.Dir()+"/link.arx"); err != nil {
		t.Fatal(err)
	}
	_, base := serveHTTP(t, st, Config{})
	for _, tc := range []struct {
		method, path string
		status       int
		msg          string
	}{
		{"GET", "/v1/arrays/nope", 404, `no array "nope"`},
		{"GET", "/v1/arrays/nope/data", 404, `no array "nope"`},
		{"GET", "/v1/arrays/x/nope", 404, "no such endpoint"},
		{"GET", "/v1/arrays/a/b/data", 404, "%2F"},
		{"GET", "/nope", 404, "no such endpoint"},
		{"GET", "/v1/arrays/..%2Fescape", 400, "invalid array name"},
		{"GET", "/v1/arrays/%2Fetc%2Fpasswd/file", 400, "invalid array name"},
		{"GET", "/v1/arrays/a%00b/data", 400, "invalid array name"},
		{"GET", "/v1/arrays/.x.arx.tmp-0123456789abcdef", 400, "invalid array name"},
		{"GET", "/v1/arrays/caf%C3%A9", 400, "invalid array name"},
		{"GET", "/v1/arrays/" + strings.Repeat("a", 300), 400, "invalid array name"},
		{"GET", "/v1/arrays/link/file", 500, "link"}, // the symlink leads out of the store: refused
		{"POST", "/v1/arrays/x", 405, "read-only"},
		{"PUT", "/v1/arrays/x/data", 405, "read-only"},
		{"DELETE", "/v1/arrays/x", 405, "read-only"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := httpDo(t, tc.method, base+tc.path, nil)
			if msg := jsonError(t, r, tc.status); !strings.Contains(msg, tc.msg) {
				t.Errorf("error %q does not mention %q", msg, tc.msg)
			}
			if tc.status == 405 && r.header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow %q", r.header.Get("Allow"))
			}
			if bytes.Contains(r.body, []byte("secret")) {
				t.Errorf("a file outside the store leaked: %s", r.body)
			}
		})
	}
}

func TestHTTPToken(t *testing.T) {
	st := teststore.Temp(t)
	teststore.NewArray(t, st, "x", arrayx.Uint8, arrayx.Shape{10}, arrayx.OrderC, nil)
	_, base := serveHTTP(t, st, Config{Token: []byte("s3cret")})
	for _, tc := range []struct {
		auth   string
		status int
	}{
		{"", 401},
		{"Bearer wrong", 401},
		{"Bearer s3cre", 401},
		{"Basic s3cret", 401},
		{"Bearer s3cret", 200},
		{"bearer s3cret", 200},
	} {
		for _, path := range []string{"/v1/arrays", "/v1/arrays/x", "/v1/arrays/x/data", "/v1/arrays/nope"} {
			hdr := map[string]string{}
			if tc.auth != "" {
				hdr["Authorization"] = tc.auth
			}
			r := httpDo(t, "GET", base+path, hdr)
			want := tc.status
			if want == 200 && path == "/v1/arrays/nope" {
				want = 404
			}
			if r.status != want {
				t.Errorf("%q %s: status %d, want %d", tc.auth, path, r.status, want)
			}
			if want == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
		}
	}
}

func TestHTTPMaxConns(t *testing.T) {
	st := teststore.Temp(t)
	teststore.NewArray(t, st, "x", arrayx.Uint8, arrayx.Shape{10}, arrayx.OrderC, nil)
	_, base := serveHTTP(t, st, Config{MaxConns: 1})
	hold, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	fmt.Fprintf(hold, "GET /v1/arrays/x HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(hold), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("first connection: %v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	// The first connection stays open (keep-alive): a second is refused.
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp2, err := (&http.Client{Transport: tr}).Get(base + "/v1/arrays/x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if resp2.StatusCode != 503 || !strings.Contains(string(body), "connection limit") {
		t.Fatalf("second connection: %d %s", resp2.StatusCode, body)
	}
	hold.Close()
	testutil.WaitFor(t, "the slot to free", func() bool {
		r, err := (&http.Client{Transport: tr}).Get(base + "/v1/arrays/x")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == 200
	})
}

func TestHTTPTimeouts(t *testing.T) {
	st := teststore.Temp(t)
	const size = 256 << 20 // more than loopback's socket buffers hold
	teststore.NewArray(t, st, "big", arrayx.Uint8, arrayx.Shape{size}, arrayx.OrderC, nil)
	_, base := serveHTTP(t, st, Config{ReadTimeout: 200 * time.Millisecond, WriteTimeout: 300 * time.Millisecond})
	addr := strings.TrimPrefix(base, "http://")

	t.Run("slow headers", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /v1/arrays HTTP/1.1\r\n") // and never the rest
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		start := time.Now()
		b, _ := io.ReadAll(c)
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("connection held %v after a stalled request", d)
		}
		if len(b) > 0 && !bytes.Contains(b, []byte("408")) {
			t.Errorf("reply to a stalled request: %q", b)
		}
	})
	t.Run("reader that stops", func(t *testing.T) {
		sent := make(chan int64, 1)
		testHookHTTPSend = func(_ string, n int64) { sent <- n }
		defer func() { testHookHTTPSend = nil }()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /v1/arrays/big/data HTTP/1.1\r\nHost: x\r\n\r\n")
		// Read nothing: once the socket buffers are full, the server's
		// write deadline passes and it gives up on the body.
		select {
		case n := <-sent:
			if n >= size {
				t.Fatalf("the server sent all %d bytes to a reader that reads nothing", n)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the server still sends to a reader that stopped 5 s ago")
		}
		// What was queued arrives, then the server closes the connection.
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := io.Copy(io.Discard, c)
		if err != nil || n >= size {
			t.Errorf("read %d bytes, then %v; want fewer than %d and EOF", n, err, size)
		}
		// The server still serves others.
		if r := httpDo(t, "GET", base+"/v1/arrays", nil); r.status != 200 {
			t.Errorf("after a stalled reader: status %d", r.status)
		}
	})
}

// A file truncated behind the store's back is an error reply, not a crash
// or a short body, and the server goes on serving.
func TestHTTPTruncatedFile(t *testing.T) {
	st := teststore.Temp(t)
	teststore.NewArray(t, st, "x", arrayx.Uint8, arrayx.Shape{1 << 20}, arrayx.OrderC, nil)
	teststore.NewArray(t, st, "ok", arrayx.Uint8, arrayx.Shape{10}, arrayx.OrderC, nil)
	_, base := serveHTTP(t, st, Config{})
	p, _ := st.Path("x")
	for _, size := range []int64{5000, 100, 0} {
		if err := os.Truncate(p, size); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/v1/arrays/x", "/v1/arrays/x/data", "/v1/arrays/x/file"} {
			r := httpDo(t, "GET", base+path, nil)
			if msg := jsonError(t, r, http.StatusInternalServerError); !strings.Contains(msg, "x") {
				t.Errorf("truncated to %d, %s: %q", size, path, msg)
			}
		}
		if r := httpDo(t, "GET", base+"/v1/arrays/ok/data", nil); r.status != 200 || len(r.body) != 10 {
			t.Errorf("after a truncated array: %d, %d bytes", r.status, len(r.body))
		}
	}
}
