package compare

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteText writes the comparison for a terminal: the settings, safety
// changes, one line per cell and metric (BASE and NEW medians with the
// spread of their confidence interval, the change with its interval, p
// and corrected q, the verdict), the warnings, and a last line that says
// PASS or FAIL and why.
func (c *Comparison) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "BASE %s\nNEW  %s\n", c.runLine(c.Base), c.runLine(c.New))
	fmt.Fprintf(bw, "%s\n", c.methodLine())
	if r := c.resolutionLine(); r != "" {
		fmt.Fprintf(bw, "%s\n", r)
	}

	if safety := c.safetyRows(); len(safety) > 0 {
		fmt.Fprintln(bw, "\nSAFETY")
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		for _, s := range safety {
			mark := "    "
			if s.Fails {
				mark = "FAIL"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s → %s\t%s\n", mark, c.cellLabel(s.Key), s.Property, s.baseText(), s.newText(), s.Note)
		}
		tw.Flush()
	}

	fmt.Fprintln(bw)
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "CELL\tMETRIC\tN\tBASE\tNEW\tCHANGE\t%s CI\tP\t%sVERDICT\n", pct(c.Options.Confidence), c.qHeader("Q\t"))
	infinite := false
	for _, cc := range c.Cells {
		label := c.cellLabel(cc.Key)
		if len(cc.Metrics) == 0 {
			fmt.Fprintf(tw, "%s\t-\t%s\t\t\t\t\t\t%s%s\n", label, cc.sizes(), c.qHeader("\t"), cc.Presence)
			continue
		}
		for _, m := range cc.Metrics {
			infinite = infinite || isInfCI(m.Base) || isInfCI(m.New)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s%s\n", label, m.Label, m.sizes(), statText(m, m.Base), statText(m, m.New),
				changeText(m.Change, m.Absolute), ciText(m), pText(m.P), c.qCell(m), verdictText(m))
			label = ""
		}
	}
	tw.Flush()
	for _, n := range c.notes(infinite) {
		fmt.Fprintf(bw, "note: %s\n", n)
	}
	for _, warn := range c.Warnings {
		fmt.Fprintf(bw, "warning: %s\n", warn)
	}
	fmt.Fprintf(bw, "\n%s\n", c.conclusion())
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("compare: write: %w", err)
	}
	return nil
}

// mdCommentBudget keeps the Markdown under GitHub's 65,536-character
// limit for a comment, with room for what a workflow adds.
const mdCommentBudget = 60_000

