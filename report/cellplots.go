package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/lockbench/lockbench/checker"
	"github.com/lockbench/lockbench/history"
	"github.com/lockbench/lockbench/summary"
)

// cellWidth is the width of the per-cell plots.
const cellWidth = 8 * vg.Inch

// throughputFigure plots a cell's acquires per second (with the failed and
// unknown ones when there are any) above its p99 acquire latency, both
// over time, fault windows shaded.
func throughputFigure(c *summary.CellResult, d *cellData) figure {
	var s *series
	if d.fromHistory {
		s = d.timeSeries()
	} else {
		s = secondsSeries(c)
	}
	xmax := math.Max(float64(d.end)/1e9, float64(len(s.t))*s.width.Seconds())
	xmax = math.Max(xmax, 0.001)
	top := newPlot(fmt.Sprintf("%s: throughput and p99 over time (%v buckets)", c.ID, s.width), "", "acquires/s")
	topLabels := addFaults(top, d.faults, 1e9)
	top.X.Min, top.X.Max = 0, xmax
	top.Y.Min = 0
	mid := func(ts []float64) []float64 {
		out := make([]float64, len(ts))
		for i, t := range ts {
			out[i] = t + s.width.Seconds()/2
		}
		return out
	}
	xs := mid(s.t)
	var items []legendItem
	if l := addLines(top, xyLines(xs, s.okRate, colOK, 1.4, nil)); l != nil {
		items = append(items, legendItem{"acquired /s", l})
	}
	if s.anyFail {
		if l := addLines(top, xyLines(xs, s.failRt, colFail, 1.2, []vg.Length{vg.Points(4), vg.Points(2)})); l != nil {
			items = append(items, legendItem{"not obtained /s", l})
		}
		if l := addLines(top, xyLines(xs, s.infoRt, colInfo, 1.2, []vg.Length{vg.Points(1.5), vg.Points(1.5)})); l != nil {
			items = append(items, legendItem{"unknown outcome /s", l})
		}
	}
	topLabels()
	top.X.Tick.Marker = niceTicks{n: 10}
	top.X.Tick.Label.Color = hexColor(0)

	bot := newPlot("", "time since the cell started (s)", "p99 acquire latency")
	bot.X.Tick.Marker = niceTicks{n: 10}
	bot.Add(faultShade{windows: d.faults, scale: 1e9})
	bot.X.Min, bot.X.Max = 0, xmax
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range s.p99ms {
		if !math.IsNaN(v) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = 0.1, 1
	}
	setLogMs(&bot.Y, lo, hi)
	if l := addLines(bot, xyLines(xs, s.p99ms, colOK, 1.2, nil)); l != nil {
		if sc := xyScatter(xs, s.p99ms, colOK, 1.6); sc != nil {
			bot.Add(sc)
		}
		items = append(items, legendItem{"p99 of the acquires done in the bucket", l})
	}
	items = append(items, legendItem{"fault active", swatch{fill: colFault}})
	return withFooter(stacked(cellWidth, []vg.Length{2.2 * vg.Inch, 1.7 * vg.Inch}, top, bot), top, items)
}

// xyScatter is small dots at the finite points.
func xyScatter(xs, ys []float64, col hexColor, r float64) *plotter.Scatter {
	var pts plotter.XYs
	for i := range xs {
		if !math.IsNaN(ys[i]) {
			pts = append(pts, plotter.XY{X: xs[i], Y: ys[i]})
		}
	}
	if len(pts) == 0 {
		return nil
	}
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return nil
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(r), Shape: draw.CircleGlyph{}}
	return sc
}

