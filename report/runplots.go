package report

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/lockbench/lockbench/summary"
)

// spectrumMaxX is 1/(1−p) at the spectrum's right end: 99.99 %.
const spectrumMaxX = 1e4

// spectrumTicks label the 1/(1−p) axis with percentiles.
type spectrumTicks struct{}

// Ticks implements plot.Ticker.
func (spectrumTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for _, t := range []struct {
		x     float64
		label string
	}{{1, "0%"}, {2, "50%"}, {10, "90%"}, {100, "99%"}, {1e3, "99.9%"}, {1e4, "99.99%"}, {1e5, "99.999%"}} {
		if t.x >= lo && t.x <= hi {
			ts = append(ts, plot.Tick{Value: t.x, Label: t.label})
		}
	}
	return ts
}

// spectrumFigure plots, for one workload × fault, the acquire latency at
// every percentile, one line per lock, from the merged acquire_ok
// histograms. Locks with a safety violation say so in the legend.
func spectrumFigure(l *layout, g groupKey) (figure, bool, error) {
	p := newPlot("acquire latency by percentile: "+g.String(), "percentile", "acquire latency")
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = spectrumTicks{}
	p.X.Min, p.X.Max = 1, spectrumMaxX
	p.X.Label.Text = "percentile (log scale of 1/(1−p))"
	const steps = 160
	xs := make([]float64, steps+1)
	pcts := make([]float64, steps+1)
	for i := range xs {
		xs[i] = math.Pow(spectrumMaxX, float64(i)/steps)
		pcts[i] = 100 * (1 - 1/xs[i])
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	var items []legendItem
	for _, lock := range l.locks {
		cells := l.cells[g][lock]
		if len(cells) == 0 {
			continue
		}
		h, err := merged(cells)
		if err != nil {
			return figure{}, false, err
		}
		if h == nil {
			continue
		}
		vals := h.ValueAtPercentilesSlice(pcts)
		ys := make([]float64, len(vals))
		for i, v := range vals {
			ys[i] = math.Max(float64(v), 1) / 1e3
			lo, hi = math.Min(lo, ys[i]), math.Max(hi, ys[i])
		}
		i := l.lockIndex(lock)
		line := addLines(p, xyLines(xs, ys, lockPalette(i), 1.6, lockDashes(i)))
		if line == nil {
			continue
		}
		name := fmt.Sprintf("%s (n=%d)", lock, h.TotalCount())
		if c := worst(cells); c != summary.ClassSafe {
			name += " — " + c.String()
		}
		items = append(items, legendItem{name, line})
	}
	if len(items) == 0 {
		return figure{}, false, nil
	}
	setLogMs(&p.Y, lo, hi)
	legendW := 1.9 * vg.Inch
	return figure{w: 7.4 * vg.Inch, h: 4 * vg.Inch, draw: func(dc draw.Canvas) {
		body := dc
		body.Max.X -= legendW
		p.Draw(body)
		col := dc
		col.Min.X = body.Max.X
		drawLegendColumn(col, p, items)
	}}, true, nil
}

// verdictBars is a bar per lock: height the mean throughput, colour the
// worst verdict, unsafe ones hatched; a dot per sample when there are
// several.
type verdictBars struct {
	values  []float64
	samples [][]float64
	classes []summary.Class
}

// Plot implements plot.Plotter.
func (b verdictBars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	sty := smallText(p, 7, colUnsafe)
	sty.XAlign = draw.XCenter
	sty.YAlign = draw.YBottom
	y0 := trY(0)
	for i, v := range b.values {
		x0, x1 := trX(float64(i)-0.38), trX(float64(i)+0.38)
		y1 := trY(v)
		cl := b.classes[i]
		rect(c, x0, y0, x1, y1, classColor(cl), nil)
		switch cl {
		case summary.ClassUnsafe:
			hatch(c, x0, y0, x1, y1)
			c.FillText(sty, vg.Point{X: (x0 + x1) / 2, Y: y1 + vg.Points(1)}, "UNSAFE")
		case summary.ClassSafe, summary.ClassDegraded, summary.ClassStalled:
		default:
			// A bar that is not the lock's own figure says why above it:
			// "no-progress" over a bar of height 0 instead of a safe one.
			s := sty
			s.Color = classColor(cl)
			c.FillText(s, vg.Point{X: (x0 + x1) / 2, Y: y1 + vg.Points(1)}, cl.String())
		}
		if len(b.samples[i]) > 1 {
			for _, s := range b.samples[i] {
				pt := vg.Point{X: (x0 + x1) / 2, Y: trY(s)}
				c.DrawGlyph(draw.GlyphStyle{Color: hexColor(0x000000ff), Radius: vg.Points(1.5), Shape: draw.CircleGlyph{}}, pt)
			}
		}
	}
}

// DataRange implements plot.DataRanger.
func (b verdictBars) DataRange() (xmin, xmax, ymin, ymax float64) {
	ymax = 1
	for i, v := range b.values {
		ymax = math.Max(ymax, v)
		for _, s := range b.samples[i] {
			ymax = math.Max(ymax, s)
		}
	}
	return -0.5, float64(len(b.values)) - 0.5, 0, ymax * 1.12
}

// hatch draws white diagonal lines across a bar.
func hatch(c draw.Canvas, x0, y0, x1, y1 vg.Length) {
	if y1 < y0 {
		y0, y1 = y1, y0
	}
	sub := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{Min: vg.Point{X: x0, Y: y0}, Max: vg.Point{X: x1, Y: y1}}}
	step := vg.Points(5)
	h := y1 - y0
	var lines [][]vg.Point
	for off := -h; off < x1-x0; off += step {
		lines = append(lines, []vg.Point{{X: x0 + off, Y: y0}, {X: x0 + off + h, Y: y1}})
	}
	sub.StrokeLines(draw.LineStyle{Color: hexColor(0xffffffc0), Width: vg.Points(1.2)}, sub.ClipLinesXY(lines...)...)
}

