package report

import (
	"fmt"
	"strings"

	"github.com/lockbench/lockbench/summary"
)

// noFault is the fault preset that injects nothing (chaos's "none"): its
// cells give each strategy's figures without a fault.
const noFault = "none"

// Matrix answers "which lock, under which faults?" at a glance: one row per
// strategy and one column per fault schedule, both in the run's order,
// each entry the worst class (summary.Class) of the cells that ran that
// strategy under that fault, over every workload, seed and sample. Beside
// each strategy stand its throughput and acquire p99 without fault, one
// pair per workload. The terminal (bench run) and report.html open with
// it.
//
// One matrix over all workloads rather than one per workload: the question
// is which strategy to adopt under which fault, and a strategy that breaks
// under a fault in any workload breaks under that fault; the count (1/2)
// says it was not every cell, and the entry's cells say which.
type Matrix struct {
	// Locks are the rows, Faults the columns.
	Locks, Faults []string
	// Workloads are the workload labels (summary.WorkloadLabels), in the
	// run's order: the columns of Baseline.
	Workloads []string
	// Entries[i][j] is Locks[i] under Faults[j].
	Entries [][]MatrixEntry
	// Baseline[i][k] is Locks[i] without fault under Workloads[k]; nil
	// when the run had no fault-free ("none") cells.
	Baseline [][]Baseline
}

// MatrixEntry is one strategy under one fault.
type MatrixEntry struct {
	// Class is the worst class of Cells; Count how many of them read it.
	Class summary.Class
	Count int
	// Cells are the entry's cells in the run's order; none when the run
	// did not get to them (interrupted).
	Cells []*summary.CellResult
}

// String reads the entry: its class, and how many of its cells read so
// when not all of them do ("unsafe 1/2"); "-" for no cell.
func (e MatrixEntry) String() string {
	switch {
	case len(e.Cells) == 0:
		return "-"
	case e.Count == len(e.Cells):
		return e.Class.String()
	}
	return fmt.Sprintf("%s %d/%d", e.Class, e.Count, len(e.Cells))
}

// First is the entry's first cell of its class, the one to read first;
// nil for an entry without cells.
func (e MatrixEntry) First() *summary.CellResult {
	for _, c := range e.Cells {
		if c.Class() == e.Class {
			return c
		}
	}
	return nil
}

// Baseline is one strategy's figures without fault under one workload,
// over its seeds and samples.
type Baseline struct {
	// Cells are those that ran (no error).
	Cells []*summary.CellResult
	// Throughput is their mean throughput (acquires/s); P99 the 99th
	// percentile of their acquire latencies together (µs), −1 when none
	// succeeded.
	Throughput float64
	P99        int64
	// Overloaded: some cell's harness was starved, so the figures are
	// the machine's rather than the lock's.
	Overloaded bool
	// Saturated: some cell's open loop fell behind its rate; Achieved is
	// the mean rate the cells issued, Target the rate asked for.
	Saturated        bool
	Achieved, Target float64
}

// ThroughputText is the throughput as the tables print it: "-" without a
// cell that ran, in brackets when a harness was starved, with the
// saturation mark (SaturationMark) when the open loop fell behind.
func (b Baseline) ThroughputText() string {
	if len(b.Cells) == 0 {
		return "-"
	}
	s := fmt.Sprintf("%.0f", b.Throughput)
	if b.Overloaded {
		s = "(" + s + ")"
	}
	if b.Saturated {
		s += saturationMark(b.Achieved, b.Target)
	}
	return s
}

// P99Text is the acquire p99 as the tables print it.
func (b Baseline) P99Text() string {
	if len(b.Cells) == 0 || b.P99 < 0 {
		return "-"
	}
	s := FormatMicros(b.P99)
	if b.Overloaded {
		s = "(" + s + ")"
	}
	return s
}

// NewMatrix builds the matrix of a run.
func NewMatrix(sum *summary.Summary) *Matrix { return newMatrix(sum, newLayout(sum)) }

