package netlink

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
	"github.com/arrayx/arrayx/internal/testutil/teststore"
)

// TestTLS pushes, pulls, syncs, lists and relays over TLS: everything
// arrives verified, and Stats says the data was copied through the cipher.
func TestTLS(t *testing.T) {
	ctx := context.Background()
	certs := testutil.NewTLS(t)
	local, remote := teststore.Temp(t), teststore.Temp(t)
	_, addr := startServer(t, remote, "tcp", Config{TLS: certs.Server})
	a := teststore.NewArray(t, local, "big", arrayx.Float64, arrayx.Shape{3 << 20}, arrayx.OrderC, nil) // 24 MiB
	c := dial(t, addr, &DialOptions{TLS: certs.Client, Streams: 2})
	st, err := c.Push(ctx, a, "big")
	if err != nil {
		t.Fatal(err)
	}
	if !st.TLS || st.ZeroCopy || !strings.Contains(st.String(), "zero-copy: no (tls, ") {
		t.Errorf("push over TLS: %+v, %q", st, st)
	}
	back := teststore.Temp(t)
	if st, err = c.Pull(ctx, "big", back, ""); err != nil || !st.TLS || st.ZeroCopy {
		t.Fatalf("pull over TLS: %+v, %v", st, err)
	}
	b, err := back.Open("big")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Verify(); err != nil || !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatalf("pulled over TLS: verify %v, equal %v", err, bytes.Equal(a.Bytes(), b.Bytes()))
	}
	for i := range 5 {
		teststore.NewArray(t, local, "small/"+string(rune('a'+i)), arrayx.Int32, arrayx.Shape{1000}, arrayx.OrderC, nil)
	}
	if r, err := c.SyncPush(ctx, local, &SyncOptions{}); err != nil || r.Whole != 5 || r.Identical != 1 {
		t.Fatalf("sync over TLS: %v, %v", r, err)
	}
	sameStores(t, local, "", remote, "")
	if l, err := c.List(ctx, "small/"); err != nil || len(l) != 5 {
		t.Fatalf("list over TLS: %v, %v", l, err)
	}

	// A chain of TLS servers, each dialling the next with TLS.
	cfg := Config{TLS: certs.Server, RelayTLS: certs.Client}
	_, stores, addrs := relayServers(t, 3, cfg)
	rc := dial(t, addrs[0], &DialOptions{TLS: certs.Client, Token: []byte(relayToken)})
	if _, hosts, err := rc.PushChain(ctx, a, "big", addrs[1:]); err != nil || len(hosts) != 2 || hosts[0].Err() != nil || hosts[1].Err() != nil {
		t.Fatalf("relay over TLS: %+v, %v", hosts, err)
	}
	for _, s := range stores {
		x, err := s.Open("big")
		if err != nil {
			t.Fatal(err)
		}
		if err := x.Verify(); err != nil || !bytes.Equal(a.Bytes(), x.Bytes()) {
			t.Errorf("relayed over TLS: verify %v", err)
		}
		x.Close()
	}
}

// TestTLSMismatch: a plaintext client at a TLS server, and a TLS client at
// a plaintext one, each get an error wrapping ErrTLS that says which side
// lacks it; a client that does not trust the server's certificate, or asks
// for another name, is refused by its own TLS.
func TestTLSMismatch(t *testing.T) {
	ctx := context.Background()
	certs := testutil.NewTLS(t)
	st := teststore.Temp(t)
	_, tlsAddr := startServer(t, st, "tcp", Config{TLS: certs.Server})
	_, plainAddr := startServer(t, st, "tcp", Config{})

	_, err := Dial(ctx, tlsAddr, nil)
	if !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), "requires TLS") {
		t.Errorf("plaintext client, TLS server: %v", err)
	}
	_, err = Dial(ctx, plainAddr, &DialOptions{TLS: certs.Client})
	if !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), "does not use TLS") {
		t.Errorf("TLS client, plaintext server: %v", err)
	}
	other := testutil.NewTLS(t) // another authority
	_, err = Dial(ctx, tlsAddr, &DialOptions{TLS: other.Client})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate: %v", err)
	}
	named := certs.Client.Clone()
	named.ServerName = "arrayx.example"
	_, err = Dial(ctx, tlsAddr, &DialOptions{TLS: named})
	if err == nil || !strings.Contains(err.Error(), "arrayx.example") {
		t.Errorf("another server name: %v", err)
	}
	// The plaintext server still serves plaintext clients.
	if _, err := dial(t, plainAddr, nil).List(ctx, ""); err != nil {
		t.Fatal(err)
	}
}

// TestHTTPTLS: the HTTP endpoint over TLS serves a client that trusts its
// authority, and tells a plaintext request that it reached an HTTPS server.
func TestHTTPTLS(t *testing.T) {
	certs := testutil.NewTLS(t)
	st := teststore.Temp(t)
	a := teststore.NewArray(t, st, "x", arrayx.Float32, arrayx.Shape{1000}, arrayx.OrderC, nil)
	_, base := serveHTTP(t, st, Config{TLS: certs.Server})
	addr := strings.TrimPrefix(base, "http://")
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: certs.Client}}
	resp, err := hc.Get("https://" + addr + "/v1/arrays/x/data")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || !bytes.Equal(body, a.Bytes()) {
		t.Fatalf("GET over HTTPS: %d, %v, equal %v", resp.StatusCode, err, bytes.Equal(body, a.Bytes()))
	}
	resp, err = http.Get("http://" + addr + "/v1/arrays")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "HTTPS") {
		t.Fatalf("plain HTTP to the HTTPS endpoint: %d %q", resp.StatusCode, body)
	}
}
