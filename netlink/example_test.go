package netlink_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
	"github.com/arrayx/arrayx/netlink"
)

// A server shares a store; a client pushes an array to it and pulls it back
// under another name. Both directions send with sendfile.
func Example() {
	ctx := context.Background()
	token := []byte("s3cret")
	remoteDir, _ := os.MkdirTemp("", "arrayx-remote-")
	localDir, _ := os.MkdirTemp("", "arrayx-local-")
	defer os.RemoveAll(remoteDir)
	defer os.RemoveAll(localDir)

	// The server (normally `arrayx serve` on another machine).
	remote, err := mmapstore.OpenStore(remoteDir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer remote.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := netlink.NewServer(remote, netlink.Config{Token: token})
	go srv.Serve(l)
	defer srv.Close()
	addr := l.Addr().String()

	// A local array to send.
	store, err := mmapstore.OpenStore(localDir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	w, err := store.Create("sim/temperature", arrayx.Float64, arrayx.Shape{1000, 1000}, arrayx.OrderC, nil)
	if err != nil {
		log.Fatal(err)
	}
	x, _ := arrayx.Data[float64](w)
	for i := range x {
		x[i] = float64(i)
	}
	array, err := w.Seal()
	if err != nil {
		log.Fatal(err)
	}
	defer array.Close()

	c, err := netlink.Dial(ctx, addr, &netlink.DialOptions{Token: token})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	stats, err := c.Push(ctx, array, "sim/temperature") // stats.ZeroCopy: sendfile was used
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("pushed", stats.Bytes, "bytes, zero-copy:", stats.ZeroCopy)
	stats, err = c.Pull(ctx, "sim/temperature", store, "copy")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("pulled", stats.Bytes, "bytes, zero-copy:", stats.ZeroCopy)
	back, err := store.Open("copy")
	if err != nil {
		log.Fatal(err)
	}
	defer back.Close()
	y, _ := arrayx.Data[float64](back)
	fmt.Println("element 123456:", y[123456])
	// Output:
	// pushed 8000000 bytes, zero-copy: true
	// pulled 8000000 bytes, zero-copy: true
	// element 123456: 123456
}

// A push to three servers: sent once, to the first, which relays each
// block to the second as soon as it has verified it, and so on down the
// chain. The servers share the token; the hosts report how each fared.
func ExampleClient_PushChain() {
	ctx := context.Background()
	token := []byte("s3cret-shared-by-every-host")
	var addrs []string
	for range 3 { // three hosts (normally `arrayx serve --token-file` on each)
		dir, _ := os.MkdirTemp("", "arrayx-host-")
		defer os.RemoveAll(dir)
		st, err := mmapstore.OpenStore(dir, nil)
		if err != nil {
			log.Fatal(err)
		}
		defer st.Close()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		srv := netlink.NewServer(st, netlink.Config{Token: token})
		go srv.Serve(l)
		defer srv.Close()
		addrs = append(addrs, l.Addr().String())
	}
	localDir, _ := os.MkdirTemp("", "arrayx-local-")
	defer os.RemoveAll(localDir)
	store, err := mmapstore.OpenStore(localDir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	w, err := store.Create("model/weights", arrayx.Float32, arrayx.Shape{1 << 20}, arrayx.OrderC, nil)
	if err != nil {
		log.Fatal(err)
	}
	array, err := w.Seal()
	if err != nil {
		log.Fatal(err)
	}
	defer array.Close()
	host1, host2, host3 := addrs[0], addrs[1], addrs[2]

	c, err := netlink.Dial(ctx, host1, &netlink.DialOptions{Token: token})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	stats, hosts, err := c.PushChain(ctx, array, "model/weights", []string{host2, host3})
	if err != nil {
		log.Fatal(err) // the first host failed
	}
	fmt.Println("sent once:", stats.Bytes, "bytes")
	for i, h := range hosts {
		if err := h.Err(); err != nil {
			fmt.Println("host", i+2, "failed:", err) // cut out; the others carry on
			continue
		}
		fmt.Println("host", i+2, "got", h.Bytes, "bytes, zero-copy:", h.ZeroCopy)
	}
	// Output:
	// sent once: 4194304 bytes
	// host 2 got 4194304 bytes, zero-copy: true
	// host 3 got 4194304 bytes, zero-copy: true
}
