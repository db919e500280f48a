package report

import (
	"fmt"
	"slices"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/lockbench/lockbench/checker"
	"github.com/lockbench/lockbench/runner"
	"github.com/lockbench/lockbench/workloads"
)

// groupKey is a workload × fault: one spectrum, one comparison panel.
type groupKey struct{ workload, fault string }

func (g groupKey) String() string { return g.workload + " · " + g.fault }

// layout orders a run's cells for the report: locks, workloads and faults
// in the order the run met them.
type layout struct {
	locks, workloads, faults []string
	groups                   []groupKey
	// cells holds, per group and lock, the cells (seeds × samples).
	cells map[groupKey]map[string][]*runner.CellResult
	// multi is true when some group × lock has more than one cell.
	multi bool
}

func newLayout(sum *runner.Summary) *layout {
	l := &layout{cells: map[groupKey]map[string][]*runner.CellResult{}}
	add := func(xs *[]string, x string) {
		if !slices.Contains(*xs, x) {
			*xs = append(*xs, x)
		}
	}
	for i := range sum.Cells {
		c := &sum.Cells[i]
		add(&l.locks, c.Lock)
		add(&l.workloads, c.Workload)
		add(&l.faults, c.Fault)
		g := groupKey{c.Workload, c.Fault}
		if l.cells[g] == nil {
			l.groups = append(l.groups, g)
			l.cells[g] = map[string][]*runner.CellResult{}
		}
		l.cells[g][c.Lock] = append(l.cells[g][c.Lock], c)
		if len(l.cells[g][c.Lock]) > 1 {
			l.multi = true
		}
	}
	return l
}

// lockIndex is the lock's position, for its colour.
func (l *layout) lockIndex(lock string) int { return slices.Index(l.locks, lock) }

// class is a cell's verdict for colouring, in increasing severity.
type class int

const (
	classSafe class = iota
	classStalled
	classUnknown
	classError
	classUnsafe
)

func (c class) String() string {
	return [...]string{"safe", "stalled", "undecided", "error", "unsafe"}[c]
}

func (c class) color() hexColor {
	return [...]hexColor{colSafe, colStalled, colUnknown, colError, colUnsafe}[c]
}

// classify says how a cell's verdicts read.
func classify(c *runner.CellResult) class {
	switch {
	case unsafe(c):
		return classUnsafe
	case c.Error != "":
		return classError
	case c.Verdicts.Mutex == checker.MutexUnknown:
		return classUnknown
	case c.Verdicts.Liveness == checker.LivenessStalled:
		return classStalled
	}
	return classSafe
}

// unsafe reports a safety violation: mutual exclusion or the resource.
func unsafe(c *runner.CellResult) bool {
	return c.Verdicts.Mutex == checker.MutexViolated ||
		(c.Verdicts.Resource != "" && c.Verdicts.Resource != checker.ResourceOK)
}

// worst is the most severe class of cells.
func worst(cells []*runner.CellResult) class {
	w := classSafe
	for _, c := range cells {
		w = max(w, classify(c))
	}
	return w
}

// histogram returns a cell's histogram name, decoding it from the
// summary's base64 when the cell has no decoded ones.
func histogram(c *runner.CellResult, name string) (*hdrhistogram.Histogram, error) {
	if h := c.Hists()[name]; h != nil {
		return h, nil
	}
	enc, ok := c.Histograms[name]
	if !ok {
		return nil, nil
	}
	h, err := hdrhistogram.Decode([]byte(enc))
	if err != nil {
		return nil, fmt.Errorf("cell %s histogram %s: %w", c.ID, name, err)
	}
	return h, nil
}

// merged merges the acquire-ok histograms of cells; nil when none has
// one.
func merged(cells []*runner.CellResult) (*hdrhistogram.Histogram, error) {
	var out *hdrhistogram.Histogram
	for _, c := range cells {
		h, err := histogram(c, workloads.HistAcquireOK)
		if err != nil {
			return nil, err
		}
		if h == nil || h.TotalCount() == 0 {
			continue
		}
		if out == nil {
			out = hdrhistogram.New(h.LowestTrackableValue(), h.HighestTrackableValue(), int(h.SignificantFigures()))
		}
		out.Merge(h)
	}
	return out, nil
}

// meanThroughput is the cells' mean throughput, over those that ran.
func meanThroughput(cells []*runner.CellResult) float64 {
	var s float64
	n := 0
	for _, c := range cells {
		if c.Error == "" {
			s += c.Throughput
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return s / float64(n)
}
