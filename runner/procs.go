package runner

import (
	"os"
	"runtime"
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
