package runner

import (
	"os"
	"runtime"
	"testing"
)

func TestClientProcs(t *testing.T) {
	cpus := runtime.NumCPU()
	for _, tc := range []struct {
		name         string
		want, loaded int
		expect       int
	}{
		{"given", 3, 1, 3},
		{"every CPU", -1, 1, cpus},
		{"a CPU kept per node", 0, cpus - 1, 1},
		{"nodes need every CPU", 0, cpus, cpus},
		{"nodes oversubscribe", 0, cpus + 4, cpus},
		{"nothing loaded", 0, 0, cpus},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := clientProcs(tc.want, tc.loaded); got != tc.expect {
				t.Errorf("clientProcs(%d, %d) on %d CPUs = %d, want %d", tc.want, tc.loaded, cpus, got, tc.expect)
			}
		})
	}
}

func TestLimitProcsRestoresTheDefault(t *testing.T) {
	if os.Getenv("GOMAXPROCS") != "" {
		t.Skip("GOMAXPROCS is set in the environment: limitProcs leaves it alone")
	}
	before := runtime.GOMAXPROCS(0)
	got, restore := limitProcs(1)
	if got != 1 || runtime.GOMAXPROCS(0) != 1 {
		t.Fatalf("limitProcs(1) reported %d, runtime has %d; want 1", got, runtime.GOMAXPROCS(0))
	}
	restore()
	if after := runtime.GOMAXPROCS(0); after != before {
		t.Errorf("GOMAXPROCS %d after restore, %d before", after, before)
	}
}
