package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/lockbench/lockbench/checker"
	"github.com/lockbench/lockbench/history"
	"github.com/lockbench/lockbench/summary"
)

// ms is a duration in ms as ns since the start.
func ms(v float64) int64 { return int64(v * 1e6) }

// writeHistory writes events as a history file.
func writeHistory(t *testing.T, path string, events []history.Event) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var b []byte
	for i := range events {
		b = history.AppendJSON(b, &events[i])
		b = append(b, '\n')
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// encodeHist records values (µs) and encodes them as the runner does.
func encodeHist(t *testing.T, values ...int64) string {
	t.Helper()
	h := hdrhistogram.New(1, 60_000_000, 3)
	for _, v := range values {
		h.RecordValue(v)
	}
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// cycle appends one acquire → read → write → release cycle of process p
// on key starting at t0 (ms), holding the lock hold ms.
func cycle(ev []history.Event, p int, key string, t0, hold float64, fence int64) []history.Event {
	res := "resource:" + key
	return append(ev,
		history.Event{Time: ms(t0), Process: p, Type: history.Invoke, Op: history.Acquire, Key: key, TTLms: 1000},
		history.Event{Time: ms(t0 + 0.2), Process: p, Type: history.OK, Op: history.Acquire, Key: key, Fence: fence, Deadline: ms(t0 + 900)},
		history.Event{Time: ms(t0 + 0.3), Process: p, Type: history.Invoke, Op: history.Read, Key: res},
		history.Event{Time: ms(t0 + 0.4), Process: p, Type: history.OK, Op: history.Read, Key: res, Value: 1},
		history.Event{Time: ms(t0 + hold - 0.2), Process: p, Type: history.Invoke, Op: history.Write, Key: res, Value: 2, Fence: fence},
		history.Event{Time: ms(t0 + hold - 0.1), Process: p, Type: history.OK, Op: history.Write, Key: res},
		history.Event{Time: ms(t0 + hold), Process: p, Type: history.Invoke, Op: history.Release, Key: key},
		history.Event{Time: ms(t0 + hold + 0.1), Process: p, Type: history.OK, Op: history.Release, Key: key},
	)
}

// syntheticRun writes a small run directory without running anything:
// an unsafe cell with witnesses, a fault window, a crash, extends and
// every acquire outcome; a safe cell with more acquires than a scatter
// plot shows; a cell that could not run; and a repeat whose history is
// missing. It returns the directory and the summary it wrote.
func syntheticRun(t *testing.T) (string, *summary.Summary) {
	t.Helper()
	dir := t.TempDir()
	spec := summary.Spec{Name: "hot-key", Clients: 3, Groups: 1, TTL: time.Second, Duration: 1500 * time.Millisecond}
	lat := map[string]summary.Percentiles{
		summary.HistAcquireOK: {Count: 5, P50: 200, P90: 400, P99: 900, P999: 1200, Max: 1500},
		summary.HistHandoff:   {Count: 3, P50: 100, P90: 150, P99: 180, P999: 180, Max: 180},
	}
	hists := func() map[string]string {
		return map[string]string{
			summary.HistAcquireOK: encodeHist(t, 150, 200, 250, 400, 900, 1200, 1500, 30000),
			summary.HistHandoff:   encodeHist(t, 80, 100, 180),
		}
	}

	// Cell 1: token, violated.
	id1 := "001-token-hot-key-crash-s1"
	key := id1 + ":lock:0"
	var ev []history.Event
	for i := range 20 {
		ev = cycle(ev, i%2, key, float64(i)*20, 10, int64(i+1))
	}
	ev = append(ev,
		history.Event{Time: ms(500), Type: history.Nemesis, Fault: "client-crash", Target: "process 2", Phase: "start"},
		// p2 acquires, extends once, then crashes holding the lock.
		history.Event{Time: ms(600), Process: 2, Type: history.Invoke, Op: history.Acquire, Key: key, TTLms: 1000},
		history.Event{Time: ms(601), Process: 2, Type: history.OK, Op: history.Acquire, Key: key, Fence: 30, Deadline: ms(1500)},
		history.Event{Time: ms(650), Process: 2, Type: history.Invoke, Op: history.Extend, Key: key, TTLms: 1000},
		history.Event{Time: ms(651), Process: 2, Type: history.OK, Op: history.Extend, Key: key, Deadline: ms(1600)},
		history.Event{Time: ms(700), Process: 2, Type: history.Crash},
		// p0 acquires while p2's belief is over (crash): fine.
		history.Event{Time: ms(710), Process: 0, Type: history.Invoke, Op: history.Acquire, Key: key, TTLms: 1000},
		history.Event{Time: ms(712), Process: 0, Type: history.OK, Op: history.Acquire, Key: key, Fence: 31, Deadline: ms(1700)},
		// p1 acquires while p0 holds it: the overlap.
		history.Event{Time: ms(720), Process: 1, Type: history.Invoke, Op: history.Acquire, Key: key, TTLms: 1000},
		history.Event{Time: ms(725), Process: 1, Type: history.OK, Op: history.Acquire, Key: key, Fence: 29, Deadline: ms(1700)},
		history.Event{Time: ms(740), Process: 0, Type: history.Invoke, Op: history.Extend, Key: key, TTLms: 1000},
		history.Event{Time: ms(741), Process: 0, Type: history.Fail, Op: history.Extend, Key: key, Error: "not the owner"},
		history.Event{Time: ms(760), Process: 1, Type: history.Invoke, Op: history.Release, Key: key},
		history.Event{Time: ms(761), Process: 1, Type: history.OK, Op: history.Release, Key: key},
		history.Event{Time: ms(800), Type: history.Nemesis, Fault: "client-crash", Target: "process 2", Phase: "stop"},
		// Unsuccessful acquires.
		history.Event{Time: ms(900), Process: 0, Type: history.Invoke, Op: history.Acquire, Key: key, TTLms: 1000},
		history.Event{Time: ms(950), Process: 0, Type: history.Fail, Op: history.Acquire, Key: key, Error: "not obtained"},
		history.Event{Time: ms(1000), Process: 1, Type: history.Invoke, Op: history.Acquire, Key: key, TTLms: 1000},
		history.Event{Time: ms(1400), Process: 1, Type: history.Info, Op: history.Acquire, Key: key, Error: "timeout"},
		history.Event{Time: ms(1450), Type: history.Nemesis, Fault: "partition", Target: "n1", Phase: "start"},
	)
	hist1 := filepath.Join("cells", id1, "history.jsonl")
	writeHistory(t, filepath.Join(dir, hist1), ev)
	visDir := filepath.Join(dir, "cells", id1, "visualizations")
	os.MkdirAll(visDir, 0o755)
	visName := "mutex-" + strings.ReplaceAll(key, ":", "_") + ".html"
	if err := os.WriteFile(filepath.Join(visDir, visName), []byte("<!DOCTYPE html><title>vis</title>"), 0o644); err != nil {
		t.Fatal(err)
	}
	overlap := checker.Witness{
		Kind: checker.KindOverlap, Key: key, Processes: []int{0, 1},
		IntervalsMs: [][2]float64{{712, 740}, {725, 760}}, OverlapMs: []float64{725, 740},
		BeliefEnds: []string{"release", "release"}, Faults: []string{}, Count: 1,
		Explanation: "processes 0 and 1 both believed they held " + key + " from 725 ms to 740 ms; no fault was active",
	}
	fence := checker.Witness{
		Kind: checker.KindFenceOrder, Key: key, Processes: []int{0, 1},
		IntervalsMs: [][2]float64{{710, 712}, {720, 725}}, Fences: []int64{31, 29}, Faults: []string{}, Count: 2,
		Explanation: "process 1 was granted " + key + " with fence 29 at 725 ms, after process 0 had been granted fence 31 at 712 ms: fences must increase",
	}
	cells := []summary.CellResult{{
		ID: id1, Lock: "token", Workload: "hot-key", Fault: "crash", Seed: 1, Network: summary.NetworkDirect,
		Verdicts:  summary.Verdicts{Mutex: checker.MutexViolated, Resource: checker.ResourceOK, Liveness: checker.LivenessOK},
		Witnesses: []checker.Witness{overlap, fence},
		Check: &checker.Result{
			Mutex: checker.MutexViolated, Resource: checker.ResourceOK, Liveness: checker.LivenessOK,
			Witnesses: []checker.Witness{overlap, fence},
			Availability: []checker.WindowAvailability{{Fault: "client-crash", Target: "process 2", StartMs: 500, EndMs: 800,
				Seconds: 1, SecondsWithAcquire: 1, Availability: 1}},
			Stalls: []checker.Stall{}, DurationMs: 1450,
			// Recorded relative to where the run started, not to the run.
			Visualizations: []checker.Visualization{{Key: key, Path: filepath.Join("results", "elsewhere", "cells", id1, "visualizations", visName)}},
		},
		Throughput: 27.3, Latency: lat, Histograms: hists(),
		Counts:  summary.Counts{Attempts: 45, AcquireOK: 43, NotObtained: 1, AcquireUnknown: 1, ReleaseOK: 21, WritesOK: 20, Crashes: 1},
		Seconds: []summary.Second{{AcquireOK: 43, NotObtained: 1, Unknown: 1, P99us: 900}, {AcquireOK: 0}},
		History: hist1, ElapsedMs: 1500, Spec: spec,
	}}

	// Cell 2: nolock, safe (a canary that was lucky), many acquires.
	id2 := "002-nolock-hot-key-crash-s1"
	key2 := id2 + ":lock:0"
	ev = ev[:0]
	n := maxScatterPoints + 5000
	for i := range n {
		p := i % 4
		t0 := float64(i) * 0.05
		outcome := history.OK
		if i%1000 == 7 {
			outcome = history.Fail
		}
		ev = append(ev, history.Event{Time: ms(t0), Process: p, Type: history.Invoke, Op: history.Acquire, Key: key2, TTLms: 1000},
			history.Event{Time: ms(t0 + 0.005 + float64(i%97)*0.0002), Process: p, Type: outcome, Op: history.Acquire, Key: key2})
		if outcome == history.OK {
			ev = append(ev, history.Event{Time: ms(t0 + 0.03), Process: p, Type: history.Invoke, Op: history.Release, Key: key2},
				history.Event{Time: ms(t0 + 0.04), Process: p, Type: history.OK, Op: history.Release, Key: key2})
		}
	}
	hist2 := filepath.Join("cells", id2, "history.jsonl")
	writeHistory(t, filepath.Join(dir, hist2), ev)
	cells = append(cells, summary.CellResult{
		ID: id2, Lock: "nolock", Workload: "hot-key", Fault: "crash", Seed: 1, Network: summary.NetworkProxied,
		Verdicts:   summary.Verdicts{Mutex: checker.MutexOK, Resource: checker.ResourceOK, Liveness: checker.LivenessOK},
		Witnesses:  []checker.Witness{},
		Check:      &checker.Result{Mutex: checker.MutexOK, Resource: checker.ResourceOK, Liveness: checker.LivenessOK, DurationMs: float64(n) * 0.05},
		Throughput: 20000, Latency: lat, Histograms: hists(),
		Counts:  summary.Counts{Attempts: int64(n), AcquireOK: int64(n - n/1000)},
		History: hist2, ElapsedMs: float64(n) * 0.05, Spec: spec,
	})

	// Cell 3: could not run; the fault timeline is all there is.
	cells = append(cells, summary.CellResult{
		ID: "003-fenced-hot-key-crash-s1", Lock: "fenced", Workload: "hot-key", Fault: "crash", Seed: 1,
		Error: "start nodes: no redis-server", Witnesses: []checker.Witness{}, Spec: spec,
		Timeline: []summary.Action{
			{At: 500 * time.Millisecond, Fault: "client-crash", Phase: "start", Target: "process 2", Worker: 2},
			{At: 800 * time.Millisecond, Fault: "client-crash", Phase: "stop", Target: "process 2", Worker: 2},
		},
	})
	// Cell 4: a second sample of cell 1 whose history went missing.
	c4 := cells[0]
	c4.ID, c4.Sample = "004-token-hot-key-crash-s1-r1", 1
	c4.History = filepath.Join("cells", c4.ID, "history.jsonl")
	c4.Verdicts = summary.Verdicts{Mutex: checker.MutexUnknown, Resource: checker.ResourceOK, Liveness: checker.LivenessStalled}
	c4.Witnesses, c4.Check = []checker.Witness{}, nil
	c4.Latency = map[string]summary.Percentiles{summary.HistAcquireOK: lat[summary.HistAcquireOK]}
	c4.Histograms = map[string]string{summary.HistAcquireOK: encodeHist(t, 300, 600)}
	cells = append(cells, c4)

	sum := &summary.Summary{
		SchemaVersion: summary.SchemaVersion, RunID: "20260101-000000-synthetic", Started: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		ElapsedMs: 6000, Machine: summary.Machine{Hostname: "test", OS: "linux", Arch: "amd64", CPUs: 2, CPUModel: "AMD EPYC 9B14", GoVersion: "go1.26", Redis: "7.0.15"},
		Provider: "exec", ProviderWhy: "synthetic", Scenario: summary.Scenario{Name: "synthetic", Description: "made by the test", Nodes: 1, Seeds: []uint64{1}, Repeat: 2},
		ProxyCost: &summary.ProxyCost{Fraction: 0.548, Direct: 18720, Proxied: 8466, Rounds: 3, RoundMs: 100, Clients: 4},
		Cells:     cells,
	}
	if err := summary.Write(filepath.Join(dir, SummaryFile), sum); err != nil {
		t.Fatal(err)
	}
	return dir, sum
}

// expectedPlots lists the plot files (without extension) a report of sum
// must have, relative to the run directory.
func expectedPlots(sum *summary.Summary) []string {
	out := []string{filepath.Join(PlotsDir, ComparisonPlot)}
	l := newLayout(sum)
	for _, g := range l.groups {
		h, _ := merged(cellsOf(l, g))
		if h != nil {
			out = append(out, filepath.Join(PlotsDir, SpectrumPrefix+slug(g.workload)+"-"+slug(g.fault)))
		}
	}
	for _, c := range sum.Cells {
		for _, p := range []string{ThroughputPlot, ScatterPlot, TimelinePlot} {
			out = append(out, filepath.Join("cells", c.ID, PlotsDir, p))
		}
	}
	return out
}

func cellsOf(l *layout, g groupKey) []*summary.CellResult {
	var out []*summary.CellResult
	for _, lock := range l.locks {
		out = append(out, l.cells[g][lock]...)
	}
	return out
}

// checkReportDir checks what a report of sum left in dir: every plot as a
// PNG that decodes and an SVG whose root is <svg>; report.html with the
// verdict table, every cell, every witness, no external resource and only
// relative links that lead to files; bench.txt.
func checkReportDir(t *testing.T, dir string, sum *summary.Summary) {
	t.Helper()
	for _, p := range expectedPlots(sum) {
		b, err := os.ReadFile(filepath.Join(dir, p+".png"))
		if err != nil {
			t.Errorf("plot: %v", err)
			continue
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Errorf("%s.png: %v", p, err)
		} else if img.Bounds().Dx() < 300 || img.Bounds().Dy() < 150 {
			t.Errorf("%s.png is %v: too small to read", p, img.Bounds())
		}
		if err := checkSVG(filepath.Join(dir, p+".svg")); err != nil {
			t.Errorf("%s.svg: %v", p, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{`id="verdict-table"`, "How to read this", sum.RunID, sum.Provider, sum.Scenario.Name, "data:image/png;base64,"} {
		if !strings.Contains(page, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	for _, c := range sum.Cells {
		if !strings.Contains(page, `id="row-`+c.ID+`"`) || !strings.Contains(page, `id="cell-`+c.ID+`"`) {
			t.Errorf("report.html does not show cell %s in the table and the cells", c.ID)
		}
		for _, w := range c.Witnesses {
			// html/template escapes some characters; compare the start.
			if s := w.Explanation[:min(len(w.Explanation), 30)]; !strings.Contains(page, s) {
				t.Errorf("report.html lacks the witness %q of %s", s, c.ID)
			}
		}
		if c.Verdicts.Unsafe() && !strings.Contains(page, `id="unsafe-`+c.ID+`"`) {
			t.Errorf("report.html has no violation section for the unsafe cell %s", c.ID)
		}
	}
	// Self-contained: nothing fetched from elsewhere; every relative link
	// leads to a file of the run.
	for _, m := range regexp.MustCompile(`(?i)(src|href)="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		ref := m[2]
		switch {
		case strings.HasPrefix(ref, "data:"), strings.HasPrefix(ref, "#"):
		case strings.Contains(ref, "://"), strings.HasPrefix(ref, "//"):
			t.Errorf("report.html refers to %q outside the run", ref)
		default:
			if m[1] == "src" {
				t.Errorf("report.html loads %q: images must be inline", ref)
			}
			if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(ref))); err != nil {
				t.Errorf("report.html links to a missing file: %v", err)
			}
		}
	}
	if strings.Contains(page, "<script") || strings.Contains(page, "<link rel=\"stylesheet") {
		t.Error("report.html has a script or an external stylesheet")
	}
	if _, err := os.Stat(filepath.Join(dir, BenchFile)); err != nil {
		t.Error(err)
	}
}

// checkSVG parses path as XML and wants an <svg> root element.
func checkSVG(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	dec := xml.NewDecoder(f)
	root := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("not XML: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		return fmt.Errorf("root element %q, want svg", root)
	}
	return nil
}