func newMatrix(sum *summary.Summary, l *layout) *Matrix {
	m := &Matrix{Locks: l.locks, Faults: l.faults, Workloads: l.workloads}
	m.Entries = make([][]MatrixEntry, len(l.locks))
	for i := range m.Entries {
		m.Entries[i] = make([]MatrixEntry, len(l.faults))
	}
	hasNone := false
	for _, f := range l.faults {
		hasNone = hasNone || f == noFault
	}
	if hasNone {
		m.Baseline = make([][]Baseline, len(l.locks))
		for i := range m.Baseline {
			m.Baseline[i] = make([]Baseline, len(l.workloads))
		}
	}
	// Walk the cells in the run's order, so that an entry's cells (and
	// its First) are too.
	for i := range sum.Cells {
		c := &sum.Cells[i]
		r, f := indexOf(l.locks, c.Strategy()), indexOf(l.faults, c.Fault)
		e := &m.Entries[r][f]
		e.Cells = append(e.Cells, c)
		if c.Fault == noFault && c.Error == "" {
			b := &m.Baseline[r][indexOf(l.workloads, l.labels.Of(c))]
			b.Cells = append(b.Cells, c)
		}
	}
	for r := range m.Entries {
		for f := range m.Entries[r] {
			e := &m.Entries[r][f]
			e.Class = worst(e.Cells)
			for _, c := range e.Cells {
				if c.Class() == e.Class {
					e.Count++
				}
			}
		}
	}
	for r := range m.Baseline {
		for k := range m.Baseline[r] {
			m.Baseline[r][k].fill()
		}
	}
	return m
}

// fill derives the baseline's figures from its cells.
func (b *Baseline) fill() {
	b.P99 = -1
	if len(b.Cells) == 0 {
		return
	}
	b.Throughput = meanThroughput(b.Cells)
	var achieved float64
	for _, c := range b.Cells {
		b.Overloaded = b.Overloaded || c.Overloaded()
		b.Saturated = b.Saturated || c.Saturated
		achieved += c.AchievedRate
		b.Target = c.Spec.Rate
	}
	b.Achieved = achieved / float64(len(b.Cells))
	if h, err := merged(b.Cells); err == nil && h != nil {
		b.P99 = h.ValueAtQuantile(99)
		return
	}
	// Cells without histograms (or with broken ones): the largest of
	// their own p99s, which the merged one cannot exceed.
	for _, c := range b.Cells {
		if p := c.Latency[summary.HistAcquireOK]; p.Count > 0 {
			b.P99 = max(b.P99, p.P99)
		}
	}
}

func indexOf(xs []string, x string) int {
	for i, y := range xs {
		if y == x {
			return i
		}
	}
	return -1
}

// Caption says what the matrix shows, for the line beside it: "the worst
// class of each lock's cells under each fault …".
func (m *Matrix) Caption() string {
	var b strings.Builder
	b.WriteString("the worst class of each lock's cells under each fault")
	if len(m.Workloads) > 1 {
		fmt.Fprintf(&b, " over the workloads %s", strings.Join(m.Workloads, ", "))
	}
	b.WriteString(` ("unsafe 1/2": 1 of its 2 cells)`)
	if m.Baseline != nil {
		b.WriteString("; acq/s and p99 without fault")
	}
	return b.String()
}

// SaturationMark marks the throughput of a saturated open-loop cell
// (" sat 1079/2000": it issued 1079 acquires/s of the 2000/s asked); ""
// for any other cell.
func SaturationMark(c *summary.CellResult) string {
	if !c.Saturated {
		return ""
	}
	return saturationMark(c.AchievedRate, c.Spec.Rate)
}

func saturationMark(achieved, target float64) string {
	return fmt.Sprintf(" sat %.0f/%.0f", achieved, target)
}

// SaturationNote says, for the notes under a table, that c's open loop
// fell behind and by how much; "" when it did not.
func SaturationNote(c *summary.CellResult) string {
	if !c.Saturated {
		return ""
	}
	return fmt.Sprintf("%s: open loop saturated: issued %.0f acquires/s of the %.0f/s asked (%.0f %%); the clients fell behind the schedule, and its latencies, measured from the intended start, include that lag",
		c.ID, c.AchievedRate, c.Spec.Rate, 100*c.AchievedRate/c.Spec.Rate)
}
