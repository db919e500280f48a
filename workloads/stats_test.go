package workloads

import (
	"runtime"
	"testing"
	"time"
)

// allocated is how many bytes f allocates.
func allocated(f func()) int64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return int64(after.TotalAlloc - before.TotalAlloc)
}

// TestStatsFootprintIsWhatAWorkerAllocates: the runner sizes runs with
// StatsFootprint, so it must not fall short of what a worker's statistics
// allocate, nor be far above it.
func TestStatsFootprintIsWhatAWorkerAllocates(t *testing.T) {
	fp := StatsFootprint()
	var s *workerStats
	for _, tc := range []struct {
		name string
		want int64
		f    func()
	}{
		{"latency histograms", fp.Hists, func() { s = newWorkerStats() }},
		{"one second", fp.SecondHist + fp.Second, func() { s.second(0) }},
		{"ten more seconds", 10 * (fp.SecondHist + fp.Second), func() {
			for i := range 10 {
				s.second(int64(i+1) * int64(time.Second))
			}
		}},
	} {
		got := allocated(tc.f)
		if got < tc.want*9/10 || got > tc.want*2 {
			t.Errorf("%s: allocated %d bytes, footprint says %d", tc.name, got, tc.want)
		}
	}
}
