package compare

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/perf/benchmath"

	"github.com/lockbench/lockbench/checker"
	"github.com/lockbench/lockbench/summary"
)

// cmpSample is one synthetic sample of a cell.
type cmpSample struct {
	throughput, p50, p99, p999, handoff float64
	attempts, unknown                   int64
	verdicts                            summary.Verdicts
	err                                 string
}

// cmpOKVerdicts() is the checker's all-clear.
func cmpOKVerdicts() summary.Verdicts {
	return summary.Verdicts{Mutex: checker.MutexOK, Resource: checker.ResourceOK, Liveness: checker.LivenessOK}
}

// cmpCell makes a cell result from a sample.
func cmpCell(k CellKey, sample int, s cmpSample) summary.CellResult {
	c := summary.CellResult{
		ID:   fmt.Sprintf("%s-%s-%s-s%d-r%d", k.Lock, k.Workload, k.Fault, k.Seed, sample),
		Lock: k.Lock, Workload: k.Workload, Fault: k.Fault, Seed: k.Seed, Sample: sample,
		Error: s.err, Verdicts: s.verdicts, Throughput: s.throughput,
		Latency: map[string]summary.Percentiles{
			summary.HistAcquireOK: {Count: 1000, P50: int64(s.p50), P90: int64(s.p50 * 2), P99: int64(s.p99), P999: int64(s.p999), Max: int64(s.p999 * 2)},
		},
		Counts: summary.Counts{Attempts: s.attempts, AcquireOK: s.attempts - s.unknown, AcquireUnknown: s.unknown},
		Spec:   summary.Spec{Name: k.Workload, Clients: 4},
	}
	if s.handoff > 0 {
		c.Latency[summary.HistHandoff] = summary.Percentiles{Count: 50, P50: int64(s.handoff), P99: int64(s.handoff * 3)}
	}
	return c
}

// cmpGen draws samples around a centre with relative noise (uniform in
// ±noise); scale multiplies the latencies and divides the throughput.
type cmpGen struct {
	rng   *rand.Rand
	noise float64
}

func (g cmpGen) jitter(v float64) float64 { return v * (1 + g.noise*(2*g.rng.Float64()-1)) }

func (g cmpGen) sample(throughputFactor, latencyFactor float64) cmpSample {
	return cmpSample{
		throughput: g.jitter(1000 * throughputFactor),
		p50:        g.jitter(200 * latencyFactor),
		p99:        g.jitter(2000 * latencyFactor),
		p999:       g.jitter(8000 * latencyFactor),
		handoff:    g.jitter(300 * latencyFactor),
		attempts:   10000,
		verdicts:   cmpOKVerdicts(),
	}
}

// cmpRun builds a summary: every key gets n samples from gen(key, i).
func cmpRun(id string, keys []CellKey, n int, gen func(k CellKey, i int) cmpSample) *summary.Summary {
	sum := &summary.Summary{SchemaVersion: summary.SchemaVersion, RunID: id, Provider: "exec",
		Machine:  summary.Machine{Hostname: "ci", OS: "linux", Arch: "amd64", CPUs: 4},
		Scenario: summary.Scenario{Name: "ci"}}
	for _, k := range keys {
		for i := range n {
			sum.Cells = append(sum.Cells, cmpCell(k, i, gen(k, i)))
		}
	}
	return sum
}

// cmpKey() is the cell of the one-cell cases.
func cmpKey() CellKey { return CellKey{Lock: "token", Workload: "hot-key", Fault: "none", Seed: 1} }

func cmpKeys(locks ...string) []CellKey {
	var keys []CellKey
	for _, w := range []string{"hot-key", "uncontended"} {
		for _, f := range []string{"none", "partition-minority"} {
			for _, l := range locks {
				keys = append(keys, CellKey{Lock: l, Workload: w, Fault: f, Seed: 1})
			}
		}
	}
	return keys
}

func cmpMetric(t *testing.T, c *Comparison, k CellKey, metric string) MetricComparison {
	t.Helper()
	for _, cc := range c.Cells {
		if cc.Key != k {
			continue
		}
		for _, m := range cc.Metrics {
			if m.Metric == metric {
				return m
			}
		}
	}
	t.Fatalf("no %s for %v", metric, k)
	return MetricComparison{}
}

