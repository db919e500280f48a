package compare

import (
	"maps"
	"math"
	"strings"
	"testing"

	"github.com/lockbench/lockbench/summary"
)

// committedBaseline reads results/baseline's passes: the data the gate
// is designed and measured on.
func committedBaseline(t *testing.T) []*summary.Summary {
	t.Helper()
	passes, err := ReadPasses("../results/baseline")
	if err != nil {
		t.Fatal(err)
	}
	if len(passes) < 2*minPairs {
		t.Fatalf("%d passes in results/baseline, want ≥ %d", len(passes), 2*minPairs)
	}
	return passes
}

// pooled numbers the passes 0, 1, … and pools them, as ReadRuns does.
func pooled(passes []*summary.Summary) *summary.Summary {
	out := shell(passes[0])
	for k, p := range passes {
		addPass(out, p, k)
	}
	return out
}

// modified returns s with f applied to every sample of the cell key.
func modified(s *summary.Summary, key CellKey, f func(c *summary.CellResult)) *summary.Summary {
	out := shell(s)
	for _, c := range s.Cells {
		if (CellKey{c.Lock, c.Workload, c.Fault, c.Seed}) == key {
			c.Latency = maps.Clone(c.Latency)
			f(&c)
		}
		out.Cells = append(out.Cells, c)
	}
	return out
}

