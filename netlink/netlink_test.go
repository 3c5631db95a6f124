package netlink

import (
	"context"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil/teststore"
	"github.com/arrayx/arrayx/mmapstore"
)

// serve starts a server on network ("tcp" or "unix") and returns its address.
func serve(t testing.TB, st *mmapstore.Store, network string, cfg Config) string {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "s.sock")
	}
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(st, cfg)
	go srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	if network == "unix" {
		return "unix:" + addr
	}
	return l.Addr().String()
}

func dial(t testing.TB, addr string, opts *DialOptions) *Client {
	t.Helper()
	c, err := Dial(context.Background(), addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRoundTripSmoke(t *testing.T) {
	ctx := context.Background()
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			local, remote := teststore.Temp(t), teststore.Temp(t)
			addr := serve(t, remote, network, Config{})
			c := dial(t, addr, nil)
			a := teststore.NewArray(t, local, "x", arrayx.Float32, arrayx.Shape{1000, 3000}, arrayx.OrderF, map[string]any{"origin": "x"})
			st, err := c.Push(ctx, a, "y/z")
			if err != nil {
				t.Fatal(err)
			}
			t.Log("push:", st)
			st, err = c.Pull(ctx, "y/z", local, "back")
			if err != nil {
				t.Fatal(err)
			}
			t.Log("pull:", st)
			b, err := local.Open("back")
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if !slices.Equal(a.Bytes(), b.Bytes()) || !slices.Equal(a.RawHeader(), b.RawHeader()) {
				t.Fatal("round trip changed the array")
			}
			list, err := c.List(ctx, "")
			if err != nil || len(list) != 1 || list[0].Name != "y/z" {
				t.Fatalf("list %v %v", list, err)
			}
		})
	}
}