func cmpText(t *testing.T, c *Comparison) string {
	t.Helper()
	var b bytes.Buffer
	if err := c.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestCompareSynthetic is the acceptance list of issue 8 on summaries
// built in code.
func TestCompareSynthetic(t *testing.T) {
	violated := summary.Verdicts{Mutex: checker.MutexViolated, Resource: checker.ResourceLostUpdates, Liveness: checker.LivenessOK}
	tests := []struct {
		name      string
		keys      []CellKey
		nBase     int
		nNew      int
		base, new func(g cmpGen, k CellKey, i int) cmpSample
		noise     float64
		opts      Options
		exit      int
		regress   []string // metrics of cmpKey() that must regress
		safety    int      // safety failures
		undecided bool
		text      []string // must appear in the text output
	}{
		{
			name: "identical distributions pass", keys: cmpKeys("token", "fenced", "redlock"), nBase: 10, nNew: 10, noise: 0.05,
			base: func(g cmpGen, _ CellKey, _ int) cmpSample { return g.sample(1, 1) },
			new:  func(g cmpGen, _ CellKey, _ int) cmpSample { return g.sample(1, 1) },
			exit: 0, text: []string{"PASS: no regression"},
		},
		{
			name: "20% throughput drop with 10 samples fails", keys: []CellKey{cmpKey()}, nBase: 10, nNew: 10, noise: 0.03,
			base: func(g cmpGen, _ CellKey, _ int) cmpSample { return g.sample(1, 1) },
			new:  func(g cmpGen, _ CellKey, _ int) cmpSample { return g.sample(0.8, 1) },
			exit: 1, regress: []string{MetricThroughput}, text: []string{"REGRESSION", "FAIL: 1 regression"},
		},
		{
			name: "2% drop inside 5% noise passes", keys: []CellKey{cmpKey()}, nBase: 10, nNew: 10, noise: 0.05,
			base: func(g cmpGen, _ CellKey, _ int) cmpSample { return g.sample(1, 1) },
			new:  func(g cmpGen, _ CellKey, _ int) cmpSample { return g.sample(0.98, 1.02) },
			exit: 0, text: []string{"PASS"},
		},
		{
			name: "significant 3% drop is within the 5% threshold", keys: []CellKey{cmpKey()}, nBase: 10, nNew: 10, noise: 0.005,
			base: func(g cmpGen, _ CellKey, _ int) cmpSample { return g.sample(1, 1) },
			new:  func(g cmpGen, _ CellKey, _ int) cmpSample { return g.sample(0.97, 1) },
			exit: 0, text: []string{"ok (worse, within threshold)", "PASS"},
		},
		{
			name: "a tighter threshold makes the 3% drop fail", keys: []CellKey{cmpKey()}, nBase: 10, nNew: 10, noise: 0.005,
			base: func(g cmpGen, _ CellKey, _ int) cmpSample { return g.sample(1, 1) },
			new:  func(g cmpGen, _ CellKey, _ int) cmpSample { return g.sample(0.97, 1) },
			opts: Options{Thresholds: map[string]float64{MetricThroughput: 0.02}},
			exit: 1, regress: []string{MetricThroughput},
		},
		{
			name: "p99 up 30% fails, p50 improvement is said", keys: []CellKey{cmpKey()}, nBase: 8, nNew: 8, noise: 0.03,
			base: func(g cmpGen, _ CellKey, _ int) cmpSample { return g.sample(1, 1) },
			new: func(g cmpGen, k CellKey, i int) cmpSample {
				s := g.sample(1, 1)
				s.p99 *= 1.3
				s.p50 *= 0.7
				return s
			},
			exit: 1, regress: []string{MetricP99}, text: []string{"improved"},
		},
		{
			name: "a new violation fails with one sample", keys: []CellKey{cmpKey()}, nBase: 1, nNew: 1,
			base: func(g cmpGen, _ CellKey, _ int) cmpSample { return g.sample(1, 1) },
			new: func(g cmpGen, _ CellKey, _ int) cmpSample {
				s := g.sample(1, 1)
				s.verdicts = violated
				return s
			},
			exit: 1, safety: 2, undecided: true,
			text: []string{"FAIL", "mutex", "ok → violated (1 of 1)", "resource", "insufficient samples"},
		},
		{
			name: "a violation already in BASE does not fail", keys: []CellKey{cmpKey()}, nBase: 5, nNew: 5,
			base: func(g cmpGen, _ CellKey, i int) cmpSample {
				s := g.sample(1, 1)
				if i == 2 {
					s.verdicts = violated
				}
				return s
			},
			new: func(g cmpGen, _ CellKey, _ int) cmpSample {
				s := g.sample(1, 1)
				s.verdicts = violated
				return s
			},
			exit: 0, text: []string{"not ok in BASE either"},
		},
		{
			name: "2 samples say insufficient", keys: []CellKey{cmpKey()}, nBase: 2, nNew: 2, noise: 0.03,
			base: func(g cmpGen, _ CellKey, _ int) cmpSample { return g.sample(1, 1) },
			new:  func(g cmpGen, _ CellKey, _ int) cmpSample { return g.sample(0.5, 2) },
			exit: 0, undecided: true,
			text: []string{"2+2", "insufficient samples", "needs ≥ 4 samples on each side", "PASS with warnings"},
		},
		{
			name: "2 samples, strict: could not decide", keys: []CellKey{cmpKey()}, nBase: 2, nNew: 2, noise: 0.03,
			base: func(g cmpGen, _ CellKey, _ int) cmpSample { return g.sample(1, 1) },
			new:  func(g cmpGen, _ CellKey, _ int) cmpSample { return g.sample(0.5, 2) },
			opts: Options{Strict: true}, exit: 2, undecided: true, text: []string{"UNDECIDED (strict)"},
		},
		{
			name: "liveness lost fails", keys: []CellKey{cmpKey()}, nBase: 3, nNew: 3,
			base: func(g cmpGen, _ CellKey, _ int) cmpSample { return g.sample(1, 1) },
			new: func(g cmpGen, _ CellKey, i int) cmpSample {
				s := g.sample(1, 1)
				if i == 0 {
					s.verdicts.Liveness = checker.LivenessStalled
				}
				return s
			},
			exit: 1, safety: 1, undecided: true, text: []string{"liveness", "ok → stalled (1 of 3)"},
		},
		{
			name: "liveness lost, ignored", keys: []CellKey{cmpKey()}, nBase: 3, nNew: 3, opts: Options{IgnoreLiveness: true},
			base: func(g cmpGen, _ CellKey, _ int) cmpSample { return g.sample(1, 1) },
			new: func(g cmpGen, _ CellKey, i int) cmpSample {
				s := g.sample(1, 1)
				s.verdicts.Liveness = checker.LivenessStalled
				return s
			},
			exit: 0, undecided: true, text: []string{"liveness is not gated"},
		},
		{
			name: "checker unknown in NEW fails and says why", keys: []CellKey{cmpKey()}, nBase: 1, nNew: 1,
			base: func(g cmpGen, _ CellKey, _ int) cmpSample { return g.sample(1, 1) },
			new: func(g cmpGen, _ CellKey, _ int) cmpSample {
				s := g.sample(1, 1)
				s.verdicts.Mutex = checker.MutexUnknown
				return s
			},
			exit: 1, safety: 1, undecided: true, text: []string{"did not finish"},
		},
		{
			name: "a cell that ran in BASE and cannot run in NEW fails", keys: []CellKey{cmpKey()}, nBase: 5, nNew: 5,
			base: func(g cmpGen, _ CellKey, _ int) cmpSample { return g.sample(1, 1) },
			new: func(g cmpGen, _ CellKey, i int) cmpSample {
				s := g.sample(1, 1)
				if i == 4 {
					s = cmpSample{err: "lock: dial tcp: connection refused"}
				}
				return s
			},
			exit: 1, safety: 1, text: []string{"connection refused"},
		},
		{
			name: "error rate up 5 points fails", keys: []CellKey{cmpKey()}, nBase: 6, nNew: 6, noise: 0.02,
			base: func(g cmpGen, _ CellKey, i int) cmpSample {
				s := g.sample(1, 1)
				s.unknown = int64(10 + i)
				return s
			},
			new: func(g cmpGen, _ CellKey, i int) cmpSample {
				s := g.sample(1, 1)
				s.unknown = int64(510 + i)
				return s
			},
			exit: 1, regress: []string{MetricErrorRate}, text: []string{"+5.00pp"},
		},
	}
	for ti, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := cmpGen{rng: rand.New(rand.NewPCG(uint64(ti), 1)), noise: tt.noise}
			base := cmpRun("base", tt.keys, tt.nBase, func(k CellKey, i int) cmpSample { return tt.base(g, k, i) })
			nw := cmpRun("new", tt.keys, tt.nNew, func(k CellKey, i int) cmpSample { return tt.new(g, k, i) })
			c, err := Compare(base, nw, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			text := cmpText(t, c)
			if got := c.ExitCode(); got != tt.exit {
				t.Errorf("exit code %d, want %d\n%s", got, tt.exit, text)
			}
			var regressed []string
			for _, r := range c.Regressions() {
				regressed = append(regressed, r.Metric)
			}
			if strings.Join(regressed, ",") != strings.Join(tt.regress, ",") {
				t.Errorf("regressions %v, want %v\n%s", regressed, tt.regress, text)
			}
			if got := len(c.SafetyFailures()); got != tt.safety {
				t.Errorf("%d safety failures, want %d\n%s", got, tt.safety, text)
			}
			if got := c.Undecided(); got != tt.undecided {
				t.Errorf("undecided %v, want %v\n%s", got, tt.undecided, text)
			}
			for _, s := range tt.text {
				if !strings.Contains(text, s) {
					t.Errorf("text output lacks %q:\n%s", s, text)
				}
			}
			var md bytes.Buffer
			if err := c.WriteMarkdown(&md); err != nil {
				t.Fatal(err)
			}
			icon := map[int]string{0: "✅", 1: "❌", 2: "⚠️"}[tt.exit]
			if tt.exit == 0 && tt.undecided {
				icon = "⚠️"
			}
			if !strings.HasPrefix(md.String(), "### "+icon) {
				t.Errorf("markdown headline %q, want %s", strings.SplitN(md.String(), "\n", 2)[0], icon)
			}
		})
	}
}

