package runner

import (
	"slices"
	"testing"
	"time"

	"github.com/lockbench/lockbench/checker"
	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/internal/testenv"
	"github.com/lockbench/lockbench/summary"
)

// TestReplicatedCellsGoThroughTheMesh runs token on the sentinel and the
// cluster topology with the real runner on exec nodes, under faults that
// act in the proxies. The clients find their primary through Sentinel or
// the cluster's slot map, which announce the nodes' real addresses: only
// the cell's Route sends them through the proxies. So a partition of n1,
// the sentinel primary, must leave the clients without a grant for the
// whole cut, and latency on every link must show in the cluster cell's
// acquires; had the clients dialled the nodes directly, neither would.
func TestReplicatedCellsGoThroughTheMesh(t *testing.T) {
	testenv.NeedRedisServer(t)
	w := uncontended(t, 3*time.Second)
	w.Spec.TTL = 500 * time.Millisecond
	sc := Scenario{Name: "t", Locks: []string{"token"}, Workloads: []WorkloadRef{w},
		Topologies: NameList{"sentinel", "cluster"}, Faults: []string{"partition-node", "latency"}}
	sum := runCells(t, sc, Options{Cluster: cluster.AutoOptions{Provider: "exec"}})
	if len(sum.Cells) != 4 {
		t.Fatalf("%d cells, want 4", len(sum.Cells))
	}
	for _, c := range sum.Cells {
		t.Run(c.ID, func(t *testing.T) {
			if c.Error != "" {
				t.Fatalf("cell error: %s", c.Error)
			}
			if c.Topology != "sentinel" && c.Topology != "cluster" || c.Strategy() != "token @ "+c.Topology {
				t.Errorf("topology %q, strategy %q", c.Topology, c.Strategy())
			}
			if c.Network != summary.NetworkProxied {
				t.Errorf("network %q, want proxied", c.Network)
			}
			if c.Verdicts.Mutex != checker.MutexOK || c.Verdicts.Progress != checker.ProgressOK {
				t.Errorf("verdicts %+v, want mutex ok and progress ok", c.Verdicts)
			}
			switch {
			case c.Topology == "sentinel" && c.Fault == "partition-node":
				i := slices.IndexFunc(c.Check.Availability, func(w checker.WindowAvailability) bool { return w.Fault == "partition-node" })
				if i < 0 {
					t.Fatalf("no partition window: %+v", c.Check.Availability)
				}
				win := c.Check.Availability[i]
				if span := win.EndMs - win.StartMs; win.LongestGapMs < 0.8*span {
					t.Errorf("with the primary n1 cut off, the longest time without a grant was %.0f ms of the %.0f ms cut: the clients did not go through its proxy", win.LongestGapMs, span)
				}
			case c.Topology == "cluster" && c.Fault == "latency":
				// 50 ms (TTL/10) each way on every link for 1.5 s of 3 s:
				// some 60 slow acquires among thousands of fast ones,
				// above the 99.9th percentile.
				if p := c.Latency[summary.HistAcquireOK].P999; p < 90_000 {
					t.Errorf("acquire p99.9 %d µs under 50 ms of latency each way: the clients did not go through the proxies", p)
				}
			}
		})
	}
}