// WriteMarkdown writes the comparison as a pull-request comment: a
// headline with ✅, ⚠️ or ❌, the safety failures and regressions first,
// the warnings, then every metric in a collapsed table — or, when that
// would not fit in a comment, every metric whose change is significant.
func (c *Comparison) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	icon := "✅"
	switch {
	case c.Failed():
		icon = "❌"
	case c.Undecided(), c.Incomparable != "", c.networkDiffers() > 0:
		icon = "⚠️"
	}
	fmt.Fprintf(&b, "### %s lockbench compare: %s\n\n", icon, c.headline())
	fmt.Fprintf(&b, "BASE `%s` · NEW `%s` · %s\n", mdEscape(c.Base.RunID), mdEscape(c.New.RunID), mdEscape(c.methodLine()))
	if r := c.resolutionLine(); r != "" {
		fmt.Fprintf(&b, "\n%s\n", mdEscape(r))
	}

	if fails := c.SafetyFailures(); len(fails) > 0 {
		fmt.Fprintf(&b, "\n#### ❌ Safety: %s lost\n\n", plural(len(fails), "verdict", "verdicts"))
		fmt.Fprintln(&b, "| cell | property | BASE | NEW | note |")
		fmt.Fprintln(&b, "|---|---|---|---|---|")
		for _, s := range fails {
			fmt.Fprintf(&b, "| %s | %s | %s | **%s** | %s |\n", mdEscape(c.cellLabel(s.Key)), s.Property,
				mdEscape(s.baseText()), mdEscape(s.newText()), mdEscape(s.Note))
		}
	}
	header := fmt.Sprintf("| cell | metric | n | BASE | NEW | change | %s CI | p |%s", pct(c.Options.Confidence), c.qHeader(" q |"))
	rule := "|---|---|:-:|--:|--:|--:|:-:|--:|" + c.qHeader("--:|")
	if regs := c.Regressions(); len(regs) > 0 {
		fmt.Fprintf(&b, "\n#### ❌ Regressions: %d\n\n%s\n%s\n", len(regs), header, rule)
		for _, r := range regs {
			m := r.MetricComparison
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | **%s** | %s | %s |%s\n", mdEscape(c.cellLabel(r.Key)), m.Label,
				m.sizes(), statText(m, m.Base), statText(m, m.New), changeText(m.Change, m.Absolute), ciText(m), pText(m.P), c.qMD(m))
		}
	}
	var info []string
	for _, s := range c.safetyRows() {
		if !s.Fails {
			info = append(info, fmt.Sprintf("%s: %s %s → %s (%s)", c.cellLabel(s.Key), s.Property, s.baseText(), s.newText(), s.Note))
		}
	}
	if len(c.Warnings) > 0 || len(info) > 0 {
		fmt.Fprintln(&b)
		for _, warn := range c.Warnings {
			fmt.Fprintf(&b, "> ⚠️ %s\n>\n", mdEscape(warn))
		}
		for _, s := range info {
			fmt.Fprintf(&b, "> ℹ️ %s\n>\n", mdEscape(s))
		}
	}
	table := c.markdownTable(header, rule, true)
	if b.Len()+len(table) > mdCommentBudget {
		table = c.markdownTable(header, rule, false)
	}
	b.WriteString(table)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("compare: write markdown: %w", err)
	}
	return nil
}

// markdownTable is the collapsed table of every metric, or with all false
// of those whose verdict is not "~".
func (c *Comparison) markdownTable(header, rule string, all bool) string {
	var b strings.Builder
	rows, left := 0, 0
	infinite := false
	var body strings.Builder
	for _, cc := range c.Cells {
		label := mdEscape(c.cellLabel(cc.Key))
		if len(cc.Metrics) == 0 {
			fmt.Fprintf(&body, "| %s | | %s | | | | | |%s %s |\n", label, cc.sizes(), c.qHeader(" |"), cc.Presence)
			rows++
			continue
		}
		for _, m := range cc.Metrics {
			if !all && m.Verdict == VerdictSame {
				left++
				continue
			}
			infinite = infinite || isInfCI(m.Base) || isInfCI(m.New)
			v := mdEscape(verdictText(m))
			if m.Verdict == VerdictRegression {
				v = "**" + v + "**"
			}
			fmt.Fprintf(&body, "| %s | %s | %s | %s | %s | %s | %s | %s |%s %s |\n", label, m.Label, m.sizes(), statText(m, m.Base), statText(m, m.New),
				changeText(m.Change, m.Absolute), ciText(m), pText(m.P), c.qMD(m), v)
			label = ""
			rows++
		}
	}
	title := fmt.Sprintf("All metrics: %d cells, %d rows", len(c.Cells), rows)
	if !all {
		title = fmt.Sprintf("Metrics with a significant change: %d rows (%d without one left out to fit a comment; bench compare prints them all)", rows, left)
	}
	fmt.Fprintf(&b, "\n<details><summary>%s</summary>\n\n", title)
	fmt.Fprintf(&b, "%s verdict |\n%s:-|\n", header, rule)
	b.WriteString(body.String())
	fmt.Fprintln(&b)
	for _, n := range c.notes(infinite) {
		fmt.Fprintf(&b, "%s\n\n", mdEscape(n))
	}
	fmt.Fprintln(&b, "</details>")
	return b.String()
}

