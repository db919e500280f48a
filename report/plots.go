package report

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	imagepkg "image"
	"image/color"
	"image/png"
	"math"
	"os"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// dpi is the resolution of the PNG plots.
const dpi = 96

// figure is a picture of a given size, drawn twice: once as PNG and once
// as SVG.
type figure struct {
	w, h vg.Length
	draw func(dc draw.Canvas)
}

// singlePlot is a figure of one plot.
func singlePlot(p *plot.Plot, w, h vg.Length) figure {
	return figure{w: w, h: h, draw: p.Draw}
}

// stacked is a figure of plots one above the other with aligned data
// areas; heights are relative.
func stacked(w vg.Length, h []vg.Length, plots ...*plot.Plot) figure {
	var total vg.Length
	for _, x := range h {
		total += x
	}
	return figure{w: w, h: total, draw: func(dc draw.Canvas) {
		top := dc.Max.Y
		// Align evenly sized tiles would waste room on short panels, so
		// each panel gets its own slice and the same left padding.
		cs := make([]draw.Canvas, len(plots))
		offs := make([]vg.Length, len(plots))
		var pad vg.Length
		for i, p := range plots {
			cs[i] = dc
			cs[i].Max.Y = top
			cs[i].Min.Y = top - h[i]
			top -= h[i]
			offs[i] = p.DataCanvas(cs[i]).Min.X - cs[i].Min.X
			pad = max(pad, offs[i])
		}
		for i, p := range plots {
			cs[i].Min.X += pad - offs[i]
			p.Draw(cs[i])
		}
	}}
}

// render writes the figure as base.png and base.svg and returns the PNG.
func render(f figure, base string) ([]byte, error) {
	img := vgimg.NewWith(vgimg.UseWH(f.w, f.h), vgimg.UseDPI(dpi))
	f.draw(draw.New(img))
	var pngBuf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&pngBuf, paletted(img.Image())); err != nil {
		return nil, fmt.Errorf("encode %s.png: %w", base, err)
	}
	if err := os.WriteFile(base+".png", pngBuf.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("write plot: %w", err)
	}
	svg := vgsvg.New(f.w, f.h)
	f.draw(draw.New(svg))
	file, err := os.Create(base + ".svg")
	if err != nil {
		return nil, fmt.Errorf("write plot: %w", err)
	}
	bw := bufio.NewWriterSize(file, 1<<16)
	_, err = svg.WriteTo(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write %s.svg: %w", base, err)
	}
	return pngBuf.Bytes(), nil
}

// hexColor is a colour as 0xRRGGBBAA (not premultiplied); being an
// integer, it can be a constant.
type hexColor uint32

// RGBA implements color.Color.
func (h hexColor) RGBA() (r, g, b, a uint32) {
	return color.NRGBA{R: uint8(h >> 24), G: uint8(h >> 16), B: uint8(h >> 8), A: uint8(h)}.RGBA()
}

