//go:build linux

package netlink

import (
	"context"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
)

var benchSizes = []int64{64 << 20, 1 << 30}

func benchName(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%dGiB", n>>30)
	}
	return fmt.Sprintf("%dMiB", n>>20)
}

// shmStore opens a store on /dev/shm (the default store's filesystem).
func shmStore(b *testing.B) *mmapstore.Store {
	b.Helper()
	d, err := os.MkdirTemp("/dev/shm", "arrayx-bench-")
	if err != nil {
		b.Skip("no /dev/shm:", err)
	}
	b.Cleanup(func() { os.RemoveAll(d) })
	s, err := mmapstore.OpenStore(d, &mmapstore.Options{Sync: mmapstore.SyncNever})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// diskStore opens a store on the test's temporary directory (a disk here).
func diskStore(b *testing.B) *mmapstore.Store {
	s, err := mmapstore.OpenStore(b.TempDir(), &mmapstore.Options{Sync: mmapstore.SyncNever})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// cpuMeter reports the process's user+system CPU seconds per GB moved.
type cpuMeter struct{ start time.Duration }

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (m *cpuMeter) begin() { m.start = cpuNow() }

func (m *cpuMeter) report(b *testing.B, bytes int64) {
	cpu := (cpuNow() - m.start).Seconds()
	b.ReportMetric(cpu/(float64(bytes)/1e9), "cpu-s/GB")
}

// BenchmarkCeiling is the kernel's ceiling on this machine: sendfile of the
// array's file into loopback TCP, read by a receiver that discards into one
// reused 1 MiB buffer.
func BenchmarkCeiling(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(benchName(n), func(b *testing.B) {
			st := shmStore(b)
			a := makeArray(b, st, "x", arrayx.Uint8, arrayx.Shape{n}, arrayx.OrderC)
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			go func() {
				c, err := l.Accept()
				if err != nil {
					return
				}
				buf := make([]byte, 1<<20)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			}()
			conn, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			h := a.Header()
			var m cpuMeter
			b.SetBytes(n)
			b.ReportAllocs()
			m.begin()
			for i := 0; i < b.N; i++ {
				if _, _, err := sendFile(conn, a.File(), h.DataOffset, n, time.Minute, func(int64) {}, nil); err != nil {
					b.Fatal(err)
				}
			}
			m.report(b, n*int64(b.N))
		})
	}
}

// BenchmarkPush pushes an array over loopback into a server's store: the
// default path (sendfile; splice on tmpfs, the mapping on disk), the copy
// fallback (write from the mapping), and each receive method on tmpfs and
// on disk. cpu-s/GB is the whole process (sender and receiver both).
func BenchmarkPush(b *testing.B) {
	cases := []struct {
		name  string
		store func(*testing.B) *mmapstore.Store
		recv  RecvOptions
		copy  bool
	}{
		{"shm/sendfile-auto", shmStore, RecvOptions{}, false},
		{"shm/sendfile-mmap", shmStore, RecvOptions{Method: RecvMmap}, false},
		{"shm/sendfile-mmap-prefault", shmStore, RecvOptions{Method: RecvMmap, Prefault: true}, false},
		{"shm/sendfile-splice", shmStore, RecvOptions{Method: RecvSplice}, false},
		{"shm/write-mmap", shmStore, RecvOptions{}, true},
		{"disk/sendfile-auto", diskStore, RecvOptions{}, false},
		{"disk/sendfile-mmap-prefault", diskStore, RecvOptions{Method: RecvMmap, Prefault: true}, false},
		{"disk/sendfile-splice", diskStore, RecvOptions{Method: RecvSplice}, false},
	}
	for _, n := range benchSizes {
		for _, tc := range cases {
			b.Run(benchName(n)+"/"+tc.name, func(b *testing.B) {
				src, dst := shmStore(b), tc.store(b)
				a := makeArray(b, src, "x", arrayx.Uint8, arrayx.Shape{n}, arrayx.OrderC)
				addr := serve(b, dst, "tcp", Config{Recv: tc.recv})
				c := dial(b, addr, &DialOptions{ForceCopy: tc.copy})
				ctx := context.Background()
				b.SetBytes(n)
				b.ReportAllocs()
				var total time.Duration
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					dst.Remove("y") // freeing the previous copy is not the transfer's cost
					cpu := cpuNow()
					b.StartTimer()
					st, err := c.Push(ctx, a, "y")
					if err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					total += cpuNow() - cpu
					if st.Bytes != n || st.ZeroCopy == tc.copy {
						b.Fatalf("stats %+v", st)
					}
					b.StartTimer()
				}
				b.ReportMetric(total.Seconds()/(float64(n*int64(b.N))/1e9), "cpu-s/GB")
			})
		}
	}
}
