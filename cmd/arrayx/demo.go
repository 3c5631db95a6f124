package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
	"github.com/arrayx/arrayx/netlink"
	"github.com/spf13/pflag"
)

// demoConsumerVerb is the hidden verb demo runs in its second process.
const demoConsumerVerb = "__demo-consumer"

const demoArrayName = "demo/float64"

// demoCmd runs the local handoff end to end: this process creates and seals
// a float64 array in a temporary store while a second process waits for it,
// maps it and sums it; the consumer then reads the same file with a copy, to
// show what the handoff saves.
type demoCmd struct {
	size string
	keep bool
}

func (c *demoCmd) usage() (string, string) {
	return "[--size 512MiB] [--keep]", "show a zero-copy handoff between two processes against a copy, then a pull over loopback"
}

func (c *demoCmd) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.size, "size", "512MiB", "array size (B, KiB, MiB, GiB, or KB, MB, GB)")
	fs.BoolVar(&c.keep, "keep", false, "keep the temporary store afterwards")
}

// consumerReport is what the consumer prints, as one JSON line.
type consumerReport struct {
	SawAt      int64   // Unix ns when Wait returned the mapped array
	OpenNs     int64   // a second, separate Open of the same array
	SumNs      int64   // summing through the mapping
	Sum        float64 // the sum through the mapping
	HeapGrowth uint64  // bytes the Go heap allocated for wait+open+sum
	ReadFileNs int64   // os.ReadFile of the same file: the copying baseline
	CopySumNs  int64   // summing the copy
	CopySum    float64 // the sum of the copy
	CopyGrowth uint64  // bytes the heap allocated for the copy
	WaitMethod string  // inotify or polling
}

func (c *demoCmd) run(ctx context.Context, e *env, args []string) error {
	if len(args) != 0 {
		return usagef("demo takes no arguments")
	}
	size, err := parseSize(c.size)
	if err != nil {
		return usagef("--size: %v", err)
	}
	n := size / 8
	if n < 1 {
		return usagef("--size %s is smaller than one float64", c.size)
	}
	parent := os.TempDir()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		parent = "/dev/shm"
	}
	base, err := os.MkdirTemp(parent, "arrayx-demo-")
	if err != nil {
		return err
	}
	if c.keep {
		defer fmt.Fprintf(e.stdout, "kept the stores: %s\n", base)
	} else {
		defer os.RemoveAll(base)
	}
	dir := filepath.Join(base, "local")
	st, err := mmapstore.OpenStore(dir, nil)
	if err != nil {
		return err
	}
	defer st.Close()

	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, exe, demoConsumerVerb, "--store", dir, "--name", demoArrayName)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the consumer process: %w", err)
	}
	defer cmd.Process.Kill() // harmless once it has exited
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != "ready" {
		cmd.Wait()
		return fmt.Errorf("the consumer process did not start: %s", strings.TrimSpace(stderr.String()))
	}

	fmt.Fprintf(e.stdout, "arrayx demo: a %s float64 array (%d elements) handed from this process to another\n",
		humanBytes(n*8), n)
	fmt.Fprintf(e.stdout, "store: %s (temporary, removed afterwards unless --keep)\n\n", dir)

	t0 := time.Now()
	w, err := st.Create(demoArrayName, arrayx.Float64, arrayx.Shape{n}, arrayx.OrderC, &mmapstore.CreateOptions{
		Attrs: map[string]any{"made_by": "arrayx demo"},
	})
	if err != nil {
		return err
	}
	defer w.Abort()
	bar := e.newProgress("fill", n*8)
	err = fill(ctx, w, fillArange, 0, bar)
	bar.done()
	if err != nil {
		return err
	}
	t1 := time.Now()
	a, err := w.Seal()
	if err != nil {
		return err
	}
	sealedAt := time.Now()
	a.Close()

	if !lines.Scan() {
		werr := cmd.Wait()
		return fmt.Errorf("the consumer process failed (%v): %s", werr, strings.TrimSpace(stderr.String()))
	}
	var r consumerReport
	if err := json.Unmarshal(lines.Bytes(), &r); err != nil {
		return fmt.Errorf("bad report from the consumer process: %w", err)
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("the consumer process failed (%v): %s", err, strings.TrimSpace(stderr.String()))
	}

	// 0 + 1 + ... + (n-1); exact in float64 while it stays below 2^53.
	want := float64(n) * float64(n-1) / 2
	// Past 2^53 each addition may round: allow n half-ulps of relative error.
	tol := float64(n) * 0x1p-53
	check := func(got float64) string {
		if got == want || math.Abs(got-want) <= tol*want {
			return "correct"
		}
		return fmt.Sprintf("WRONG, want %.17g", want)
	}
	if check(r.Sum) != "correct" || check(r.CopySum) != "correct" {
		return fmt.Errorf("the consumer's sums are wrong: mapping %v, copy %v, want %v", r.Sum, r.CopySum, want)
	}
	latency := time.Duration(r.SawAt - sealedAt.UnixNano())
	if latency < 0 { // the consumer's clock read came first; same machine, so ~0
		latency = 0
	}
	nb := float64(n * 8)
	sec := func(ns int64) float64 { return time.Duration(ns).Seconds() }
	p := func(format string, args ...any) { fmt.Fprintf(e.stdout, format, args...) }
	p("producer  create + fill        %8.3f s\n", t1.Sub(t0).Seconds())
	p("producer  seal (CRC-32C)       %8.3f s   %5.2f GB/s on %d cores\n", sealedAt.Sub(t1).Seconds(),
		nb/sealedAt.Sub(t1).Seconds()/1e9, runtime.GOMAXPROCS(0))
	p("consumer  saw the sealed array %8.3f ms after the rename (%s)\n", float64(latency)/1e6, r.WaitMethod)
	p("consumer  open (mmap)          %8.3f ms\n", float64(r.OpenNs)/1e6)
	p("consumer  sum via the mapping  %8.3f s   sum = %.17g (%s)\n", sec(r.SumNs), r.Sum, check(r.Sum))
	p("consumer  heap allocated       %8s\n\n", humanBytes(int64(r.HeapGrowth)))
	p("copy baseline, same consumer, same file:\n")
	p("consumer  os.ReadFile          %8.3f s   %5.2f GB/s\n", sec(r.ReadFileNs), nb/sec(r.ReadFileNs)/1e9)
	p("consumer  sum of the copy      %8.3f s   sum = %.17g (%s)\n", sec(r.CopySumNs), r.CopySum, check(r.CopySum))
	p("consumer  heap allocated       %8s\n\n", humanBytes(int64(r.CopyGrowth)))
	p("handoff: Open took %.0fx less time than reading a copy (%.3f ms against %.3f s),\n",
		float64(r.ReadFileNs)/float64(max(r.OpenNs, 1)), float64(r.OpenNs)/1e6, sec(r.ReadFileNs))
	p("and the consumer's heap grew by %s instead of %s.\n", humanBytes(int64(r.HeapGrowth)), humanBytes(int64(r.CopyGrowth)))
	return c.network(ctx, e, st, filepath.Join(base, "pulled"), n*8)
}

