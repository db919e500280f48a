package compare

import (
	"fmt"
	"math"
	"slices"

	"golang.org/x/perf/benchmath"

	"github.com/aclements/go-moremath/stats"

	"github.com/lockbench/lockbench/summary"
)

// Paired comparison: when BASE and NEW were measured in alternating passes
// on one machine (scripts/gate.sh --base-bench), pass k of BASE and pass k
// of NEW ran seconds apart and share the machine's state then: a burst of
// load, a slow minute. The change of a metric is then measured within each
// pair, as the log of NEW/BASE, and the pass-to-pass noise — on a busy
// 2-CPU machine the largest part of it — cancels. The test is the paired t
// test on those log ratios (differences for absolute metrics), which, unlike
// a rank test, has no floor on its p value: eight pairs that all moved by
// the same −20 % give a p value near zero, where a Mann-Whitney U test of
// 8 + 8 samples can go no lower than 0.00016 and then cannot clear a
// correction over ~70 tests if the samples overlap at all. On 32 passes
// of unchanged code recorded here it had more power than the Wilcoxon
// signed-rank test (62 % against 54 % for a −20 % throughput change in one
// cell, 16 pairs) at fewer false alarms (1.5 % against 2 % of gate runs).

// pairedValues returns the metric's values of the samples present on both
// sides, matched by sample number (the pass), in sample order.
func pairedValues(m compareMetric, base, nw []*summary.CellResult) (bx, nx []float64) {
	byPass := map[int]float64{}
	for _, c := range base {
		if v, ok := m.value(c); ok {
			byPass[c.Sample] = v
		}
	}
	var passes []int
	nv := map[int]float64{}
	for _, c := range nw {
		if v, ok := m.value(c); ok {
			if _, both := byPass[c.Sample]; both {
				passes = append(passes, c.Sample)
				nv[c.Sample] = v
			}
		}
	}
	slices.Sort(passes)
	for _, p := range passes {
		bx = append(bx, byPass[p])
		nx = append(nx, nv[p])
	}
	return bx, nx
}

// pairedDiffs are the within-pair changes: log(new/base), or new − base
// when the metric is absolute or a value is not positive (then the change
// is relative to the base mean unless absolute). scale converts a mean
// difference back to a change: exp − 1 for logs.
func pairedDiffs(bx, nx []float64, absolute bool) (d []float64, logs bool) {
	logs = !absolute && slices.Min(bx) > 0 && slices.Min(nx) > 0
	d = make([]float64, len(bx))
	for i := range bx {
		if logs {
			d[i] = math.Log(nx[i] / bx[i])
		} else {
			d[i] = nx[i] - bx[i]
		}
	}
	return d, logs
}

// pairedTest is the two-sided paired t test of the within-pair changes
// and their mean with its confidence interval at conf, as changes (see
// toChange). With identical changes in every pair, p is 0 when they are
// not 0 (every pass moved alike) and 1 when they are.
func pairedTest(d []float64, conf float64) (p, mean, lo, hi float64) {
	n := float64(len(d))
	mean = stats.Mean(d)
	sd := stats.StdDev(d)
	if sd == 0 || math.IsNaN(sd) {
		if mean == 0 {
			return 1, 0, 0, 0
		}
		return 0, mean, mean, mean
	}
	t := mean * math.Sqrt(n) / sd
	dist := stats.TDist{V: n - 1}
	p = 2 * (1 - dist.CDF(math.Abs(t)))
	half := stats.InvCDF(dist)(1-(1-conf)/2) * sd / math.Sqrt(n)
	return p, mean, mean - half, mean + half
}

// pairedMDC is the least change of a metric the paired test detects at
// level (two-sided), given the spread of its within-pair changes: the
// mean change whose t statistic reaches the critical value. +Inf with
// fewer than two pairs.
func pairedMDC(d []float64, level float64) float64 {
	if len(d) < 2 {
		return math.Inf(1)
	}
	n := float64(len(d))
	sd := stats.StdDev(d)
	return stats.InvCDF(stats.TDist{V: n - 1})(1-level/2) * sd / math.Sqrt(n)
}