// paletted converts a plot's image to at most 256 colours, for a PNG a
// third the size that encodes several times faster: the colours are the
// image's own, every one of them when there are no more than 256 (a plot
// has few besides the shades of its anti-aliased edges), otherwise the
// 256 most frequent, each other colour drawn as the nearest of them.
func paletted(src imagepkg.Image) imagepkg.Image {
	img, ok := src.(*imagepkg.RGBA)
	if !ok {
		return src
	}
	b := img.Bounds()
	// Runs of one colour are most of a plot: count them, not pixels.
	freq := map[uint32]int{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := img.Pix[(y-b.Min.Y)*img.Stride:]
		run, n := binary.BigEndian.Uint32(row), 0
		for x := 0; x < b.Dx(); x++ {
			if c := binary.BigEndian.Uint32(row[4*x:]); c != run {
				freq[run] += n
				run, n = c, 0
			}
			n++
		}
		freq[run] += n
	}
	cols := make([]uint32, 0, len(freq))
	for c := range freq {
		cols = append(cols, c)
	}
	// Most frequent first; ties by value, so that the result is the same
	// whatever the map's order.
	slices.SortFunc(cols, func(a, b uint32) int {
		if c := cmp.Compare(freq[b], freq[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	pal := cols[:min(len(cols), 256)]
	index := make(map[uint32]uint8, len(cols))
	palette := make(color.Palette, len(pal))
	for i, c := range pal {
		index[c] = uint8(i)
		palette[i] = color.RGBA{R: uint8(c >> 24), G: uint8(c >> 16), B: uint8(c >> 8), A: uint8(c)}
	}
	for _, c := range cols[len(pal):] {
		best, bestD := 0, math.MaxInt
		for i, p := range pal {
			d := 0
			for sh := 0; sh < 32; sh += 8 {
				x := int(c>>sh&0xff) - int(p>>sh&0xff)
				d += x * x
			}
			if d < bestD {
				best, bestD = i, d
			}
		}
		index[c] = uint8(best)
	}
	out := imagepkg.NewPaletted(b, palette)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := img.Pix[(y-b.Min.Y)*img.Stride:]
		dst := out.Pix[(y-b.Min.Y)*out.Stride:]
		prev := binary.BigEndian.Uint32(row)
		pi := index[prev]
		for x := 0; x < b.Dx(); x++ {
			if c := binary.BigEndian.Uint32(row[4*x:]); c != prev {
				prev, pi = c, index[c]
			}
			dst[x] = pi
		}
	}
	return out
}

// Colours.
const (
	colSafe    hexColor = 0x4c72b0ff
	colUnsafe  hexColor = 0xd62728ff
	colUnknown hexColor = 0xff9f1cff
	colStalled hexColor = 0x9467bdff
	colError   hexColor = 0x999999ff
	// colNoProgress and colDegraded: a cell that granted nothing, or
	// whose figures are not the lock's; never the safe colour.
	colNoProgress hexColor = 0x8c564bff
	colDegraded   hexColor = 0xbcbd22ff
	colOK         hexColor = 0x1f77b4ff
	colFail       hexColor = 0xff7f0eff
	colInfo       hexColor = 0xd62728ff
	colFault      hexColor = 0x80808040
	colBelief     hexColor = 0x9ec5e8ff
	colOverlap    hexColor = 0xd6272870
	colWitness    hexColor = 0xd62728ff
	colWitnessF   hexColor = 0xf4a5a5ff
)

// lockPalette colours the locks, in the order they appear in the run.
func lockPalette(i int) color.Color {
	p := [...]hexColor{
		0x1f77b4ff, 0xff7f0eff, 0x2ca02cff, 0xd62728ff, 0x9467bdff,
		0x8c564bff, 0xe377c2ff, 0x7f7f7fff, 0xbcbd22ff, 0x17becfff,
	}
	return p[i%len(p)]
}

// lockDashes tells locks apart beyond the palette's ten colours.
func lockDashes(i int) []vg.Length {
	switch (i / 10) % 3 {
	case 1:
		return []vg.Length{vg.Points(6), vg.Points(3)}
	case 2:
		return []vg.Length{vg.Points(2), vg.Points(2)}
	}
	return nil
}

// newPlot is a plot with the report's fonts and a light grid.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Variant = "Sans"
	p.Title.TextStyle.Font.Size = vg.Points(11)
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Variant = "Sans"
		a.Label.TextStyle.Font.Size = vg.Points(9)
		a.Tick.Label.Font.Variant = "Sans"
		a.Tick.Label.Font.Size = vg.Points(8)
	}
	p.Legend.TextStyle.Font.Variant = "Sans"
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	p.Legend.ThumbnailWidth = vg.Points(14)
	g := plotter.NewGrid()
	g.Vertical.Color = color.Gray{Y: 0xe0}
	g.Horizontal.Color = color.Gray{Y: 0xe0}
	p.Add(g)
	return p
}

// smallText is a text style for labels drawn inside a plot.
func smallText(p *plot.Plot, size float64, c color.Color) text.Style {
	s := p.X.Tick.Label
	s.Font = font.Font{Typeface: s.Font.Typeface, Variant: s.Font.Variant, Size: vg.Points(size)}
	s.Color = c
	s.Rotation = 0
	s.XAlign = draw.XLeft
	s.YAlign = draw.YTop
	return s
}

// logMsTicks labels a log axis of milliseconds at powers of ten.
type logMsTicks struct{}

// Ticks implements plot.Ticker.
func (logMsTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		v := math.Pow(10, e)
		ts = append(ts, plot.Tick{Value: v, Label: fmtMs(v)})
		for m := 2.0; m < 10; m++ {
			ts = append(ts, plot.Tick{Value: v * m})
		}
	}
	// Ticks beyond the range would still take room for their labels.
	const eps = 1e-9
	return slices.DeleteFunc(ts, func(t plot.Tick) bool { return t.Value < lo*(1-eps) || t.Value > hi*(1+eps) })
}

