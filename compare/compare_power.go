package compare

import (
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/lockbench/lockbench/summary"
)

// The gate's power and false-alarm rate, measured by resampling passes of
// unchanged code: the passes of a baseline recorded with scripts/gate.sh
// --refresh are taken in their recorded order as pairs (1, 2), (3, 4), …
// (alternating passes of the same code, as --base-bench takes BASE and
// NEW). Each trial deals every pair's two passes to BASE and NEW at random
// (paired), or splits all passes at random into two halves (unpaired, as
// against a committed baseline), and runs the comparison: a failure is a
// false alarm. Then it makes one random cell regress in NEW — throughput
// × 0.8 or acquire p99 × 1.5 in every pass — and counts the trials in
// which the gate fails on that cell and metric: the power.

// PowerOptions configure Power.
type PowerOptions struct {
	// Trials per measurement (default 200).
	Trials int
	// Seed makes the resampling reproducible.
	Seed uint64
	// Compare are the comparison's options (Paired is set by Power).
	Compare Options
}

// Injection is a synthetic regression: one metric of one cell scaled in
// every pass of NEW.
type Injection struct {
	Metric string
	Factor float64
}

// The regressions the gate promises to catch (issue 16).
var (
	ThroughputDrop = Injection{Metric: MetricThroughput, Factor: 0.8}
	P99Rise        = Injection{Metric: MetricP99, Factor: 1.5}
)

// PowerRow is one mode's figures.
type PowerRow struct {
	// Mode is "paired" or "unpaired"; N the samples a side.
	Mode string
	N    int
	// Trials run per figure.
	Trials int
	// FalseAlarms is the share of unchanged comparisons that failed.
	FalseAlarms float64
	// FalseAlarmsBy is, per metric, the share of unchanged comparisons
	// in which that metric regressed in some cell; "verdicts" counts
	// those failed by a safety or progress verdict or a missing cell.
	FalseAlarmsBy map[string]float64
	// Power is, per injection, the share of trials that failed on the
	// injected cell and metric.
	Power map[Injection]float64
	// MDC is, per metric, the median over trials of the median over cells
	// of the least detectable change (MetricComparison.MDC), and the
	// median over trials of the worst cell's.
	MDC      map[string]float64
	MDCWorst map[string]float64
}

