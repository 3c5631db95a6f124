package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// renderMarkdown writes the results as Markdown: how they were taken, one
// table per group and size, the targets and any failures.
func renderMarkdown(w io.Writer, res *Results) {
	m := res.Machine
	fmt.Fprintf(w, "# arrayx against its peers\n\n")
	fmt.Fprintf(w, "- Date: %s. Command: `%s`.\n", res.Date, res.Command)
	mach := fmt.Sprintf("%d CPUs", m.CPUs)
	if m.CPUModel != "" {
		mach += " (" + m.CPUModel + ")"
	}
	if m.Memory > 0 {
		mach += ", " + fmtBytes(float64(m.Memory)) + " memory"
	}
	if m.Kernel != "" {
		mach += ", Linux " + m.Kernel
	}
	mach += ", " + m.Go
	if m.Python != "" {
		mach += ", " + m.Python
	}
	fmt.Fprintf(w, "- Machine: %s.\n", mach)
	fmt.Fprintf(w, "- Medians of %d runs after %d warm-up round(s), the cases interleaved (A B C A B C ...); min-max over the runs. "+
		"GB = 1e9 bytes. Data: float64 element i = i, on /dev/shm (in memory); every receiver verifies it.\n", res.Runs, res.Warmup)
	fmt.Fprintf(w, "- *vs arrayx*: the case's GB/s over arrayx's in the same round (Open + sum for the handoff, push for the network), median over rounds.\n")
	fmt.Fprintf(w, "- Wall time: handoff, from before opening the file to having the result; network, from the sender's first byte "+
		"(connection made) until the receiver acknowledges holding all the data (for arrayx: Push or Pull returned, every block verified and published).\n")
	fmt.Fprintf(w, "- CPU (user + sys) and context switches (voluntary + involuntary) are per GB, from getrusage over each process's "+
		"measurement window (not interpreter start-up or data set-up); peak RSS is VmHWM at the window's end (mapped pages count); "+
		"Go heap is the bytes allocated in the window. The JSON also has whole-process figures (wait4).\n")
	fmt.Fprintf(w, "- Arrow Flight record batches of %s (gRPC message size limits set to fit a batch; gRPC defaults otherwise).\n", fmtBytes(float64(res.FlightBatchBytes)))
	if res.SocketBuffer > 0 {
		fmt.Fprintf(w, "- Socket-buffer cases: one stream, DialOptions.SocketBuffer = %s on the client (SO_SNDBUF and SO_RCVBUF); for pull also "+
			"SO_SNDBUF = %s on the server's listening socket, which its connections inherit (netlink.Config has no such setting). "+
			"The kernel caps both at net.core.wmem_max/rmem_max and doubles them: the transport tables show what getsockopt gave.\n",
			fmtBytes(float64(res.SocketBuffer)), fmtBytes(float64(res.SocketBuffer)))
	}
	if ns := res.Nets; len(ns) > 1 || len(ns) == 1 && ns[0].Name != loopbackName {
		fmt.Fprintf(w, "- Network settings (--net); the TCP settings are those of the processes' network namespace:\n")
		for _, n := range ns {
			t := n.TCP
			fmt.Fprintf(w, "  - **%s**: %s. TCP: %s, tcp_wmem %s, tcp_rmem %s, wmem_max %s, rmem_max %s.\n",
				n.Name, n.Description, t.Congestion, t.Wmem, t.Rmem, fmtBytes(float64(t.WmemMax)), fmtBytes(float64(t.RmemMax)))
		}
	}

	for _, g := range res.groups() {
		for _, net := range res.netsOf(g) {
			first := true
			for _, s := range res.Sizes {
				rows := groupCases(s, g, net)
				if len(rows) == 0 {
					continue
				}
				if first {
					fmt.Fprintf(w, "\n## %s\n", netTitle(g, net))
					if n := res.net(net); n != nil && g == Network {
						fmt.Fprintf(w, "\n%s.\n", upperFirst(n.Description))
					}
					first = false
				}
				fmt.Fprintf(w, "\n### %s\n\n", fmtBytes(float64(s.Bytes)))
				if res.twoSided(g) {
					networkTable(w, rows)
				} else {
					handoffTable(w, rows)
				}
				if g == Network {
					fmt.Fprintf(w, "\nTransport, %s:\n\n", fmtBytes(float64(s.Bytes)))
					transportTable(w, rows, net != "" && net != loopbackName)
				}
			}
		}
	}
	streamsTable(w, res)

	if len(res.Targets) > 0 {
		fmt.Fprintf(w, "\n## Targets (issue 4)\n\n| size | ratio | median | goal | met |\n|---|---|---|---|---|\n")
		for _, t := range res.Targets {
			met := "yes"
			if !t.Met {
				met = "**no**"
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", fmtBytes(float64(t.Bytes)), t.What, fmtRatio(t.Value), t.Goal, met)
		}
	}

	if res.failures() > 0 {
		fmt.Fprintf(w, "\n## Failures\n\n")
		for _, s := range res.Sizes {
			for _, c := range s.Cases {
				if c.Summary.Failed > 0 {
					fmt.Fprintf(w, "- %s, %s: %d of %d runs failed: %s\n", fmtBytes(float64(s.Bytes)), c.Name,
						c.Summary.Failed, len(c.Runs), strings.Join(c.Summary.Errors, "; "))
				}
			}
		}
	}
}

// netsOf returns the --net settings group g ran in, in --net order: ""
// for a group that is not a network group.
func (r *Results) netsOf(g Group) []string {
	var out []string
	for _, s := range r.Sizes {
		for _, c := range s.Cases {
			if c.Group == g && !slices.Contains(out, c.Net) {
				out = append(out, c.Net)
			}
		}
	}
	return out
}

// net returns the setting named name, nil if none.
func (r *Results) net(name string) *NetInfo {
	for i := range r.Nets {
		if r.Nets[i].Name == name {
			return &r.Nets[i]
		}
	}
	return nil
}

// netTitle is the heading of group g's tables in setting net.
func netTitle(g Group, net string) string {
	if g != Network || net == "" || net == loopbackName {
		return g.title()
	}
	return "Network between two namespaces, " + net
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// groups returns the groups present, in the order of the case table.
func (r *Results) groups() []Group {
	var out []Group
	for _, s := range r.Sizes {
		for _, c := range s.Cases {
			if !slices.Contains(out, c.Group) {
				out = append(out, c.Group)
			}
		}
	}
	return out
}

// twoSided reports whether any case of g runs two processes: such groups get
// a column per side.
func (r *Results) twoSided(g Group) bool {
	for _, s := range r.Sizes {
		for _, c := range s.Cases {
			if c.Group == g && len(c.Procs) > 1 {
				return true
			}
		}
	}
	return false
}

// groupCases returns the cases of group g in setting net, in table order.
func groupCases(s SizeResult, g Group, net string) []*CaseResult {
	var out []*CaseResult
	for _, c := range s.Cases {
		if c.Group == g && c.Net == net {
			out = append(out, c)
		}
	}
	return out
}

func handoffTable(w io.Writer, rows []*CaseResult) {
	fmt.Fprintf(w, "| case | GB/s | min-max | vs arrayx | time | CPU s/GB user + sys | ctx switches/GB | peak RSS | Go heap |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range rows {
		s := c.Summary
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			c.Name, rateCell(s), rangeCell(s.GBps), ratioCell(s.VsArrayx), fmtDur(s.Seconds.Median),
			cpuCell(s.Receiver), cswCell(s.Receiver), rssCell(s.Receiver), heapCell(s.Receiver))
	}
}

func networkTable(w io.Writer, rows []*CaseResult) {
	fmt.Fprintf(w, "| case | GB/s | min-max | vs arrayx | sender CPU s/GB user + sys | receiver CPU s/GB user + sys | "+
		"sender ctx switches/GB | receiver ctx switches/GB | sender peak RSS | receiver peak RSS | sender Go heap | receiver Go heap |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range rows {
		s := c.Summary
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			c.Name, rateCell(s), rangeCell(s.GBps), ratioCell(s.VsArrayx),
			cpuCell(s.Sender), cpuCell(s.Receiver), cswCell(s.Sender), cswCell(s.Receiver),
			rssCell(s.Sender), rssCell(s.Receiver), heapCell(s.Sender), heapCell(s.Receiver))
	}
}

