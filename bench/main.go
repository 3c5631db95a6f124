// Command bench measures arrayx against what users would otherwise use to
// hand over or send a large float64 array, side by side in one run, and
// writes a Markdown table, JSON and a PNG plot.
//
//	cd bench && go run . [--sizes 64MiB,256MiB,1GiB] [--runs 5] [--out results]
//	                     [--net loopback,ns,ns-1gbit,ns-1gbit-25ms,ns-25ms]
//	cd bench && go run . fanout [--hosts 1,3,7] [--size 1GiB] [--rate 1gbit]
//	cd bench && go run . sync [--big 1GiB] [--smalls 200] [--runs 3]
//
// Every case runs its sender and receiver as separate processes (this binary
// re-executed in a role, or /usr/bin/python3 with an embedded script), so
// each side's CPU is its own; the cases are interleaved round by round after
// a warm-up round; every receiver verifies the data, and a run that fails
// makes the command exit non-zero. --net runs the network cases on loopback
// and between two network namespaces, with a link rate and delay (where.go;
// namespaces need root, ip, tc and iptables). cases.go is the table of
// cases; bench results are described in RESULTS.md. The fanout subcommand
// (fanout.go) replicates one array to many hosts, sequentially and by relay;
// the sync subcommand (syncbench.go) races arrayx sync against rsync.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	if code, ok := childMain(); ok {
		os.Exit(code)
	}
	if len(os.Args) > 1 && os.Args[1] == "fanout" {
		os.Exit(fanoutMain(os.Args[2:], os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 && os.Args[1] == "seal" {
		os.Exit(sealMain(os.Args[2:], os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 && os.Args[1] == "syncrtt" {
		os.Exit(syncRTTMain(os.Args[2:], os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 && os.Args[1] == "sync" {
		os.Exit(syncMain(os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(benchMain(os.Args[1:], os.Stdout, os.Stderr))
}

// benchMain parses the flags, runs the harness, writes the results and
// returns the exit code.
func benchMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sizes := fs.String("sizes", "64MiB,256MiB,1GiB", "array sizes, comma-separated (B, KiB, MiB, GiB; multiples of 8 bytes)")
	runs := fs.Int("runs", 5, "measured rounds per size")
	warmup := fs.Int("warmup", 1, "discarded rounds before the measured ones")
	out := fs.String("out", "results", "directory for results.md, results.json and throughput.png")
	dir := fs.String("dir", "/dev/shm", "directory for the data and the received copies (tmpfs: in memory)")
	batch := fs.String("flight-batch", "1MiB", "Arrow Flight record batch size")
	only := fs.String("cases", "", "run only the cases whose ID matches this regular expression (IDs: "+caseIDs()+")")
	nets := fs.String("net", loopbackName, "where the network cases run, comma-separated: loopback, or ns (two network namespaces, root only) "+
		"with an optional link rate and one-way delay: ns-1gbit, ns-25ms, ns-1gbit-25ms")
	sockbuf := fs.String("sockbuf", "16MiB", "socket buffer the socket-buffer cases ask for (SO_SNDBUF/SO_RCVBUF; the kernel caps it at net.core.wmem_max/rmem_max, then doubles it)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench: unexpected arguments %q\n", fs.Args())
		return 2
	}
	opt := options{Runs: *runs, Warmup: *warmup, Dir: *dir, Log: stderr}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := parseSize(s)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		opt.Sizes = append(opt.Sizes, n)
	}
	b, err := parseSize(*batch)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	opt.FlightRows = b / 8
	if opt.Nets, err = parseNets(*nets); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	sb, err := parseSize(*sockbuf)
	if err != nil || sb > 1<<30 {
		fmt.Fprintf(stderr, "bench: bad --sockbuf %q\n", *sockbuf)
		return 2
	}
	opt.SocketBuffer = int(sb)
	selected := cases
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			fmt.Fprintf(stderr, "bench: --cases: %v\n", err)
			return 2
		}
		selected = nil
		for _, c := range cases {
			if re.MatchString(c.ID) {
				selected = append(selected, c)
			}
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, opt, selected)
	if res != nil && len(res.Sizes) > 0 {
		res.Command = strings.TrimSpace("cd bench && go run . " + strings.Join(args, " "))
		if werr := writeResults(*out, res, stdout); werr != nil {
			fmt.Fprintln(stderr, werr)
			return 1
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if n := res.failures(); n > 0 {
		fmt.Fprintf(stderr, "bench: %d run(s) failed or did not verify; see the Failures section\n", n)
		return 1
	}
	return 0
}

// writeResults writes results.md (also to stdout), results.json and
// throughput.png into dir.
func writeResults(dir string, res *Results, stdout io.Writer) error {
	var md strings.Builder
	renderMarkdown(&md, res)
	if err := writeReport(dir, "results", md.String(), res, stdout); err != nil {
		return err
	}
	return writePlot(filepath.Join(dir, "throughput.png"), res)
}

// writeReport writes a group's Markdown (also to stdout) and its results
// as JSON into dir, as NAME.md and NAME.json.
func writeReport(dir, name, md string, res any, stdout io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	io.WriteString(stdout, md)
	if err := os.WriteFile(filepath.Join(dir, name+".md"), []byte(md), 0o644); err != nil {
		return err
	}
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name+".json"), append(js, '\n'), 0o644)
}

// nanIf is x, or NaN for a failed run: summaries leave NaNs out.
func nanIf(failed bool, x float64) float64 {
	if failed {
		return math.NaN()
	}
	return x
}

// parseSize reads "64MiB", "1GiB", "512KiB" or a plain byte count.
func parseSize(arg string) (int64, error) {
	s := strings.TrimSpace(arg)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = v, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("bench: bad size %q (want e.g. 64MiB, 1GiB)", arg)
	}
	n *= mult
	if n%8 != 0 {
		return 0, fmt.Errorf("bench: size %d is not a multiple of 8 bytes (float64)", n)
	}
	return n, nil
}

func caseIDs() string {
	var ids []string
	for _, c := range cases {
		ids = append(ids, c.ID)
	}
	return strings.Join(ids, ", ")
}