// fmtMs formats a duration in ms for an axis: 0.01 ms, 1 ms, 10 s.
func fmtMs(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%g s", v/1000)
	case v >= 1:
		return fmt.Sprintf("%g ms", v)
	default:
		return fmt.Sprintf("%g µs", v*1000)
	}
}

// setLogMs makes p's y axis a log axis of milliseconds over [lo, hi].
func setLogMs(a *plot.Axis, lo, hi float64) {
	lo = math.Max(lo, 0.001)
	hi = math.Max(hi, lo*10)
	a.Scale = plot.LogScale{}
	a.Tick.Marker = logMsTicks{}
	a.Min = math.Pow(10, math.Floor(math.Log10(lo)))
	a.Max = math.Pow(10, math.Ceil(math.Log10(hi)))
}

// faultShade shades fault windows over the whole height of a plot; x is
// in seconds (scale 1e9) or ms (scale 1e6) since the run started. With
// labels it writes the faults' names instead: add one of each, the shade
// first and the labels last, so that the data is drawn between them.
type faultShade struct {
	windows []window
	scale   float64
	labels  bool
}

// Plot implements plot.Plotter.
func (s faultShade) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	sty := smallText(p, 7, hexColor(0x333333ff))
	lastLabel := vg.Length(math.Inf(-1))
	row := 0
	for _, w := range s.windows {
		lo, hi := float64(w.start)/s.scale, float64(w.end)/s.scale
		if hi < p.X.Min || lo > p.X.Max {
			continue
		}
		x0 := trX(math.Max(lo, p.X.Min))
		x1 := trX(math.Min(hi, p.X.Max))
		if x1-x0 < 2 {
			x1 = x0 + 2 // an instant fault (kill-restart) still shows
		}
		if !s.labels {
			c.FillPolygon(colFault, []vg.Point{{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y}})
			continue
		}
		label := w.fault
		if w.target != "" {
			label += " " + w.target
		}
		// Stagger labels that would overlap.
		if x0 < lastLabel {
			row++
		} else {
			row = 0
		}
		y := c.Max.Y - vg.Points(2) - vg.Length(row)*sty.Font.Size*1.25
		pt := vg.Point{X: x0 + vg.Points(2), Y: y}
		// A white box keeps the label readable over the data.
		rect(c, pt.X-vg.Points(1), y-sty.Font.Size*1.1, pt.X+sty.Width(label)+vg.Points(1), y+vg.Points(0.5), hexColor(0xffffffc8), nil)
		c.FillText(sty, pt, label)
		lastLabel = pt.X + sty.Width(label) + vg.Points(4)
	}
}