// runLine describes a run in one line.
func (c *Comparison) runLine(r RunInfo) string {
	s := fmt.Sprintf("%s (scenario %s, %s, %d CPUs, %s)", r.RunID, r.Scenario, r.Machine.Hostname, r.Machine.CPUs, r.Provider)
	if r.Interrupted {
		s += " INTERRUPTED"
	}
	return s
}

// methodLine states the test, alpha, correction and thresholds.
func (c *Comparison) methodLine() string {
	o := c.Options
	corr := "no correction for multiple tests"
	if o.Correction == CorrectionBH {
		corr = fmt.Sprintf("Benjamini–Hochberg over the %d tests of gated metrics", c.Tests)
	}
	var th []string
	for _, m := range compareMetrics() {
		v := o.Thresholds[m.name]
		sign := "+"
		if m.higherBetter {
			sign = "-"
		}
		switch {
		case math.IsInf(v, 1):
			th = append(th, m.label+" off")
		case m.absolute:
			th = append(th, fmt.Sprintf("%s %s%spp", m.label, sign, trimFloat(v*100)))
		default:
			th = append(th, fmt.Sprintf("%s %s%s%%", m.label, sign, trimFloat(v*100)))
		}
	}
	var gated, watched []string
	for _, m := range compareMetrics() {
		if m.gated {
			gated = append(gated, m.label)
		} else {
			watched = append(watched, m.label)
		}
	}
	test := "Mann-Whitney U"
	if o.Paired {
		test = "paired t test on the within-pass changes (BASE and NEW in alternating passes)"
	}
	return fmt.Sprintf("%s, alpha %v, %s; gated: %s (watched, shown but never failing, corrected apart: %s); a metric fails when significant and beyond: %s",
		test, o.Alpha, corr, strings.Join(gated, ", "), strings.Join(watched, ", "), strings.Join(th, ", "))
}

