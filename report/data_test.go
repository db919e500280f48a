package report

import (
	"image"
	"image/color"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/lockbench/lockbench/history"
	"github.com/lockbench/lockbench/summary"
)

// TestAnalyzeBeliefs checks each way a belief ends (DESIGN §5): release
// invoke, deadline (moved by an extend), failed extend, crash, end of the
// history; and the acquires and fault windows seen on the way.
func TestAnalyzeBeliefs(t *testing.T) {
	const k = "k"
	ev := []history.Event{
		{Time: 10, Process: 0, Type: history.Invoke, Op: history.Acquire, Key: k},
		{Time: 20, Process: 0, Type: history.OK, Op: history.Acquire, Key: k, Deadline: 1000},
		{Time: 25, Type: history.Nemesis, Fault: "pause", Target: "n1", Phase: "start"},
		{Time: 50, Process: 0, Type: history.Invoke, Op: history.Release, Key: k}, // ends at 50
		{Time: 60, Process: 0, Type: history.OK, Op: history.Release, Key: k},
		{Time: 70, Process: 1, Type: history.Invoke, Op: history.Acquire, Key: k},
		{Time: 80, Process: 1, Type: history.OK, Op: history.Acquire, Key: k, Deadline: 200},
		{Time: 90, Process: 1, Type: history.Invoke, Op: history.Extend, Key: k},
		{Time: 95, Process: 1, Type: history.OK, Op: history.Extend, Key: k, Deadline: 300},
		{Time: 100, Type: history.Nemesis, Fault: "pause", Target: "n1", Phase: "stop"},
		{Time: 400, Process: 1, Type: history.Invoke, Op: history.Release, Key: k}, // deadline 300 first
		{Time: 401, Process: 1, Type: history.OK, Op: history.Release, Key: k},
		{Time: 500, Process: 2, Type: history.Invoke, Op: history.Acquire, Key: k},
		{Time: 510, Process: 2, Type: history.OK, Op: history.Acquire, Key: k},
		{Time: 520, Process: 2, Type: history.Invoke, Op: history.Extend, Key: k},
		{Time: 530, Process: 2, Type: history.Info, Op: history.Extend, Key: k}, // ends at 530
		{Time: 600, Process: 3, Type: history.Invoke, Op: history.Acquire, Key: k},
		{Time: 610, Process: 3, Type: history.OK, Op: history.Acquire, Key: k},
		{Time: 650, Process: 3, Type: history.Crash}, // ends at 650
		{Time: 700, Process: 4, Type: history.Invoke, Op: history.Acquire, Key: k},
		{Time: 710, Process: 4, Type: history.OK, Op: history.Acquire, Key: k},
		{Time: 720, Process: 5, Type: history.Invoke, Op: history.Acquire, Key: k},
		{Time: 790, Process: 5, Type: history.Fail, Op: history.Acquire, Key: k},
		{Time: 800, Type: history.Nemesis, Fault: "kill", Target: "n2", Phase: "start"}, // never stopped
	}
	d := analyze(ev)
	want := []belief{{0, k, 20, 50}, {1, k, 80, 300}, {2, k, 510, 530}, {3, k, 610, 650}, {4, k, 710, 800}}
	if !slices.Equal(d.beliefs, want) {
		t.Errorf("beliefs\n got %v\nwant %v", d.beliefs, want)
	}
	if len(d.acquires) != 6 || d.acquires[5] != (acquirePoint{start: 720, end: 790, outcome: history.Fail}) {
		t.Errorf("acquires %v", d.acquires)
	}
	wantFaults := []window{{"pause", "n1", 25, 100, false}, {"kill", "n2", 800, 800, true}}
	if !slices.Equal(d.faults, wantFaults) {
		t.Errorf("faults %v, want %v", d.faults, wantFaults)
	}
	if len(d.crashes) != 1 || d.crashes[0] != (crashPoint{3, 650}) {
		t.Errorf("crashes %v", d.crashes)
	}
	if !slices.Equal(d.processes, []int{0, 1, 2, 3, 4, 5}) || d.end != 800 {
		t.Errorf("processes %v, end %d", d.processes, d.end)
	}
}

