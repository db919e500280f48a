package report

import (
	"cmp"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"time"

	"github.com/lockbench/lockbench/history"
	"github.com/lockbench/lockbench/summary"
)

// maxScatterPoints bounds the points of a latency scatter plot.
const maxScatterPoints = 20_000

// acquirePoint is one acquire: invoke → completion.
type acquirePoint struct {
	start, end int64 // ns since the run started
	outcome    history.Type
}

// belief is a process believing it holds key from start to end (DESIGN §5).
type belief struct {
	process    int
	key        string
	start, end int64
}

// window is a fault from its start to its stop (or to the end of the run
// when it never stopped: open).
type window struct {
	fault, target string
	start, end    int64
	open          bool
}

// crashPoint is a process crash.
type crashPoint struct {
	process int
	at      int64
}

// cellData is what the per-cell plots need from a cell's history.
type cellData struct {
	acquires []acquirePoint
	beliefs  []belief
	faults   []window
	crashes  []crashPoint
	// processes are the processes seen, ascending.
	processes []int
	// end is the time of the last event (ns).
	end int64
	// fromHistory is false when the history could not be read: the data
	// then comes from the summary alone.
	fromHistory bool
}

// loadCell reads a cell's history and derives the plots' data. A history
// that cannot be read is not fatal: the data then comes from the summary
// (fault windows from the Timeline, no acquires or beliefs) and the error
// says why.
func loadCell(runDir string, c *summary.CellResult) (*cellData, error) {
	if c.History == "" {
		return fromSummary(c), fmt.Errorf("cell %s has no history", c.ID)
	}
	events, err := history.ReadFile(historyPath(runDir, c))
	if err != nil {
		return fromSummary(c), fmt.Errorf("cell %s: %w", c.ID, err)
	}
	d := analyze(events)
	if len(d.faults) == 0 {
		d.faults = timelineWindows(c, d.end)
	}
	return d, nil
}

// historyPath is where the cell's history is: summary.json has it
// relative to the run directory.
func historyPath(runDir string, c *summary.CellResult) string {
	if c.History == "" || filepath.IsAbs(c.History) {
		return c.History
	}
	return filepath.Join(runDir, c.History)
}

// fromSummary is the data a cell without a readable history still has.
func fromSummary(c *summary.CellResult) *cellData {
	end := int64(len(c.Seconds)) * int64(time.Second)
	if c.Check != nil && c.Check.DurationMs > 0 {
		end = int64(c.Check.DurationMs * 1e6)
	}
	return &cellData{faults: timelineWindows(c, end), end: end}
}