// Power measures the gate on passes of unchanged code (see above).
func Power(passes []*summary.Summary, o PowerOptions) ([]PowerRow, error) {
	if len(passes) < 2*minPairs {
		return nil, fmt.Errorf("power: %d passes; need ≥ %d of unchanged code, recorded alternately (scripts/gate.sh --refresh --passes 16): %w", len(passes), 2*minPairs, ErrBadInput)
	}
	if o.Trials <= 0 {
		o.Trials = 200
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x10c6be9c))
	var rows []PowerRow
	for _, paired := range []bool{true, false} {
		opts := o.Compare
		opts.Paired = paired
		row := PowerRow{Mode: "unpaired", N: len(passes) / 2, Trials: o.Trials, Power: map[Injection]float64{}, MDC: map[string]float64{}, MDCWorst: map[string]float64{}, FalseAlarmsBy: map[string]float64{}}
		if paired {
			row.Mode = "paired"
		}
		mdc := map[string][]float64{}
		worst := map[string][]float64{}
		for range o.Trials {
			base, nw := deal(passes, paired, rng)
			c, err := Compare(base, nw, opts)
			if err != nil {
				return nil, err
			}
			if c.Failed() {
				row.FalseAlarms++
				for name := range failedBy(c) {
					row.FalseAlarmsBy[name]++
				}
			}
			for name, xs := range mdcByMetric(c) {
				slices.Sort(xs)
				mdc[name] = append(mdc[name], xs[len(xs)/2])
				worst[name] = append(worst[name], xs[len(xs)-1])
			}
			for _, inj := range []Injection{ThroughputDrop, P99Rise} {
				key := nw.Cells[rng.IntN(len(nw.Cells))]
				c, err := Compare(base, inject(nw, key, inj), opts)
				if err != nil {
					return nil, err
				}
				if caught(c, key, inj.Metric) {
					row.Power[inj]++
				}
			}
		}
		row.FalseAlarms /= float64(o.Trials)
		for inj := range row.Power {
			row.Power[inj] /= float64(o.Trials)
		}
		for name := range row.FalseAlarmsBy {
			row.FalseAlarmsBy[name] /= float64(o.Trials)
		}
		for name := range mdc {
			row.MDC[name], row.MDCWorst[name] = median(mdc[name]), median(worst[name])
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// deal makes BASE and NEW from the passes: paired, each pair (2k, 2k+1)
// goes one pass to each side at random and both get sample number k;
// unpaired, a random half of the passes is BASE.
func deal(passes []*summary.Summary, paired bool, rng *rand.Rand) (base, nw *summary.Summary) {
	n := len(passes) / 2
	base, nw = shell(passes[0]), shell(passes[0])
	if paired {
		for k := range n {
			a, b := passes[2*k], passes[2*k+1]
			if rng.IntN(2) == 1 {
				a, b = b, a
			}
			addPass(base, a, k)
			addPass(nw, b, k)
		}
		return base, nw
	}
	order := rng.Perm(2 * n)
	for i, p := range order {
		if i < n {
			addPass(base, passes[p], i)
		} else {
			addPass(nw, passes[p], i-n)
		}
	}
	return base, nw
}

// shell is s without its cells.
func shell(s *summary.Summary) *summary.Summary {
	out := *s
	out.Cells = nil
	return &out
}

// addPass appends a pass's cells to s as sample k.
func addPass(s, pass *summary.Summary, k int) {
	for _, c := range pass.Cells {
		c.Sample = k
		s.Cells = append(s.Cells, c)
	}
}

// inject returns nw with inj applied to every sample of key's cell.
func inject(nw *summary.Summary, key summary.CellResult, inj Injection) *summary.Summary {
	out := shell(nw)
	for _, c := range nw.Cells {
		if c.Strategy() == key.Strategy() && c.Workload == key.Workload && c.Fault == key.Fault && c.Seed == key.Seed {
			switch inj.Metric {
			case MetricThroughput:
				c.Throughput *= inj.Factor
			case MetricP99:
				c.Latency = maps.Clone(c.Latency)
				p := c.Latency[summary.HistAcquireOK]
				p.P99 = int64(math.Round(float64(p.P99) * inj.Factor))
				c.Latency[summary.HistAcquireOK] = p
			}
		}
		out.Cells = append(out.Cells, c)
	}
	return out
}

// caught reports whether c fails on the metric of key's cell.
func caught(c *Comparison, key summary.CellResult, metric string) bool {
	for _, r := range c.Regressions() {
		if r.Key.Lock == key.Lock && r.Key.Workload == key.Workload && r.Key.Fault == key.Fault && r.Key.Seed == key.Seed && r.Metric == metric {
			return true
		}
	}
	return false
}

// failedBy names what failed a comparison: each regressed metric, and
// "verdicts" for anything else (a lost safety or progress verdict, a
// missing cell).
func failedBy(c *Comparison) map[string]bool {
	out := map[string]bool{}
	for _, r := range c.Regressions() {
		out[r.Metric] = true
	}
	if len(out) == 0 {
		out[falseAlarmVerdicts] = true
	}
	return out
}

// falseAlarmVerdicts is FalseAlarmsBy's key for failures that no metric's
// regression explains.
const falseAlarmVerdicts = "verdicts"

// mdcByMetric collects the finite or infinite MDC of every tested metric.
func mdcByMetric(c *Comparison) map[string][]float64 {
	out := map[string][]float64{}
	for _, cc := range c.Cells {
		for _, m := range cc.Metrics {
			if !math.IsNaN(m.MDC) {
				out[m.Metric] = append(out[m.Metric], m.MDC)
			}
		}
	}
	return out
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// WritePowerMarkdown writes the rows as the README's table.
func WritePowerMarkdown(w io.Writer, rows []PowerRow) error {
	var b strings.Builder
	fmt.Fprintln(&b, "| comparison | n a side | false alarms (gate runs) | power: one cell −20 % throughput | power: one cell +50 % p99 | least detectable change in one cell, median cell (worst cell) |")
	fmt.Fprintln(&b, "|---|:-:|--:|--:|--:|---|")
	for _, r := range rows {
		var mdc []string
		for _, m := range compareMetrics() {
			if x, ok := r.MDC[m.name]; ok {
				mdc = append(mdc, fmt.Sprintf("%s %s (%s)", m.label, mdcText(x, m), mdcText(r.MDCWorst[m.name], m)))
			}
		}
		fmt.Fprintf(&b, "| %s | %d | %.1f %% | %.0f %% | %.0f %% | %s |\n", r.Mode, r.N, 100*r.FalseAlarms,
			100*r.Power[ThroughputDrop], 100*r.Power[P99Rise], strings.Join(mdc, "; "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMetricMarkdown writes, for the rows' first mode (the gate's:
// paired), one line per metric: gated or watched, its threshold, the
// least change detectable in one cell and the share of gate runs on
// unchanged code that this metric failed.
func WriteMetricMarkdown(w io.Writer, rows []PowerRow, thresholds map[string]float64) error {
	if len(rows) == 0 {
		return nil
	}
	r := rows[0]
	var b strings.Builder
	fmt.Fprintf(&b, "| metric (%s, n=%d a side) | gated | threshold | least detectable change in one cell: median cell (worst cell) | false alarms (share of gate runs) |\n", r.Mode, r.N)
	fmt.Fprintln(&b, "|---|:-:|--:|--:|--:|")
	for _, m := range compareMetrics() {
		x, ok := r.MDC[m.name]
		if !ok {
			continue
		}
		gated, alarms := "watched", "never fails"
		if m.gated {
			gated, alarms = "gated", fmt.Sprintf("%.1f %%", 100*r.FalseAlarmsBy[m.name])
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s (%s) | %s |\n", m.label, gated, mdcText(thresholds[m.name], m), mdcText(x, m), mdcText(r.MDCWorst[m.name], m), alarms)
	}
	fmt.Fprintf(&b, "| safety, progress, missing cells | gated | any change | — | %.1f %% |\n", 100*r.FalseAlarmsBy[falseAlarmVerdicts])
	fmt.Fprintf(&b, "| **the gate** | | | | **%.1f %%** |\n", 100*r.FalseAlarms)
	_, err := io.WriteString(w, b.String())
	return err
}

// mdcShownUpTo is the largest relative change mdcText prints in digits.
const mdcShownUpTo = 100

// mdcText prints a least detectable change with the metric's sign.
func mdcText(x float64, m compareMetric) string {
	sign := "+"
	if m.higherBetter {
		sign = "−"
	}
	switch {
	case math.IsInf(x, 1):
		return "none"
	case m.absolute:
		return sign + trimFloat(math.Round(x*1000)/10) + "pp"
	case x >= mdcShownUpTo:
		// Beyond a hundredfold the digits say nothing more (a p99 of a
		// few samples can need a change of 10^30 %).
		return ">" + sign + trimFloat(mdcShownUpTo*100) + "%"
	}
	return sign + trimFloat(math.Round(x*100)) + "%"
}