// scatterFigure plots every acquire (at most maxScatterPoints of them) at
// its invoke time against its latency, coloured by outcome.
func scatterFigure(c *summary.CellResult, d *cellData) (figure, int) {
	pts := downsample(d.acquires, maxScatterPoints)
	title := fmt.Sprintf("%s: acquire latency, invoke → outcome", c.ID)
	if len(pts) < len(d.acquires) {
		title += fmt.Sprintf(" (%d of %d acquires shown)", len(pts), len(d.acquires))
	}
	p := newPlot(title, "invoke time since the cell started (s)", "latency")
	labels := addFaults(p, d.faults, 1e9)
	p.X.Min, p.X.Max = 0, math.Max(float64(d.end)/1e9, 0.001)
	lo, hi := math.Inf(1), math.Inf(-1)
	by := map[history.Type]plotter.XYs{}
	for _, a := range pts {
		ms := math.Max(float64(a.end-a.start)/1e6, 0.001)
		lo, hi = math.Min(lo, ms), math.Max(hi, ms)
		by[a.outcome] = append(by[a.outcome], plotter.XY{X: float64(a.start) / 1e9, Y: ms})
	}
	if math.IsInf(lo, 1) {
		lo, hi = 0.1, 1
	}
	setLogMs(&p.Y, lo, hi)
	// ok first, so that the rarer outcomes are drawn over them.
	layer := pointLayer{radius: 1}
	var items []legendItem
	for _, o := range []struct {
		t     history.Type
		col   hexColor
		label string
	}{
		{history.OK, colOK, "ok (lease in hand)"},
		{history.Fail, colFail, "fail (not obtained)"},
		{history.Info, colInfo, "info (unknown outcome)"},
	} {
		for _, xy := range by[o.t] {
			layer.points = append(layer.points, point{x: xy.X, y: xy.Y, col: o.col})
		}
		items = append(items, legendItem{fmt.Sprintf("%s: %d", o.label, countOutcome(d.acquires, o.t)), swatch{fill: o.col}})
	}
	p.Add(layer)
	labels()
	items = append(items, legendItem{"fault active", swatch{fill: colFault}})
	p.X.Tick.Marker = niceTicks{n: 10}
	return withFooter(singlePlot(p, cellWidth, 3.4*vg.Inch), p, items), len(pts)
}

func countOutcome(as []acquirePoint, t history.Type) int {
	n := 0
	for _, a := range as {
		if a.outcome == t {
			n++
		}
	}
	return n
}

// Timeline limits.
const (
	maxTimelineRows    = 24
	maxTimelineBeliefs = 400
	maxTimelineSpan    = 2 * time.Second
	minTimelineSpan    = 20 * time.Millisecond
)

// span is a window of the timeline, ms.
type span struct{ lo, hi float64 }

// timelineSpans picks what the lock-holder timeline shows: around the
// first witness (the whole witness and, when that is long, a zoom on the
// overlap), or else a readable stretch from the first fault (or the
// start).
func timelineSpans(c *summary.CellResult, d *cellData) []span {
	if len(c.Witnesses) > 0 {
		w := c.Witnesses[0]
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, iv := range w.IntervalsMs {
			lo, hi = math.Min(lo, iv[0]), math.Max(hi, iv[1])
		}
		if len(w.OverlapMs) == 2 {
			lo, hi = math.Min(lo, w.OverlapMs[0]), math.Max(hi, w.OverlapMs[1])
		}
		if !math.IsInf(lo, 1) {
			pad := math.Max((hi-lo)*0.08, 2)
			wide := span{lo - pad, hi + pad}
			// The zoom: the overlap (or the later interval's start) ± some.
			var at, to float64
			switch {
			case len(w.OverlapMs) == 2:
				at, to = w.OverlapMs[0], w.OverlapMs[1]
			case len(w.IntervalsMs) == 2:
				at = math.Max(w.IntervalsMs[0][0], w.IntervalsMs[1][0])
				to = at
			default:
				return []span{wide}
			}
			half := math.Max(10, 1.5*(to-at))
			zoom := span{at - half, to + half}
			if (zoom.hi-zoom.lo)*4 < wide.hi-wide.lo {
				return []span{wide, zoom}
			}
			return []span{wide}
		}
	}
	anchor := 0.0
	if len(d.faults) > 0 {
		anchor = float64(d.faults[0].start) / 1e6
	}
	// Widest span ≤ 2 s holding at most maxTimelineBeliefs beliefs, a
	// quarter of it before the anchor.
	width := float64(maxTimelineSpan) / 1e6
	for width > float64(minTimelineSpan)/1e6 {
		lo := math.Max(anchor-width/4, 0)
		if countBeliefs(d.beliefs, lo, lo+width) <= maxTimelineBeliefs {
			break
		}
		width /= 2
	}
	lo := math.Max(anchor-width/4, 0)
	return []span{{lo, lo + width}}
}

func countBeliefs(bs []belief, lo, hi float64) int {
	n := 0
	for _, b := range bs {
		if float64(b.end)/1e6 >= lo && float64(b.start)/1e6 <= hi {
			n++
		}
	}
	return n
}

// witnessLockKey is the lock key of the cell's first witness: its key, or
// for a resource witness the lock key the resource is named after; ""
// when there is no witness or no belief on that key.
func witnessLockKey(c *summary.CellResult, d *cellData) string {
	if len(c.Witnesses) == 0 {
		return ""
	}
	k := c.Witnesses[0].Key
	for _, cand := range []string{k, strings.TrimPrefix(k, "resource:")} {
		for _, b := range d.beliefs {
			if b.key == cand {
				return cand
			}
		}
	}
	return ""
}