// comparisonFigure is a grid of panels, faults down and workloads across,
// each with a bar of throughput per lock coloured by verdict.
func comparisonFigure(l *layout) figure {
	rows, cols := len(l.faults), len(l.workloads)
	present := map[summary.Class]bool{}
	plots := make([][]*plot.Plot, rows)
	for r, fault := range l.faults {
		plots[r] = make([]*plot.Plot, cols)
		for k, wl := range l.workloads {
			g := groupKey{wl, fault}
			p := newPlot(g.String(), "", "acquires/s")
			p.Title.TextStyle.Font.Size = vg.Points(9)
			b := verdictBars{}
			for _, lock := range l.locks {
				cells := l.cells[g][lock]
				b.values = append(b.values, meanThroughput(cells))
				var ss []float64
				for _, c := range cells {
					if c.Error == "" {
						ss = append(ss, c.Throughput)
					}
				}
				b.samples = append(b.samples, ss)
				cl := worst(cells)
				if len(cells) == 0 {
					cl = summary.ClassError
				}
				b.classes = append(b.classes, cl)
				present[cl] = true
			}
			p.Add(b)
			p.NominalX(l.locks...)
			p.X.Tick.Label.Rotation = math.Pi / 5
			p.X.Tick.Label.XAlign = draw.XRight
			p.X.Tick.Label.YAlign = draw.YCenter
			p.Y.Min = 0
			plots[r][k] = p
		}
	}
	legendH := vg.Points(22)
	w := max(vg.Length(cols)*4.6*vg.Inch, 7.6*vg.Inch)
	h := vg.Length(rows)*3.2*vg.Inch + legendH
	return figure{w: w, h: h, draw: func(dc draw.Canvas) {
		top := dc
		top.Min.Y = dc.Max.Y - legendH
		drawVerdictLegend(top, plots[0][0], present)
		body := dc
		body.Max.Y -= legendH
		tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(10), PadY: vg.Points(8), PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8)}
		cs := plot.Align(plots, tiles, body)
		for r := range plots {
			for k := range plots[r] {
				plots[r][k].Draw(cs[r][k])
			}
		}
	}}
}

// drawVerdictLegend writes the colour key of the verdicts along c.
func drawVerdictLegend(c draw.Canvas, p *plot.Plot, present map[summary.Class]bool) {
	sty := smallText(p, 9, hexColor(0x000000ff))
	sty.YAlign = draw.YCenter
	x := c.Min.X + vg.Points(8)
	y := (c.Min.Y + c.Max.Y) / 2
	sz := vg.Points(9)
	title := "acquires/s per lock; colour = verdict:"
	c.FillText(sty, vg.Point{X: x, Y: y}, title)
	x += sty.Width(title) + vg.Points(10)
	for _, cl := range slices.Backward(summary.Classes()) {
		if !present[cl] && cl != summary.ClassSafe && cl != summary.ClassUnsafe {
			continue
		}
		rect(c, x, y-sz/2, x+sz, y+sz/2, classColor(cl), nil)
		if cl == summary.ClassUnsafe {
			hatch(c, x, y-sz/2, x+sz, y+sz/2)
		}
		x += sz + vg.Points(3)
		label := cl.String()
		if cl == summary.ClassUnsafe {
			label = "unsafe (mutex or resource)"
		}
		c.FillText(sty, vg.Point{X: x, Y: y}, label)
		x += sty.Width(label) + vg.Points(12)
	}
}

// compile-time checks.
var (
	_ plot.Plotter     = verdictBars{}
	_ plot.DataRanger  = verdictBars{}
	_ plot.Plotter     = faultShade{}
	_ plot.Thumbnailer = swatch{}
)
