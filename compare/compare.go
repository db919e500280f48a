package compare

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/perf/benchmath"

	"github.com/lockbench/lockbench/checker"
	"github.com/lockbench/lockbench/summary"
)

// ErrBadInput marks a comparison that cannot be made: an unreadable or
// interrupted-beyond-use summary, summaries with no cell in common, or
// options that make no sense. The CLI exits 3 on it.
var ErrBadInput = errors.New("bad input")

// The metrics bench compare tests, by the names Options.Thresholds
// and ParseThresholds use.
const (
	// MetricThroughput is acquires per second (higher is better).
	MetricThroughput = "throughput"
	// MetricP50 is the median acquire latency, intended start → lease in
	// hand ([summary.HistAcquireOK]; lower is better).
	MetricP50 = "p50"
	// MetricP99 is the 99th percentile acquire latency (lower is better).
	MetricP99 = "p99"
	// MetricP999 is the 99.9th percentile acquire latency (lower is better).
	MetricP999 = "p999"
	// MetricHandoffP50 is the median handoff latency, a release → the next
	// acquire of that key by another client ([summary.HistHandoff]; lower
	// is better). Samples without handoffs are left out.
	MetricHandoffP50 = "handoff_p50"
	// MetricErrorRate is the share of acquire attempts that met an error:
	// (acquires with unknown outcome + releases with unknown outcome +
	// resource errors) / attempts. Lower is better. Its threshold is
	// absolute, in rate units: 0.01 is one percentage point.
	MetricErrorRate = "error_rate"
)

// Corrections for testing many metrics at once (Options.Correction).
const (
	// CorrectionBH is the Benjamini–Hochberg procedure over every test of
	// the comparison: when nothing changed, the chance that any metric is
	// called significant stays at alpha however many cells there are.
	CorrectionBH = "bh"
	// CorrectionNone tests every metric at alpha on its own, as benchstat
	// does; with many metrics, some will look significant by chance.
	CorrectionNone = "none"
)

// compareMetric describes one metric: where its value comes from and
// which way is better.
type compareMetric struct {
	name  string
	label string
	// higherBetter: throughput. The others are better lower.
	higherBetter bool
	// gated: a regression of this metric fails the comparison. The others
	// are watched: tested in a family of their own and shown, never
	// failing — every metric in the gate's family dilutes the correction,
	// and on a busy 2-CPU machine the tails and medians of 1–3 s cells are
	// too noisy to gate without drowning the metrics that matter.
	gated bool
	// absolute: the change is new − base, not new/base − 1.
	absolute bool
	// unit formats a value.
	unit string
	// value extracts the metric of one sample; ok is false when the
	// sample has none (no successful acquire, no handoff, no attempt).
	value func(c *summary.CellResult) (v float64, ok bool)
}

// compareMetrics lists the metrics in table order.
func compareMetrics() []compareMetric {
	lat := func(hist string, q func(summary.Percentiles) int64) func(c *summary.CellResult) (float64, bool) {
		return func(c *summary.CellResult) (float64, bool) {
			p, ok := c.Latency[hist]
			if !ok || p.Count == 0 {
				return 0, false
			}
			return float64(q(p)), true
		}
	}
	return []compareMetric{
		{name: MetricThroughput, label: "throughput", higherBetter: true, gated: true, unit: "/s",
			value: func(c *summary.CellResult) (float64, bool) { return c.Throughput, true }},
		{name: MetricP50, label: "acquire p50", unit: "µs",
			value: lat(summary.HistAcquireOK, func(p summary.Percentiles) int64 { return p.P50 })},
		{name: MetricP99, label: "acquire p99", gated: true, unit: "µs",
			value: lat(summary.HistAcquireOK, func(p summary.Percentiles) int64 { return p.P99 })},
		{name: MetricP999, label: "acquire p99.9", unit: "µs",
			value: lat(summary.HistAcquireOK, func(p summary.Percentiles) int64 { return p.P999 })},
		{name: MetricHandoffP50, label: "handoff p50", unit: "µs",
			value: lat(summary.HistHandoff, func(p summary.Percentiles) int64 { return p.P50 })},
		{name: MetricErrorRate, label: "error rate", absolute: true, gated: true, unit: "%",
			value: func(c *summary.CellResult) (float64, bool) {
				n := c.Counts
				if n.Attempts <= 0 {
					return 0, false
				}
				return float64(n.AcquireUnknown+n.ReleaseUnknown+n.ResourceErrors) / float64(n.Attempts), true
			}},
	}
}

// DefaultThresholds returns the thresholds bench compare uses unless told
// otherwise, as a fresh map: a relative change for every metric but
// error_rate, whose threshold is absolute (0.01 = one percentage point).
// The sign is implied by the metric's direction: throughput fails when it
// drops by more than 5 %, p99 when it grows by more than 10 %.
func DefaultThresholds() map[string]float64 {
	return map[string]float64{
		MetricThroughput: 0.05,
		MetricP50:        0.10,
		MetricP99:        0.10,
		MetricP999:       0.20,
		MetricHandoffP50: 0.20,
		MetricErrorRate:  0.01,
	}
}

