package mmapstore

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/internal/testutil"
)

const consumerEnv = "ARRAYX_TEST_HANDOFF_CONSUMER" // "DIR|NAME": run as the consumer

func TestMain(m *testing.M) {
	if spec := os.Getenv(consumerEnv); spec != "" {
		os.Exit(handoffConsumer(spec))
	}
	if spec := os.Getenv(writerEnv); spec != "" {
		os.Exit(writerHelper(spec)) // clean_test.go
	}
	os.Exit(m.Run())
}

type consumerReport struct {
	Sum        float64
	N          int
	HeapAlloc  uint64 // live Go heap after summing
	AllocDelta uint64 // bytes allocated from before Wait to after the sum
	WaitNs     int64
}

// handoffConsumer is the second process: it waits for the array, maps it and
// sums it, then reports what that cost its Go heap.
func handoffConsumer(spec string) int {
	dir, name, _ := strings.Cut(spec, "|")
	s, err := OpenStore(dir, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fmt.Println("ready")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	a, err := s.Wait(ctx, name)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	waited := time.Since(start)
	x, err := arrayx.Data[float64](a)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var sum float64
	for _, v := range x {
		sum += v
	}
	runtime.ReadMemStats(&after)
	rep := consumerReport{Sum: sum, N: len(x), HeapAlloc: after.HeapAlloc,
		AllocDelta: after.TotalAlloc - before.TotalAlloc, WaitNs: waited.Nanoseconds()}
	a.Close()
	json.NewEncoder(os.Stdout).Encode(rep)
	return 0
}

// TestCrossProcessHandoff: a consumer process waits for a 256 MiB float64
// array that this process creates and seals, maps it and sums it. The sum
// must be exact and the consumer's Go heap must not have seen the data.
func TestCrossProcessHandoff(t *testing.T) {
	const n = 256 << 20 / 8
	s, err := OpenStore(testutil.ShmOrTempDir(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	cmd := testutil.Child(t, consumerEnv+"="+s.Dir()+"|frames/0001")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("consumer did not start: %q %v", lines.Text(), lines.Err())
	}

	w, err := s.Create("frames/0001", arrayx.Float64, arrayx.Shape{n}, arrayx.OrderC, nil)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := arrayx.Data[float64](w)
	for i := range x {
		x[i] = float64(i)
	}
	a, err := w.Seal()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	if !lines.Scan() {
		t.Fatalf("no report from consumer: %v", lines.Err())
	}
	var rep consumerReport
	if err := json.Unmarshal(lines.Bytes(), &rep); err != nil {
		t.Fatalf("report %q: %v", lines.Text(), err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal("consumer:", err)
	}
	// Partial sums of 0..n-1 are integers below 2^53: the float sum is exact.
	if want := float64(n) * float64(n-1) / 2; rep.N != n || rep.Sum != want {
		t.Fatalf("consumer summed %d elements to %v, want %d and %v", rep.N, rep.Sum, n, want)
	}
	t.Logf("consumer: waited %v, heap %d B live, %d B allocated during handoff and sum",
		time.Duration(rep.WaitNs), rep.HeapAlloc, rep.AllocDelta)
	if rep.HeapAlloc >= 1<<20 || rep.AllocDelta >= 1<<20 {
		t.Fatalf("consumer Go heap: %d B live, %d B allocated; want under 1 MiB (data must not be copied)",
			rep.HeapAlloc, rep.AllocDelta)
	}
}
