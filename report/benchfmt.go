package report

import (
	"fmt"
	"io"

	"github.com/lockbench/lockbench/summary"
)

// Benchmark units of bench.txt, each declared with a Unit line so that
// benchstat knows which way is better.
const (
	UnitThroughput = "acq/s"
	UnitP50        = "p50-µs"
	UnitP99        = "p99-µs"
	UnitP999       = "p99.9-µs"
	UnitHandoffP50 = "handoff-p50-µs"
	UnitViolations = "violations"
)

// WriteBenchfmt writes sum in the Go benchmark format that benchstat and
// golang.org/x/perf/benchfmt read: file configuration (goos, goarch,
// pkg, cpu when known), the units' direction, then one line per cell that ran,
//
//	BenchmarkLock/lock=token/workload=hot-key/fault=none/network=direct-2 499 478.2 acq/s 249 p50-µs ...
//
// The name leaves out seed and sample, so repeats and seeds of a cell are
// samples of one benchmark; it holds the network path, so that benchstat
// never sets a proxied cell's figures against a direct one's. The iteration count is the number of acquire
// attempts; violations is the number of safety violations the checker
// found (overlaps, fence-order violations, lost updates, stale writes
// accepted). Handoff p50 is given only when the cell had handoffs.
func WriteBenchfmt(w io.Writer, sum *summary.Summary) error {
	m := sum.Machine
	_, err := fmt.Fprintf(w, "goos: %s\ngoarch: %s\npkg: lockbench\n", m.OS, m.Arch)
	if err == nil && m.CPUModel != "" {
		_, err = fmt.Fprintf(w, "cpu: %s\n", m.CPUModel)
	}
	if err != nil {
		return fmt.Errorf("benchfmt: %w", err)
	}
	for _, u := range []struct{ unit, better string }{
		{UnitThroughput, "higher"}, {UnitP50, "lower"}, {UnitP99, "lower"}, {UnitP999, "lower"},
		{UnitHandoffP50, "lower"}, {UnitViolations, "lower"},
	} {
		if _, err := fmt.Fprintf(w, "Unit %s better=%s\n", u.unit, u.better); err != nil {
			return fmt.Errorf("benchfmt: %w", err)
		}
	}
	procs := max(m.CPUs, 1)
	for i := range sum.Cells {
		c := &sum.Cells[i]
		if c.Error != "" {
			continue
		}
		acq := c.Latency[summary.HistAcquireOK]
		line := fmt.Sprintf("BenchmarkLock/lock=%s/workload=%s/fault=%s/network=%s-%d %d %.1f %s %d %s %d %s %d %s",
			benchName(c.Strategy()), benchName(c.Workload), benchName(c.Fault), benchName(c.NetworkPath()), procs, max(c.Counts.Attempts, 1),
			c.Throughput, UnitThroughput, acq.P50, UnitP50, acq.P99, UnitP99, acq.P999, UnitP999)
		if h := c.Latency[summary.HistHandoff]; h.Count > 0 {
			line += fmt.Sprintf(" %d %s", h.P50, UnitHandoffP50)
		}
		line += fmt.Sprintf(" %d %s\n", violations(c), UnitViolations)
		if _, err := io.WriteString(w, line); err != nil {
			return fmt.Errorf("benchfmt: %w", err)
		}
	}
	return nil
}

// violations counts a cell's safety violations: every witness stands for
// Count violations of its kind on its key.
func violations(c *summary.CellResult) int {
	n := 0
	for _, w := range c.Witnesses {
		n += max(w.Count, 1)
	}
	return n
}

// benchName keeps a name component free of what the format splits on.
func benchName(s string) string {
	out := []rune{}
	for _, r := range s {
		switch r {
		case ' ', '\t', '/', '=':
			r = '_'
		}
		out = append(out, r)
	}
	return string(out)
}