// ParseThresholds reads thresholds as the CLI takes them: a
// comma-separated list of metric=value, where value is a percentage
// ("5%"), a fraction ("0.05") or "off" (shown, never fails). Names are
// those of the Metric constants; "p99.9" and "handoff" are accepted too.
// A sign is ignored: the metric says which way is worse, so
// "throughput=-5%" and "throughput=5%" mean the same. For error_rate the
// value is absolute: "error_rate=1%" fails when the rate grows by one
// percentage point. Metrics not named keep their defaults when the result
// goes into Options.Thresholds. Errors wrap ErrBadInput.
func ParseThresholds(s string) (map[string]float64, error) {
	out := map[string]float64{}
	known := DefaultThresholds()
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("threshold %q: want metric=value, e.g. throughput=5%%: %w", part, ErrBadInput)
		}
		name = compareMetricAlias(strings.TrimSpace(name))
		if _, ok := known[name]; !ok {
			return nil, fmt.Errorf("threshold %q: unknown metric %q (known: %s): %w", part, name, strings.Join(compareMetricNames(), ", "), ErrBadInput)
		}
		val = strings.TrimSpace(val)
		if strings.EqualFold(val, "off") {
			out[name] = math.Inf(1)
			continue
		}
		val = strings.TrimLeft(val, "+-−")
		scale := 1.0
		if v, ok := strings.CutSuffix(val, "%"); ok {
			val, scale = strings.TrimSpace(v), 0.01
		}
		f, err := strconv.ParseFloat(val, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
			return nil, fmt.Errorf("threshold %q: want a percentage such as 5%%, a fraction or off: %w", part, ErrBadInput)
		}
		out[name] = f * scale
	}
	return out, nil
}

// compareMetricAlias maps the accepted spellings to a metric name.
func compareMetricAlias(name string) string {
	switch strings.ToLower(name) {
	case "p99.9", "p99_9", "acquire_p999":
		return MetricP999
	case "handoff", "handoff-p50":
		return MetricHandoffP50
	case "errors", "error-rate":
		return MetricErrorRate
	case "acquire_p50":
		return MetricP50
	case "acquire_p99":
		return MetricP99
	}
	return strings.ToLower(name)
}

func compareMetricNames() []string {
	var names []string
	for _, m := range compareMetrics() {
		names = append(names, m.name)
	}
	return names
}

// Options configure Compare. The zero value is the default.
type Options struct {
	// Alpha is the significance level (default 0.05): a change counts only
	// when its p value (after Correction) is below it.
	Alpha float64
	// Confidence is the level of the confidence intervals shown (default
	// 0.95). It does not enter the pass/fail decision.
	Confidence float64
	// Thresholds override DefaultThresholds per metric; metrics not named
	// keep their default. A metric fails only when its change is both
	// significant and beyond its threshold in the worse direction.
	Thresholds map[string]float64
	// Correction is CorrectionBH (default) or CorrectionNone.
	Correction string
	// Strict makes "could not decide" (insufficient samples, cells missing
	// from NEW) exit 2 instead of passing with a warning.
	Strict bool
	// Paired says BASE and NEW were measured in alternating passes on one
	// machine (scripts/gate.sh --base-bench): sample k of a cell in BASE and
	// in NEW ran seconds apart, and each metric is tested on the within-pass
	// changes (see compare_paired.go) instead of the two samples' ranks.
	Paired bool
	// AllowMissing lets cells of BASE be absent from NEW (removed on
	// purpose); otherwise a missing cell fails the comparison.
	AllowMissing bool
	// IgnoreLiveness keeps a liveness verdict that went from ok to stalled,
	// or a progress verdict from ok to degraded or none, from failing the
	// comparison (it is still listed). Mutual exclusion and resource
	// verdicts always fail.
	IgnoreLiveness bool
}

// withDefaults fills in the defaults and checks the options.
func (o Options) withDefaults() (Options, error) {
	if o.Alpha == 0 {
		o.Alpha = 0.05
	}
	if o.Confidence == 0 {
		o.Confidence = 0.95
	}
	if !(o.Alpha > 0 && o.Alpha < 1) {
		return o, fmt.Errorf("alpha %v: want 0 < alpha < 1: %w", o.Alpha, ErrBadInput)
	}
	if !(o.Confidence > 0 && o.Confidence < 1) {
		return o, fmt.Errorf("confidence %v: want 0 < confidence < 1: %w", o.Confidence, ErrBadInput)
	}
	switch o.Correction {
	case "":
		o.Correction = CorrectionBH
	case CorrectionBH, CorrectionNone:
	default:
		return o, fmt.Errorf("correction %q: want %s or %s: %w", o.Correction, CorrectionBH, CorrectionNone, ErrBadInput)
	}
	th := DefaultThresholds()
	for name, v := range o.Thresholds {
		if _, ok := th[name]; !ok {
			return o, fmt.Errorf("threshold for unknown metric %q (known: %s): %w", name, strings.Join(compareMetricNames(), ", "), ErrBadInput)
		}
		if math.IsNaN(v) || v < 0 {
			return o, fmt.Errorf("threshold %s=%v: want a non-negative value: %w", name, v, ErrBadInput)
		}
		th[name] = v
	}
	o.Thresholds = th
	return o, nil
}

// MetricVerdict is what Compare concludes about one metric of one cell.
type MetricVerdict string

// The metric verdicts.
const (
	// VerdictSame: no significant change ("~", as benchstat writes it).
	VerdictSame MetricVerdict = "~"
	// VerdictWithin: significantly worse, but not beyond the threshold.
	VerdictWithin MetricVerdict = "ok"
	// VerdictRegression: significantly worse and beyond the threshold.
	VerdictRegression MetricVerdict = "REGRESSION"
	// VerdictWorse: a watched (not gated) metric significantly worse and
	// beyond its threshold; shown, never failing.
	VerdictWorse MetricVerdict = "worse (watched)"
	// VerdictImproved: significantly better.
	VerdictImproved MetricVerdict = "improved"
	// VerdictInsufficient: too few samples for the test ever to reach
	// significance at Alpha; nothing can be said either way.
	VerdictInsufficient MetricVerdict = "insufficient samples"
	// VerdictNoData: one side has no value for the metric (no handoff, no
	// successful acquire).
	VerdictNoData MetricVerdict = "no data"
	// VerdictNotJudged: the two sides ran on different machines; the
	// change is shown but says nothing about the code.
	VerdictNotJudged MetricVerdict = "not judged"
)

