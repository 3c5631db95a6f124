package main

import (
	"fmt"
	"math"
	"os"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// writePlot draws throughput against array size, one line per case (median,
// with min-max bars), one panel per group, both axes logarithmic, as a PNG.
func writePlot(path string, res *Results) error {
	var panels []*plot.Plot
	for _, g := range res.groups() {
		for _, net := range res.netsOf(g) {
			p, ok, err := groupPlot(res, g, net)
			if err != nil {
				return err
			}
			if ok {
				panels = append(panels, p)
			}
		}
	}
	if len(panels) == 0 {
		return fmt.Errorf("bench: nothing to plot")
	}
	// At most three panels a row.
	cols := min(3, len(panels))
	rows := (len(panels) + cols - 1) / cols
	grid := make([][]*plot.Plot, rows)
	for i := range grid {
		grid[i] = make([]*plot.Plot, cols)
	}
	for i, p := range panels {
		grid[i/cols][i%cols] = p
	}
	const w, h = 8 * vg.Inch, 6 * vg.Inch
	img := vgimg.NewWith(vgimg.UseWH(w*vg.Length(cols), h*vg.Length(rows)), vgimg.UseDPI(120))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Inch / 4, PadY: vg.Inch / 4, PadTop: vg.Inch / 8, PadBottom: vg.Inch / 8, PadLeft: vg.Inch / 8, PadRight: vg.Inch / 8}
	canvases := plot.Align(grid, tiles, dc)
	for i, p := range panels {
		p.Draw(canvases[i/cols][i%cols])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// spreadXY is one case's line: x the size in MiB, y the median GB/s, with the
// min and max as error bars.
type spreadXY struct {
	plotter.XYs
	lo, hi []float64
}

func (s spreadXY) YError(i int) (float64, float64) { return s.lo[i], s.hi[i] }

func groupPlot(res *Results, g Group, net string) (*plot.Plot, bool, error) {
	p := plot.New()
	p.Title.Text = netTitle(g, net)
	p.X.Label.Text = "array size"
	p.Y.Label.Text = "GB/s (median; bars: min-max)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	p.Add(plotter.NewGrid())

	var sizes []float64
	lines := map[string]*spreadXY{}
	var order []string
	for _, s := range res.Sizes {
		mib := float64(s.Bytes) / (1 << 20)
		sizes = append(sizes, mib)
		for _, c := range groupCases(s, g, net) {
			l := lines[c.Name]
			if l == nil {
				l = &spreadXY{}
				lines[c.Name] = l
				order = append(order, c.Name)
			}
			if c.Summary.GBps.N == 0 {
				continue // failed: no point
			}
			sp := c.Summary.GBps
			l.XYs = append(l.XYs, plotter.XY{X: mib, Y: sp.Median})
			l.lo = append(l.lo, sp.Median-sp.Min)
			l.hi = append(l.hi, sp.Max-sp.Median)
		}
	}
	if len(order) == 0 {
		return nil, false, nil
	}
	var ticks []plot.Tick
	for _, s := range sizes {
		ticks = append(ticks, plot.Tick{Value: s, Label: fmtBytes(s * (1 << 20))})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = slices.Min(sizes)/1.5, slices.Max(sizes)*1.5

	for i, name := range order {
		l := lines[name]
		if len(l.XYs) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(l.XYs)
		if err != nil {
			return nil, false, err
		}
		line.Color, points.Color = plotutil.Color(i), plotutil.Color(i)
		line.Dashes = plotutil.Dashes(i)
		points.Shape = plotutil.Shape(i)
		bars, err := plotter.NewYErrorBars(l)
		if err != nil {
			return nil, false, err
		}
		bars.Color = plotutil.Color(i)
		p.Add(line, points, bars)
		p.Legend.Add(name, line, points)
	}
	// Room above the highest point for the legend.
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, l := range lines {
		for j, xy := range l.XYs {
			ymin = min(ymin, xy.Y-l.lo[j])
			ymax = max(ymax, xy.Y+l.hi[j])
		}
	}
	if ymin > 0 && !math.IsInf(ymax, 0) {
		p.Y.Min, p.Y.Max = ymin/2, ymax*math.Pow(ymax/ymin*2, 0.6)
	}
	return p, true, nil
}
