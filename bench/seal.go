package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
)

// The seal group: how fast the Python writer seals against the Go one. Each
// round, a Go child and a Python child (in rotated order) each create and
// fill a float64 array in a store on /dev/shm, untimed, then seal it: CRC-32C
// and XXH3-128 of every block, the header rewritten in place, the rename.
// The window is the seal.
//
//	cd bench && go run . seal [--size 1GiB] [--runs 5]

func sealMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench seal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sizeFlag := fs.String("size", "1GiB", "the array's size")
	runs := fs.Int("runs", 5, "rounds")
	dir := fs.String("dir", "/dev/shm", "directory for the stores")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	size, err := parseSize(*sizeFlag)
	if err != nil || size%8 != 0 {
		fmt.Fprintf(stderr, "bench: --size %s: want a multiple of 8 bytes\n", *sizeFlag)
		return 2
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	work, err := os.MkdirTemp(*dir, "arrayx-seal-")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer os.RemoveAll(work)
	r := &runner{self: self, pyDir: filepath.Join(work, "python")}
	if err := os.Mkdir(r.pyDir, 0o755); err != nil || writePython(r.pyDir) != nil {
		fmt.Fprintln(stderr, "bench: writing the Python scripts:", err)
		return 1
	}
	ctx := context.Background()
	procs := map[string]*Proc{"go": {Role: "seal-go", Timed: true}, "python": {Python: "sealpy.py", Timed: true}}
	order := []string{"go", "python"}
	gbps := map[string][]float64{}
	for round := range *runs {
		for k := range order {
			who := order[(k+round)%len(order)]
			p, _ := dataParams(work, size)
			p.Scratch = filepath.Join(work, fmt.Sprintf("%s-%d", who, round))
			pr, err := r.startOn(ctx, procs[who], p, nil)
			var res *ProcResult
			if err == nil {
				res, err = pr.wait()
			}
			os.RemoveAll(p.Scratch)
			if err != nil {
				fmt.Fprintf(stderr, "bench: seal %s: %v\n", who, err)
				return 1
			}
			g := float64(size) / res.Window.Seconds / 1e9
			gbps[who] = append(gbps[who], g)
			fmt.Fprintf(stderr, "seal round %d %-6s %.3f s  %.2f GB/s  %s\n", round, who, res.Window.Seconds, g, res.Window.Method)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "seal of a %s float64 array on %s, %d rounds (GB/s, median and min-max)\n\n| writer | GB/s |\n|---|---|\n", fmtBytes(float64(size)), *dir, *runs)
	for _, who := range order {
		s := spread(gbps[who])
		fmt.Fprintf(&b, "| %s | %.2f (%.2f-%.2f) |\n", who, s.Median, s.Min, s.Max)
	}
	fmt.Fprint(stdout, b.String())
	return 0
}

// sealGo is the "seal-go" role: the Go writer's side of the seal group.
func sealGo(c *child) error {
	st, err := mmapstore.OpenStore(filepath.Join(c.Scratch, "store"), &mmapstore.Options{Sync: mmapstore.SyncNever})
	if err != nil {
		return err
	}
	defer st.Close()
	w, err := st.Create("x", arrayx.Float64, arrayx.Shape{c.N}, arrayx.OrderC, nil)
	if err != nil {
		return err
	}
	defer w.Abort()
	x, err := arrayx.Data[float64](w)
	if err != nil {
		return err
	}
	fillArange(x)
	c.begin()
	a, err := w.Seal()
	c.end()
	if err != nil {
		return err
	}
	defer a.Close()
	c.rep.Method = "mmapstore.Writer.Seal"
	c.rep.Verified = "sealed"
	return nil
}
