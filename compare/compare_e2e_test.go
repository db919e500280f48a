package compare

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockbench/lockbench/chaos"
	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/internal/testenv"
	"github.com/lockbench/lockbench/runner"
	"github.com/lockbench/lockbench/summary"
	"github.com/lockbench/lockbench/workloads"
)

// TestCompareEndToEnd runs a tiny scenario for real three times — normal,
// artificially slowed, normal again — and checks that bench compare
// catches the slowdown and passes the second normal run.
//
// The slowdown is test-only: the lock node is reached through a toxiproxy
// proxy of the test's own with a 3 ms latency toxic on requests, and the
// runs use the external provider so that the runner's clients dial that
// proxy instead of the node. The strategy, workload, fault and seed are
// the same, so the cells match as they would across two commits.
//
// The three runs are interleaved sample by sample (one Execute per sample,
// normal, slow, normal, …) and compared paired: a machine whose load
// changes during the test then shifts all three alike instead of looking
// like a regression.
func TestCompareEndToEnd(t *testing.T) {
	testenv.NeedRedisServer(t)
	if testing.Short() {
		t.Skip("runs Redis for about 10 s")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	nodes, err := cluster.NewExec(cluster.ExecOptions{}).Start(ctx, cluster.Spec{Nodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer nodes.Close()
	lockAddr, resAddr := nodes.Nodes[0].Endpoint().Addr, nodes.Nodes[1].Endpoint().Addr
	mesh, err := chaos.NewMesh(ctx, []string{"slow"}, []chaos.NodeAddr{{Name: "n1", Addr: lockAddr}})
	if err != nil {
		t.Fatal(err)
	}
	defer mesh.Close()
	// 3 ms, not 1: under the load of a full parallel test run the base
	// p99 alone reaches a few ms now and then, and the slowdown must stand
	// clear of that for six samples to tell.
	if err := mesh.AddLatency(ctx, "slow", "n1", 3*time.Millisecond, 0, chaos.Upstream); err != nil {
		t.Fatal(err)
	}
	slowAddr := mesh.Addr("slow", "n1")

	spec, err := workloads.Preset("uncontended")
	if err != nil {
		t.Fatal(err)
	}
	sc := &runner.Scenario{
		Name: "compare-e2e", Nodes: 1, Locks: []string{"token"},
		Workloads: []runner.WorkloadRef{{Spec: spec}}, Faults: []string{"none"}, Seeds: []uint64{1},
		Repeat: 1, Duration: 400 * time.Millisecond, Clients: 2,
	}
	// External nodes are never flushed by the runner, and every run
	// reuses the same cell ids: start each run from empty nodes.
	flush := func() {
		for _, addr := range []string{lockAddr, resAddr} {
			c := redis.NewClient(&redis.Options{Addr: addr})
			err := c.FlushAll(ctx).Err()
			c.Close()
			if err != nil {
				t.Fatalf("flush %s: %v", addr, err)
			}
		}
	}
	const samples = 6
	runs := map[string]*summary.Summary{}
	for i := range samples {
		for _, r := range []struct{ name, lock string }{{"base", lockAddr}, {"slow", slowAddr}, {"again", lockAddr}} {
			flush()
			sum, err := runner.Execute(ctx, sc, runner.Options{
				Cluster: cluster.AutoOptions{Provider: "external", External: cluster.ExternalOptions{Addrs: []string{r.lock, resAddr}}},
				Dir:     t.TempDir(), RunID: fmt.Sprintf("%s-%d", r.name, i),
			})
			if err != nil {
				t.Fatalf("%s sample %d: %v", r.name, i, err)
			}
			cells := sum.Cells
			if runs[r.name] == nil {
				runs[r.name] = sum
				sum.RunID = r.name
				sum.Cells = nil
			}
			for _, c := range cells {
				if c.Error != "" {
					t.Fatalf("%s sample %d: cell %s: %s", r.name, i, c.ID, c.Error)
				}
				c.Sample = i
				runs[r.name].Cells = append(runs[r.name].Cells, c)
			}
		}
	}

	// The samples were taken interleaved: compare them paired, as the
	// gate compares alternating passes.
	slow, err := Compare(runs["base"], runs["slow"], Options{Paired: true})
	if err != nil {
		t.Fatal(err)
	}
	text := cmpText(t, slow)
	t.Logf("normal against slowed:\n%s", text)
	if slow.ExitCode() != 1 {
		t.Errorf("exit code %d, want 1 (regression)", slow.ExitCode())
	}
	regressed := map[string]bool{}
	for _, r := range slow.Regressions() {
		regressed[r.Metric] = true
	}
	for _, m := range []string{MetricThroughput, MetricP99} {
		if !regressed[m] {
			t.Errorf("%s not flagged as a regression", m)
		}
	}

	again, err := Compare(runs["base"], runs["again"], Options{Paired: true})
	if err != nil {
		t.Fatal(err)
	}
	text = cmpText(t, again)
	t.Logf("normal against normal:\n%s", text)
	if again.ExitCode() != 0 || len(again.Regressions()) > 0 || len(again.SafetyFailures()) > 0 {
		t.Errorf("a second normal run fails the comparison (exit %d)", again.ExitCode())
	}
}
