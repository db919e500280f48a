package health

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/lockbench/lockbench/internal/testenv"
)

// TestStarvedHarnessShows: at GOMAXPROCS=1 with goroutines that never
// block, every other goroutine waits its turn behind them (the runtime
// preempts every 10 ms): the probe must see delays of that order, where a
// quiet process sees far less.
func TestStarvedHarnessShows(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	p := Start(time.Millisecond)
	stop := testenv.BurnCPU(4)
	var wg sync.WaitGroup
	// A goroutine that wants to run now and then, like a worker.
	wg.Go(func() {
		for range 50 {
			time.Sleep(5 * time.Millisecond)
		}
	})
	time.Sleep(500 * time.Millisecond)
	stop()
	wg.Wait()
	s := p.Stop()
	t.Logf("%+v", s)
	if s.SchedP99Us < 5000 && s.LagP99Us < 5000 {
		t.Errorf("four CPU burners on one P: scheduling p99 %v µs and timer lag p99 %v µs, want ≥ 5 ms", s.SchedP99Us, s.LagP99Us)
	}
	// A burner on one P takes most of a CPU on a quiet machine; on a
	// busy one its share is whatever the scheduler gives it, but some.
	want := 0.3
	if others := s.MachineBusyCores - s.ProcessCores; s.MachineBusyCores >= 0 && others > 0.5 {
		want = 0.05
		t.Logf("other processes used %.2f cores: expecting only %.2f of this one", others, want)
	}
	if s.ProcessCores < want {
		t.Errorf("process used %v cores while burning one, want ≥ %v", s.ProcessCores, want)
	}
}

// TestQuietProbe: the probe reports its own wakeups and the machine.
func TestQuietProbe(t *testing.T) {
	p := Start(2 * time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	s := p.Stop()
	t.Logf("%+v", s)
	if s.Wakeups < 10 || s.CPUs < 1 || s.WallMs < 200 {
		t.Errorf("sample %+v: want ≥ 10 wakeups over ≥ 200 ms", s)
	}
	if s.MachineBusyCores < 0 || s.MachineBusyCores > float64(s.CPUs)+0.1 {
		t.Errorf("machine busy %v cores of %d", s.MachineBusyCores, s.CPUs)
	}
}