// transportTable says how each network case used TCP and, between
// namespaces, what crossed the link and what the delayers cost.
func transportTable(w io.Writer, rows []*CaseResult, ns bool) {
	fmt.Fprintf(w, "| case | streams (with data) | sender SO_SNDBUF | receiver SO_RCVBUF | min RTT | "+
		"sender busy time limited by receive window / send buffer | retransmitted segments |")
	if ns {
		fmt.Fprintf(w, " receiver link rx / payload | harness (delayer) CPU s/GB | delayer drops |")
	}
	fmt.Fprintf(w, "\n|---|---:|---:|---:|---:|---:|---:|")
	if ns {
		fmt.Fprintf(w, "---:|---:|---:|")
	}
	fmt.Fprintln(w)
	for _, c := range rows {
		t := c.Summary.Transport
		if t == nil {
			t = &TransportSummary{}
		}
		streams := none
		if t.Streams.N > 0 {
			streams = fmtSmall(t.Streams.Median)
			if t.WithData.N > 0 {
				streams += " (" + fmtSmall(t.WithData.Median) + ")"
			}
		}
		limits := none
		if t.RwndLimited.N > 0 {
			limits = fmt.Sprintf("%.0f%% / %.0f%%", 100*t.RwndLimited.Median, 100*t.SndbufLimited.Median)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |", c.Name, streams, bytesCell(t.SndBuf), bytesCell(t.RcvBuf),
			msCell(t.MinRTT), limits, countCell(t.Retrans))
		if ns {
			rx := none
			if t.LinkRx.N > 0 {
				rx = fmt.Sprintf("%.3fx", t.LinkRx.Median)
			}
			cpu := none
			if t.HarnessCPU.N > 0 {
				cpu = fmt.Sprintf("%.3f", t.HarnessCPU.Median)
			}
			fmt.Fprintf(w, " %s | %s | %s |", rx, cpu, countCell(t.Dropped))
		}
		fmt.Fprintln(w)
	}
}