// CellKey identifies a cell across runs: its samples are the repeats.
type CellKey struct {
	// Lock is the strategy as the tables name it
	// (summary.CellResult.Strategy): the lock, with its topology when
	// that is not standalone, so a lock on Sentinel never matches the
	// same lock on independent primaries.
	Lock     string
	Workload string
	Fault    string
	Seed     uint64
}

// String is "lock · workload · fault · sSEED".
func (k CellKey) String() string {
	return fmt.Sprintf("%s · %s · %s · s%d", k.Lock, k.Workload, k.Fault, k.Seed)
}

// CellPresence says on which side a cell was found.
type CellPresence string

// Where a cell was found.
const (
	CellInBoth      CellPresence = "both"
	CellNew         CellPresence = "new cell"     // only in NEW
	CellMissing     CellPresence = "missing cell" // only in BASE
	CellNotMeasured CellPresence = "not measured" // in both, but no sample of one side ran
)

// SampleStat is the median of a metric's samples on one side, with its
// confidence interval (Lo, Hi are ±Inf when there are too few samples for
// one at the requested level).
type SampleStat struct {
	N          int
	Median     float64
	Lo         float64
	Hi         float64
	Confidence float64
	// Values are the samples, sorted.
	Values []float64
}

// MetricComparison is one metric of one cell, BASE against NEW.
type MetricComparison struct {
	Metric string
	// Label is the metric's name for people ("acquire p99").
	Label string
	Base  SampleStat
	New   SampleStat
	// Absolute: the change is a difference (error rate), not a ratio.
	Absolute bool
	// HigherGood: higher is better (throughput); lower is, otherwise.
	HigherGood bool
	// Gated: a regression fails the comparison; otherwise the metric is
	// watched, in a correction family of its own.
	Gated bool
	// Change is the change of the medians: new/base − 1, or new − base for
	// absolute metrics (error rate). NaN when undefined (base median 0).
	Change float64
	// ChangeLo and ChangeHi bound the change (Hodges–Lehmann interval of
	// the shift, from the same rank statistic as the U test) at
	// ChangeConfidence; NaN when the samples are too few for one.
	ChangeLo         float64
	ChangeHi         float64
	ChangeConfidence float64
	// P is the two-sided Mann-Whitney U p value (benchmath.AssumeNothing);
	// NaN when no test was made. Q is P after the correction for testing
	// many metrics (equal to P with CorrectionNone); the decision uses Q.
	P float64
	Q float64
	// Threshold is the metric's threshold: relative, or absolute when
	// Absolute is set; +Inf when off.
	Threshold float64
	Verdict   MetricVerdict
	// Note explains insufficient samples, missing data or test warnings.
	Note string
	// MDC is the size of the least change of this metric, in its worse
	// direction (a drop for throughput, a rise otherwise), that
	// this comparison could have called significant on its own (one metric
	// of one cell changing, the others not) with these samples and this
	// correction: +Inf when none could, NaN when not computed. It is the
	// gate's resolution: a regression smaller than it passes unseen. It is
	// never below the metric's threshold.
	MDC float64
	// mdc computes MDC for a per-test significance level.
	mdc func(level float64) float64
}

// worse reports whether the change is in the bad direction.
func (m *MetricComparison) worse() bool {
	if m.HigherGood {
		return m.Change < 0
	}
	return m.Change > 0
}

// beyond reports whether the change passes the threshold in the bad
// direction.
func (m *MetricComparison) beyond() bool {
	if math.IsInf(m.Threshold, 1) {
		return false
	}
	if m.HigherGood {
		return m.Change < -m.Threshold
	}
	return m.Change > m.Threshold
}

// SafetyChange is one checker verdict of a cell that differs between BASE
// and NEW (or that was not ok in either).
type SafetyChange struct {
	// Property is mutex, resource, liveness, or "ran" for a cell whose
	// samples ran in BASE and failed to run in NEW.
	Property string
	// Base and New are the verdicts: "ok" when every sample was ok,
	// otherwise the worst verdict seen.
	Base string
	New  string
	// NewBad of NewN samples of NEW were not ok (BaseBad of BaseN in BASE).
	BaseBad int
	BaseN   int
	NewBad  int
	NewN    int
	// Fails is true when this change fails the comparison: ok in BASE, not
	// ok in NEW (liveness unless IgnoreLiveness).
	Fails bool
	// Note says what the verdicts mean ("checker did not finish").
	Note string
}

// CellComparison is one cell (lock × workload × fault × seed) of both runs.
type CellComparison struct {
	Key      CellKey
	Presence CellPresence
	BaseN    int // samples that ran
	NewN     int
	Safety   []SafetyChange
	Metrics  []MetricComparison
	// Errors are why NEW samples could not run.
	Errors []string
	// SpecDiffers is true when the workload parameters differ between the
	// runs: the numbers then measure different things.
	SpecDiffers bool
	// NetworkDiffers is true when the cell reached its nodes directly on
	// one side and through the fault proxies on the other: its timings are
	// then not judged (the proxies alone cost about half the throughput).
	NetworkDiffers bool
}

// RunInfo identifies a compared run.
type RunInfo struct {
	RunID       string
	Scenario    string
	Machine     summary.Machine
	Provider    string
	Interrupted bool
}

// Comparison is the result of Compare: what changed from BASE to NEW,
// cell by cell and metric by metric, and whether that fails the gate.
type Comparison struct {
	Base    RunInfo
	New     RunInfo
	Options Options
	Cells   []CellComparison
	// Tests is how many tests of gated metrics the correction covered;
	// WatchedTests those of the watched metrics, corrected apart.
	Tests        int
	WatchedTests int
	// Warnings are things the reader must know: insufficient samples,
	// different machines, missing cells.
	Warnings []string
	// Incomparable is set, with the reason, when the two sides' timings
	// cannot be compared (they ran on different machines): metrics are
	// then shown but not judged, and the comparison cannot pass (exit 2)
	// unless a safety verdict fails it (exit 1).
	Incomparable string
}