// timelineRows draws one row per process: its beliefs as bars, the
// witnesses' intervals outlined in red, their overlaps as red bands, and
// crashes as black ticks.
type timelineRows struct {
	row       map[int]int // process → row
	beliefs   []belief
	witnesses []checker.Witness
	crashes   []crashPoint
	// labels draws only the witnesses' fence labels: add the rows twice,
	// the labels last, over the fault labels.
	labels bool
}

// Plot implements plot.Plotter.
func (t timelineRows) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	clampX := func(ms float64) vg.Length {
		return trX(math.Min(math.Max(ms, p.X.Min), p.X.Max))
	}
	visible := func(lo, hi float64) bool { return hi >= p.X.Min && lo <= p.X.Max }
	bar := func(r int, lo, hi, h float64) (vg.Length, vg.Length, vg.Length, vg.Length) {
		x0, x1 := clampX(lo), clampX(hi)
		if x1-x0 < 1 {
			x1 = x0 + 1
		}
		return x0, trY(float64(r) - h), x1, trY(float64(r) + h)
	}
	if t.labels {
		t.fenceLabels(c, p, visible, bar)
		return
	}
	for _, b := range t.beliefs {
		r, ok := t.row[b.process]
		lo, hi := float64(b.start)/1e6, float64(b.end)/1e6
		if !ok || !visible(lo, hi) {
			continue
		}
		x0, y0, x1, y1 := bar(r, lo, hi, 0.3)
		rect(c, x0, y0, x1, y1, colBelief, hexColor(0x4c72b0ff))
	}
	for _, w := range t.witnesses {
		rows := []int{}
		for i, iv := range w.IntervalsMs {
			if i >= len(w.Processes) {
				break
			}
			r, ok := t.row[w.Processes[i]]
			if !ok {
				continue
			}
			rows = append(rows, r)
			if !visible(iv[0], iv[1]) {
				continue
			}
			x0, y0, x1, y1 := bar(r, iv[0], iv[1], 0.42)
			c.StrokeLines(draw.LineStyle{Color: colWitness, Width: vg.Points(1.6)}, []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}, {X: x0, Y: y0}})
		}
		if len(w.OverlapMs) == 2 && len(rows) > 0 && visible(w.OverlapMs[0], w.OverlapMs[1]) {
			lo, hi := slices.Min(rows), slices.Max(rows)
			x0, x1 := clampX(w.OverlapMs[0]), clampX(w.OverlapMs[1])
			if x1-x0 < 3 {
				m := (x0 + x1) / 2
				x0, x1 = m-1.5, m+1.5
			}
			rect(c, x0, trY(float64(lo)-0.5), x1, trY(float64(hi)+0.5), colOverlap, nil)
		}
	}
	for _, cr := range t.crashes {
		r, ok := t.row[cr.process]
		ms := float64(cr.at) / 1e6
		if !ok || !visible(ms, ms) {
			continue
		}
		x := trX(ms)
		c.StrokeLine2(draw.LineStyle{Color: hexColor(0x000000ff), Width: vg.Points(2)}, x, trY(float64(r)-0.45), x, trY(float64(r)+0.45))
	}
}

// fenceLabels writes the fences of the witnesses' intervals above them.
func (t timelineRows) fenceLabels(c draw.Canvas, p *plot.Plot, visible func(lo, hi float64) bool, bar func(r int, lo, hi, h float64) (vg.Length, vg.Length, vg.Length, vg.Length)) {
	sty := smallText(p, 7, colWitness)
	sty.YAlign = draw.YBottom
	for _, w := range t.witnesses {
		for i, iv := range w.IntervalsMs {
			if i >= len(w.Processes) || i >= len(w.Fences) || !visible(iv[0], iv[1]) {
				continue
			}
			r, ok := t.row[w.Processes[i]]
			if !ok {
				continue
			}
			x0, _, _, y1 := bar(r, iv[0], iv[1], 0.42)
			label := fmt.Sprintf("fence %d", w.Fences[i])
			rect(c, x0, y1, x0+sty.Width(label), y1+sty.Font.Size, hexColor(0xffffffd0), nil)
			c.FillText(sty, vg.Point{X: x0, Y: y1 + vg.Points(0.5)}, label)
		}
	}
}