// fmtSmall writes a small count: whole, or with one decimal (a median of
// two).
func fmtSmall(x float64) string {
	if x == math.Trunc(x) {
		return strconv.FormatFloat(x, 'f', 0, 64)
	}
	return strconv.FormatFloat(x, 'f', 1, 64)
}

func bytesCell(s Spread) string {
	if s.N == 0 {
		return none
	}
	return fmtBytes(s.Median)
}

func msCell(s Spread) string {
	if s.N == 0 {
		return none
	}
	return fmtDur(s.Median / 1e3)
}

func countCell(s Spread) string {
	if s.N == 0 {
		return none
	}
	return fmtCount(s.Median)
}

// streamComparisons are the columns of the streams table: a case and the
// one-stream case of the same direction it is compared with.
var streamComparisons = []struct{ id, ref, title string }{
	{"arrayx-push-2", "arrayx-push", "push, 2 streams"},
	{"arrayx-push-4", "arrayx-push", "push, 4 streams"},
	{"arrayx-push-sockbuf", "arrayx-push", "push, 1 stream + socket buffer"},
	{"arrayx-pull-2", "arrayx-pull", "pull, 2 streams"},
	{"arrayx-pull-4", "arrayx-pull", "pull, 4 streams"},
	{"arrayx-pull-sockbuf", "arrayx-pull", "pull, 1 stream + socket buffer"},
}