// addFaults shades the fault windows of p and labels them; call it before
// adding the data, then call the function it returns after.
func addFaults(p *plot.Plot, ws []window, scale float64) func() {
	p.Add(faultShade{windows: ws, scale: scale})
	return func() { p.Add(faultShade{windows: ws, scale: scale, labels: true}) }
}

// swatch is a legend thumbnail: a filled box, optionally outlined.
type swatch struct {
	fill, line color.Color
}

// Thumbnail implements plot.Thumbnailer.
func (s swatch) Thumbnail(c *draw.Canvas) {
	pts := []vg.Point{{X: c.Min.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Max.Y}, {X: c.Min.X, Y: c.Max.Y}}
	if s.fill != nil {
		c.FillPolygon(s.fill, pts)
	}
	if s.line != nil {
		c.StrokeLines(draw.LineStyle{Color: s.line, Width: vg.Points(1)}, append(pts, pts[0]))
	}
}

// rect fills (and optionally outlines) the rectangle [x0,x1]×[y0,y1] of c.
func rect(c draw.Canvas, x0, y0, x1, y1 vg.Length, fill, line color.Color) {
	pts := []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}
	if fill != nil {
		c.FillPolygon(fill, pts)
	}
	if line != nil {
		c.StrokeLines(draw.LineStyle{Color: line, Width: vg.Points(0.8)}, append(pts, pts[0]))
	}
}

// xyLines are lines through the finite points of xs, ys, broken where
// a y is NaN (a bucket without data); nil when there is no point.
func xyLines(xs, ys []float64, col color.Color, width float64, dashes []vg.Length) []*plotter.Line {
	var out []*plotter.Line
	var pts plotter.XYs
	flush := func() {
		if len(pts) == 0 {
			return
		}
		if l, err := plotter.NewLine(pts); err == nil {
			l.Color = col
			l.Width = vg.Points(width)
			l.Dashes = dashes
			out = append(out, l)
		}
		pts = nil
	}
	for i := range xs {
		if math.IsNaN(ys[i]) || math.IsInf(ys[i], 0) {
			flush()
			continue
		}
		pts = append(pts, plotter.XY{X: xs[i], Y: ys[i]})
	}
	flush()
	return out
}

// addLines adds lines to p and returns the first (for a legend), nil when
// there are none.
func addLines(p *plot.Plot, ls []*plotter.Line) *plotter.Line {
	for _, l := range ls {
		p.Add(l)
	}
	if len(ls) == 0 {
		return nil
	}
	return ls[0]
}

// niceTicks labels a linear axis at round steps, about n of them.
type niceTicks struct{ n int }

// Ticks implements plot.Ticker.
func (t niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 4, 64)}}
	}
	raw := (hi - lo) / float64(max(t.n, 2))
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ts []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', 12, 64)})
		// Minor ticks halfway.
		if mid := v + step/2; mid < hi {
			ts = append(ts, plot.Tick{Value: mid})
		}
	}
	return ts
}

// point is a dot of a raster layer.
type point struct {
	x, y float64
	col  hexColor
}

// pointLayer draws many dots as one raster image: thousands of glyphs
// would make the SVG huge and the PNG slow, and as pixels they read the
// same. Later points are drawn over earlier ones.
type pointLayer struct {
	points []point
	// radius is the half-width of a dot, in pixels at the PNG's DPI.
	radius int
}

// baseCanvas is the canvas under draw.Canvas wrappers (they only bound
// the drawing area, they do not transform it).
func baseCanvas(c vg.Canvas) vg.Canvas {
	for {
		switch w := c.(type) {
		case draw.Canvas:
			c = w.Canvas
		case *draw.Canvas:
			c = w.Canvas
		default:
			return c
		}
	}
}