// resolutionLine gives, per metric, the least change the comparison could
// have detected in one cell alone (MetricComparison.MDC): the median over
// the cells and the worst cell. A regression smaller than that passes.
func (c *Comparison) resolutionLine() string {
	var parts []string
	pairs := 0
	for _, m := range compareMetrics() {
		var xs []float64
		for _, cc := range c.Cells {
			for _, mc := range cc.Metrics {
				if mc.Metric == m.name && !math.IsNaN(mc.MDC) {
					xs = append(xs, mc.MDC)
					pairs = max(pairs, min(mc.Base.N, mc.New.N))
				}
			}
		}
		if len(xs) == 0 {
			continue
		}
		slices.Sort(xs)
		parts = append(parts, fmt.Sprintf("%s %s (worst cell %s)", m.label, mdcText(xs[len(xs)/2], m), mdcText(xs[len(xs)-1], m)))
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("least change detectable in one cell alone (median over cells, n=%d a side, %d tests): %s", pairs, c.Tests, strings.Join(parts, ", "))
}

// headline sums the outcome up in a few words.
func (c *Comparison) headline() string {
	fails, regs := len(c.SafetyFailures()), len(c.Regressions())
	var parts []string
	if fails > 0 {
		parts = append(parts, plural(fails, "safety failure", "safety failures"))
	}
	if regs > 0 {
		parts = append(parts, plural(regs, "regression", "regressions"))
	}
	if miss := len(c.MissingCells()); miss > 0 {
		parts = append(parts, plural(miss, "cell of BASE missing from NEW", "cells of BASE missing from NEW"))
	}
	if len(parts) > 0 {
		return strings.Join(parts, ", ")
	}
	if c.Incomparable != "" {
		return "timings not compared: BASE and NEW ran on different machines"
	}
	if n := c.networkDiffers(); n > 0 {
		return fmt.Sprintf("timings of %s not compared: direct on one side, through the proxies on the other", plural(n, "cell", "cells"))
	}
	counts := map[MetricVerdict]int{}
	for _, cc := range c.Cells {
		for _, m := range cc.Metrics {
			counts[m.Verdict]++
		}
	}
	s := "no regression"
	if n := counts[VerdictImproved]; n > 0 {
		s += fmt.Sprintf(", %d improved", n)
	}
	if c.Undecided() {
		var why []string
		if n := counts[VerdictInsufficient]; n > 0 {
			why = append(why, fmt.Sprintf("%d metric(s) with insufficient samples", n))
		}
		missing := 0
		for _, cc := range c.Cells {
			if cc.Presence == CellMissing || cc.Presence == CellNotMeasured {
				missing++
			}
		}
		if missing > 0 {
			why = append(why, fmt.Sprintf("%d cell(s) not measured in NEW", missing))
		}
		s += "; could not decide: " + strings.Join(why, ", ")
	}
	return s
}

// conclusion is the last line of the text output.
func (c *Comparison) conclusion() string {
	switch {
	case c.Failed():
		return "FAIL: " + c.headline()
	case c.Incomparable != "", c.networkDiffers() > 0:
		return "UNDECIDED: " + c.headline()
	case c.Undecided() && c.Options.Strict:
		return "UNDECIDED (strict): " + c.headline()
	case c.Undecided():
		return "PASS with warnings: " + c.headline()
	}
	return "PASS: " + c.headline()
}

// notes explain the table's columns and symbols.
func (c *Comparison) notes(infinite bool) []string {
	var out []string
	if infinite {
		out = append(out, fmt.Sprintf("medians without ±: need ≥ %d samples for a %s confidence interval of the median",
			medianSamplesFor(c.Options.Confidence), pct(c.Options.Confidence)))
	}
	s := "BASE and NEW are medians of the samples ± the wider side of their confidence interval; change is that of the medians, " +
		"its interval the Hodges–Lehmann interval of the shift; p is the two-sided Mann-Whitney U p value"
	if c.Options.Paired {
		s = "BASE and NEW are medians of the samples ± the wider side of their confidence interval; change is the mean of the within-pass changes " +
			"(of their logarithms for rates and times, a difference for the error rate), its interval the paired t interval; p is the paired t test's two-sided p value"
	}
	if c.Options.Correction == CorrectionBH {
		s += ", q the p value after the correction (the decision uses q)"
	}
	return append(out, s)
}

// medianSamplesFor is the least sample size with a finite confidence
// interval of the median at level conf: [min, max] covers with 1 − 2^(1−n).
func medianSamplesFor(conf float64) int {
	n := 2
	for 1-math.Pow(2, float64(1-n)) < conf && n < 64 {
		n++
	}
	return n
}

// cellLabel names a cell, leaving the seed out when every cell has the
// same one.
func (c *Comparison) cellLabel(k CellKey) string {
	for _, cc := range c.Cells {
		if cc.Key.Seed != k.Seed {
			return k.String()
		}
	}
	return fmt.Sprintf("%s · %s · %s", k.Lock, k.Workload, k.Fault)
}

// safetyRows lists every verdict change, failures first.
func (c *Comparison) safetyRows() []CellSafety {
	var fails, rest []CellSafety
	for _, cc := range c.Cells {
		for _, s := range cc.Safety {
			if s.Fails {
				fails = append(fails, CellSafety{cc.Key, s})
			} else {
				rest = append(rest, CellSafety{cc.Key, s})
			}
		}
	}
	return append(fails, rest...)
}

func (s SafetyChange) baseText() string { return verdictCount(s.Base, s.BaseBad, s.BaseN) }
func (s SafetyChange) newText() string  { return verdictCount(s.New, s.NewBad, s.NewN) }

func verdictCount(v string, bad, n int) string {
	if bad == 0 {
		return v
	}
	return fmt.Sprintf("%s (%d of %d)", v, bad, n)
}

func (c *Comparison) qHeader(s string) string {
	if c.Options.Correction == CorrectionBH {
		return s
	}
	return ""
}

func (c *Comparison) qCell(m MetricComparison) string {
	if c.Options.Correction != CorrectionBH {
		return ""
	}
	return pText(m.Q) + "\t"
}

func (c *Comparison) qMD(m MetricComparison) string {
	if c.Options.Correction != CorrectionBH {
		return ""
	}
	return " " + pText(m.Q) + " |"
}

// sizes is "BASE+NEW" samples that ran, "-" for a side without the cell.
func (cc CellComparison) sizes() string {
	b, n := strconv.Itoa(cc.BaseN), strconv.Itoa(cc.NewN)
	switch cc.Presence {
	case CellNew:
		b = "-"
	case CellMissing:
		n = "-"
	}
	return b + "+" + n
}

// sizes is "BASE+NEW" samples with a value of the metric.
func (m MetricComparison) sizes() string { return fmt.Sprintf("%d+%d", m.Base.N, m.New.N) }

func isInfCI(s SampleStat) bool {
	return s.N > 1 && (math.IsInf(s.Lo, 0) || math.IsInf(s.Hi, 0))
}

// statText is a median ± its interval's wider side; the ± is left out
// when the samples are too few for an interval (a note says so).
func statText(m MetricComparison, s SampleStat) string {
	if s.N == 0 {
		return "-"
	}
	spread := ""
	switch {
	case s.N == 1, math.IsInf(s.Lo, 0) || math.IsInf(s.Hi, 0):
	case m.Absolute:
		spread = fmt.Sprintf(" ±%spp", trimFloat(math.Max(s.Hi-s.Median, s.Median-s.Lo)*100))
	case s.Median != 0:
		spread = fmt.Sprintf(" ±%.0f%%", math.Max(s.Hi-s.Median, s.Median-s.Lo)/math.Abs(s.Median)*100)
	}
	return valueText(m, s.Median) + spread
}

// valueText formats a metric's value in its unit.
func valueText(m MetricComparison, v float64) string {
	switch {
	case m.Metric == MetricThroughput && v >= 100:
		return fmt.Sprintf("%.0f/s", v)
	case m.Metric == MetricThroughput:
		return fmt.Sprintf("%.1f/s", v)
	case m.Absolute:
		return fmt.Sprintf("%.2f%%", v*100)
	case v >= 1e6:
		return fmt.Sprintf("%.2fs", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fms", v/1e3)
	}
	return fmt.Sprintf("%.0fµs", v)
}

// changeText formats a change: a signed percentage, or percentage points
// for absolute metrics.
func changeText(v float64, absolute bool) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case math.IsInf(v, 0):
		return fmt.Sprintf("%+.0f", v)
	case absolute:
		return fmt.Sprintf("%+.2fpp", v*100)
	}
	return fmt.Sprintf("%+.1f%%", v*100)
}

func ciText(m MetricComparison) string {
	if math.IsNaN(m.ChangeLo) || math.IsNaN(m.ChangeHi) {
		return "-"
	}
	return fmt.Sprintf("[%s, %s]", changeText(m.ChangeLo, m.Absolute), changeText(m.ChangeHi, m.Absolute))
}

func pText(p float64) string {
	switch {
	case math.IsNaN(p):
		return "-"
	case p < 0.001:
		return fmt.Sprintf("%.0e", p)
	}
	return fmt.Sprintf("%.3f", p)
}

func verdictText(m MetricComparison) string {
	switch m.Verdict {
	case VerdictWithin:
		return "ok (worse, within threshold)"
	case VerdictInsufficient:
		return "insufficient samples"
	case VerdictNoData:
		return "no data: " + m.Note
	}
	return string(m.Verdict)
}

func pct(conf float64) string { return trimFloat(conf*100) + "%" }

// trimFloat prints v with up to two decimals and no trailing zeros.
func trimFloat(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// mdEscape keeps text from breaking a Markdown table.
func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}
