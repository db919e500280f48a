// Package runner wires the parts of lockbench together: it provisions
// nodes, puts proxies in front of them and drives measurements. The CLI in
// cmd/bench is a thin layer over it.
package runner

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/lockbench/lockbench/chaos"
	"github.com/lockbench/lockbench/cluster"
	"github.com/redis/go-redis/v9"
)

// CalibrateOptions configures Calibrate.
type CalibrateOptions struct {
	// Cluster chooses the provider (see cluster.Auto).
	Cluster cluster.AutoOptions
	// Nodes is how many nodes to start (default 5).
	Nodes int
	// Samples is how many SETs to time on each path (default 5000).
	Samples int
	// Progress, when set, receives one line per step.
	Progress func(string)
}

// Latency summarises a set of round trips.
type Latency struct {
	Samples int           `json:"samples"`
	P50     time.Duration `json:"p50_ns"`
	P99     time.Duration `json:"p99_ns"`
	Max     time.Duration `json:"max_ns"`
}

// CalibrateResult is what Calibrate measured.
type CalibrateResult struct {
	Provider string `json:"provider"`
	// Why is the provider choice's reason.
	Why   string `json:"why"`
	Nodes int    `json:"nodes"`
	// StartNodes is the wall time to start every node.
	StartNodes time.Duration `json:"start_nodes_ns"`
	// Direct is SET straight to node n1; Proxied is the same through an
	// idle proxy of the chaos mesh in front of n1.
	Direct  Latency `json:"direct_set"`
	Proxied Latency `json:"proxied_set"`
}

// Calibrate starts the nodes, measures how long that took and the SET
// round trip direct and through an idle proxy, and removes everything
// again, also when ctx is cancelled.
func Calibrate(ctx context.Context, o CalibrateOptions) (res CalibrateResult, err error) {
	if o.Nodes <= 0 {
		o.Nodes = 5
	}
	if o.Samples <= 0 {
		o.Samples = 5000
	}
	say := func(format string, args ...any) {
		if o.Progress != nil {
			o.Progress(fmt.Sprintf(format, args...))
		}
	}
	prov, why, err := cluster.Auto(ctx, o.Cluster)
	if err != nil {
		return res, err
	}
	res.Provider, res.Why, res.Nodes = prov.Name(), why, o.Nodes
	say("provider %s", why)

	start := time.Now()
	c, err := prov.Start(ctx, cluster.Spec{Nodes: o.Nodes})
	if err != nil {
		return res, err
	}
	defer func() {
		if cerr := c.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("remove nodes: %w", cerr)
		}
	}()
	res.StartNodes = time.Since(start)
	say("started %d %s nodes in %v", o.Nodes, prov.Name(), res.StartNodes.Round(time.Millisecond))

	nodes := make([]chaos.NodeAddr, len(c.Nodes))
	for i, n := range c.Nodes {
		nodes[i] = chaos.NodeAddr{Name: n.Name(), Addr: n.Endpoint().Addr}
	}
	mesh, err := chaos.NewMesh(ctx, []string{"clients"}, nodes)
	if err != nil {
		return res, err
	}
	defer mesh.Close()

	ep := c.Nodes[0].Endpoint()
	direct := redis.NewClient(ep.ClientOptions(""))
	defer direct.Close()
	proxied := redis.NewClient(ep.ClientOptions(mesh.Addr("clients", c.Nodes[0].Name())))
	defer proxied.Close()

	// Alternate the two paths in blocks so that drift on the machine
	// (other load, CPU frequency) hits both alike.
	say("timing %d SETs direct and %d through an idle proxy", o.Samples, o.Samples)
	var d, p []time.Duration
	const block = 100
	for len(d) < o.Samples {
		n := min(block, o.Samples-len(d))
		if d, err = timeSETs(ctx, direct, n, d); err != nil {
			return res, fmt.Errorf("direct SET: %w", err)
		}
		if p, err = timeSETs(ctx, proxied, n, p); err != nil {
			return res, fmt.Errorf("proxied SET: %w", err)
		}
	}
	res.Direct, res.Proxied = summarise(d), summarise(p)
	return res, nil
}

// timeSETs appends the round trips of n sequential SETs to into.
func timeSETs(ctx context.Context, c *redis.Client, n int, into []time.Duration) ([]time.Duration, error) {
	for i := 0; i < n; i++ {
		t := time.Now()
		if err := c.Set(ctx, "lockbench:calibrate", i, 0).Err(); err != nil {
			return into, err
		}
		into = append(into, time.Since(t))
	}
	return into, nil
}

// summarise computes exact quantiles of a small sample.
func summarise(s []time.Duration) Latency {
	s = slices.Clone(s)
	slices.Sort(s)
	q := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return Latency{Samples: len(s), P50: q(0.50), P99: q(0.99), Max: s[len(s)-1]}
}