// Plot implements plot.Plotter.
func (l pointLayer) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	wpx := int(math.Ceil((c.Max.X - c.Min.X).Dots(dpi)))
	hpx := int(math.Ceil((c.Max.Y - c.Min.Y).Dots(dpi)))
	if wpx <= 0 || hpx <= 0 {
		return
	}
	// On a PNG canvas, straight onto its pixels: drawing an image there
	// would resample it.
	var direct *imagepkg.RGBA
	var x0, y0 int
	if vc, ok := baseCanvas(c.Canvas).(*vgimg.Canvas); ok {
		if rgba, ok := vc.Image().(*imagepkg.RGBA); ok {
			direct = rgba
			x0 = int(c.Min.X.Dots(dpi))
			y0 = rgba.Bounds().Dy() - int(c.Max.Y.Dots(dpi))
		}
	}
	var img *imagepkg.NRGBA
	if direct == nil {
		img = imagepkg.NewNRGBA(imagepkg.Rect(0, 0, wpx, hpx))
	}
	for _, pt := range l.points {
		if pt.x < p.X.Min || pt.x > p.X.Max || pt.y < p.Y.Min || pt.y > p.Y.Max {
			continue
		}
		px := int((trX(pt.x) - c.Min.X).Dots(dpi))
		py := hpx - 1 - int((trY(pt.y) - c.Min.Y).Dots(dpi))
		col := color.NRGBAModel.Convert(pt.col).(color.NRGBA)
		for dy := -l.radius; dy <= l.radius; dy++ {
			for dx := -l.radius; dx <= l.radius; dx++ {
				x, y := px+dx, py+dy
				if x < 0 || y < 0 || x >= wpx || y >= hpx {
					continue
				}
				if direct != nil {
					direct.Set(x0+x, y0+y, col)
				} else {
					img.SetNRGBA(x, y, col)
				}
			}
		}
	}
	if direct == nil {
		c.DrawImage(c.Rectangle, img)
	}
}

// legendItem is an entry of a legend strip.
type legendItem struct {
	label string
	thumb plot.Thumbnailer
}

// footerHeight is the height of a legend strip, in points.
const footerHeight = 18

// withFooter adds a legend strip below f.
func withFooter(f figure, p *plot.Plot, items []legendItem) figure {
	h := vg.Points(footerHeight)
	return figure{w: f.w, h: f.h + h, draw: func(dc draw.Canvas) {
		body := dc
		body.Min.Y += h
		f.draw(body)
		strip := dc
		strip.Max.Y = dc.Min.Y + h
		drawLegendStrip(strip, p, items)
	}}
}

// drawLegendStrip writes items along c, left to right.
func drawLegendStrip(c draw.Canvas, p *plot.Plot, items []legendItem) {
	sty := smallText(p, 8, hexColor(0x000000ff))
	sty.YAlign = draw.YCenter
	x := c.Min.X + vg.Points(8)
	y := (c.Min.Y + c.Max.Y) / 2
	sz := vg.Points(9)
	for _, it := range items {
		tc := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{Min: vg.Point{X: x, Y: y - sz/2}, Max: vg.Point{X: x + sz*1.4, Y: y + sz/2}}}
		it.thumb.Thumbnail(&tc)
		x += sz*1.4 + vg.Points(3)
		c.FillText(sty, vg.Point{X: x, Y: y}, it.label)
		x += sty.Width(it.label) + vg.Points(12)
	}
}

// drawLegendColumn writes items down c, from its top.
func drawLegendColumn(c draw.Canvas, p *plot.Plot, items []legendItem) {
	sty := smallText(p, 8, hexColor(0x000000ff))
	sty.YAlign = draw.YCenter
	sz := vg.Points(9)
	x := c.Min.X + vg.Points(4)
	y := c.Max.Y - vg.Points(30)
	for _, it := range items {
		tc := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{Min: vg.Point{X: x, Y: y - sz/2}, Max: vg.Point{X: x + sz*1.6, Y: y + sz/2}}}
		it.thumb.Thumbnail(&tc)
		c.FillText(sty, vg.Point{X: x + sz*1.6 + vg.Points(4), Y: y}, it.label)
		y -= vg.Points(13)
	}
}
