package runner

import (
	"fmt"
	"time"

	"github.com/lockbench/lockbench/internal/health"
	"github.com/lockbench/lockbench/summary"
)

// probeInterval is how often the harness-health probe wakes while a cell's
// load runs: often enough to see a stall of a few ms, rare enough to cost
// nothing measurable (200 wakeups/s).
const probeInterval = 5 * time.Millisecond

// starvedShare is the share of the strategy's shortest time budget that
// the harness's own scheduling delay (99th percentile) may take before the
// cell is flagged: from a quarter on, one operation in a hundred lost a
// quarter of its budget before it even ran, and timeouts measure the
// harness, not the lock.
const starvedShare = 4

// judgeHarness decides whether a cell's harness was starved; warmErr is
// the warm-up's failure, if any.
func judgeHarness(s health.Sample, budget time.Duration, warmErr error) summary.Harness {
	h := summary.Harness{
		WallMs: s.WallMs, SchedP99Us: s.SchedP99Us, SchedMaxUs: s.SchedMaxUs, LagP99Us: s.LagP99Us, LagMaxUs: s.LagMaxUs,
		Wakeups: s.Wakeups, CPUs: s.CPUs, ProcessCores: s.ProcessCores, MachineBusyCores: s.MachineBusyCores, StealCores: s.StealCores,
		BudgetUs: float64(budget.Microseconds()),
	}
	if warmErr != nil {
		h.WarmupError = oneLine(warmErr)
	}
	worst := max(s.SchedP99Us, s.LagP99Us)
	if budget <= 0 || worst*starvedShare < h.BudgetUs {
		return h
	}
	h.Overloaded = true
	busy := ""
	if s.MachineBusyCores >= 0 {
		busy = fmt.Sprintf("; the machine was busy %.2f of %d CPUs, the harness used %.2f", s.MachineBusyCores, s.CPUs, s.ProcessCores)
	}
	warm := ""
	if h.WarmupError != "" {
		warm = "; connections could not all be made before the cell started"
	}
	h.Note = fmt.Sprintf("harness starved: its p99 scheduling delay %s and timer lag %s against a %s budget per command%s%s; these numbers measure the machine, not the lock",
		fmtUs(s.SchedP99Us), fmtUs(s.LagP99Us), fmtUs(h.BudgetUs), busy, warm)
	return h
}

// fmtUs prints µs as µs or ms.
func fmtUs(us float64) string {
	if us >= 1000 {
		return fmt.Sprintf("%.1f ms", us/1000)
	}
	return fmt.Sprintf("%.0f µs", us)
}