// TestCompareSelf: a run against itself has nothing to say.
func TestCompareSelf(t *testing.T) {
	g := cmpGen{rng: rand.New(rand.NewPCG(7, 7)), noise: 0.2}
	sum := cmpRun("run", cmpKeys("token", "redlock"), 6, func(CellKey, int) cmpSample { return g.sample(1, 1) })
	c, err := Compare(sum, sum, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cc := range c.Cells {
		for _, m := range cc.Metrics {
			if m.Verdict != VerdictSame || m.Change != 0 {
				t.Errorf("%v %s: verdict %q change %v, want ~ and 0", cc.Key, m.Metric, m.Verdict, m.Change)
			}
		}
	}
	// With the gated metrics' family (2 cells × 3 of them), 6 + 6
	// samples can reach significance alone: nothing to warn about.
	if c.ExitCode() != 0 || c.Undecided() || len(c.Warnings) != 0 {
		t.Errorf("exit %d undecided %v warnings %q", c.ExitCode(), c.Undecided(), c.Warnings)
	}
}

// TestCompareFalseAlarms is why the comparison corrects for many tests:
// with 12 cells × 6 metrics and noisy samples, comparing runs of the same
// distribution with every metric at alpha on its own fails often; with
// the Benjamini–Hochberg correction it fails at most about alpha of the
// time. A slowed lock is still caught.
func TestCompareFalseAlarms(t *testing.T) {
	const trials = 200
	keys := cmpKeys("token", "fenced", "redlock")
	rng := rand.New(rand.NewPCG(42, 42))
	// Lognormal noise of 25 %: what p99 and p99.9 look like here.
	noisy := func(f float64) cmpSample {
		j := func(v float64) float64 { return v * math.Exp(0.25*rng.NormFloat64()) }
		return cmpSample{throughput: j(1000 / f), p50: j(200 * f), p99: j(2000 * f), p999: j(8000 * f), handoff: j(300 * f),
			attempts: 10000, unknown: int64(rng.IntN(20)), verdicts: cmpOKVerdicts()}
	}
	fails := map[string]int{}
	caught := map[string]int{}
	for range trials {
		base := cmpRun("base", keys, 6, func(CellKey, int) cmpSample { return noisy(1) })
		same := cmpRun("same", keys, 6, func(CellKey, int) cmpSample { return noisy(1) })
		slow := cmpRun("slow", keys, 6, func(k CellKey, _ int) cmpSample {
			if k.Lock == "fenced" {
				return noisy(1.6)
			}
			return noisy(1)
		})
		for _, corr := range []string{CorrectionBH, CorrectionNone} {
			c, err := Compare(base, same, Options{Correction: corr})
			if err != nil {
				t.Fatal(err)
			}
			if c.Failed() {
				fails[corr]++
			}
			c, err = Compare(base, slow, Options{Correction: corr})
			if err != nil {
				t.Fatal(err)
			}
			if c.Failed() {
				caught[corr]++
			}
		}
	}
	t.Logf("same distribution, failed: %d of %d with BH, %d without correction", fails[CorrectionBH], trials, fails[CorrectionNone])
	t.Logf("fenced 60%% slower, caught: %d of %d with BH, %d without correction", caught[CorrectionBH], trials, caught[CorrectionNone])
	if rate := float64(fails[CorrectionBH]) / trials; rate > 0.08 {
		t.Errorf("false alarm rate with BH %.3f, want ≤ 0.08", rate)
	}
	if fails[CorrectionNone] <= 2*fails[CorrectionBH] {
		t.Errorf("without correction %d false alarms, with BH %d: the test no longer shows why the correction is there", fails[CorrectionNone], fails[CorrectionBH])
	}
	// Only throughput, p99 and the error rate are gated: the 60 % slower
	// lock is caught through those (the watched medians and tails add
	// nothing to the gate).
	if rate := float64(caught[CorrectionBH]) / trials; rate < 0.6 {
		t.Errorf("a 60%% slower lock caught in %.2f of trials with BH, want ≥ 0.6", rate)
	}
}

// TestCompareCells: cells on one side only are listed; a cell of BASE
// missing from NEW fails unless --allow-missing says it was removed on
// purpose (then strict mode still cannot decide without it); a new cell
// never fails.
func TestCompareCells(t *testing.T) {
	g := cmpGen{rng: rand.New(rand.NewPCG(3, 3)), noise: 0.03}
	gen := func(CellKey, int) cmpSample { return g.sample(1, 1) }
	a := CellKey{Lock: "token", Workload: "hot-key", Fault: "none", Seed: 1}
	b := CellKey{Lock: "redlock", Workload: "hot-key", Fault: "none", Seed: 1}
	n := CellKey{Lock: "fenced", Workload: "hot-key", Fault: "none", Seed: 1}
	base := cmpRun("base", []CellKey{a, b}, 5, gen)
	nw := cmpRun("new", []CellKey{a, n}, 5, gen)
	c, err := Compare(base, nw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	presence := map[CellKey]CellPresence{}
	for _, cc := range c.Cells {
		presence[cc.Key] = cc.Presence
	}
	want := map[CellKey]CellPresence{a: CellInBoth, b: CellMissing, n: CellNew}
	for k, p := range want {
		if presence[k] != p {
			t.Errorf("%v: %q, want %q", k, presence[k], p)
		}
	}
	text := cmpText(t, c)
	for _, s := range []string{"missing from NEW", "not in BASE", "missing cell", "new cell"} {
		if !strings.Contains(text, s) {
			t.Errorf("text lacks %q:\n%s", s, text)
		}
	}
	if c.ExitCode() != 1 || !strings.Contains(text, "FAIL: 1 cell of BASE missing from NEW") {
		t.Errorf("exit %d, want 1 for a missing cell:\n%s", c.ExitCode(), text)
	}
	c.Options.AllowMissing = true
	if c.ExitCode() != 0 {
		t.Errorf("--allow-missing: exit %d, want 0", c.ExitCode())
	}
	c.Options.Strict = true
	if c.ExitCode() != 2 {
		t.Errorf("--allow-missing --strict: exit %d, want 2", c.ExitCode())
	}
}

// TestCompareDrift: every lock slower alike is flagged as the machine.
func TestCompareDrift(t *testing.T) {
	g := cmpGen{rng: rand.New(rand.NewPCG(5, 5)), noise: 0.02}
	keys := cmpKeys("token", "redlock")
	base := cmpRun("base", keys, 6, func(CellKey, int) cmpSample { return g.sample(1, 1) })
	nw := cmpRun("new", keys, 6, func(CellKey, int) cmpSample { return g.sample(0.8, 1.25) })
	c, err := Compare(base, nw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Failed() {
		t.Error("a 20% slowdown everywhere should still fail")
	}
	if !strings.Contains(strings.Join(c.Warnings, "\n"), "machine or its load") {
		t.Errorf("no drift warning: %q", c.Warnings)
	}
	// One lock slower is a code change: no drift warning.
	nw = cmpRun("new", keys, 6, func(k CellKey, _ int) cmpSample {
		if k.Lock == "redlock" {
			return g.sample(0.8, 1.25)
		}
		return g.sample(1, 1)
	})
	if c, err = Compare(base, nw, Options{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(c.Warnings, "\n"), "machine or its load") {
		t.Errorf("drift warning for one lock: %q", c.Warnings)
	}
}

func TestCompareBadInput(t *testing.T) {
	g := cmpGen{rng: rand.New(rand.NewPCG(1, 1))}
	gen := func(CellKey, int) cmpSample { return g.sample(1, 1) }
	base := cmpRun("base", []CellKey{cmpKey()}, 3, gen)
	other := cmpRun("other", []CellKey{{Lock: "redlock", Workload: "zipf", Fault: "none", Seed: 2}}, 3, gen)
	empty := cmpRun("empty", nil, 0, gen)
	for _, tt := range []struct {
		name      string
		base, new *summary.Summary
		opts      Options
	}{
		{"nil", base, nil, Options{}},
		{"no cells", base, empty, Options{}},
		{"nothing in common", base, other, Options{}},
		{"alpha", base, base, Options{Alpha: 1.5}},
		{"confidence", base, base, Options{Confidence: -1}},
		{"correction", base, base, Options{Correction: "bonferroni"}},
		{"threshold name", base, base, Options{Thresholds: map[string]float64{"latency": 0.1}}},
		{"threshold value", base, base, Options{Thresholds: map[string]float64{MetricP99: -0.1}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Compare(tt.base, tt.new, tt.opts); !errors.Is(err, ErrBadInput) {
				t.Errorf("error %v, want ErrBadInput", err)
			}
		})
	}
	dir := t.TempDir()
	if _, err := Files(filepath.Join(dir, "nope.json"), filepath.Join(dir, "nope.json"), Options{}); !errors.Is(err, ErrBadInput) {
		t.Errorf("missing file: %v, want ErrBadInput", err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Files(bad, bad, Options{}); !errors.Is(err, ErrBadInput) {
		t.Errorf("bad JSON: %v, want ErrBadInput", err)
	}
}

func TestCompareFiles(t *testing.T) {
	g := cmpGen{rng: rand.New(rand.NewPCG(9, 9)), noise: 0.03}
	dir := t.TempDir()
	base := cmpRun("base", []CellKey{cmpKey()}, 5, func(CellKey, int) cmpSample { return g.sample(1, 1) })
	nw := cmpRun("new", []CellKey{cmpKey()}, 5, func(CellKey, int) cmpSample { return g.sample(0.5, 2) })
	bp, np := filepath.Join(dir, "base.json"), filepath.Join(dir, "new.json")
	if err := summary.Write(bp, base); err != nil {
		t.Fatal(err)
	}
	if err := summary.Write(np, nw); err != nil {
		t.Fatal(err)
	}
	c, err := Files(bp, np, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.ExitCode() != 1 || len(c.Regressions()) < 2 {
		t.Errorf("exit %d, %d regressions; want 1 and throughput and latencies\n%s", c.ExitCode(), len(c.Regressions()), cmpText(t, c))
	}
}

func TestParseThresholds(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want map[string]float64
		bad  bool
	}{
		{in: "", want: map[string]float64{}},
		{in: "throughput=5%", want: map[string]float64{MetricThroughput: 0.05}},
		{in: "throughput=-5%, p99=+10%", want: map[string]float64{MetricThroughput: 0.05, MetricP99: 0.10}},
		{in: "p99.9=0.3,handoff=25%,error_rate=0.5%", want: map[string]float64{MetricP999: 0.3, MetricHandoffP50: 0.25, MetricErrorRate: 0.005}},
		{in: "p999=off", want: map[string]float64{MetricP999: math.Inf(1)}},
		{in: "latency=5%", bad: true},
		{in: "throughput", bad: true},
		{in: "throughput=fast", bad: true},
		{in: "throughput=NaN", bad: true},
	} {
		got, err := ParseThresholds(tt.in)
		if tt.bad {
			if !errors.Is(err, ErrBadInput) {
				t.Errorf("%q: error %v, want ErrBadInput", tt.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if len(got) != len(tt.want) {
			t.Errorf("%q: %v, want %v", tt.in, got, tt.want)
		}
		for k, v := range tt.want {
			if math.Abs(got[k]-v) > 1e-12 && got[k] != v {
				t.Errorf("%q: %s = %v, want %v", tt.in, k, got[k], v)
			}
		}
	}
	th, _ := ParseThresholds("p999=off")
	g := cmpGen{rng: rand.New(rand.NewPCG(2, 2)), noise: 0.01}
	base := cmpRun("base", []CellKey{cmpKey()}, 8, func(CellKey, int) cmpSample { return g.sample(1, 1) })
	nw := cmpRun("new", []CellKey{cmpKey()}, 8, func(CellKey, int) cmpSample {
		s := g.sample(1, 1)
		s.p999 *= 3
		return s
	})
	c, err := Compare(base, nw, Options{Thresholds: th})
	if err != nil {
		t.Fatal(err)
	}
	if m := cmpMetric(t, c, cmpKey(), MetricP999); m.Verdict != VerdictWithin || c.Failed() {
		t.Errorf("p999 off: verdict %q, failed %v; want ok and pass", m.Verdict, c.Failed())
	}
}

// TestCompareStats checks the rank statistics against enumeration and
// against benchmath.
func TestCompareStats(t *testing.T) {
	if got := uTestSamplesFor(0.05); got != 4 {
		t.Errorf("samples for 0.05: %d, want 4", got)
	}
	if got := uTestSamplesFor(0.01); got != 5 {
		t.Errorf("samples for 0.01: %d, want 5", got)
	}
	// The least p the test can give is what benchmath gives for two
	// samples that do not overlap.
	for n := 3; n <= 8; n++ {
		a, b := make([]float64, n), make([]float64, n)
		for i := range n {
			a[i], b[i] = float64(i), float64(100+i)
		}
		th := benchmath.DefaultThresholds
		p := benchmath.AssumeNothing.Compare(benchmath.NewSample(a, &th), benchmath.NewSample(b, &th)).P
		if math.Abs(p-uTestMinP(n, n)) > 1e-12 {
			t.Errorf("n=%d: benchmath p %v, uTestMinP %v", n, p, uTestMinP(n, n))
		}
	}
	// The U distribution against enumeration of every arrangement.
	for _, mn := range [][2]int{{1, 1}, {2, 3}, {3, 3}, {4, 5}, {6, 6}} {
		m, n := mn[0], mn[1]
		counts := make([]float64, m*n+1)
		total := 0.0
		for mask := 0; mask < 1<<(m+n); mask++ {
			if popcount(mask) != m {
				continue
			}
			// U counts pairs (x in the first sample, y in the second)
			// with x above y, positions ranked by bit index.
			u, seen := 0, 0
			for i := range m + n {
				if mask&(1<<i) != 0 {
					u += seen
				} else {
					seen++
				}
			}
			counts[u]++
			total++
		}
		cdf := uLowerTail(m, n)
		acc := 0.0
		for u := range cdf {
			acc += counts[u]
			if math.Abs(cdf[u]-acc/total) > 1e-12 {
				t.Errorf("m=%d n=%d: P(U≤%d) = %v, want %v", m, n, u, cdf[u], acc/total)
			}
		}
	}
	if k, level := shiftRank(4, 4, 0.95); k != 1 || math.Abs(level-(1-2.0/70)) > 1e-12 {
		t.Errorf("shiftRank(4,4) = %d, %v", k, level)
	}
	if k, _ := shiftRank(3, 3, 0.95); k != 0 {
		t.Errorf("shiftRank(3,3) = %d, want 0 (no interval)", k)
	}
	if k, _ := shiftRank(150, 150, 0.95); k < 9000 || k > 10000 {
		t.Errorf("shiftRank(150,150) = %d, want about 9700 (normal approximation)", k)
	}
	// The shift interval of samples shifted by 20 % covers 20 %.
	base := []float64{100, 101, 99, 102, 98, 100.5, 99.5, 101.5}
	nw := make([]float64, len(base))
	for i, v := range base {
		nw[i] = v * 1.2
	}
	lo, hi, level := shiftCI(base, nw, 0.95, false, 100)
	if !(lo <= 0.2 && 0.2 <= hi) || hi-lo > 0.1 || level < 0.95 {
		t.Errorf("shift interval [%v, %v] at %v, want around 0.2", lo, hi, level)
	}
	// Benjamini–Hochberg on a textbook list.
	ps := []float64{0.01, 0.04, 0.03, 0.005}
	want := []float64{0.02, 0.04, 0.04, 0.02}
	for i, q := range benjaminiHochberg(ps) {
		if math.Abs(q-want[i]) > 1e-12 {
			t.Errorf("BH q[%d] = %v, want %v", i, q, want[i])
		}
	}
}

func popcount(x int) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

// TestCompareGolden pins the text and Markdown output. Regenerate with
// LOCKBENCH_UPDATE_GOLDEN=1 go test -run CompareGolden ./report/.
func TestCompareGolden(t *testing.T) {
	g := cmpGen{rng: rand.New(rand.NewPCG(11, 11)), noise: 0.04}
	keys := []CellKey{
		{Lock: "token", Workload: "hot-key", Fault: "none", Seed: 1},
		{Lock: "redlock", Workload: "hot-key", Fault: "none", Seed: 1},
		{Lock: "fenced", Workload: "uncontended", Fault: "partition-minority", Seed: 1},
	}
	base := cmpRun("20260101-120000-ci", keys, 6, func(CellKey, int) cmpSample { return g.sample(1, 1) })
	nw := cmpRun("20260102-120000-ci", keys, 6, func(k CellKey, i int) cmpSample {
		s := g.sample(1, 1)
		switch k.Lock {
		case "redlock":
			s = g.sample(0.75, 1.3)
		case "fenced":
			if i == 3 {
				s.verdicts.Resource = checker.ResourceStaleWritesAccepted
			}
		}
		return s
	})
	for i := range base.Cells {
		if base.Cells[i].Lock == "fenced" {
			delete(base.Cells[i].Latency, summary.HistHandoff)
		}
	}
	c, err := Compare(base, nw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var text, md bytes.Buffer
	if err := c.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]byte{"compare.txt": text.Bytes(), "compare.md": md.Bytes()} {
		path := filepath.Join("testdata", name)
		if os.Getenv("LOCKBENCH_UPDATE_GOLDEN") != "" {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (LOCKBENCH_UPDATE_GOLDEN=1 writes it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the golden file (LOCKBENCH_UPDATE_GOLDEN=1 rewrites it); got:\n%s", name, got)
		}
	}
}

// TestReadRuns pools runs taken in passes into one side.
func TestReadRuns(t *testing.T) {
	g := cmpGen{rng: rand.New(rand.NewPCG(4, 4)), noise: 0.03}
	dir := t.TempDir()
	keys := cmpKeys("token")
	write := func(path string, n int) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		sum := cmpRun(filepath.Base(path), keys, n, func(CellKey, int) cmpSample { return g.sample(1, 1) })
		if err := summary.Write(path, sum); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "pass-1.json"), 1)
	write(filepath.Join(dir, "pass-2.json"), 1)
	write(filepath.Join(dir, "20260101-120000-ci", "summary.json"), 2)
	sum, err := ReadRuns(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := 4 * len(keys); len(sum.Cells) != want {
		t.Fatalf("%d cells, want %d", len(sum.Cells), want)
	}
	seen := map[CellKey]map[int]bool{}
	for _, c := range sum.Cells {
		k := CellKey{c.Lock, c.Workload, c.Fault, c.Seed}
		if seen[k] == nil {
			seen[k] = map[int]bool{}
		}
		if seen[k][c.Sample] {
			t.Errorf("%v: sample %d twice", k, c.Sample)
		}
		seen[k][c.Sample] = true
	}
	if !strings.Contains(sum.RunID, "3 runs pooled") {
		t.Errorf("run id %q", sum.RunID)
	}
	// A run directory reads as its summary.
	one, err := ReadRuns(filepath.Join(dir, "20260101-120000-ci"))
	if err != nil || len(one.Cells) != 2*len(keys) {
		t.Fatalf("run dir: %v, %d cells", err, len(one.Cells))
	}
	if _, err := ReadRuns(t.TempDir()); !errors.Is(err, ErrBadInput) {
		t.Errorf("empty dir: %v, want ErrBadInput", err)
	}
	c, err := Files(dir, dir, Options{})
	if err != nil || c.Failed() {
		t.Fatalf("pooled against itself: %v, failed %v", err, c != nil && c.Failed())
	}
}

// TestCompareMarkdownFits: a big comparison still fits in a comment.
func TestCompareMarkdownFits(t *testing.T) {
	g := cmpGen{rng: rand.New(rand.NewPCG(8, 8)), noise: 0.03}
	var keys []CellKey
	for i := range 40 {
		keys = append(keys, cmpKeys(fmt.Sprintf("lock%02d", i))...)
	}
	base := cmpRun("base", keys, 10, func(CellKey, int) cmpSample { return g.sample(1, 1) })
	nw := cmpRun("new", keys, 10, func(k CellKey, _ int) cmpSample {
		if k.Lock == "lock07" {
			return g.sample(0.7, 1.4)
		}
		return g.sample(1, 1)
	})
	c, err := Compare(base, nw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	if err := c.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if n := len([]rune(md.String())); n > 65536 {
		t.Errorf("%d characters, more than a GitHub comment holds", n)
	}
	if !strings.Contains(md.String(), "left out to fit a comment") || !strings.Contains(md.String(), "lock07") {
		t.Errorf("the short table should say what it left out and keep the regressions")
	}
}