// timelineWindows pairs the start and stop actions of the cell's fault
// timeline into windows; end closes those never stopped.
func timelineWindows(c *summary.CellResult, end int64) []window {
	type occ struct{ step, occurrence int }
	open := map[occ]int{}
	var out []window
	for _, a := range c.Timeline {
		k := occ{a.Step, a.Occurrence}
		switch a.Phase {
		case summary.PhaseStart:
			open[k] = len(out)
			w := window{fault: a.Fault, target: a.Target, start: int64(a.At), end: end, open: true}
			if a.Duration > 0 {
				// Until its stop action; some faults (a client pause)
				// have none and last their duration.
				w.end, w.open = min(int64(a.At+a.Duration), max(end, int64(a.At))), false
			}
			out = append(out, w)
		case summary.PhaseStop:
			if i, ok := open[k]; ok {
				out[i].end, out[i].open = int64(a.At), false
				delete(open, k)
			} else {
				out = append(out, window{fault: a.Fault, target: a.Target, start: int64(a.At), end: int64(a.At)})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b window) int { return cmp.Compare(a.start, b.start) })
	return out
}

// analyze derives acquires, beliefs, fault windows and crashes from a
// history sorted by time (as history.ReadFile returns it).
func analyze(events []history.Event) *cellData {
	d := &cellData{fromHistory: true}
	if len(events) > 0 {
		d.end = events[len(events)-1].Time
	}
	type pk struct {
		p int
		k string
	}
	type held struct {
		i        int // index in d.beliefs
		deadline int64
	}
	invoked := map[int]int64{} // process → acquire invoke time in flight
	open := map[pk]held{}
	seen := map[int]bool{}
	type fk struct{ fault, target string }
	faultOpen := map[fk]int{}
	closeBelief := func(k pk, at int64) {
		h, ok := open[k]
		if !ok {
			return
		}
		if h.deadline > 0 && h.deadline < at {
			at = h.deadline
		}
		d.beliefs[h.i].end = max(at, d.beliefs[h.i].start)
		delete(open, k)
	}
	for _, e := range events {
		if e.Type == history.Nemesis {
			k := fk{e.Fault, e.Target}
			switch e.Phase {
			case "start":
				faultOpen[k] = len(d.faults)
				d.faults = append(d.faults, window{fault: e.Fault, target: e.Target, start: e.Time, end: d.end, open: true})
			case "stop":
				if i, ok := faultOpen[k]; ok {
					d.faults[i].end, d.faults[i].open = e.Time, false
					delete(faultOpen, k)
				} else {
					d.faults = append(d.faults, window{fault: e.Fault, target: e.Target, start: e.Time, end: e.Time})
				}
			}
			continue
		}
		if !seen[e.Process] {
			seen[e.Process] = true
			d.processes = append(d.processes, e.Process)
		}
		if e.Type == history.Crash {
			d.crashes = append(d.crashes, crashPoint{process: e.Process, at: e.Time})
			for k := range open {
				if k.p == e.Process {
					closeBelief(k, e.Time)
				}
			}
			delete(invoked, e.Process)
			continue
		}
		k := pk{e.Process, e.Key}
		switch e.Op {
		case history.Acquire:
			if e.Type == history.Invoke {
				invoked[e.Process] = e.Time
				continue
			}
			if st, ok := invoked[e.Process]; ok {
				d.acquires = append(d.acquires, acquirePoint{start: st, end: e.Time, outcome: e.Type})
				delete(invoked, e.Process)
			}
			if e.Type == history.OK {
				closeBelief(k, e.Time)
				open[k] = held{i: len(d.beliefs), deadline: e.Deadline}
				d.beliefs = append(d.beliefs, belief{process: e.Process, key: e.Key, start: e.Time, end: e.Time})
			}
		case history.Release:
			if e.Type == history.Invoke {
				closeBelief(k, e.Time)
			}
		case history.Extend:
			switch e.Type {
			case history.OK:
				if h, ok := open[k]; ok {
					if h.deadline > 0 && h.deadline < e.Time {
						closeBelief(k, h.deadline)
					} else if e.Deadline > 0 {
						h.deadline = e.Deadline
						open[k] = h
					}
				}
			case history.Fail, history.Info:
				closeBelief(k, e.Time)
			}
		}
	}
	for k := range open {
		closeBelief(k, d.end)
	}
	slices.Sort(d.processes)
	slices.SortStableFunc(d.faults, func(a, b window) int { return cmp.Compare(a.start, b.start) })
	return d
}

// downsample keeps at most limit acquires, deterministically: every
// unsuccessful one when they fit in half the budget (they are rare and
// they are what a reader looks for), the rest spread evenly over time.
func downsample(points []acquirePoint, limit int) []acquirePoint {
	if len(points) <= limit {
		return points
	}
	var ok, other []acquirePoint
	for _, p := range points {
		if p.outcome == history.OK {
			ok = append(ok, p)
		} else {
			other = append(other, p)
		}
	}
	other = stride(other, min(len(other), limit/2))
	ok = stride(ok, limit-len(other))
	out := append(ok, other...)
	slices.SortStableFunc(out, func(a, b acquirePoint) int { return cmp.Compare(a.start, b.start) })
	return out
}

// stride picks n of xs evenly spaced, first one included.
func stride[T any](xs []T, n int) []T {
	if n >= len(xs) {
		return xs
	}
	out := make([]T, n)
	for i := range n {
		out[i] = xs[i*len(xs)/n]
	}
	return out
}

// bucket is one step of a time series.
type bucket struct {
	ok, notObtained, unknown int
	lat                      []float64 // acquire ok latencies, ms
}

// series is a cell's throughput and p99 over time.
type series struct {
	width   time.Duration
	t       []float64 // bucket start, s
	okRate  []float64 // acquires ok per second
	failRt  []float64 // not obtained per second
	infoRt  []float64 // unknown outcome per second
	p99ms   []float64 // NaN when the bucket had no acquire ok
	anyFail bool
}

// bucketWidth picks a round width giving about 60 buckets over d.
func bucketWidth(d time.Duration) time.Duration {
	for _, w := range []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second} {
		if d/w <= 60 {
			return w
		}
	}
	return time.Minute
}

// timeSeries buckets the acquires by completion time.
func (d *cellData) timeSeries() *series {
	w := bucketWidth(time.Duration(d.end))
	n := int(d.end/int64(w)) + 1
	bs := make([]bucket, n)
	for _, a := range d.acquires {
		b := &bs[min(int(a.end/int64(w)), n-1)]
		switch a.outcome {
		case history.OK:
			b.ok++
			b.lat = append(b.lat, float64(a.end-a.start)/1e6)
		case history.Fail:
			b.notObtained++
		default:
			b.unknown++
		}
	}
	s := &series{width: w}
	per := float64(time.Second) / float64(w)
	for i, b := range bs {
		s.t = append(s.t, float64(i)*w.Seconds())
		s.okRate = append(s.okRate, float64(b.ok)*per)
		s.failRt = append(s.failRt, float64(b.notObtained)*per)
		s.infoRt = append(s.infoRt, float64(b.unknown)*per)
		s.p99ms = append(s.p99ms, quantile(b.lat, 0.99))
		if b.notObtained+b.unknown > 0 {
			s.anyFail = true
		}
	}
	return s
}

// secondsSeries is the series of a cell without a history: its per-second
// counters.
func secondsSeries(c *summary.CellResult) *series {
	s := &series{width: time.Second}
	for i, sec := range c.Seconds {
		s.t = append(s.t, float64(i))
		s.okRate = append(s.okRate, float64(sec.AcquireOK))
		s.failRt = append(s.failRt, float64(sec.NotObtained))
		s.infoRt = append(s.infoRt, float64(sec.Unknown))
		p := math.NaN()
		if sec.AcquireOK > 0 {
			p = float64(sec.P99us) / 1e3
		}
		s.p99ms = append(s.p99ms, p)
		if sec.NotObtained+sec.Unknown > 0 {
			s.anyFail = true
		}
	}
	return s
}

// quantile is the q-quantile of xs (nearest rank), NaN for none. It sorts
// xs.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	slices.Sort(xs)
	i := int(math.Ceil(q*float64(len(xs)))) - 1
	return xs[min(max(i, 0), len(xs)-1)]
}
