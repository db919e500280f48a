package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/lockbench/lockbench/chaos"
	"github.com/lockbench/lockbench/endpoint"
	"github.com/lockbench/lockbench/summary"
)

// How a run measures the proxy cost before its first cell: short, since
// every run pays for it (about 0.7 s), and in many short pairs, since a
// burst of load on a shared machine then spoils one pair, which the median
// ignores, rather than one of three. On a loaded 2-CPU machine, five
// measurements each of 3 × 100 ms gave 40–51 %, of 6 × 50 ms 42–47 %.
const (
	proxyCostRounds   = 6
	proxyCostDuration = 50 * time.Millisecond
	proxyCostClients  = 4
)

// proxyCostOf pairs direct[i] with proxied[i], both measured in round i.
func proxyCostOf(direct, proxied []float64) summary.ProxyCost {
	pc := summary.ProxyCost{Direct: median(direct), Proxied: median(proxied), Rounds: min(len(direct), len(proxied))}
	ratios := make([]float64, 0, pc.Rounds)
	for i := range pc.Rounds {
		if direct[i] > 0 {
			ratios = append(ratios, proxied[i]/direct[i])
		}
	}
	if len(ratios) > 0 {
		pc.Fraction = 1 - median(ratios)
	}
	return pc
}

// measureProxyCost runs the calibration's harness loop (harness) rounds
// times straight to lock and through proxyAddr, an idle proxy in front of
// it, each for d at clients clients, alternating which path goes first.
// The histories go to a temporary directory, removed again.
func measureProxyCost(ctx context.Context, lock endpoint.Endpoint, proxyAddr string, resource endpoint.Endpoint, clients int, d time.Duration, rounds int) (summary.ProxyCost, error) {
	tmp, err := os.MkdirTemp("", "lockbench-proxy-cost-")
	if err != nil {
		return summary.ProxyCost{}, fmt.Errorf("proxy cost: %w", err)
	}
	defer os.RemoveAll(tmp)
	viaProxy := lock
	viaProxy.Addr = proxyAddr
	var direct, proxied []float64
	for round := range rounds {
		var d1, p1 float64
		paths := []struct {
			ep  endpoint.Endpoint
			cps *float64
		}{{lock, &d1}, {viaProxy, &p1}}
		if round%2 == 1 {
			paths[0], paths[1] = paths[1], paths[0]
		}
		for _, p := range paths {
			if *p.cps, err = harness(ctx, p.ep, resource, clients, d, filepath.Join(tmp, "history.jsonl")); err != nil {
				return summary.ProxyCost{}, fmt.Errorf("proxy cost, via %s: %w", p.ep.Addr, err)
			}
		}
		direct, proxied = append(direct, d1), append(proxied, p1)
	}
	pc := proxyCostOf(direct, proxied)
	pc.RoundMs, pc.Clients = float64(d.Microseconds())/1000, clients
	return pc, nil
}

// runProxyCost measures the proxy cost a run's proxied cells carry, on the
// run's first lock node (started for the first cell, so in that cell's
// persistence mode: a slow node, aof-always, leaves the proxy less to
// cost), through a mesh of its own that lives only as long as the
// measurement. It never fails the run: a measurement that cannot be made
// says why in Error.
func runProxyCost(ctx context.Context, nodes *nodeSet, o Options) *summary.ProxyCost {
	lock, resource := nodes.locks.Nodes[0], nodes.resource.Nodes[0]
	fail := func(err error) *summary.ProxyCost {
		return &summary.ProxyCost{Error: oneLine(err)}
	}
	mesh, err := chaos.NewMesh(ctx, []string{"A"}, []chaos.NodeAddr{{Name: lock.Name(), Addr: lock.Endpoint().Addr}})
	if err != nil {
		return fail(err)
	}
	defer mesh.Close()
	// The GOMAXPROCS of a token cell of the uncontended workload: one
	// node loaded, the harness skips the resource.
	_, restore := limitProcs(clientProcs(o.ClientProcs, 1))
	defer restore()
	pc, err := measureProxyCost(ctx, lock.Endpoint(), mesh.Addr("A", lock.Name()), resource.Endpoint(), proxyCostClients, proxyCostDuration, proxyCostRounds)
	if err != nil {
		return fail(err)
	}
	return &pc
}