// Files reads BASE and NEW with ReadRuns and compares them. Read
// errors wrap ErrBadInput.
func Files(basePath, newPath string, opts Options) (*Comparison, error) {
	base, err := ReadRuns(basePath)
	if err != nil {
		return nil, fmt.Errorf("BASE: %w", err)
	}
	nw, err := ReadRuns(newPath)
	if err != nil {
		return nil, fmt.Errorf("NEW: %w", err)
	}
	return Compare(base, nw, opts)
}

// ReadPasses reads every pass of a directory as ReadRuns finds them, in
// natural order, one summary each (not pooled). Errors wrap ErrBadInput.
func ReadPasses(dir string) ([]*summary.Summary, error) {
	files, err := runFiles(dir)
	if err != nil {
		return nil, err
	}
	out := make([]*summary.Summary, 0, len(files))
	for _, f := range files {
		s, err := summary.Read(f)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", err, ErrBadInput)
		}
		out = append(out, s)
	}
	return out, nil
}

// runFiles lists the summaries a path holds (see ReadRuns).
func runFiles(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, ErrBadInput)
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	if _, err := os.Stat(filepath.Join(path, "summary.json")); err == nil {
		return []string{filepath.Join(path, "summary.json")}, nil
	}
	flat, _ := filepath.Glob(filepath.Join(path, "*.json"))
	nested, _ := filepath.Glob(filepath.Join(path, "*", "summary.json"))
	files := append(flat, nested...)
	// Natural order: pass-2 before pass-10, so that paired comparisons
	// pair the passes that ran together.
	slices.SortFunc(files, naturalCompare)
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no summary.json, *.json or */summary.json in it: %w", path, ErrBadInput)
	}
	return files, nil
}

// ReadRuns reads one side of a comparison: a summary.json, a run
// directory that holds one, or a directory of runs — every DIR/*.json and
// DIR/*/summary.json, in name order — pooled into one summary. Pooled
// runs are samples of the same cells: each run's Sample numbers are
// shifted past those of the runs before it. Taking the samples in passes
// (several bench run --repeat 1) spreads each cell's samples over the
// whole time the runs took, so that a burst of load on the machine hits
// one sample of every cell rather than every sample of a few cells.
// Errors wrap ErrBadInput.
func ReadRuns(path string) (*summary.Summary, error) {
	files, err := runFiles(path)
	if err != nil {
		return nil, err
	}
	var pooled *summary.Summary
	offset := 0
	for _, f := range files {
		sum, err := summary.Read(f)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", err, ErrBadInput)
		}
		if pooled == nil {
			pooled = sum
			offset = nextSample(sum)
			continue
		}
		for _, c := range sum.Cells {
			c.Sample += offset
			pooled.Cells = append(pooled.Cells, c)
		}
		offset += nextSample(sum)
		pooled.ElapsedMs += sum.ElapsedMs
		pooled.Interrupted = pooled.Interrupted || sum.Interrupted
	}
	if len(files) > 1 {
		pooled.RunID = fmt.Sprintf("%s (%d runs pooled: %s … %s)", path, len(files), runIDOf(files[0]), runIDOf(files[len(files)-1]))
	}
	return pooled, nil
}

