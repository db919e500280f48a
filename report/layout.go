package report

import (
	"fmt"
	"slices"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/lockbench/lockbench/summary"
)

// groupKey is a workload × fault: one spectrum, one comparison panel. The
// workload is its label (summary.WorkloadLabels): two workloads of one
// name at different rates are two groups.
type groupKey struct{ workload, fault string }

func (g groupKey) String() string { return g.workload + " · " + g.fault }

// layout orders a run's cells for the report: locks, workloads (by label)
// and faults in the order the run met them.
type layout struct {
	locks, workloads, faults []string
	// labels name the workloads apart.
	labels summary.WorkloadLabels
	groups []groupKey
	// cells holds, per group and lock, the cells (seeds × samples).
	cells map[groupKey]map[string][]*summary.CellResult
	// multi is true when some group × lock has more than one cell.
	multi bool
}

func newLayout(sum *summary.Summary) *layout {
	l := &layout{cells: map[groupKey]map[string][]*summary.CellResult{}, labels: summary.NewWorkloadLabels(sum.Cells)}
	add := func(xs *[]string, x string) {
		if !slices.Contains(*xs, x) {
			*xs = append(*xs, x)
		}
	}
	for i := range sum.Cells {
		c := &sum.Cells[i]
		add(&l.locks, c.Strategy())
		wl := l.labels.Of(c)
		add(&l.workloads, wl)
		add(&l.faults, c.Fault)
		g := groupKey{wl, c.Fault}
		if l.cells[g] == nil {
			l.groups = append(l.groups, g)
			l.cells[g] = map[string][]*summary.CellResult{}
		}
		l.cells[g][c.Strategy()] = append(l.cells[g][c.Strategy()], c)
		if len(l.cells[g][c.Strategy()]) > 1 {
			l.multi = true
		}
	}
	return l
}

// lockIndex is the lock's position, for its colour.
func (l *layout) lockIndex(lock string) int { return slices.Index(l.locks, lock) }

// classColor is the colour of a cell class (summary.Class).
func classColor(c summary.Class) hexColor {
	switch c {
	case summary.ClassSafe:
		return colSafe
	case summary.ClassDegraded, summary.ClassOverloaded:
		return colDegraded
	case summary.ClassStalled:
		return colStalled
	case summary.ClassNoProgress:
		return colNoProgress
	case summary.ClassUndecided:
		return colUnknown
	case summary.ClassError:
		return colError
	}
	return colUnsafe
}

// worst is the most severe class of cells.
func worst(cells []*summary.CellResult) summary.Class {
	w := summary.ClassSafe
	for _, c := range cells {
		w = max(w, c.Class())
	}
	return w
}

// histogram returns a cell's histogram name, decoding it from the
// summary's base64 when the cell has no decoded ones.
func histogram(c *summary.CellResult, name string) (*hdrhistogram.Histogram, error) {
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
func merged(cells []*summary.CellResult) (*hdrhistogram.Histogram, error) {
	var out *hdrhistogram.Histogram
	for _, c := range cells {
		h, err := histogram(c, summary.HistAcquireOK)
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
func meanThroughput(cells []*summary.CellResult) float64 {
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