// toChange turns a mean within-pair difference into a change: exp − 1 for
// log ratios, the difference over baseMean for relative metrics without
// logs, the difference itself for absolute ones.
func toChange(x float64, logs, absolute bool, baseMean float64) float64 {
	switch {
	case logs:
		return math.Expm1(x)
	case absolute:
		return x
	case baseMean != 0:
		return x / baseMean
	}
	return math.NaN()
}

// minPairs is the least number of pairs the paired test is run on: with
// two, one pair's noise is half the evidence.
const minPairs = 3

// pairedMetric tests one metric of one cell on the samples paired by pass.
func pairedMetric(mc MetricComparison, m compareMetric, base, nw []*summary.CellResult, o Options) MetricComparison {
	bx, nx := pairedValues(m, base, nw)
	if len(bx) < minPairs {
		mc.Verdict = VerdictInsufficient
		mc.Note = fmt.Sprintf("insufficient samples: %d pass(es) with this metric on both sides, the paired test needs ≥ %d", len(bx), minPairs)
		return mc
	}
	d, logs := pairedDiffs(bx, nx, m.absolute)
	baseMean := stats.Mean(bx)
	p, mean, lo, hi := pairedTest(d, o.Confidence)
	mc.P = p
	mc.Change = toChange(mean, logs, m.absolute, baseMean)
	mc.ChangeLo, mc.ChangeHi, mc.ChangeConfidence = toChange(lo, logs, m.absolute, baseMean), toChange(hi, logs, m.absolute, baseMean), o.Confidence
	mc.mdc = func(level float64) float64 {
		x := pairedMDC(d, level)
		if m.higherBetter && logs {
			// A drop of the same log size is smaller as a fraction.
			return -math.Expm1(-x)
		}
		return toChange(x, logs, m.absolute, baseMean)
	}
	if p == 1 && mean == 0 {
		mc.Verdict = VerdictSame
	}
	return mc
}

// unpairedMDC is the least change the Mann-Whitney U test of these
// samples detects at level, found by trying it: NEW is scaled to BASE's
// median (its own noise kept), then moved further in the worse direction
// until the test's p value falls to level. +Inf when even complete
// separation cannot reach level with this many samples.
func unpairedMDC(bx, nx []float64, absolute, higherBetter bool, level float64) float64 {
	if uTestMinP(len(bx), len(nx)) >= level {
		return math.Inf(1)
	}
	thr := benchmath.Thresholds{CompareAlpha: level}
	base := benchmath.NewSample(slices.Clone(bx), &thr)
	mb, mn := median(bx), median(nx)
	logs := !absolute && slices.Min(bx) > 0 && slices.Min(nx) > 0 && mb > 0 && mn > 0
	moved := make([]float64, len(nx))
	// detects reports whether NEW moved by x (a log ratio, or a
	// difference) is significant.
	detects := func(x float64) bool {
		if higherBetter {
			x = -x
		}
		for i, v := range nx {
			if logs {
				moved[i] = v * mb / mn * math.Exp(x)
			} else {
				moved[i] = v - mn + mb + x
			}
		}
		return benchmath.AssumeNothing.Compare(base, benchmath.NewSample(slices.Clone(moved), &thr)).P <= level
	}
	hi := 0.1
	if !logs {
		hi = math.Max(slices.Max(bx)-slices.Min(bx), 1e-9)
	}
	for !detects(hi) {
		if hi *= 2; hi > 1e6 {
			return math.Inf(1)
		}
	}
	lo := 0.0
	for range 20 {
		mid := (lo + hi) / 2
		if detects(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	switch {
	case !logs:
		return hi
	case higherBetter:
		return -math.Expm1(-hi) // a drop
	}
	return math.Expm1(hi)
}
