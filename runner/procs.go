package runner

import (
	"os"
	"runtime"
)

// clientProcs is how many Ps (GOMAXPROCS) the harness gets while it drives
// load. The nodes it measures run on this machine (every address is
// loopback), each a single-threaded redis-server, so a harness that uses
// every CPU takes cycles from the server it measures and the two contend
// for cores and wake-ups: on 2 CPUs with GOMAXPROCS=2 the bare go-redis
// loop ran 20-35 % slower than with 1. By default the harness keeps one CPU
// free per node the cell loads and takes the rest, at least one, as
// redis-benchmark (one thread) does. want > 0 is used as given; want < 0
// means every CPU.
func clientProcs(want, loadedNodes int) int {
	switch {
	case want > 0:
		return want
	case want < 0:
		return runtime.NumCPU()
	}
	return max(1, runtime.NumCPU()-loadedNodes)
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
