package runner

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockbench/lockbench/checker"
	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/internal/testenv"
	"github.com/lockbench/lockbench/summary"
	"github.com/lockbench/lockbench/workloads"
)

// runCells runs a scenario's cells on provider and returns the summary.
func runCells(t *testing.T, sc Scenario, o Options) *summary.Summary {
	t.Helper()
	cells, err := sc.Expand()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	o.RunID = "test"
	sum, err := ExecuteCells(ctx, sc, cells, o)
	if err != nil {
		t.Fatal(err)
	}
	back, err := summary.Read(filepath.Join(o.Dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range sum.Cells {
		if c := &back.Cells[i]; c.Error != "" {
			t.Fatalf("cell %s could not run: %s", c.ID, c.Error)
		}
	}
	return back
}

func hotKey(t *testing.T, d time.Duration) WorkloadRef {
	t.Helper()
	spec, err := workloads.Preset("hot-key")
	if err != nil {
		t.Fatal(err)
	}
	spec.Duration, spec.Clients = d, 4
	return WorkloadRef{Spec: spec}
}

// TestNoProgressIsNotSafe: Redlock with a per-node timeout no machine can
// meet grants nothing. Its mutex and resource verdicts are vacuously ok;
// the cell must read no-progress, never safe.
func TestNoProgressIsNotSafe(t *testing.T) {
	testenv.NeedRedisServer(t)
	sc := Scenario{Name: "t", Nodes: 3, Locks: []string{"redlock", "token"}, Workloads: []WorkloadRef{hotKey(t, 1500*time.Millisecond)},
		NodeTimeout: time.Microsecond, TTL: 500 * time.Millisecond}
	sum := runCells(t, sc, Options{Cluster: cluster.AutoOptions{Provider: "exec"}})
	rl, tok := &sum.Cells[0], &sum.Cells[1]
	if rl.Verdicts.Progress != checker.ProgressNone || rl.Class() != summary.ClassNoProgress {
		t.Errorf("redlock at 1 µs per node: progress %s, class %s (%s), want none, no-progress", rl.Verdicts.Progress, rl.Class(), rl.Notes.Progress)
	}
	if rl.Counts.AcquireOK != 0 || rl.Counts.Attempts == 0 {
		t.Errorf("redlock counts %+v: want attempts and no grant", rl.Counts)
	}
	if !strings.Contains(rl.Notes.Progress, "succeeded") {
		t.Errorf("progress note %q does not say what failed", rl.Notes.Progress)
	}
	// The node timeout is Redlock's alone: the token lock still works.
	if tok.Verdicts.Progress != checker.ProgressOK || tok.Class() == summary.ClassNoProgress {
		t.Errorf("token: progress %s (%s), want ok", tok.Verdicts.Progress, tok.Notes.Progress)
	}
}

// TestStarvedHarnessIsFlagged: a cell whose workload runs on one P beside
// CPU burners waits tens of ms to be scheduled, against a 20 ms per-node
// budget: it is flagged harness-overloaded and its class says so.
func TestStarvedHarnessIsFlagged(t *testing.T) {
	testenv.NeedRedisServer(t)
	defer testenv.BurnCPU(4)()
	wl := hotKey(t, 1500*time.Millisecond)
	wl.Spec.Retry.Attempts = 3 // starved acquires retry for long otherwise
	sc := Scenario{Name: "t", Nodes: 3, Locks: []string{"redlock"}, Workloads: []WorkloadRef{wl},
		NodeTimeout: 20 * time.Millisecond, TTL: 500 * time.Millisecond}
	sum := runCells(t, sc, Options{Cluster: cluster.AutoOptions{Provider: "exec"}, ClientProcs: 1})
	c := &sum.Cells[0]
	if c.Harness == nil {
		t.Fatal("no harness health recorded")
	}
	t.Logf("harness: %+v", *c.Harness)
	if !c.Harness.Overloaded || !strings.Contains(strings.Join(c.Flags, ","), summary.FlagHarnessOverloaded) {
		t.Fatalf("four CPU burners on one P: harness %+v, flags %v, want %s", *c.Harness, c.Flags, summary.FlagHarnessOverloaded)
	}
	if c.Class() != summary.ClassOverloaded && c.Class() != summary.ClassNoProgress {
		t.Errorf("class %s: a starved cell must not read as the lock's result", c.Class())
	}
	if c.Harness.BudgetUs != 20000 || !strings.Contains(c.Harness.Note, "not the lock") {
		t.Errorf("budget %v µs, note %q", c.Harness.BudgetUs, c.Harness.Note)
	}
}

// TestLivenessOnlyWhereSeen: a 1.5 s cell cannot show a stall of the
// default 5 s bound: liveness is n/a, with the reason; with a 500 ms bound
// it is assessed. A cell reading ok always had a fault-free stretch longer
// than its bound.
func TestLivenessOnlyWhereSeen(t *testing.T) {
	testenv.NeedRedisServer(t)
	for _, tc := range []struct {
		bound time.Duration
		want  checker.LivenessVerdict
	}{{0, checker.LivenessNA}, {500 * time.Millisecond, checker.LivenessOK}} {
		sc := Scenario{Name: "t", Nodes: 1, Locks: []string{"token"}, Workloads: []WorkloadRef{hotKey(t, 1500*time.Millisecond)}, StallBound: tc.bound}
		sum := runCells(t, sc, Options{Cluster: cluster.AutoOptions{Provider: "exec"}})
		c := &sum.Cells[0]
		if c.Verdicts.Liveness != tc.want {
			t.Errorf("bound %v: liveness %s (%s), want %s", tc.bound, c.Verdicts.Liveness, c.Notes.Liveness, tc.want)
		}
		if c.Verdicts.Liveness == checker.LivenessOK && c.Check.LongestFaultFreeMs <= c.Check.StallBoundMs {
			t.Errorf("liveness ok with %v ms fault-free, bound %v ms", c.Check.LongestFaultFreeMs, c.Check.StallBoundMs)
		}
		if c.Verdicts.Liveness == checker.LivenessNA && !strings.Contains(c.Notes.Liveness, "stall bound") {
			t.Errorf("n/a without its reason: %q", c.Notes.Liveness)
		}
	}
}

// TestDockerRedlockMakesProgress: through docker-proxy and the fault
// proxies, Redlock and redsync grant locks with and without a minority
// partition (they granted none before connections were kept ready outside
// the per-node budget).
func TestDockerRedlockMakesProgress(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cluster.DockerHealthy(ctx, cluster.DockerOptions{}); err != nil {
		testenv.Skip(t, "docker: "+err.Error())
	}
	sc := Scenario{Name: "t", Nodes: 5, Locks: []string{"redlock", "redsync"}, Workloads: []WorkloadRef{hotKey(t, 3*time.Second)},
		Faults: []string{"none", "partition-minority"}, TTL: 500 * time.Millisecond}
	sum := runCells(t, sc, Options{Cluster: cluster.AutoOptions{Provider: "docker"}})
	for i := range sum.Cells {
		c := &sum.Cells[i]
		if c.Verdicts.Progress == checker.ProgressNone || c.Counts.AcquireOK == 0 {
			t.Errorf("%s on docker: progress %s (%s), counts %+v", c.ID, c.Verdicts.Progress, c.Notes.Progress, c.Counts)
		}
		if c.Verdicts.Unsafe() {
			t.Errorf("%s: unsafe without a hazardous fault: %+v", c.ID, c.Verdicts)
		}
	}
}

// TestJudgeProgressAgainstTheBaseline: a cell under faults whose share of
// successful acquires outside the faults is below half the same lock's
// share without faults is degraded; a starved harness is named.
func TestJudgeProgressAgainstTheBaseline(t *testing.T) {
	cell := func(lock, fault string, attempts, ok int, overloaded bool) summary.CellResult {
		c := summary.CellResult{ID: lock + "-" + fault, Lock: lock, Workload: "w", Fault: fault,
			Verdicts: summary.Verdicts{Progress: checker.ProgressOK},
			Check:    &checker.Result{ProgressCounts: checker.ProgressCounts{Attempts: attempts, OK: ok}}}
		if overloaded {
			c.Harness = &summary.Harness{Overloaded: true, Note: "harness starved"}
			c.Verdicts.Progress = checker.ProgressNone
			c.Notes.Progress = "none of them"
		}
		return c
	}
	cells := []summary.CellResult{
		cell("a", "none", 100, 100, false),
		cell("a", "partition", 100, 40, false), // 40 % against 100 %: degraded
		cell("a", "latency", 100, 60, false),   // 60 %: still ok
		cell("b", "partition", 100, 10, false), // no baseline: left alone
		cell("c", "none", 100, 0, true),        // none, starved harness named
	}
	judgeProgress(cells)
	want := []checker.ProgressVerdict{checker.ProgressOK, checker.ProgressDegraded, checker.ProgressOK, checker.ProgressOK, checker.ProgressNone}
	for i, w := range want {
		if got := cells[i].Verdicts.Progress; got != w {
			t.Errorf("%s: progress %s, want %s (%s)", cells[i].ID, got, w, cells[i].Notes.Progress)
		}
	}
	if !strings.Contains(cells[1].Notes.Progress, "40 % of 100") || !strings.Contains(cells[1].Notes.Progress, "100 % for a without faults") {
		t.Errorf("degraded note %q", cells[1].Notes.Progress)
	}
	if !strings.Contains(cells[4].Notes.Progress, "harness starved") {
		t.Errorf("starved note %q", cells[4].Notes.Progress)
	}
}
