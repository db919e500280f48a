package runner

import (
	"context"
	"fmt"
	"os"
	"runtime"

	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/internal/cpuset"
)

// clientProcs is how many Ps (GOMAXPROCS) the harness gets while it drives
// load. The nodes it measures run on this machine (every address is
// loopback), each a single-threaded redis-server. When there are CPUs to
// spare, the harness keeps one free per node the load reaches and takes
// the rest, so that it does not take cycles from the server it measures:
// on 2 CPUs against one node a bare go-redis loop ran 22-31 % faster
// with GOMAXPROCS=1 than with 2 (and redis-benchmark, the limit it is
// compared with, is one thread). When the nodes already need every CPU,
// contention cannot be avoided and a starved harness only adds its own
// latency (Redlock through the in-process proxies on one P timed out on
// nodes several times as often), so it takes every CPU. want > 0 is used
// as given; want < 0 means every CPU.
func clientProcs(want, loadedNodes int) int {
	switch {
	case want > 0:
		return want
	case want < 0:
		return runtime.NumCPU()
	}
	if free := runtime.NumCPU() - loadedNodes; free >= 1 {
		return free
	}
	return runtime.NumCPU()
}

// limitProcs sets GOMAXPROCS to n for the load phase and returns the
// function that gives the runtime its default back (the checker after it
// searches on every CPU). A GOMAXPROCS in the environment is the user's
// choice and is left alone; limitProcs then returns what it is.
func limitProcs(n int) (effective int, restore func()) {
	if os.Getenv("GOMAXPROCS") != "" {
		return runtime.GOMAXPROCS(0), func() {}
	}
	runtime.GOMAXPROCS(n)
	// SetDefaultGOMAXPROCS, not the previous value: two limits that
	// overlap (tests in one process) both end at the default.
	return n, runtime.SetDefaultGOMAXPROCS
}

// cpuPinner is a node whose process can be confined to CPUs (exec and
// docker nodes; an external node cannot).
type cpuPinner interface {
	PinCPUs(ctx context.Context, cpus []int) error
}

// pinApart puts node on the last CPU this process may use and returns the
// others, for the harness, with a line that says what was done. Client
// and server then never share a CPU. On 2 CPUs, unpinned, single rounds
// of bench calibrate's Go loops were up to 35 % apart and the harness fell
// to 0.75 × redis-benchmark; pinned, 0.95-1.10 × in fifteen runs of fifteen
// (pinning the node alone did not help). It pins nothing, and returns
// nil, when there is one CPU or the node cannot be pinned: the line then
// says why.
func pinApart(ctx context.Context, node cluster.Node) (client []int, said string) {
	allowed, err := cpuset.Allowed(0)
	if err != nil {
		return nil, "not pinned: " + err.Error()
	}
	if len(allowed) < 2 {
		return nil, "not pinned: this process may use one CPU only"
	}
	p, ok := node.(cpuPinner)
	if !ok {
		return nil, "not pinned: the provider cannot pin node " + node.Name()
	}
	client, own := allowed[:len(allowed)-1], allowed[len(allowed)-1:]
	if err := p.PinCPUs(ctx, own); err != nil {
		return nil, "not pinned: " + err.Error()
	}
	return client, fmt.Sprintf("harness and redis-benchmark on CPU %s, node %s on CPU %s", cpuset.Format(client), node.Name(), cpuset.Format(own))
}

// confine runs f with GOMAXPROCS limited to n (see limitProcs) and, when
// cpus is not nil, every thread of this process pinned to cpus (children
// started meanwhile inherit them). It returns the GOMAXPROCS f ran with.
func confine(n int, cpus []int, f func() error) (effective int, err error) {
	unpin := func() error { return nil }
	if cpus != nil {
		if unpin, err = cpuset.PinSelf(cpus); err != nil {
			return 0, err
		}
	}
	effective, restore := limitProcs(n)
	defer func() {
		// Unpinned first: the default GOMAXPROCS that restore computes
		// is over the CPUs allowed then.
		if uerr := unpin(); uerr != nil && err == nil {
			err = uerr
		}
		restore()
	}()
	return effective, f()
}
