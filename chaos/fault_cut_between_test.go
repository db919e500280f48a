package chaos

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/endpoint"
	"github.com/lockbench/lockbench/history"
	"github.com/lockbench/lockbench/locks"
	"github.com/lockbench/lockbench/workloads"
)

func TestCutBetweenTimeline(t *testing.T) {
	s := Schedule{Name: "cut", Steps: []Step{{Fault: FaultCutBetween, At: time.Second, Worker: 2}}}
	tl, err := s.Timeline(1, topo5())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"1s cut-between-commands start worker 2", "4s cut-between-commands stop worker 2"}
	if got := brief(tl); !reflect.DeepEqual(got, want) {
		t.Errorf("timeline %q, want %q", got, want)
	}
	if r := s.Requirements(); !r.ClientFaults || r.MinClients != 3 {
		t.Errorf("requirements %+v: want client faults for 3 clients", r)
	}
	bad := Schedule{Name: "cut", Steps: []Step{{Fault: FaultCutBetween, Nodes: 1}}}
	if err := bad.Validate(execCaps(), "exec", 5, 2, 4); err == nil {
		t.Error("a cut between commands took a node count")
	}
}

// TestCutBetweenHook drives the hook by hand: only the armed worker is cut,
// once, from n1 only, while the occurrence is in force; the stop heals it,
// and a hook call after the stop does nothing.
func TestCutBetweenHook(t *testing.T) {
	t.Parallel()
	c := startCluster(t, cluster.Spec{Nodes: 2})
	m := newMesh(t, GroupNames(2), nodeAddrs(c))
	rec := &events{}
	tg := &Target{Mesh: m, Faults: workloads.NewClientFaults(2), Record: rec.Record}
	s := Schedule{Name: "cut", Steps: []Step{{Fault: FaultCutBetween, Worker: 1, Duration: 600 * time.Millisecond}}}
	tl, wait := startRun(t, s, 1, topoOf(c, 2, 2, 2*time.Second), tg)
	rec.waitFor(t, FaultCutBetween, PhaseStart, 1)

	ctx := context.Background()
	tg.BetweenCommands(ctx, "B") // no worker in the context
	tg.BetweenCommands(workloads.WithWorker(ctx, 0), "A")
	if cut := probeAll(m, nil); len(cut) != 0 {
		t.Fatalf("cut %q before the armed worker reached the hook", cut)
	}
	tg.BetweenCommands(workloads.WithWorker(ctx, 1), "B")
	if cut := probeAll(m, []string{"B→n1"}); !reflect.DeepEqual(cut, []string{"B→n1"}) {
		t.Fatalf("cut %q, want B→n1", cut)
	}
	if err := wait(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if cut := probeAll(m, nil); len(cut) != 0 {
		t.Fatalf("still cut %q after the stop", cut)
	}
	tg.BetweenCommands(workloads.WithWorker(ctx, 1), "B")
	if cut := probeAll(m, nil); len(cut) != 0 {
		t.Fatalf("cut %q by a hook call after the stop", cut)
	}
	if got, want := rec.nemesis(), expected(tl); !reflect.DeepEqual(got, want) {
		t.Errorf("recorded %q, want %q", got, want)
	}
}

// TestCutBetweenCommandsLeavesAKeyWithoutTTL runs setnx-expire with the
// hook wired as the runner wires it: the armed worker's EXPIRE and release
// are lost, the key outlives the cut without a TTL, and nobody acquires it
// after the heal.
func TestCutBetweenCommandsLeavesAKeyWithoutTTL(t *testing.T) {
	t.Parallel()
	c := startCluster(t, cluster.Spec{Nodes: 2}) // n1 the lock, n2 the resource
	m := newMesh(t, GroupNames(1), nodeAddrs(c)[:1])
	clock := testClock{start: time.Now()}
	rec := &events{}
	faults := workloads.NewClientFaults(2)
	tg := &Target{Mesh: m, Faults: faults, Record: rec.Record, Now: clock.Now}
	ep := c.Nodes[0].Endpoint()
	ep.Addr = m.Addr("A", "n1")
	strat, err := locks.Lookup("setnx-expire")
	if err != nil {
		t.Fatal(err)
	}
	l, err := strat.New(locks.Config{Nodes: []endpoint.Endpoint{ep}, Timeout: 100 * time.Millisecond,
		Retry: locks.Retry{Policy: "exponential", Base: time.Millisecond, Cap: 20 * time.Millisecond, Attempts: 20},
		Hooks: locks.Hooks{BetweenCommands: func(ctx context.Context, _ string) { tg.BetweenCommands(ctx, "A") }}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rc := redis.NewClient(c.Nodes[1].Endpoint().ClientOptions(""))
	defer rc.Close()
	spec, err := workloads.Preset("hot-key")
	if err != nil {
		t.Fatal(err)
	}
	spec.Clients, spec.Duration, spec.TTL = 2, 1500*time.Millisecond, testTTL
	spec.CriticalSection = workloads.Dist{Kind: "fixed", Mean: 5 * time.Millisecond}
	spec.Think = workloads.Dist{Kind: "fixed", Mean: 5 * time.Millisecond}
	spec.Retry = locks.Retry{Policy: "exponential", Base: time.Millisecond, Cap: 20 * time.Millisecond, Attempts: 20}
	env := workloads.Env{Lockers: []locks.Locker{l}, Resources: []*workloads.Resource{workloads.NewResource(rc)},
		Clock: clock, NewRecorder: rec.recorder, Faults: faults, KeyPrefix: t.Name() + ":"}

	s := Schedule{Name: "cut", Steps: []Step{{Fault: FaultCutBetween, At: 200 * time.Millisecond, Worker: 1, Duration: 400 * time.Millisecond}}}
	tl, err := s.Timeline(1, Topology{Nodes: NodeNames(1), Groups: GroupNames(1), Clients: 2, TTL: testTTL, Duration: spec.Duration})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, tl, tg) }()
	if _, err := workloads.Run(context.Background(), spec, env); err != nil {
		t.Fatalf("workload: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	if got, want := rec.nemesis(), expected(tl); !reflect.DeepEqual(got, want) {
		t.Errorf("recorded %q, want %q", got, want)
	}
	var stop int64
	var cutAcquire, lostRelease, acquiredAfter bool
	ev := rec.snapshot()
	slices.SortStableFunc(ev, func(a, b history.Event) int { return int(a.Time - b.Time) })
	for _, e := range ev {
		switch {
		case e.Type == history.Nemesis && e.Phase == PhaseStop:
			stop = e.Time
		case e.Op == history.Acquire && e.Type == history.OK && e.Process == 1 && e.Time > int64(200*time.Millisecond) && stop == 0:
			cutAcquire = true
		case e.Op == history.Release && e.Type != history.OK && e.Type != history.Invoke && e.Process == 1 && stop == 0:
			lostRelease = true
		case e.Op == history.Acquire && e.Type == history.OK && stop > 0:
			acquiredAfter = true
		}
	}
	if !cutAcquire || !lostRelease {
		t.Errorf("worker 1 acquired during the cut: %v; its release failed: %v", cutAcquire, lostRelease)
	}
	if acquiredAfter {
		t.Error("someone acquired the lock after the cut healed: the key expired")
	}
	direct := redis.NewClient(c.Nodes[0].Endpoint().ClientOptions(""))
	defer direct.Close()
	if ttl, err := direct.TTL(context.Background(), t.Name()+":lock:0").Result(); err != nil || ttl != -1 {
		t.Errorf("TTL of the lock key = %v, %v; want -1 (no expiry)", ttl, err)
	}
}

// The workload's client faults are what the nemesis arms.
var _ ClientFaults = workloads.NewClientFaults(0)
