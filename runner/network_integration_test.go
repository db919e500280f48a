package runner

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lockbench/lockbench/checker"
	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/internal/testenv"
	"github.com/lockbench/lockbench/summary"
	"github.com/lockbench/lockbench/workloads"
)

// uncontended is the uncontended workload preset, 4 clients for d.
func uncontended(t *testing.T, d time.Duration) WorkloadRef {
	t.Helper()
	spec, err := workloads.Preset("uncontended")
	if err != nil {
		t.Fatal(err)
	}
	spec.Duration, spec.Clients = d, 4
	return WorkloadRef{Spec: spec}
}

// TestCellNetworkPath runs a no-fault cell and a minority-partition cell
// with the real runner on exec nodes: summary.json must say the first went
// straight to the nodes and the second through the proxies, and hold the
// run's measured proxy cost.
func TestCellNetworkPath(t *testing.T) {
	testenv.NeedRedisServer(t)
	dir := t.TempDir()
	sc := Scenario{Name: "t", Nodes: 3, Locks: []string{"token"}, Workloads: []WorkloadRef{uncontended(t, 1200*time.Millisecond)},
		Faults: []string{"none", "partition-minority"}}
	sum := runCells(t, sc, Options{Cluster: cluster.AutoOptions{Provider: "exec"}, Dir: dir})

	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		ProxyCost map[string]any   `json:"proxy_cost"`
		Cells     []map[string]any `json:"cells"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"none": summary.NetworkDirect, "partition-minority": summary.NetworkProxied}
	for _, c := range raw.Cells {
		if got := c["network"]; got != want[c["fault"].(string)] {
			t.Errorf("cell %s: \"network\": %v, want %q", c["id"], got, want[c["fault"].(string)])
		}
	}
	for _, c := range sum.Cells {
		if c.Fault == "partition-minority" && !slices.ContainsFunc(c.Check.Availability, func(w checker.WindowAvailability) bool { return w.Fault == "partition-minority" }) {
			t.Errorf("cell %s: the partition left no fault window: %+v", c.ID, c.Check.Availability)
		}
	}
	pc := sum.ProxyCost
	switch {
	case pc == nil:
		t.Fatalf("summary has no proxy_cost: %v", raw.ProxyCost)
	case pc.Error != "":
		t.Fatalf("proxy cost not measured: %s", pc.Error)
	case pc.Direct <= 0 || pc.Proxied <= 0 || pc.Fraction >= 1 || pc.Rounds != proxyCostRounds:
		// Not Fraction > 0: under the race detector on a busy machine
		// the proxy's share is small and noisy; the figure is reported,
		// not judged.
		t.Errorf("proxy cost %+v: want both rates, a fraction below 1 and %d rounds", *pc, proxyCostRounds)
	}
	for _, k := range []string{"fraction", "direct_cycles_per_sec", "proxied_cycles_per_sec"} {
		if _, ok := raw.ProxyCost[k]; !ok {
			t.Errorf("proxy_cost lacks %q: %v", k, raw.ProxyCost)
		}
	}
	t.Logf("proxy cost: %.0f %% (%.0f direct, %.0f proxied cycles/s)", 100*pc.Fraction, pc.Direct, pc.Proxied)
}

// BenchmarkCellNetworkPath runs token · uncontended · none as a run does
// (runCell on the same exec node), direct and forced through the proxies
// (Options.AlwaysProxy), and reports each cell's acquires/s. A speed is a
// benchmark's figure, not a test's: compare the two with
//
//	go test -run '^$' -bench CellNetworkPath -count 8 ./runner | benchstat -col /network -
//
// (-count alternates the two sub-benchmarks, so drift hits both). The
// proxies cost the harness about half its cycle rate (bench calibrate);
// a cell also reads and writes the resource, which no proxy fronts, so a
// cell gains less than 2 ×.
func BenchmarkCellNetworkPath(b *testing.B) {
	testenv.NeedRedisServer(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	spec, err := workloads.Preset("uncontended")
	if err != nil {
		b.Fatal(err)
	}
	spec.Duration, spec.Clients = 500*time.Millisecond, 4
	sc := Scenario{Name: "b", Nodes: 1, Locks: []string{"token"}, Workloads: []WorkloadRef{{Spec: spec}}}
	cells, err := sc.Expand()
	if err != nil {
		b.Fatal(err)
	}
	prov := cluster.NewExec(cluster.ExecOptions{})
	plans, err := planCells(sc, cells)
	if err != nil {
		b.Fatal(err)
	}
	if err := plans[0].expand(sc.withDefaults(), prov); err != nil {
		b.Fatal(err)
	}
	nodes, err := startNodes(ctx, prov, 1, nodeNeeds{persistence: cluster.PersistNone})
	if err != nil {
		b.Fatal(err)
	}
	defer nodes.close()
	for _, path := range []string{summary.NetworkDirect, summary.NetworkProxied} {
		b.Run("network="+path, func(b *testing.B) {
			dir := b.TempDir()
			var acquires, secs float64
			for b.Loop() {
				c := runCell(ctx, plans[0], nodes, Options{Dir: dir, CheckTimeout: 30 * time.Second, AlwaysProxy: path == summary.NetworkProxied})
				if c.Error != "" {
					b.Fatalf("cell %s: %s", c.ID, c.Error)
				}
				if c.Network != path {
					b.Fatalf("cell network %q, want %q", c.Network, path)
				}
				acquires += c.Throughput * spec.Duration.Seconds()
				secs += spec.Duration.Seconds()
			}
			b.ReportMetric(acquires/secs, "acquires/s")
		})
	}
}