// network is the demo's second half: serve the store on loopback and pull
// the array into a second store, as another machine would.
func (c *demoCmd) network(ctx context.Context, e *env, st *mmapstore.Store, pulled string, nbytes int64) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := netlink.NewServer(st, netlink.Config{ReadOnly: true})
	go srv.Serve(l)
	defer srv.Close()
	dst, err := mmapstore.OpenStore(pulled, nil)
	if err != nil {
		return err
	}
	defer dst.Close()
	bar := e.newProgress("pull", nbytes)
	cl, err := netlink.Dial(ctx, l.Addr().String(), &netlink.DialOptions{Progress: bar.add})
	if err != nil {
		bar.done()
		return err
	}
	defer cl.Close()
	stats, err := cl.Pull(ctx, demoArrayName, dst, demoArrayName)
	bar.done()
	if err != nil {
		return err
	}
	zc := "no, copied through user space"
	if stats.ZeroCopy {
		zc = "yes"
	}
	fmt.Fprintf(e.stdout, "\nnetwork: pulled it over loopback TCP into a second store, every block's CRC-32C checked on arrival\n")
	fmt.Fprintf(e.stdout, "network   pull                 %8.3f s   %5.2f GB/s, zero-copy: %s (%s)\n",
		stats.Duration.Seconds(), float64(stats.Bytes)/stats.Duration.Seconds()/1e9, zc, stats.Method)
	return nil
}

// demoConsumerCmd is the second process of demo.
type demoConsumerCmd struct{ name string }

func (c *demoConsumerCmd) usage() (string, string) {
	return "--name NAME", "internal: the consumer process of demo"
}

func (c *demoConsumerCmd) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.name, "name", "", "array to wait for")
}

func (c *demoConsumerCmd) run(ctx context.Context, e *env, args []string) error {
	st, err := e.openStore()
	if err != nil {
		return err
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var m0, m1, m2 runtime.MemStats
	runtime.ReadMemStats(&m0)
	fmt.Fprintln(e.stdout, "ready")

	a, err := st.Wait(ctx, c.name)
	if err != nil {
		return err
	}
	r := consumerReport{SawAt: time.Now().UnixNano(), WaitMethod: mmapstore.WaitMethod}
	defer a.Close()
	x, err := arrayx.Data[float64](a)
	if err != nil {
		return err
	}
	t := time.Now()
	r.Sum = sum(x)
	r.SumNs = time.Since(t).Nanoseconds()

	t = time.Now()
	b, err := st.Open(c.name)
	if err != nil {
		return err
	}
	r.OpenNs = time.Since(t).Nanoseconds()
	b.Close()
	runtime.ReadMemStats(&m1)
	r.HeapGrowth = m1.TotalAlloc - m0.TotalAlloc

	path, err := st.Path(c.name)
	if err != nil {
		return err
	}
	t = time.Now()
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	r.ReadFileNs = time.Since(t).Nanoseconds()
	h := a.Header()
	if int64(len(raw)) != h.FileSize() {
		return errors.New("the file changed while reading it")
	}
	t = time.Now()
	y, err := arrayx.Cast[float64](raw[h.DataOffset:])
	if err != nil {
		return err
	}
	r.CopySum = sum(y)
	r.CopySumNs = time.Since(t).Nanoseconds()
	runtime.ReadMemStats(&m2)
	r.CopyGrowth = m2.TotalAlloc - m1.TotalAlloc
	return json.NewEncoder(e.stdout).Encode(r)
}

func sum(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s
}

// parseSize parses "512MiB", "1GiB", "100MB", "4096" (bytes).
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range units {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || !(v >= 0) || math.IsInf(v, 0) || v*float64(mult) > math.MaxInt64/2 {
		return 0, fmt.Errorf("%q is not a size like 512MiB", s)
	}
	return int64(v * float64(mult)), nil
}