// TestGateOnTheCommittedBaseline: the regressions the gate promises to
// catch, made on the committed baseline's own passes (NEW is BASE with one
// change, pass for pass, as alternating passes pair them), in every cell
// in turn; and what must pass.
func TestGateOnTheCommittedBaseline(t *testing.T) {
	passes := committedBaseline(t)
	base := pooled(passes)
	var keys []CellKey
	seen := map[CellKey]bool{}
	for _, c := range base.Cells {
		k := CellKey{c.Lock, c.Workload, c.Fault, c.Seed}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	exit := func(nw *summary.Summary, o Options) (int, *Comparison) {
		t.Helper()
		o.Paired = true
		c, err := Compare(base, nw, o)
		if err != nil {
			t.Fatal(err)
		}
		return c.ExitCode(), c
	}
	for _, k := range keys {
		// One cell's throughput × 0.8 in every pass.
		nw := modified(base, k, func(c *summary.CellResult) { c.Throughput *= 0.8 })
		if code, c := exit(nw, Options{}); code != 1 || len(c.Regressions()) == 0 || c.Regressions()[0].Key != k {
			t.Errorf("%v throughput × 0.8: exit %d, regressions %v, want 1 on that cell", k, code, c.Regressions())
		}
		// One cell's acquire p99 × 1.5.
		nw = modified(base, k, func(c *summary.CellResult) {
			p := c.Latency[summary.HistAcquireOK]
			p.P99 = int64(math.Round(float64(p.P99) * 1.5))
			c.Latency[summary.HistAcquireOK] = p
		})
		if code, c := exit(nw, Options{}); code != 1 {
			t.Errorf("%v acquire p99 × 1.5: exit %d, want 1:\n%s", k, code, cmpText(t, c))
		}
	}
	// A cell dropped from NEW fails, unless removed on purpose.
	dropped := shell(base)
	for _, c := range base.Cells {
		if (CellKey{c.Lock, c.Workload, c.Fault, c.Seed}) != keys[0] {
			dropped.Cells = append(dropped.Cells, c)
		}
	}
	if code, _ := exit(dropped, Options{}); code != 1 {
		t.Errorf("a cell dropped: exit %d, want 1", code)
	}
	if code, _ := exit(dropped, Options{AllowMissing: true}); code != 0 {
		t.Errorf("a cell dropped with --allow-missing: exit %d, want 0", code)
	}
	// The baseline's passes against themselves: each pair of passes
	// (1, 2), (3, 4), … split one to each side, both ways round.
	for flip := range 2 {
		var a, b []*summary.Summary
		for k := 0; k+1 < len(passes); k += 2 {
			x, y := passes[k], passes[k+1]
			if flip == 1 {
				x, y = y, x
			}
			a, b = append(a, x), append(b, y)
		}
		c, err := Compare(pooled(a), pooled(b), Options{Paired: true})
		if err != nil {
			t.Fatal(err)
		}
		text := cmpText(t, c)
		if c.ExitCode() != 0 {
			t.Errorf("unchanged passes against each other (flip %d): exit %d:\n%s", flip, c.ExitCode(), text)
		}
		// The footnote names the test that was run.
		if !strings.Contains(text, "paired t test's two-sided p value") || strings.Contains(text, "Mann-Whitney") {
			t.Errorf("a paired comparison's notes name another test:\n%s", text)
		}
	}
}

// TestOtherMachineIsNotJudged: the same runs with NEW on another CPU
// model: the timings are not judged (exit 2, one reason), a lost safety
// verdict still fails.
func TestOtherMachineIsNotJudged(t *testing.T) {
	base := pooled(committedBaseline(t))
	nw := shell(base)
	nw.Machine.CPUModel = "Some Other CPU @ 5 GHz"
	for _, c := range base.Cells {
		c.Throughput *= 0.7 // slower machine
		nw.Cells = append(nw.Cells, c)
	}
	c, err := Compare(base, nw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.ExitCode() != 2 || len(c.Regressions()) != 0 || !strings.Contains(c.Incomparable, "Some Other CPU") {
		t.Errorf("another machine: exit %d, %d regressions, reason %q; want 2, none, a reason naming it", c.ExitCode(), len(c.Regressions()), c.Incomparable)
	}
	nw.Cells[0].Verdicts.Mutex = "violated"
	if c, _ = Compare(base, nw, Options{}); c.ExitCode() != 1 {
		t.Errorf("a mutex violation on another machine: exit %d, want 1", c.ExitCode())
	}
}

// TestNetworkPathChangeIsNotJudged: a cell measured directly on one side
// and through the proxies on the other differs for that reason alone:
// its timings are not judged, and the comparison cannot pass (exit 2).
func TestNetworkPathChangeIsNotJudged(t *testing.T) {
	base := pooled(committedBaseline(t))
	first := base.Cells[0]
	key := CellKey{first.Lock, first.Workload, first.Fault, first.Seed}
	other := summary.NetworkDirect
	if first.NetworkPath() == summary.NetworkDirect {
		other = summary.NetworkProxied
	}
	nw := modified(base, key, func(c *summary.CellResult) {
		c.Network = other
		c.Throughput *= 0.5 // would be a regression if judged
	})
	c, err := Compare(base, nw, Options{Paired: true})
	if err != nil {
		t.Fatal(err)
	}
	if c.ExitCode() != 2 || len(c.Regressions()) != 0 {
		t.Errorf("network path changed: exit %d, regressions %v; want 2 and none", c.ExitCode(), c.Regressions())
	}
}

// TestAgentsRunIsNotJudged: NEW ran its clients on agents, BASE in its
// own process: the timings are not judged (exit 2, a reason naming the
// agents), and a regression of 30 % goes unreported rather than blamed
// on the code.
func TestAgentsRunIsNotJudged(t *testing.T) {
	base := pooled(committedBaseline(t))
	nw := shell(base)
	nw.Agents = "local:3"
	for _, c := range base.Cells {
		c.Throughput *= 0.7
		nw.Cells = append(nw.Cells, c)
	}
	c, err := Compare(base, nw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.ExitCode() != 2 || len(c.Regressions()) != 0 || !strings.Contains(c.Incomparable, "on agents local:3") {
		t.Errorf("NEW on agents: exit %d, %d regressions, reason %q; want 2, none, a reason naming the agents", c.ExitCode(), len(c.Regressions()), c.Incomparable)
	}
}