// timelineFigure is the lock-holder timeline of a cell: who believed they
// held a lock when, with the violations marked.
func timelineFigure(c *summary.CellResult, d *cellData) figure {
	spans := timelineSpans(c, d)
	// With a witness, only its key's beliefs: the others would look like
	// overlaps.
	key := witnessLockKey(c, d)
	beliefs := d.beliefs
	if key != "" {
		beliefs = nil
		for _, b := range d.beliefs {
			if b.key == key {
				beliefs = append(beliefs, b)
			}
		}
	}
	// Rows: the witnesses' processes first, then those holding a lock in
	// the windows, in process order, at most maxTimelineRows.
	// The witnesses on that key.
	var ws []checker.Witness
	for _, w := range c.Witnesses {
		if key == "" || w.Key == key || strings.TrimPrefix(w.Key, "resource:") == key {
			ws = append(ws, w)
		}
	}
	var procs []int
	for _, w := range ws {
		for _, p := range w.Processes {
			if !slices.Contains(procs, p) {
				procs = append(procs, p)
			}
		}
	}
	var active []int
	for _, b := range beliefs {
		for _, s := range spans {
			if float64(b.end)/1e6 >= s.lo && float64(b.start)/1e6 <= s.hi && !slices.Contains(active, b.process) {
				active = append(active, b.process)
			}
		}
	}
	slices.Sort(active)
	for _, p := range active {
		if !slices.Contains(procs, p) {
			procs = append(procs, p)
		}
	}
	if len(procs) == 0 {
		procs = slices.Clone(d.processes)
	}
	if len(procs) == 0 {
		procs = []int{-1} // an empty row: nobody to show
	}
	hidden := 0
	if len(procs) > maxTimelineRows {
		hidden = len(procs) - maxTimelineRows
		procs = procs[:maxTimelineRows]
	}
	slices.SortStableFunc(procs, func(a, b int) int { return cmp.Compare(a, b) })
	rows := map[int]int{}
	names := make([]string, len(procs))
	for i, p := range procs {
		// Row 0 at the top.
		rows[p] = len(procs) - 1 - i
		names[len(procs)-1-i] = "p" + strconv.Itoa(p)
		if p < 0 {
			names[len(procs)-1-i] = "none"
		}
	}
	rowH := vg.Length(math.Max(float64(len(procs)), 3)) * 0.26 * vg.Inch
	var plots []*plot.Plot
	var heights []vg.Length
	for i, s := range spans {
		title := fmt.Sprintf("%s: who believed they held a lock (%.0f ms window)", c.ID, s.hi-s.lo)
		if len(c.Witnesses) > 0 {
			title = fmt.Sprintf("%s: holders around the first witness (%s)", c.ID, c.Witnesses[0].Kind)
		}
		if i > 0 {
			title = fmt.Sprintf("zoom: %.1f ms around the overlap", s.hi-s.lo)
		}
		if key != "" && i == 0 {
			title += ", key " + strings.TrimPrefix(key, c.ID+":")
		}
		if hidden > 0 && i == 0 {
			title += fmt.Sprintf("; %d more processes not shown", hidden)
		}
		p := newPlot(title, "time since the cell started (ms)", "")
		p.Title.TextStyle.Font.Size = vg.Points(10)
		labels := addFaults(p, d.faults, 1e6)
		rowsPlot := timelineRows{row: rows, beliefs: beliefs, witnesses: ws, crashes: d.crashes}
		p.Add(rowsPlot)
		labels()
		rowsPlot.labels = true
		p.Add(rowsPlot)
		p.X.Min, p.X.Max = s.lo, s.hi
		p.NominalY(names...)
		p.X.Tick.Marker = niceTicks{n: 10}
		p.Y.Min, p.Y.Max = -0.6, float64(len(procs))-0.4
		plots = append(plots, p)
		heights = append(heights, rowH+0.9*vg.Inch)
	}
	items := []legendItem{{"believes it holds the lock", swatch{fill: colBelief, line: hexColor(0x4c72b0ff)}}}
	if len(c.Witnesses) > 0 {
		items = append(items, legendItem{"witness interval (belief, or read→write cycle)", swatch{line: colWitness}}, legendItem{"overlap (violation)", swatch{fill: colOverlap}})
	}
	if len(d.crashes) > 0 {
		items = append(items, legendItem{"crash", swatch{fill: hexColor(0x000000ff)}})
	}
	items = append(items, legendItem{"fault active", swatch{fill: colFault}})
	return withFooter(stacked(cellWidth, heights, plots...), plots[0], items)
}
