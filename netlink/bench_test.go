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
	"github.com/arrayx/arrayx/internal/testutil/teststore"
	"github.com/arrayx/arrayx/mmapstore"
)

var benchSizes = []int64{64 << 20, 1 << 30}

func benchName(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%dGiB", n>>30)
	}
	return fmt.Sprintf("%dMiB", n>>20)
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
			st := teststore.Shm(b)
			a := teststore.NewArray(b, st, "x", arrayx.Uint8, arrayx.Shape{n}, arrayx.OrderC, nil)
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
			var m cpuMeter
			b.SetBytes(n)
			b.ReportAllocs()
			m.begin()
			for i := 0; i < b.N; i++ {
				if _, zc, err := a.SendData(conn, 0, n); err != nil || !zc {
					b.Fatal(err, zc)
				}
			}
			m.report(b, n*int64(b.N))
		})
	}
}

// BenchmarkPush pushes an array over loopback into a server's store: by
// sendfile and by the copy fallback (pread into a buffer, write), into tmpfs
// and into a disk store, with protocol version 1 and version 2 on one and
// four streams. cpu-s/GB is the whole process (sender and receiver both).
func BenchmarkPush(b *testing.B) {
	cases := []struct {
		name    string
		store   func(testing.TB) *mmapstore.Store
		copy    bool
		version int
		streams int
	}{
		{"shm/sendfile/v2", teststore.Shm, false, 2, 1},
		{"shm/sendfile/v2x4", teststore.Shm, false, 2, 4},
		{"shm/sendfile/v1", teststore.Shm, false, 1, 1},
		{"shm/write/v2", teststore.Shm, true, 2, 1},
		{"disk/sendfile/v2", teststore.Temp, false, 2, 1},
	}
	for _, n := range benchSizes {
		for _, tc := range cases {
			b.Run(benchName(n)+"/"+tc.name, func(b *testing.B) {
				src, dst := teststore.Shm(b), tc.store(b)
				a := teststore.NewArray(b, src, "x", arrayx.Uint8, arrayx.Shape{n}, arrayx.OrderC, nil)
				addr := serve(b, dst, "tcp", Config{})
				c := dial(b, addr, &DialOptions{ForceCopy: tc.copy, MaxVersion: tc.version, Streams: tc.streams})
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
					if st.Bytes != n || st.ZeroCopy == tc.copy || st.Version != tc.version {
						b.Fatalf("stats %+v", st)
					}
					b.StartTimer()
				}
				b.ReportMetric(total.Seconds()/(float64(n*int64(b.N))/1e9), "cpu-s/GB")
			})
		}
	}
}

// BenchmarkReceiveVsLoop tracks the landing path against the plain loop it
// must keep up with: in each iteration a sender sendfiles the array over
// loopback twice, once to a loop that reads 1 MiB at a time and writes it to
// a tmpfs file, once to Partial.ReceiveAt (read into a buffer, CRC while
// hot, pwrite, every block verified). It reports both rates and their
// ratio; a regression of the landing path shows as a falling "x-loop".
func BenchmarkReceiveVsLoop(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(benchName(n), func(b *testing.B) {
			src, dst := teststore.Shm(b), teststore.Shm(b)
			a := teststore.NewArray(b, src, "x", arrayx.Uint8, arrayx.Shape{n}, arrayx.OrderC, nil)
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					a.SendData(c, 0, n)
					c.Close()
				}
			}()
			recvOnce := func(land func(conn net.Conn) error) time.Duration {
				conn, err := net.Dial("tcp", l.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				defer conn.Close()
				start := time.Now()
				if err := land(conn); err != nil {
					b.Fatal(err)
				}
				return time.Since(start)
			}
			var loop, land time.Duration
			b.SetBytes(n)
			for i := 0; i < b.N; i++ {
				loop += recvOnce(func(conn net.Conn) error {
					f, err := os.CreateTemp(dst.Dir(), "loop-")
					if err != nil {
						return err
					}
					defer os.Remove(f.Name())
					defer f.Close()
					buf := make([]byte, 1<<20)
					for got := int64(0); got < n; {
						r, err := conn.Read(buf)
						if err != nil {
							return err
						}
						if _, err := f.Write(buf[:r]); err != nil {
							return err
						}
						got += int64(r)
					}
					return nil
				})
				land += recvOnce(func(conn net.Conn) error {
					p, err := dst.Receive("y", a.RawHeader(), nil)
					if err != nil {
						return err
					}
					defer p.Discard()
					_, err = p.ReceiveAt(conn, 0, n)
					return err
				})
			}
			gbps := func(d time.Duration) float64 { return float64(n*int64(b.N)) / d.Seconds() / 1e9 }
			b.ReportMetric(gbps(loop), "loop-GB/s")
			b.ReportMetric(gbps(land), "land-GB/s")
			b.ReportMetric(loop.Seconds()/land.Seconds(), "x-loop")
		})
	}
}
