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
		"(connection made) until the receiver acknowledges holding all the data (for arrayx: Push returned, every block verified and published).\n")
	fmt.Fprintf(w, "- CPU (user + sys) and context switches (voluntary + involuntary) are per GB, from getrusage over each process's "+
		"measurement window (not interpreter start-up or data set-up); peak RSS is VmHWM at the window's end (mapped pages count); "+
		"Go heap is the bytes allocated in the window. The JSON also has whole-process figures (wait4).\n")
	fmt.Fprintf(w, "- Arrow Flight record batches of %s (gRPC message size limits set to fit a batch; gRPC defaults otherwise).\n", fmtBytes(float64(res.FlightBatchBytes)))

	for _, g := range res.groups() {
		first := true
		for _, s := range res.Sizes {
			rows := groupCases(s, g)
			if len(rows) == 0 {
				continue
			}
			if first {
				fmt.Fprintf(w, "\n## %s\n", g.title())
				first = false
			}
			fmt.Fprintf(w, "\n### %s\n\n", fmtBytes(float64(s.Bytes)))
			if res.twoSided(g) {
				networkTable(w, rows)
			} else {
				handoffTable(w, rows)
			}
		}
	}

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
		for _, c := range groupCases(s, g) {
			if len(c.Procs) > 1 {
				return true
			}
		}
	}
	return false
}

func groupCases(s SizeResult, g Group) []*CaseResult {
	var out []*CaseResult
	for _, c := range s.Cases {
		if c.Group == g {
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
	}
	return fmt.Sprintf("%.2f", x)
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