// streamsTable compares arrayx's several streams and larger socket buffer
// with one stream, setting by setting: each cell is the median over rounds
// of the case's time over the one-stream time of the same round (below 1:
// faster).
func streamsTable(w io.Writer, res *Results) {
	header := false
	for _, s := range res.Sizes {
		var lines []string
		for _, net := range res.netsOf(Network) {
			byID := map[string]*CaseResult{}
			for _, c := range groupCases(s, Network, net) {
				byID[c.ID] = c
			}
			name := net
			if name == "" {
				name = loopbackName
			}
			line := "| " + name
			for _, one := range []string{"arrayx-push", "arrayx-pull"} {
				cell := none
				if c := byID[one]; c != nil && c.Summary.GBps.N > 0 {
					cell = fmtRate(c.Summary.GBps.Median)
				}
				line += " | " + cell
			}
			found := false
			for _, sc := range streamComparisons {
				cell := none
				if c, ref := byID[sc.id], byID[sc.ref]; c != nil && ref != nil {
					secs := func(r *Run) float64 { return r.Seconds }
					if v := median(ratios(c.series(secs), ref.series(secs))); !math.IsNaN(v) {
						cell, found = fmtRatio(v), true
					}
				}
				line += " | " + cell
			}
			if found {
				lines = append(lines, line+" |")
			}
		}
		if len(lines) == 0 {
			continue
		}
		if !header {
			fmt.Fprintf(w, "\n## Streams against one stream\n\n"+
				"Time of each arrayx case over the one-stream time of the same direction, in the same round, median over rounds "+
				"(below 1.00x: faster); one stream's GB/s for scale.\n")
			header = true
		}
		fmt.Fprintf(w, "\n### %s\n\n| net | push GB/s, 1 stream | pull GB/s, 1 stream |", fmtBytes(float64(s.Bytes)))
		for _, sc := range streamComparisons {
			fmt.Fprintf(w, " %s |", sc.title)
		}
		fmt.Fprintf(w, "\n|---|---:|---:|%s\n", strings.Repeat("---:|", len(streamComparisons)))
		for _, l := range lines {
			fmt.Fprintln(w, l)
		}
	}
}

const none = "-"

func rateCell(s Summary) string {
	if s.GBps.N == 0 {
		return "**FAILED**"
	}
	r := fmtRate(s.GBps.Median)
	if s.Failed > 0 {
		r += fmt.Sprintf(" (**%d failed**)", s.Failed)
	}
	return r
}

func rangeCell(s Spread) string {
	if s.N == 0 {
		return none
	}
	return fmtRate(s.Min) + "-" + fmtRate(s.Max)
}

func ratioCell(s Spread) string {
	if s.N == 0 {
		return none
	}
	return fmtRatio(s.Median)
}

func cpuCell(s *SideSummary) string {
	if s == nil {
		return none
	}
	return fmt.Sprintf("%.3f + %.3f", s.UserPerGB, s.SysPerGB)
}

func cswCell(s *SideSummary) string {
	if s == nil {
		return none
	}
	return fmtCount(s.VcswPerGB) + " + " + fmtCount(s.IvcswPerGB)
}

func rssCell(s *SideSummary) string {
	if s == nil {
		return none
	}
	return fmtBytes(s.MaxRSS)
}

func heapCell(s *SideSummary) string {
	if s == nil || s.GoHeapAlloc == nil {
		return none
	}
	return fmtBytes(*s.GoHeapAlloc)
}

// fmtRate writes a rate with three significant digits, thousands grouped.
func fmtRate(x float64) string {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return none
	case x >= 1000:
		return group(int64(math.Round(x)))
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	case x >= 10:
		return fmt.Sprintf("%.1f", x)
	case x >= 0.1 || x <= 0:
		return fmt.Sprintf("%.2f", x)
	}
	return strconv.FormatFloat(x, 'g', 2, 64) // 0.047: a slow link's GB/s keeps two digits
}

func fmtRatio(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return none
	}
	return fmtRate(x) + "x"
}

// fmtCount writes a count per GB.
func fmtCount(x float64) string {
	if math.IsNaN(x) {
		return none
	}
	if x < 10 {
		return fmt.Sprintf("%.1f", x)
	}
	return group(int64(math.Round(x)))
}

// group writes n with commas between thousands.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// fmtBytes writes a byte count in binary units: "64 MiB", "1.5 GiB".
func fmtBytes(b float64) string {
	if math.IsNaN(b) {
		return none
	}
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	switch {
	case b == math.Trunc(b) || b >= 100:
		return fmt.Sprintf("%.0f %s", b, units[i])
	case b >= 10:
		return fmt.Sprintf("%.1f %s", b, units[i])
	}
	return fmt.Sprintf("%.2f %s", b, units[i])
}

// fmtDur writes seconds with three significant digits in a fitting unit.
func fmtDur(s float64) string {
	if math.IsNaN(s) {
		return none
	}
	switch {
	case s < 1e-3:
		return fmtRate(s*1e6) + " µs"
	case s < 1:
		return fmtRate(s*1e3) + " ms"
	}
	return fmtRate(s) + " s"
}
