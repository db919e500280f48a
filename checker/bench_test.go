package checker

import (
	"context"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/lockbench/lockbench/history"
)

// heapSampler records the peak of the live heap while it runs.
type heapSampler struct {
	stop chan struct{}
	wg   sync.WaitGroup
	peak uint64
}

func sampleHeap() *heapSampler {
	h := &heapSampler{stop: make(chan struct{})}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() {
		metrics.Read(sample)
		h.peak = max(h.peak, sample[0].Value.Uint64())
	}
	read()
	h.wg.Go(func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-h.stop:
				read()
				return
			case <-tick.C:
				read()
			}
		}
	})
	return h
}

func (h *heapSampler) done() uint64 {
	close(h.stop)
	h.wg.Wait()
	return h.peak
}

// liveHeap is the live heap after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// benchCheck checks events b.N times, reporting the operations, the peak
// live heap during Check (input included) and the part of it that is the
// checker's own (peak minus the live heap with just the input).
func benchCheck(b *testing.B, events []history.Event) {
	base := liveHeap()
	var peak uint64
	b.ResetTimer()
	for b.Loop() {
		h := sampleHeap()
		r, err := Check(context.Background(), events, Options{Timeout: time.Minute})
		peak = max(peak, h.done())
		if err != nil {
			b.Fatal(err)
		}
		if r.Mutex != MutexOK || r.Resource != ResourceOK {
			b.Fatalf("correct history judged %s/%s: %+v", r.Mutex, r.Resource, r.Witnesses)
		}
		b.ReportMetric(float64(r.Counts.Ops), "ops")
		b.ReportMetric(float64(r.Counts.ModelOps), "model-ops")
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(peak-min(peak, base))/(1<<20), "checker-heap-MiB")
	b.ReportMetric(float64(base)/(1<<20), "input-heap-MiB")
}

// BenchmarkCheck1MOps1000Keys: a 1,000,000-operation history over 1,000
// keys from a simulated correct fenced lock with retrying acquires,
// crashes, lost replies, extends, deadlines and resource writes (target:
// ≤ 10 s).
func BenchmarkCheck1MOps1000Keys(b *testing.B) {
	events := simulate(simConfig{
		procs: 500, keys: 1000, ops: 1_000_000, ttl: 20_000_000, maxLat: 1_000_000,
		fenced: true, deadlines: true, pInfo: 0.02, pLost: 0.5, pCrash: 0.005, pCrashInFlight: 0.001,
		pExtend: 0.2, pWrite: 0.5, pSlow: 0.01, pLate: 0.05, retry: true, seed: 1,
	})
	benchCheck(b, events)
}

// BenchmarkCheck100kOpsHotKey: 100,000 operations on one hot key from 50
// processes whose acquires retry until they get the lock, so up to 49
// acquires are pending at once (target: ≤ 10 s).
func BenchmarkCheck100kOpsHotKey(b *testing.B) {
	events := simulate(simConfig{
		procs: 50, keys: 1, ops: 100_000, ttl: 20_000_000, maxLat: 1_000_000,
		fenced: true, deadlines: true, pInfo: 0.02, pLost: 0.5, pCrash: 0.005, pCrashInFlight: 0.001,
		pExtend: 0.2, pWrite: 0.5, pSlow: 0.01, pLate: 0.05, retry: true, seed: 2,
	})
	benchCheck(b, events)
}
