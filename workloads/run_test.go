package workloads

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/endpoint"
	"github.com/lockbench/lockbench/history"
	"github.com/lockbench/lockbench/internal/leakcheck"
	"github.com/lockbench/lockbench/internal/testenv"
	"github.com/lockbench/lockbench/locks"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// rig is a lock node and a separate resource node, both real.
type rig struct {
	c        *cluster.Cluster
	resource *Resource
}

func newRig(t *testing.T) *rig { return newRigTB(t) }

func newRigTB(t testing.TB) *rig {
	t.Helper()
	testenv.NeedRedisServer(t)
	c, err := cluster.NewExec(cluster.ExecOptions{}).Start(context.Background(), cluster.Spec{Nodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rc := redis.NewClient(c.Nodes[1].Endpoint().ClientOptions(""))
	t.Cleanup(func() { rc.Close() })
	return &rig{c: c, resource: NewResource(rc)}
}

// env builds an Env with strategy name on the lock node.
func (r *rig) env(t testing.TB, name string, rec *memRecorder) Env {
	t.Helper()
	s, err := locks.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.New(locks.Config{Nodes: []endpoint.Endpoint{r.c.Nodes[0].Endpoint()}, Retry: locks.Retry{Policy: "exponential", Base: time.Millisecond, Cap: 20 * time.Millisecond, Attempts: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	e := Env{Lockers: []locks.Locker{l}, Resources: []*Resource{r.resource}, Clock: newTestClock(), KeyPrefix: t.Name() + ":"}
	if rec != nil {
		e.NewRecorder = rec.new
	}
	return e
}

// testClock is a monotonic clock for the workload's tests.
type testClock struct{ start time.Time }

func newTestClock() testClock            { return testClock{start: time.Now()} }
func (c testClock) Now() int64           { return int64(time.Since(c.start)) }
func (c testClock) At(t time.Time) int64 { return int64(t.Sub(c.start)) }

// memRecorder keeps every worker's events in memory.
type memRecorder struct {
	mu      sync.Mutex
	streams []*memStream
}

type memStream struct{ events []history.Event }

func (s *memStream) Append(e *history.Event) { s.events = append(s.events, *e) }

func (m *memRecorder) new() Recorder {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := &memStream{}
	m.streams = append(m.streams, s)
	return s
}

func (m *memRecorder) all() []history.Event {
	var out []history.Event
	for _, s := range m.streams {
		out = append(out, s.events...)
	}
	return out
}

func hotKey(clients int, d time.Duration) Spec {
	s, _ := Preset("hot-key")
	s.Clients, s.Duration = clients, d
	s.CriticalSection = Dist{Kind: "fixed", Mean: 500 * time.Microsecond}
	return s
}

// TestLostUpdatesFoundWithNolockNotWithToken: the read-modify-write loses
// increments exactly when two clients are inside at once.
func TestLostUpdatesFoundWithNolockNotWithToken(t *testing.T) {
	r := newRig(t)
	for _, tc := range []struct {
		lock     string
		wantLost bool
	}{
		{"nolock", true},
		{"token", false},
		{"fenced", false},
	} {
		t.Run(tc.lock, func(t *testing.T) {
			res, err := Run(context.Background(), hotKey(6, 1500*time.Millisecond), r.env(t, tc.lock, nil))
			if err != nil {
				t.Fatal(err)
			}
			c := res.Counts
			if c.AcquireOK == 0 || c.WritesOK == 0 {
				t.Fatalf("no work done: %+v", c)
			}
			if lost := res.LostUpdates > 0; lost != tc.wantLost {
				t.Errorf("lost updates = %d of %d writes, want lost=%v", res.LostUpdates, c.WritesOK, tc.wantLost)
			}
			if !tc.wantLost && c.WritesOK != c.AcquireOK {
				t.Errorf("%d acquires but %d writes without faults", c.AcquireOK, c.WritesOK)
			}
		})
	}
}

// TestOpenLoopCountsAStallForEveryRequestScheduledDuringIt pauses the lock
// node for 400 ms under a 200/s open-loop load: every request due during
// the pause must show up as latency from its intended start, while the
// service-time histogram sees only the few requests that were in flight.
func TestOpenLoopCountsAStallForEveryRequestScheduledDuringIt(t *testing.T) {
	r := newRig(t)
	spec := hotKey(4, 2*time.Second)
	spec.Keys = Keys{Kind: "per-client"}
	spec.CriticalSection = Dist{}
	spec.Rate = 200
	env := r.env(t, "token", nil)
	node := r.c.Nodes[0]
	const stall = 400 * time.Millisecond
	go func() {
		time.Sleep(700 * time.Millisecond)
		node.Pause(context.Background())
		time.Sleep(stall)
		node.Resume(context.Background())
	}()
	res, err := Run(context.Background(), spec, env)
	if err != nil {
		t.Fatal(err)
	}
	slowIntended := countAbove(res, HistAcquireOK, 100*time.Millisecond)
	slowService := countAbove(res, HistAcquireService, 100*time.Millisecond)
	// 200/s over the last 300 ms of the stall: ≈ 60 requests at ≥ 100 ms.
	if slowIntended < 40 {
		t.Errorf("only %d acquires ≥ 100 ms from their intended start; a %v stall at 200/s should give ≈ 60", slowIntended, stall)
	}
	if slowService > int64(spec.Clients)+2 {
		t.Errorf("%d acquires had ≥ 100 ms service time; only the %d in flight should", slowService, spec.Clients)
	}
	if p := res.Hists[HistAcquireOK].ValueAtQuantile(99.9); time.Duration(p)*time.Microsecond < 300*time.Millisecond {
		t.Errorf("p99.9 from intended start = %dµs, want ≥ 300 ms", p)
	}
	if res.Saturated {
		t.Errorf("200/s should not saturate: achieved %.1f/s", res.AchievedRate)
	}
}

func countAbove(res *Result, hist string, d time.Duration) int64 {
	var n int64
	for _, b := range res.Hists[hist].Distribution() {
		if time.Duration(b.From)*time.Microsecond >= d {
			n += b.Count
		}
	}
	return n
}

func TestOpenLoopReportsSaturation(t *testing.T) {
	r := newRig(t)
	spec := hotKey(1, time.Second)
	spec.CriticalSection = Dist{Kind: "fixed", Mean: 10 * time.Millisecond}
	spec.Rate = 500 // one client holding 10 ms per op cannot do 500/s
	res, err := Run(context.Background(), spec, r.env(t, "token", nil))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Saturated || res.AchievedRate > 150 {
		t.Errorf("achieved %.1f/s of 500/s, saturated=%v; want saturated", res.AchievedRate, res.Saturated)
	}
}

// TestClientPauseAndFences: a holder pauses past its TTL between reading
// and writing. With token the late write overwrites newer ones; with
// fenced the resource rejects it.
func TestClientPauseAndFences(t *testing.T) {
	r := newRig(t)
	for _, tc := range []struct {
		lock         string
		wantLost     bool
		wantRejected bool
	}{
		{"token", true, false},
		{"fenced", false, true},
	} {
		t.Run(tc.lock, func(t *testing.T) {
			spec := hotKey(2, 1500*time.Millisecond)
			spec.TTL = 200 * time.Millisecond
			rec := &memRecorder{}
			env := r.env(t, tc.lock, rec)
			env.Faults = NewClientFaults(spec.Clients)
			env.Faults.Pause(0, 600*time.Millisecond)
			res, err := Run(context.Background(), spec, env)
			if err != nil {
				t.Fatal(err)
			}
			if res.Counts.Pauses != 1 {
				t.Fatalf("pauses = %d, want 1", res.Counts.Pauses)
			}
			if lost := res.LostUpdates > 0; lost != tc.wantLost {
				t.Errorf("lost updates %d, want lost=%v", res.LostUpdates, tc.wantLost)
			}
			if rej := res.Counts.WritesRejected > 0; rej != tc.wantRejected {
				t.Errorf("rejected writes %d, want rejected=%v", res.Counts.WritesRejected, tc.wantRejected)
			}
			var starts, stops int
			for _, e := range rec.all() {
				if e.Type == history.Nemesis && e.Fault == "client-pause" {
					if e.Phase == "start" {
						starts++
					} else {
						stops++
					}
				}
			}
			if starts != 1 || stops != 1 {
				t.Errorf("history has %d pause starts and %d stops, want 1 and 1", starts, stops)
			}
		})
	}
}

// TestNoWriteAfterTheDeadline: a holder that honours its validity does not
// write once its deadline passed while it worked: the write would land
// outside its belief and read as the lock's fault. Without the deadline
// the same overrun writes, and another holder's write is lost.
func TestNoWriteAfterTheDeadline(t *testing.T) {
	r := newRig(t)
	for _, honour := range []bool{true, false} {
		t.Run(map[bool]string{true: "honoured", false: "ignored"}[honour], func(t *testing.T) {
			spec := hotKey(3, time.Second)
			spec.TTL = 100 * time.Millisecond
			spec.CriticalSection = Dist{Kind: "fixed", Mean: 150 * time.Millisecond} // longer than the lease
			spec.HonourDeadline = honour
			rec := &memRecorder{}
			res, err := Run(context.Background(), spec, r.env(t, "token", rec))
			if err != nil {
				t.Fatal(err)
			}
			writes := 0
			for _, e := range rec.all() {
				if e.Op == history.Write && e.Type == history.Invoke {
					writes++
				}
			}
			if honour {
				if writes != 0 || res.Counts.SkippedExpired == 0 || res.LostUpdates != 0 {
					t.Errorf("%d writes, %d skipped, %d lost updates: want no write after a deadline", writes, res.Counts.SkippedExpired, res.LostUpdates)
				}
				return
			}
			if writes == 0 || res.LostUpdates == 0 {
				t.Errorf("%d writes and %d lost updates without a deadline: the overrun should write late and lose updates", writes, res.LostUpdates)
			}
		})
	}
}

func TestClientCrashAbandonsLeaseAndChangesProcess(t *testing.T) {
	r := newRig(t)
	spec := hotKey(2, time.Second)
	spec.TTL = 300 * time.Millisecond
	rec := &memRecorder{}
	env := r.env(t, "token", rec)
	env.Faults = NewClientFaults(spec.Clients)
	env.Faults.Crash(1)
	res, err := Run(context.Background(), spec, env)
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts.Crashes != 1 {
		t.Fatalf("crashes = %d", res.Counts.Crashes)
	}
	var crashed = -1
	seenAfter := map[int]bool{}
	for _, e := range rec.all() {
		if e.Type == history.Crash {
			crashed = e.Process
			continue
		}
		if crashed >= 0 {
			seenAfter[e.Process] = true
		}
	}
	if crashed != 1 {
		t.Fatalf("crash recorded for process %d, want 1", crashed)
	}
	if !seenAfter[1+spec.Clients] {
		t.Errorf("worker 1 did not come back as process %d", 1+spec.Clients)
	}
	// The abandoned lease blocked the key until its TTL: no lost updates.
	if res.LostUpdates != 0 {
		t.Errorf("lost updates %d after a crash", res.LostUpdates)
	}
}

func TestOpsBudgetStopsTheRun(t *testing.T) {
	r := newRig(t)
	spec := hotKey(3, time.Minute)
	spec.Ops = 50
	res, err := Run(context.Background(), spec, r.env(t, "token", nil))
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts.Attempts != 50 {
		t.Errorf("attempts = %d, want exactly the budget of 50", res.Counts.Attempts)
	}
}

// idleRecorder is a worker's recorder that also hears Idle and Close, as
// a history.Stream does: it checks the worker's promise that no event it
// appends after Idle(now) is earlier than now.
type idleRecorder struct {
	memStream
	idles   []int64
	closes  int
	broken  string // the first broken promise
	promise int64
}

func (r *idleRecorder) Append(e *history.Event) {
	if e.Time < r.promise && r.broken == "" {
		r.broken = e.String()
	}
	r.memStream.Append(e)
}

func (r *idleRecorder) Idle(now int64) error {
	r.idles = append(r.idles, now)
	r.promise = now
	return nil
}

func (r *idleRecorder) Close() error { r.closes++; return nil }

// TestWorkersIdleBeforeLongWaitsAndCloseWhenDone: a worker tells its
// recorder it is idle before every think time and critical section of
// idleWait or more (and before no shorter one), never appends an event
// earlier than it said, and closes its recorder once when it stops.
func TestWorkersIdleBeforeLongWaitsAndCloseWhenDone(t *testing.T) {
	r := newRig(t)
	for _, tc := range []struct {
		name        string
		think, crit time.Duration
		idle        bool
	}{
		{"long think", 3 * idleWait / 2, 0, true},
		{"long critical section", 0, 3 * idleWait / 2, true},
		{"short waits", idleWait / 4, idleWait / 4, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var recs []*idleRecorder
			spec := hotKey(2, 400*time.Millisecond)
			spec.Think = Dist{Kind: "fixed", Mean: tc.think}
			spec.CriticalSection = Dist{Kind: "fixed", Mean: tc.crit}
			env := r.env(t, "token", nil)
			env.NewRecorder = func() Recorder {
				mu.Lock()
				defer mu.Unlock()
				rec := &idleRecorder{}
				recs = append(recs, rec)
				return rec
			}
			res, err := Run(context.Background(), spec, env)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 2 || res.Counts.AcquireOK == 0 {
				t.Fatalf("%d recorders, %d acquires", len(recs), res.Counts.AcquireOK)
			}
			for i, rec := range recs {
				if rec.closes != 1 {
					t.Errorf("worker %d closed its recorder %d times, want once", i, rec.closes)
				}
				if rec.broken != "" {
					t.Errorf("worker %d appended %s after saying it was idle at %d", i, rec.broken, rec.promise)
				}
				if idled := len(rec.idles) > 0; idled != tc.idle {
					t.Errorf("worker %d went idle %d times; want idles: %v", i, len(rec.idles), tc.idle)
				}
			}
		})
	}
}
