package runner

import (
	"fmt"

	"github.com/lockbench/lockbench/checker"
	"github.com/lockbench/lockbench/summary"
)

// degradedShare: a cell under faults whose share of successful acquires
// outside its fault windows is below this fraction of the same lock's share
// without faults made degraded progress — the fault's effect outlasted its
// window (a node that never came back, a pool that never recovered).
const degradedShare = 0.5

// judgeProgress lowers the checker's progress verdicts with what the run
// knows and a history does not: how the same lock did without faults, and
// whether the harness was starved. It changes cells in place.
func judgeProgress(cells []summary.CellResult) {
	type cellKey struct {
		lock, workload string
		seed           uint64
		sample         int
	}
	baseline := map[cellKey]*summary.CellResult{}
	for i := range cells {
		if c := &cells[i]; c.Fault == "none" && c.Check != nil {
			baseline[cellKey{c.Lock, c.Workload, c.Seed, c.Sample}] = c
		}
	}
	for i := range cells {
		c := &cells[i]
		if c.Check == nil {
			continue
		}
		base := baseline[cellKey{c.Lock, c.Workload, c.Seed, c.Sample}]
		if c.Verdicts.Progress == checker.ProgressOK && base != nil && base != c {
			got, want := c.Check.ProgressCounts.Share(), base.Check.ProgressCounts.Share()
			if want > 0 && got < degradedShare*want {
				c.Verdicts.Progress = checker.ProgressDegraded
				c.Notes.Progress = fmt.Sprintf("%.0f %% of %d acquires outside faults succeeded, against %.0f %% for %s without faults",
					100*got, c.Check.ProgressCounts.Attempts, 100*want, c.Lock)
			}
		}
		if c.Harness != nil && c.Harness.Overloaded && c.Verdicts.Progress != checker.ProgressOK {
			c.Notes.Progress += "; " + c.Harness.Note
		}
	}
}