// naturalCompare orders strings with their digit runs compared as
// numbers: "pass-2" < "pass-10".
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digitPrefix(a), digitPrefix(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if c := cmp.Compare(len(na), len(nb)); c != 0 {
				return c
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

// digitPrefix is the length of s's leading run of ASCII digits.
func digitPrefix(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// nextSample is one more than the highest sample number of a run.
func nextSample(s *summary.Summary) int {
	n := 0
	for _, c := range s.Cells {
		n = max(n, c.Sample+1)
	}
	return n
}

// runIDOf names a pooled file by its run directory or file name.
func runIDOf(file string) string {
	if filepath.Base(file) == "summary.json" {
		return filepath.Base(filepath.Dir(file))
	}
	return strings.TrimSuffix(filepath.Base(file), ".json")
}

// Compare compares two runs cell by cell. Cells are matched by lock,
// workload, fault and seed; their repeats (summary.CellResult.Sample) are
// the samples. For every metric it tests whether NEW differs from BASE
// with a Mann-Whitney U test, corrects for the number of tests, and calls
// a metric a regression only when the change is significant and beyond
// its threshold in the worse direction. Independently of the numbers, a
// checker verdict that was ok in every BASE sample and is not ok in some
// NEW sample fails the comparison, even with one sample each.
//
// Errors (nil summaries, no cell in common, bad options) wrap ErrBadInput.
func Compare(base, head *summary.Summary, opts Options) (*Comparison, error) {
	if base == nil || head == nil {
		return nil, fmt.Errorf("compare: missing summary: %w", ErrBadInput)
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("compare: %w", err)
	}
	if len(base.Cells) == 0 {
		return nil, fmt.Errorf("compare: BASE %s has no cells: %w", base.RunID, ErrBadInput)
	}
	if len(head.Cells) == 0 {
		return nil, fmt.Errorf("compare: NEW %s has no cells: %w", head.RunID, ErrBadInput)
	}
	cmp := &Comparison{Base: runInfo(base), New: runInfo(head), Options: opts}

	baseGroups, order := compareGroups(base, nil)
	newGroups, order := compareGroups(head, order)
	common := 0
	for _, k := range order {
		if baseGroups[k] != nil && newGroups[k] != nil {
			common++
		}
	}
	if common == 0 {
		return nil, fmt.Errorf("compare: BASE %s and NEW %s have no cell in common (same lock, workload, fault and seed): %w", base.RunID, head.RunID, ErrBadInput)
	}
	metrics := compareMetrics()
	for _, k := range order {
		cc := compareCell(k, baseGroups[k], newGroups[k], metrics, opts)
		cmp.Cells = append(cmp.Cells, cc)
	}
	cmp.Incomparable = incomparable(base, head)
	cmp.correct()
	cmp.decide()
	cmp.resolve()
	cmp.warn(base, head)
	return cmp, nil
}

func runInfo(s *summary.Summary) RunInfo {
	return RunInfo{RunID: s.RunID, Scenario: s.Scenario.Name, Machine: s.Machine, Provider: s.Provider, Interrupted: s.Interrupted}
}

// compareGroups groups a run's cells by key, appending keys not yet in
// order to it.
func compareGroups(s *summary.Summary, order []CellKey) (map[CellKey][]*summary.CellResult, []CellKey) {
	groups := map[CellKey][]*summary.CellResult{}
	seen := map[CellKey]bool{}
	for _, k := range order {
		seen[k] = true
	}
	for i := range s.Cells {
		c := &s.Cells[i]
		k := CellKey{Lock: c.Strategy(), Workload: c.Workload, Fault: c.Fault, Seed: c.Seed}
		groups[k] = append(groups[k], c)
		if !seen[k] {
			seen[k] = true
			order = append(order, k)
		}
	}
	return groups, order
}

// ran returns the samples that ran (no Error).
func ran(cells []*summary.CellResult) []*summary.CellResult {
	var out []*summary.CellResult
	for _, c := range cells {
		if c.Error == "" {
			out = append(out, c)
		}
	}
	return out
}

// compareCell compares one cell; P is the raw p value, Q and the verdicts
// are set later, once every test of the comparison is known.
func compareCell(k CellKey, base, nw []*summary.CellResult, metrics []compareMetric, o Options) CellComparison {
	cc := CellComparison{Key: k}
	switch {
	case nw == nil:
		cc.Presence = CellMissing
		cc.BaseN = len(ran(base))
		return cc
	case base == nil:
		cc.Presence = CellNew
		cc.NewN = len(ran(nw))
		return cc
	}
	cc.Presence = CellInBoth
	b, n := ran(base), ran(nw)
	cc.BaseN, cc.NewN = len(b), len(n)
	for _, c := range nw {
		if c.Error != "" {
			cc.Errors = append(cc.Errors, fmt.Sprintf("sample %d: %s", c.Sample, c.Error))
		}
	}
	if len(b) > 0 && len(cc.Errors) > 0 {
		cc.Safety = append(cc.Safety, SafetyChange{
			Property: "ran", Base: "ok", New: "error", BaseN: len(base), NewBad: len(cc.Errors), NewN: len(nw), Fails: true,
			Note: "samples that ran in BASE could not run in NEW: " + cc.Errors[0],
		})
	}
	if len(b) == 0 || len(n) == 0 {
		cc.Presence = CellNotMeasured
		return cc
	}
	cc.SpecDiffers = !sameSpec(b[0].Spec, n[0].Spec)
	cc.NetworkDiffers = b[0].NetworkPath() != n[0].NetworkPath()
	cc.Safety = append(cc.Safety, safetyChanges(b, n, o)...)
	for _, m := range metrics {
		if mc, ok := compareMetricOf(m, b, n, o); ok {
			cc.Metrics = append(cc.Metrics, mc)
		}
	}
	return cc
}

func sameSpec(a, b summary.Spec) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// safetyChanges compares the checker's verdicts of the samples that ran.
func safetyChanges(base, nw []*summary.CellResult, o Options) []SafetyChange {
	props := []struct {
		name   string
		ok     string
		get    func(v summary.Verdicts) string
		safety bool
	}{
		{"mutex", string(checker.MutexOK), func(v summary.Verdicts) string { return string(v.Mutex) }, true},
		{"resource", string(checker.ResourceOK), func(v summary.Verdicts) string { return string(v.Resource) }, true},
		{"liveness", string(checker.LivenessOK), func(v summary.Verdicts) string { return string(v.Liveness) }, false},
		{"progress", string(checker.ProgressOK), func(v summary.Verdicts) string { return string(v.Progress) }, false},
	}
	var out []SafetyChange
	for _, p := range props {
		bv, bBad := worstVerdict(base, p.ok, p.get)
		nv, nBad := worstVerdict(nw, p.ok, p.get)
		if bBad == 0 && nBad == 0 {
			continue
		}
		sc := SafetyChange{Property: p.name, Base: bv, New: nv, BaseBad: bBad, BaseN: len(base), NewBad: nBad, NewN: len(nw)}
		sc.Fails = bBad == 0 && nBad > 0 && (p.safety || !o.IgnoreLiveness)
		switch {
		case nv == string(checker.MutexUnknown):
			sc.Note = "the checker did not finish in time; no violation found, none ruled out"
		case bBad > 0 && nBad > 0:
			sc.Note = "not ok in BASE either"
		case bBad > 0:
			sc.Note = "fixed"
		case !sc.Fails:
			sc.Note = p.name + " is not gated (IgnoreLiveness)"
		default:
			sc.Note = "ok in every BASE sample: fails whatever the numbers say"
		}
		out = append(out, sc)
	}
	return out
}

// worstVerdict returns "ok" and 0 when every sample is ok, else the most
// frequent not-ok verdict and how many samples were not ok. A verdict not
// assessed (n/a) or not recorded (a summary from before it existed) is
// neither.
func worstVerdict(cells []*summary.CellResult, ok string, get func(summary.Verdicts) string) (string, int) {
	counts := map[string]int{}
	bad := 0
	for _, c := range cells {
		v := get(c.Verdicts)
		if v == ok || v == "" || v == string(checker.LivenessNA) {
			continue
		}
		counts[v]++
		bad++
	}
	if bad == 0 {
		return ok, 0
	}
	worst, most := "", 0
	for v, n := range counts {
		if n > most || n == most && v < worst {
			worst, most = v, n
		}
	}
	return worst, bad
}

// compareMetricOf tests one metric of one cell. It returns false when
// neither side has the metric at all (no handoffs anywhere).
func compareMetricOf(m compareMetric, base, nw []*summary.CellResult, o Options) (MetricComparison, bool) {
	values := func(cells []*summary.CellResult) []float64 {
		var xs []float64
		for _, c := range cells {
			if v, ok := m.value(c); ok {
				xs = append(xs, v)
			}
		}
		return xs
	}
	bx, nx := values(base), values(nw)
	if len(bx) == 0 && len(nx) == 0 {
		return MetricComparison{}, false
	}
	mc := MetricComparison{
		Metric: m.name, Label: m.label, Absolute: m.absolute, HigherGood: m.higherBetter, Gated: m.gated,
		Threshold: o.Thresholds[m.name],
		Change:    math.NaN(), ChangeLo: math.NaN(), ChangeHi: math.NaN(), P: math.NaN(), Q: math.NaN(), MDC: math.NaN(),
	}
	thr := benchmath.Thresholds{CompareAlpha: o.Alpha}
	var bs, ns *benchmath.Sample
	if len(bx) > 0 {
		bs = benchmath.NewSample(slices.Clone(bx), &thr)
		mc.Base = sampleStat(bs, o.Confidence)
	}
	if len(nx) > 0 {
		ns = benchmath.NewSample(slices.Clone(nx), &thr)
		mc.New = sampleStat(ns, o.Confidence)
	}
	if bs == nil || ns == nil {
		side := "BASE"
		if ns == nil {
			side = "NEW"
		}
		mc.Verdict = VerdictNoData
		mc.Note = fmt.Sprintf("no %s in %s", m.label, side)
		return mc, true
	}
	if o.Paired {
		return pairedMetric(mc, m, base, nw, o), true
	}
	mc.Change = relChange(mc.Base.Median, mc.New.Median, m.absolute)
	mc.ChangeLo, mc.ChangeHi, mc.ChangeConfidence = shiftCI(bs.Values, ns.Values, o.Confidence, m.absolute, mc.Base.Median)
	mc.mdc = func(level float64) float64 { return unpairedMDC(bx, nx, m.absolute, m.higherBetter, level) }
	if minP := uTestMinP(len(bx), len(nx)); minP >= o.Alpha {
		mc.Verdict = VerdictInsufficient
		mc.Note = fmt.Sprintf("insufficient samples (n=%d+%d; need ≥ %d on each side to reach p < %v, the least p possible now is %.2g)",
			len(bx), len(nx), uTestSamplesFor(o.Alpha), o.Alpha, minP)
		return mc, true
	}
	if allEqual(bs.Values, ns.Values) {
		mc.P, mc.Verdict = 1, VerdictSame
		return mc, true
	}
	res := benchmath.AssumeNothing.Compare(bs, ns)
	mc.P = res.P
	var notes []string
	for _, w := range res.Warnings {
		notes = append(notes, w.Error())
	}
	mc.Note = strings.Join(notes, "; ")
	return mc, true
}

func sampleStat(s *benchmath.Sample, confidence float64) SampleStat {
	sum := benchmath.AssumeNothing.Summary(s, confidence)
	return SampleStat{N: len(s.Values), Median: sum.Center, Lo: sum.Lo, Hi: sum.Hi, Confidence: sum.Confidence, Values: slices.Clone(s.Values)}
}

// relChange is new/base − 1, or new − base when absolute.
func relChange(base, nw float64, absolute bool) float64 {
	switch {
	case absolute:
		return nw - base
	case base == nw:
		return 0
	case base == 0:
		return math.Copysign(math.Inf(1), nw)
	}
	return nw/base - 1
}

func allEqual(a, b []float64) bool {
	v := a[0]
	for _, x := range append(slices.Clone(a), b...) {
		if x != v {
			return false
		}
	}
	return true
}

// correct sets every tested metric's Q: its p value adjusted for the
// number of tests (Benjamini–Hochberg), or P itself. Gated and watched
// metrics are two families: the gate's correction covers only its own.
func (c *Comparison) correct() {
	var gated, watched []*MetricComparison
	for i := range c.Cells {
		for j := range c.Cells[i].Metrics {
			m := &c.Cells[i].Metrics[j]
			if m.Verdict == "" && !math.IsNaN(m.P) {
				if m.Gated {
					gated = append(gated, m)
				} else {
					watched = append(watched, m)
				}
			}
		}
	}
	// A family is every metric of its kind that was tested. Metrics with
	// too few samples for any p below alpha, and metrics whose values are
	// all equal, cannot be significant and are left out of it.
	c.Tests, c.WatchedTests = len(gated), len(watched)
	for _, family := range [][]*MetricComparison{gated, watched} {
		if c.Options.Correction == CorrectionNone {
			for _, m := range family {
				m.Q = m.P
			}
			continue
		}
		ps := make([]float64, len(family))
		for i, m := range family {
			ps[i] = m.P
		}
		for i, q := range benjaminiHochberg(ps) {
			family[i].Q = q
		}
	}
}

// decide sets the verdict of every tested metric.
func (c *Comparison) decide() {
	for i := range c.Cells {
		for j := range c.Cells[i].Metrics {
			m := &c.Cells[i].Metrics[j]
			if m.Verdict == VerdictSame && m.P == 1 && math.IsNaN(m.Q) {
				m.Q = 1
			}
			if m.Verdict != "" {
				continue
			}
			switch {
			case c.Incomparable != "", c.Cells[i].NetworkDiffers:
				m.Verdict = VerdictNotJudged
			case !(m.Q < c.Options.Alpha):
				m.Verdict = VerdictSame
			case m.worse() && m.beyond() && m.Gated:
				m.Verdict = VerdictRegression
			case m.worse() && m.beyond():
				m.Verdict = VerdictWorse
			case m.worse():
				m.Verdict = VerdictWithin
			case m.Change == 0:
				m.Verdict = VerdictSame
			default:
				m.Verdict = VerdictImproved
			}
		}
	}
}

// warn collects what the reader must know besides the table.
func (c *Comparison) warn(base, nw *summary.Summary) {
	say := func(format string, args ...any) { c.Warnings = append(c.Warnings, fmt.Sprintf(format, args...)) }
	if base.Interrupted {
		say("BASE %s was interrupted: it holds only the cells that finished", base.RunID)
	}
	if nw.Interrupted {
		say("NEW %s was interrupted: it holds only the cells that finished", nw.RunID)
	}
	if c.Incomparable != "" {
		say("%s", c.Incomparable)
	}
	if base.Provider != nw.Provider {
		say("BASE used the %s provider, NEW the %s provider", base.Provider, nw.Provider)
	}
	var missing, added, unmeasured, specs []string
	insufficient := 0
	sizes := map[[2]int]int{}
	for _, cc := range c.Cells {
		switch cc.Presence {
		case CellMissing:
			missing = append(missing, cc.Key.String())
		case CellNew:
			added = append(added, cc.Key.String())
		case CellNotMeasured:
			unmeasured = append(unmeasured, cc.Key.String())
		}
		if cc.SpecDiffers {
			specs = append(specs, cc.Key.String())
		}
		for _, m := range cc.Metrics {
			if m.Verdict == VerdictInsufficient {
				insufficient++
			}
			if !math.IsNaN(m.P) || m.Verdict == VerdictInsufficient {
				sizes[[2]int{m.Base.N, m.New.N}]++
			}
		}
	}
	if insufficient > 0 {
		need := uTestSamplesFor(c.Options.Alpha)
		say("insufficient samples: %d metric(s) cannot be decided with this few samples; the Mann-Whitney U test needs ≥ %d samples on each side to reach p < %v at all, and more to leave room for the correction over many metrics (bench run --repeat %d or more)",
			insufficient, need, c.Options.Alpha, need+2)
	}
	if len(missing) > 0 {
		verdict := "fails the comparison unless removed on purpose (--allow-missing)"
		if c.Options.AllowMissing {
			verdict = "allowed (--allow-missing)"
		}
		say("%d cell(s) of BASE are missing from NEW, not compared, %s: %s", len(missing), verdict, strings.Join(missing, "; "))
	}
	if len(added) > 0 {
		say("%d cell(s) of NEW are not in BASE, not compared: %s", len(added), strings.Join(added, "; "))
	}
	if len(unmeasured) > 0 {
		say("%d cell(s) have no sample that ran on one side: %s", len(unmeasured), strings.Join(unmeasured, "; "))
	}
	if n := c.networkDiffers(); n > 0 {
		var cells []string
		for _, cc := range c.Cells {
			if cc.NetworkDiffers {
				cells = append(cells, cc.Key.String())
			}
		}
		say("%d cell(s) reached their nodes directly on one side and through the fault proxies on the other (a baseline from before direct cells, or --always-proxy on one side); their timings are not judged: %s. Refresh the baseline (scripts/gate.sh --refresh)", n, strings.Join(cells, "; "))
	}
	if len(specs) > 0 {
		say("the workload parameters differ between BASE and NEW in %d cell(s) (%s): the numbers measure different things", len(specs), strings.Join(specs, "; "))
	}
	if s := c.driftWarning(); s != "" {
		say("%s", s)
	}
	if c.Options.Correction == CorrectionBH && c.Tests > 1 {
		// Say when the correction leaves too little room for one metric
		// to change alone: the least possible p must clear alpha/Tests.
		var common [2]int
		most := 0
		for sz, n := range sizes {
			if n > most || n == most && sz[0]+sz[1] > common[0]+common[1] {
				common, most = sz, n
			}
		}
		level := c.Options.Alpha / float64(c.Tests)
		if minP := uTestMinP(common[0], common[1]); most > 0 && minP < c.Options.Alpha && minP >= level {
			need := int(math.Ceil(minP * float64(c.Tests) / c.Options.Alpha))
			say("with %d+%d samples and %d tests, the least possible p (%.2g) is above alpha/%d = %.2g: a change that shows in fewer than %d metrics at once cannot be significant; %d samples a side would detect a change in one metric",
				common[0], common[1], c.Tests, minP, c.Tests, level, need, uTestSamplesFor(level))
		}
	}
}

// driftWarning notices when throughput moved the same way beyond its
// threshold in most cells and for every lock: a change of the machine or
// its load explains that better than a change of the code, which rarely
// touches every strategy alike. The rank test cannot tell the two apart,
// since each run's samples share their machine.
func (c *Comparison) driftWarning() string {
	var changes []float64
	worse, better := map[string]bool{}, map[string]bool{}
	locks := map[string]bool{}
	for _, cc := range c.Cells {
		for _, m := range cc.Metrics {
			if m.Metric != MetricThroughput || math.IsNaN(m.Change) || m.Base.N == 0 || m.New.N == 0 {
				continue
			}
			locks[cc.Key.Lock] = true
			changes = append(changes, m.Change)
			switch {
			case m.Change < -m.Threshold:
				worse[cc.Key.Lock] = true
			case m.Change > m.Threshold:
				better[cc.Key.Lock] = true
			}
		}
	}
	if len(locks) < 2 || len(changes) < 3 {
		return ""
	}
	thr := c.Options.Thresholds[MetricThroughput]
	nWorse, nBetter := 0, 0
	for _, ch := range changes {
		if ch < -thr {
			nWorse++
		} else if ch > thr {
			nBetter++
		}
	}
	slices.Sort(changes)
	med := changes[len(changes)/2]
	dir, n, touched := "fell", nWorse, worse
	if nBetter > nWorse {
		dir, n, touched = "rose", nBetter, better
	}
	if 4*n < 3*len(changes) || len(touched) < len(locks) {
		return ""
	}
	return fmt.Sprintf("throughput %s by more than %s%% in %d of %d cells, for every lock alike (median change %+.1f%%): "+
		"the machine or its load likely differed between the runs; measure BASE and NEW on the same machine at the same time (scripts/gate.sh --base-bench alternates their passes) before trusting the verdict",
		dir, trimFloat(thr*100), n, len(changes), med*100)
}

// Failed reports whether the comparison fails the gate: a safety verdict
// (or a cell's ability to run) lost, a metric regression, or a cell of
// BASE missing from NEW (unless AllowMissing).
func (c *Comparison) Failed() bool {
	return len(c.SafetyFailures()) > 0 || len(c.Regressions()) > 0 || len(c.MissingCells()) > 0
}

// MissingCells lists the cells of BASE absent from NEW that fail the
// comparison: none with AllowMissing.
func (c *Comparison) MissingCells() []CellKey {
	if c.Options.AllowMissing {
		return nil
	}
	var out []CellKey
	for _, cc := range c.Cells {
		if cc.Presence == CellMissing {
			out = append(out, cc.Key)
		}
	}
	return out
}

// networkDiffers counts the cells that reached their nodes one way in
// BASE and another in NEW.
func (c *Comparison) networkDiffers() int {
	n := 0
	for _, cc := range c.Cells {
		if cc.NetworkDiffers {
			n++
		}
	}
	return n
}

// incomparable says why two runs' timings cannot be compared, or "": they
// ran on different hosts, CPU models or CPU counts. Safety verdicts do not
// depend on the machine and are still compared.
func incomparable(base, nw *summary.Summary) string {
	if base.Agents != nw.Agents {
		where := func(s *summary.Summary) string {
			if s.Agents == "" {
				return "in its own process"
			}
			return "on agents " + s.Agents
		}
		return fmt.Sprintf("BASE ran its clients %s, NEW %s: their timings measure different set-ups; run both sides the same way", where(base), where(nw))
	}
	b, n := base.Machine, nw.Machine
	if b.Hostname == n.Hostname && b.CPUModel == n.CPUModel && b.CPUs == n.CPUs && b.OS == n.OS && b.Arch == n.Arch {
		return ""
	}
	desc := func(m summary.Machine) string {
		model := m.CPUModel
		if model == "" {
			model = "CPU model unknown"
		}
		return fmt.Sprintf("%s (%s, %d CPUs)", m.Hostname, model, m.CPUs)
	}
	return fmt.Sprintf("BASE ran on %s, NEW on %s: their timings differ for reasons other than the code; measure both here, alternately (make gate does when the committed baseline is from another machine, or scripts/gate.sh --base-bench BIN)", desc(b), desc(n))
}

// resolve sets every tested metric's MDC: the change it could have
// detected alone at the level a lone significant test needs after the
// correction (alpha / tests for Benjamini–Hochberg: the smallest p value
// it ranks first).
func (c *Comparison) resolve() {
	levelOf := func(tests int) float64 {
		if c.Options.Correction == CorrectionBH && tests > 1 {
			return c.Options.Alpha / float64(tests)
		}
		return c.Options.Alpha
	}
	for i := range c.Cells {
		for j := range c.Cells[i].Metrics {
			if m := &c.Cells[i].Metrics[j]; m.mdc != nil {
				level := levelOf(c.WatchedTests)
				if m.Gated {
					level = levelOf(c.Tests)
				}
				// Below its threshold a change passes by design.
				m.MDC = max(m.mdc(level), m.Threshold)
			}
		}
	}
}

// Undecided reports whether something could not be decided: a metric
// with insufficient samples, or a BASE cell that NEW did not measure.
func (c *Comparison) Undecided() bool {
	for _, cc := range c.Cells {
		if cc.Presence == CellMissing || cc.Presence == CellNotMeasured {
			return true
		}
		for _, m := range cc.Metrics {
			if m.Verdict == VerdictInsufficient {
				return true
			}
		}
	}
	return false
}

// ExitCode is bench compare's exit code: 1 when the comparison failed,
// 2 when the timings could not be compared (different machines) or, with
// Strict, something could not be decided; 0 otherwise (undecided metrics
// are then warnings). Bad input (exit 3) is an error from Compare.
func (c *Comparison) ExitCode() int {
	switch {
	case c.Failed():
		return 1
	case c.Incomparable != "", c.networkDiffers() > 0:
		return 2
	case c.Options.Strict && c.Undecided():
		return 2
	}
	return 0
}

// CellSafety is a safety change with its cell.
type CellSafety struct {
	Key CellKey
	SafetyChange
}

// CellMetric is a metric comparison with its cell.
type CellMetric struct {
	Key CellKey
	MetricComparison
}

// SafetyFailures lists the verdict changes that fail the comparison.
func (c *Comparison) SafetyFailures() []CellSafety {
	var out []CellSafety
	for _, cc := range c.Cells {
		for _, s := range cc.Safety {
			if s.Fails {
				out = append(out, CellSafety{cc.Key, s})
			}
		}
	}
	return out
}

// Regressions lists the metrics that regressed, most significant first.
func (c *Comparison) Regressions() []CellMetric {
	return c.metricsWith(VerdictRegression)
}

// Improvements lists the metrics that improved significantly.
func (c *Comparison) Improvements() []CellMetric {
	return c.metricsWith(VerdictImproved)
}

func (c *Comparison) metricsWith(v MetricVerdict) []CellMetric {
	var out []CellMetric
	for _, cc := range c.Cells {
		for _, m := range cc.Metrics {
			if m.Verdict == v {
				out = append(out, CellMetric{cc.Key, m})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Q < out[j].Q })
	return out
}