func TestTimelineWindowsFromSummary(t *testing.T) {
	c := &summary.CellResult{Timeline: []summary.Action{
		{At: 100, Step: 0, Fault: "partition", Phase: "start", Target: "n1", Duration: 500},
		{At: 200, Step: 1, Fault: "client-pause", Phase: "start", Target: "worker 1", Duration: 300}, // no stop
		{At: 400, Step: 0, Fault: "partition", Phase: "stop", Target: "n1", Duration: 500},
		{At: 450, Step: 2, Fault: "kill", Phase: "start", Target: "n2", Duration: -1}, // until the end
	}}
	got := timelineWindows(c, 1000)
	want := []window{{"partition", "n1", 100, 400, false}, {"client-pause", "worker 1", 200, 500, false}, {"kill", "n2", 450, 1000, true}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func TestDownsample(t *testing.T) {
	var pts []acquirePoint
	for i := range 50_000 {
		o := history.OK
		switch i % 100 {
		case 1:
			o = history.Fail
		case 2:
			o = history.Info
		}
		pts = append(pts, acquirePoint{start: int64(i), end: int64(i + 5), outcome: o})
	}
	got := downsample(pts, maxScatterPoints)
	if len(got) != maxScatterPoints {
		t.Fatalf("%d points, want %d", len(got), maxScatterPoints)
	}
	if n := countOutcome(got, history.Fail) + countOutcome(got, history.Info); n != 1000 {
		t.Errorf("%d unsuccessful acquires kept, want all 1000", n)
	}
	if !slices.IsSortedFunc(got, func(a, b acquirePoint) int { return int(a.start - b.start) }) {
		t.Error("not in time order")
	}
	if again := downsample(pts, maxScatterPoints); !slices.Equal(got, again) {
		t.Error("not deterministic")
	}
	if got[0].start != 0 || got[len(got)-1].start < 49_000 {
		t.Errorf("does not span the run: %d…%d", got[0].start, got[len(got)-1].start)
	}
	small := pts[:100]
	if got := downsample(small, maxScatterPoints); len(got) != 100 {
		t.Errorf("a small cell lost points: %d", len(got))
	}
	// More unsuccessful ones than half the budget: half of each.
	var bad []acquirePoint
	for i := range 30_000 {
		o := history.Info
		if i%2 == 0 {
			o = history.OK
		}
		bad = append(bad, acquirePoint{start: int64(i), outcome: o})
	}
	got = downsample(bad, 1000)
	if len(got) != 1000 || countOutcome(got, history.Info) != 500 {
		t.Errorf("%d points, %d info", len(got), countOutcome(got, history.Info))
	}
}

func TestTimeSeries(t *testing.T) {
	d := &cellData{end: int64(2 * time.Second), fromHistory: true}
	for i := range 100 {
		at := int64(i) * int64(10*time.Millisecond)
		d.acquires = append(d.acquires, acquirePoint{start: at, end: at + int64(time.Millisecond), outcome: history.OK})
	}
	d.acquires = append(d.acquires, acquirePoint{start: 0, end: int64(1500 * time.Millisecond), outcome: history.Info})
	s := d.timeSeries()
	if s.width != 50*time.Millisecond || len(s.t) != 41 {
		t.Fatalf("width %v, %d buckets", s.width, len(s.t))
	}
	if s.okRate[0] != 100 { // 5 in 50 ms
		t.Errorf("rate %v", s.okRate[0])
	}
	if s.p99ms[0] != 1 || !math.IsNaN(s.p99ms[25]) {
		t.Errorf("p99 %v, %v", s.p99ms[0], s.p99ms[25])
	}
	if !s.anyFail || s.infoRt[30] != 20 {
		t.Errorf("unknown outcomes: %v %v", s.anyFail, s.infoRt[30])
	}
}

func TestNiceTicks(t *testing.T) {
	var labels []string
	for _, tk := range (niceTicks{n: 10}).Ticks(0, 1.25) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	want := []string{"0", "0.2", "0.4", "0.6", "0.8", "1", "1.2"}
	if !slices.Equal(labels, want) {
		t.Errorf("labels %q, want %q", labels, want)
	}
}

// TestPalettedIsLosslessWithFewColours: a plot's own colours survive.
func TestPalettedIsLosslessWithFewColours(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 64, 32))
	for y := range 32 {
		for x := range 64 {
			img.Set(x, y, color.RGBA{R: uint8(x * 3), G: uint8(y%4) * 50, B: 7, A: 255}) // 256 colours
		}
	}
	p := paletted(img).(*image.Paletted)
	for y := range 32 {
		for x := range 64 {
			if a, b := color.RGBAModel.Convert(img.At(x, y)), color.RGBAModel.Convert(p.At(x, y)); a != b {
				t.Fatalf("(%d,%d): %v became %v", x, y, a, b)
			}
		}
	}
	// Too many colours: the nearest of the most frequent.
	for y := range 32 {
		for x := range 64 {
			img.Set(x, y, color.RGBA{R: uint8(x), G: uint8(y), B: uint8(x ^ y), A: 255})
		}
	}
	p = paletted(img).(*image.Paletted)
	if len(p.Palette) != 256 {
		t.Errorf("%d colours", len(p.Palette))
	}
	// Every pixel is drawn as the palette's nearest colour.
	dist := func(a, b color.Color) int {
		ar, ag, ab, _ := a.RGBA()
		br, bg, bb, _ := b.RGBA()
		d := func(x, y uint32) int { v := int(x>>8) - int(y>>8); return v * v }
		return d(ar, br) + d(ag, bg) + d(ab, bb)
	}
	for _, pt := range []image.Point{{0, 0}, {63, 31}, {17, 29}, {40, 3}} {
		src, got := img.At(pt.X, pt.Y), p.At(pt.X, pt.Y)
		for _, c := range p.Palette {
			if dist(src, c) < dist(src, got) {
				t.Errorf("%v: %v drawn as %v, but %v is nearer", pt, src, got, c)
				break
			}
		}
	}
}
