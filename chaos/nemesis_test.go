package chaos

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/endpoint"
	"github.com/lockbench/lockbench/history"
	"github.com/lockbench/lockbench/internal/testenv"
	"github.com/lockbench/lockbench/locks"
	"github.com/lockbench/lockbench/workloads"
)

// testTTL is the lease length the fault defaults follow in these tests:
// short, so that faults "longer than the TTL" stay well under a second.
const testTTL = 200 * time.Millisecond

// events is a history kept in memory: the nemesis's Record and every
// worker's recorder append to it.
type events struct {
	mu  sync.Mutex
	all []history.Event
}

// Record is a Target.Record.
func (r *events) Record(e *history.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = append(r.all, *e)
	return nil
}

// Append makes events a workloads.Recorder too.
func (r *events) Append(e *history.Event) { r.Record(e) }

// recorder hands the same store to every worker.
func (r *events) recorder() workloads.Recorder { return r }

// snapshot copies the events so far.
func (r *events) snapshot() []history.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.all)
}

// nemesis lists the nemesis events as "fault phase target".
func (r *events) nemesis() []string {
	var out []string
	for _, e := range r.snapshot() {
		if e.Type == history.Nemesis {
			out = append(out, e.Fault+" "+e.Phase+" "+e.Target)
		}
	}
	return out
}

// waitFor waits until n nemesis events of fault and phase were recorded.
func (r *events) waitFor(t *testing.T, fault, phase string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		k := 0
		for _, e := range r.snapshot() {
			if e.Type == history.Nemesis && e.Fault == fault && e.Phase == phase {
				k++
			}
		}
		if k >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s %s event #%d within 5 s; events: %q", fault, phase, n, r.nemesis())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// expected lists a timeline's start and stop actions as events records
// them (client pauses are recorded by the worker, client crashes as a
// start/stop pair).
func expected(tl []Action) []string {
	var out []string
	for _, a := range tl {
		switch a.Fault {
		case FaultClientPause:
		case FaultClientCrash:
			out = append(out, a.Fault+" start "+a.Target, a.Fault+" stop "+a.Target)
		default:
			out = append(out, a.Fault+" "+a.Phase+" "+a.Target)
		}
	}
	return out
}

// startCluster starts n exec nodes, removed when t ends.
func startCluster(t *testing.T, spec cluster.Spec) *cluster.Cluster {
	t.Helper()
	testenv.NeedRedisServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := cluster.NewExec(cluster.ExecOptions{}).Start(ctx, spec)
	if err != nil {
		if spec.FakeTime && errors.Is(err, cluster.ErrUnavailable) {
			testenv.Skip(t, err.Error())
		}
		t.Fatalf("start %d nodes: %v", spec.Nodes, err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close cluster: %v", err)
		}
	})
	return c
}

// nodeAddrs are the cluster's nodes as a mesh wants them.
func nodeAddrs(c *cluster.Cluster) []NodeAddr {
	out := make([]NodeAddr, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = NodeAddr{Name: n.Name(), Addr: n.Endpoint().Addr}
	}
	return out
}

// topoOf is the topology of a cluster with groups client groups.
func topoOf(c *cluster.Cluster, groups, clients int, cell time.Duration) Topology {
	return Topology{Nodes: NodeNames(len(c.Nodes)), Groups: GroupNames(groups), Clients: clients, TTL: testTTL, Duration: cell}
}

// startRun expands s with seed and runs it against tg in the background.
// The returned wait gives Run's error; it is also called when t ends.
func startRun(t *testing.T, s Schedule, seed uint64, topo Topology, tg *Target) ([]Action, func() error) {
	t.Helper()
	tl, err := s.Timeline(seed, topo)
	if err != nil {
		t.Fatalf("Timeline: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	done := make(chan error, 1)
	go func() { done <- Run(ctx, tl, tg) }()
	var once sync.Once
	var runErr error
	wait := func() error {
		once.Do(func() {
			runErr = <-done
			cancel()
		})
		return runErr
	}
	t.Cleanup(func() { wait() })
	return tl, wait
}

// probeAll pings every (group, node) pair of m at once through fresh
// clients with a short timeout, and returns the pairs that did not answer;
// want lists the pairs the caller expects cut.
func probeAll(m *Mesh, want []string) []string {
	var mu sync.Mutex
	var cut []string
	var wg sync.WaitGroup
	for _, g := range m.Groups() {
		for _, n := range m.Nodes() {
			pair := g + "→" + n
			wg.Go(func() {
				if pingAddr(m.Addr(g, n), 200*time.Millisecond) == nil {
					return
				}
				// A pair that should answer gets two more, patient tries
				// before it counts as cut: on a loaded machine with -race
				// a dial through the in-process proxy can take longer
				// than 200 ms. A pair expected cut is not retried: the
				// fault may end before a patient retry would.
				if !slices.Contains(want, pair) {
					for range 2 {
						if pingAddr(m.Addr(g, n), time.Second) == nil {
							return
						}
					}
				}
				mu.Lock()
				cut = append(cut, pair)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	slices.Sort(cut)
	return cut
}

// pingAddr sends one PING through a fresh single-connection client.
func pingAddr(addr string, timeout time.Duration) error {
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout,
		PoolSize: 1, MaxRetries: -1, DialerRetries: 1, DisableIdentity: true, Protocol: 2})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*timeout)
	defer cancel()
	return c.Ping(ctx).Err()
}

// pairs lists "g→n" for each group and node, sorted.
func pairs(groups []string, nodes ...string) []string {
	var out []string
	for _, g := range groups {
		for _, n := range nodes {
			out = append(out, g+"→"+n)
		}
	}
	slices.Sort(out)
	return out
}

// TestNetworkFaultsObservableAndHealed runs each network fault on five
// nodes and two client groups, observes it from clients while it is in
// force, and checks that every client reaches every node quickly again once
// Run returned, and that the start and stop were recorded.
func TestNetworkFaultsObservableAndHealed(t *testing.T) {
	c := startCluster(t, cluster.Spec{Nodes: 5})
	m := newMesh(t, GroupNames(2), nodeAddrs(c))
	both := GroupNames(2)
	direct := newClient(t, c.Nodes[0].Endpoint().Addr, time.Second)

	for _, tc := range []struct {
		name   string
		step   Step
		target string
		// prepare runs before the fault and returns the check made while
		// it is in force.
		prepare func(t *testing.T) func(t *testing.T, rec *events)
	}{
		{"latency", Step{Fault: FaultLatency, Targets: []string{"n2"}, Latency: 60 * time.Millisecond, Duration: time.Second}, "n2",
			func(t *testing.T) func(*testing.T, *events) {
				slow := newClient(t, m.Addr("B", "n2"), 2*time.Second)
				fast := newClient(t, m.Addr("B", "n1"), 2*time.Second)
				rtt(t, slow)
				rtt(t, fast)
				return func(t *testing.T, _ *events) {
					if got := minRTT(t, slow, 2); got < 120*time.Millisecond {
						t.Errorf("PING B→n2 under 60 ms latency each way took %v, want ≥ 120 ms", got)
					}
					if got := minRTT(t, fast, 2); got > 50*time.Millisecond {
						t.Errorf("PING B→n1, not targeted, took %v", got)
					}
				}
			}},
		{"jitter", Step{Fault: FaultJitter, Targets: []string{"n3"}, Latency: 40 * time.Millisecond, Duration: 1500 * time.Millisecond}, "n3",
			func(t *testing.T) func(*testing.T, *events) {
				cl := newClient(t, m.Addr("A", "n3"), 2*time.Second)
				rtt(t, cl)
				return func(t *testing.T, _ *events) {
					var lo, hi, sum time.Duration
					lo = time.Hour
					const n = 8
					for range n {
						d := rtt(t, cl)
						lo, hi, sum = min(lo, d), max(hi, d), sum+d
					}
					// Each direction is delayed 0 … 80 ms: mean 80 ms a round trip.
					if mean := sum / n; mean < 40*time.Millisecond || hi-lo < 20*time.Millisecond {
						t.Errorf("PING A→n3 under 40±40 ms: mean %v, spread %v…%v; want mean ≥ 40 ms and a spread ≥ 20 ms", mean, lo, hi)
					}
				}
			}},
		{"slow-replies", Step{Fault: FaultSlowReplies, Targets: []string{"n1"}, Duration: 1200 * time.Millisecond}, "n1",
			func(t *testing.T) func(*testing.T, *events) {
				impatient := newClient(t, m.Addr("A", "n1"), 100*time.Millisecond)
				patient := newClient(t, m.Addr("A", "n1"), 2*time.Second)
				rtt(t, impatient)
				rtt(t, patient)
				return func(t *testing.T, _ *events) {
					ctx := context.Background()
					if err := impatient.Set(ctx, "slow-replies", "1", 0).Err(); !isTimeout(err) {
						t.Errorf("SET under slow replies with a 100 ms timeout: %v, want a timeout", err)
					}
					if got, err := direct.Get(ctx, "slow-replies").Result(); err != nil || got != "1" {
						t.Errorf("direct GET = %q, %v: the node should have executed the SET at once", got, err)
					}
					// Default reply delay: 2×TTL.
					if got := rtt(t, patient); got < 2*testTTL {
						t.Errorf("PING under slow replies took %v, want ≥ %v", got, 2*testTTL)
					}
				}
			}},
		{"partition-node", Step{Fault: FaultPartitionNode, Targets: []string{"n2"}, Duration: 600 * time.Millisecond}, "n2",
			expectCut(m, pairs(both, "n2"))},
		{"partition-minority", Step{Fault: FaultPartitionMinority, Duration: 600 * time.Millisecond}, "n1,n2",
			expectCut(m, pairs(both, "n1", "n2"))},
		{"partition-majority", Step{Fault: FaultPartitionMajority, Duration: 600 * time.Millisecond}, "n1,n2,n3",
			expectCut(m, pairs(both, "n1", "n2", "n3"))},
		{"partition-asymmetric", Step{Fault: FaultPartitionAsymmetric, Duration: 600 * time.Millisecond}, "A→n4,n5; B→n1,n2",
			expectCut(m, append(pairs([]string{"A"}, "n4", "n5"), pairs([]string{"B"}, "n1", "n2")...))},
		{"partition one group", Step{Fault: FaultPartitionNode, Nodes: 2, Groups: []string{"B"}, Duration: 600 * time.Millisecond}, "B→n1,n2",
			expectCut(m, pairs([]string{"B"}, "n1", "n2"))},
		{"flapping", Step{Fault: FaultFlapping, Targets: []string{"n5"}, Duration: 500 * time.Millisecond, Every: time.Second, Repeat: 2}, "n5",
			func(t *testing.T) func(*testing.T, *events) {
				return func(t *testing.T, rec *events) {
					for i := 1; i <= 2; i++ {
						rec.waitFor(t, FaultFlapping, PhaseStart, i)
						want := pairs(both, "n5")
						if got := probeAll(m, want); !slices.Equal(got, want) {
							t.Errorf("flap %d on: unreachable %v, want %v", i, got, want)
						}
						rec.waitFor(t, FaultFlapping, PhaseStop, i)
						if got := probeAll(m, nil); len(got) > 0 {
							t.Errorf("flap %d off: unreachable %v", i, got)
						}
					}
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &events{}
			tg := &Target{Cluster: c, Mesh: m, Record: rec.Record}
			s := Schedule{Name: tc.name, Steps: []Step{tc.step}}
			during := tc.prepare(t)
			tl, wait := startRun(t, s, 1, topoOf(c, 2, 1, 10*time.Second), tg)
			rec.waitFor(t, tc.step.Fault, PhaseStart, 1)
			during(t, rec)
			if err := wait(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := probeAll(m, nil); len(got) > 0 {
				t.Errorf("after Run, unreachable: %v", got)
			}
			for _, g := range both {
				for _, n := range c.Nodes {
					if got := minRTT(t, newClient(t, m.Addr(g, n.Name()), time.Second), 3); got > 50*time.Millisecond {
						t.Errorf("after Run, PING %s→%s takes %v", g, n.Name(), got)
					}
				}
			}
			got, want := rec.nemesis(), expected(tl)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("recorded %q, want %q", got, want)
			}
			if first := tc.step.Fault + " start " + tc.target; len(got) == 0 || got[0] != first {
				t.Errorf("recorded %q, want it to begin with %q", got, first)
			}
		})
	}
}

// expectCut returns a check that exactly the pairs in cut are unreachable.
func expectCut(m *Mesh, cut []string) func(*testing.T) func(*testing.T, *events) {
	return func(*testing.T) func(*testing.T, *events) {
		return func(t *testing.T, _ *events) {
			if got := probeAll(m, cut); !slices.Equal(got, cut) {
				t.Errorf("unreachable %v, want %v", got, cut)
			}
		}
	}
}

// TestKillRestartPersistence: after a kill -9 and an immediate restart the
// lock key is gone without persistence and kept with an fsynced AOF.
func TestKillRestartPersistence(t *testing.T) {
	for _, tc := range []struct {
		persist  cluster.Persistence
		wantKept bool
	}{
		{cluster.PersistNone, false},
		{cluster.PersistAOFEverySec, true}, // a process kill keeps what reached the kernel
		{cluster.PersistAOFAlways, true},
	} {
		t.Run(string(tc.persist), func(t *testing.T) {
			t.Parallel()
			c := startCluster(t, cluster.Spec{Nodes: 1, Persistence: tc.persist})
			ctx := context.Background()
			cl := newClient(t, c.Nodes[0].Endpoint().Addr, time.Second)
			if err := cl.Set(ctx, "lock", "token", 0).Err(); err != nil {
				t.Fatal(err)
			}
			pid := serverPID(t, cl)
			rec := &events{}
			s := Schedule{Name: "restart", Persistence: tc.persist, Steps: []Step{{Fault: FaultKillRestart}}}
			tl, wait := startRun(t, s, 1, topoOf(c, 1, 1, 5*time.Second), &Target{Cluster: c, Record: rec.Record})
			if err := wait(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := serverPID(t, cl); got == pid {
				t.Errorf("redis-server pid %s unchanged: the node was not restarted", pid)
			}
			got, err := cl.Get(ctx, "lock").Result()
			switch {
			case tc.wantKept && (err != nil || got != "token"):
				t.Errorf("GET after kill-restart with %s = %q, %v; want the key kept", tc.persist, got, err)
			case !tc.wantKept && !errors.Is(err, redis.Nil):
				t.Errorf("GET after kill-restart with %s = %q, %v; want the key lost", tc.persist, got, err)
			}
			if got, want := rec.nemesis(), expected(tl); !reflect.DeepEqual(got, want) || len(want) != 2 {
				t.Errorf("recorded %q, want %q", got, want)
			}
		})
	}
}

// serverPID reads the node's process id (INFO server).
func serverPID(t *testing.T, c *redis.Client) string {
	t.Helper()
	var info string
	var err error
	for range 3 { // the first command after a restart may meet a dead pooled connection
		if info, err = c.Info(context.Background(), "server").Result(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("INFO: %v", err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(line, "process_id:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no process_id in INFO")
	return ""
}

// TestNodeFaultsObservableAndHealed: a node killed for a while refuses
// connections, a paused one times out; both answer again after Run.
func TestNodeFaultsObservableAndHealed(t *testing.T) {
	for _, tc := range []struct {
		step  Step
		check func(t *testing.T, addr string)
	}{
		{Step{Fault: FaultKillDelayedRestart, Duration: 600 * time.Millisecond}, func(t *testing.T, addr string) {
			if err := pingAddr(addr, 200*time.Millisecond); err == nil || isTimeout(err) {
				t.Errorf("PING a killed node: %v, want the connection refused", err)
			}
		}},
		{Step{Fault: FaultPauseNode, Duration: 600 * time.Millisecond}, func(t *testing.T, addr string) {
			if err := pingAddr(addr, 200*time.Millisecond); !isTimeout(err) {
				t.Errorf("PING a paused node: %v, want a timeout", err)
			}
		}},
	} {
		t.Run(tc.step.Fault, func(t *testing.T) {
			t.Parallel()
			c := startCluster(t, cluster.Spec{Nodes: 2})
			addr := c.Nodes[0].Endpoint().Addr
			rec := &events{}
			tl, wait := startRun(t, Schedule{Name: "n", Steps: []Step{tc.step}}, 1, topoOf(c, 1, 1, 5*time.Second),
				&Target{Cluster: c, Record: rec.Record})
			rec.waitFor(t, tc.step.Fault, PhaseStart, 1)
			tc.check(t, addr)
			if err := pingAddr(c.Nodes[1].Endpoint().Addr, time.Second); err != nil {
				t.Errorf("n2, not targeted: %v", err)
			}
			if err := wait(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if err := pingAddr(addr, time.Second); err != nil {
				t.Errorf("after Run: %v", err)
			}
			if got, want := rec.nemesis(), expected(tl); !reflect.DeepEqual(got, want) {
				t.Errorf("recorded %q, want %q", got, want)
			}
			ev := rec.snapshot()
			if d := time.Duration(ev[1].Time - ev[0].Time); d < tc.step.Duration {
				t.Errorf("recorded window %v, shorter than the fault's %v", d, tc.step.Duration)
			}
		})
	}
}

// TestClockFaultsSeenThroughTIME: a jump shows as an offset of the node's
// TIME and expires a key early; a fast clock's offset grows; both are back
// to real time after Run.
func TestClockFaultsSeenThroughTIME(t *testing.T) {
	c := startCluster(t, cluster.Spec{Nodes: 2, FakeTime: true})
	ep := c.Nodes[0].Endpoint()
	ctx := context.Background()
	offset := func(t *testing.T) time.Duration {
		t.Helper()
		off, err := cluster.ClockOffset(ctx, ep)
		if err != nil {
			t.Fatal(err)
		}
		return off
	}
	near := func(got, want time.Duration) bool {
		return got-want < 250*time.Millisecond && want-got < 250*time.Millisecond
	}
	for _, tc := range []struct {
		step   Step
		before func(t *testing.T)
		during func(t *testing.T)
	}{
		{Step{Fault: FaultClockJump, Offset: 5 * time.Second, Duration: 800 * time.Millisecond},
			func(t *testing.T) {
				if err := newClient(t, ep.Addr, time.Second).Set(ctx, "lease", "mine", 3*time.Second).Err(); err != nil {
					t.Fatal(err)
				}
			},
			func(t *testing.T) {
				if got := offset(t); !near(got, 5*time.Second) {
					t.Errorf("TIME offset during a +5 s jump: %v", got)
				}
				if got, err := newClient(t, ep.Addr, time.Second).Get(ctx, "lease").Result(); !errors.Is(err, redis.Nil) {
					t.Errorf("a 3 s lease after a 5 s jump: GET = %q, %v; want it expired", got, err)
				}
				if got, _ := cluster.ClockOffset(ctx, c.Nodes[1].Endpoint()); !near(got, 0) {
					t.Errorf("n2, not targeted, is off by %v", got)
				}
			}},
		{Step{Fault: FaultClockFast, Rate: 4, Duration: 800 * time.Millisecond}, nil,
			func(t *testing.T) {
				o1 := offset(t)
				time.Sleep(300 * time.Millisecond)
				// At 4× the clock gains 3 × 300 ms.
				if gain := offset(t) - o1; gain < 600*time.Millisecond || gain > 1200*time.Millisecond {
					t.Errorf("a 4× clock gained %v in 300 ms, want about 900 ms", gain)
				}
			}},
	} {
		t.Run(tc.step.Fault, func(t *testing.T) {
			if tc.before != nil {
				tc.before(t)
			}
			rec := &events{}
			tl, wait := startRun(t, Schedule{Name: "clock", Steps: []Step{tc.step}}, 1, topoOf(c, 1, 1, 5*time.Second),
				&Target{Cluster: c, Record: rec.Record})
			rec.waitFor(t, tc.step.Fault, PhaseStart, 1)
			tc.during(t)
			if err := wait(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := offset(t); !near(got, 0) {
				t.Errorf("offset after Run: %v, want about 0", got)
			}
			if got, want := rec.nemesis(), expected(tl); !reflect.DeepEqual(got, want) {
				t.Errorf("recorded %q, want %q", got, want)
			}
		})
	}
}

// testClock is the run's clock for the workload tests.
type testClock struct{ start time.Time }

func (c testClock) Now() int64           { return int64(time.Since(c.start)) }
func (c testClock) At(t time.Time) int64 { return int64(t.Sub(c.start)) }

// workloadRig is a lock node and a resource node, a nemesis target over
// them, and a workload spec with the test TTL.
type workloadRig struct {
	c     *cluster.Cluster
	clock testClock
	rec   *events
	env   workloads.Env
	spec  workloads.Spec
}

// newWorkloadRig builds the rig for lock; resource, when non-nil, is how
// the workers reach the resource node (default: directly).
func newWorkloadRig(t *testing.T, lock string, clients int, d time.Duration, resource func(c *cluster.Cluster) *redis.Client) *workloadRig {
	t.Helper()
	c := startCluster(t, cluster.Spec{Nodes: 2})
	strat, err := locks.Lookup(lock)
	if err != nil {
		t.Fatal(err)
	}
	l, err := strat.New(locks.Config{Nodes: []endpoint.Endpoint{c.Nodes[0].Endpoint()},
		Retry: locks.Retry{Policy: "exponential", Base: time.Millisecond, Cap: 20 * time.Millisecond, Attempts: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	rc := redis.NewClient(c.Nodes[1].Endpoint().ClientOptions(""))
	t.Cleanup(func() { rc.Close() })
	res := workloads.NewResource(rc)
	if resource != nil {
		// Reads direct, writes through the given (proxied) client, as
		// the runner does for delayed-write.
		wc := resource(c)
		t.Cleanup(func() { wc.Close() })
		res = workloads.NewResourceDelayedWrites(rc, wc)
	}
	spec, err := workloads.Preset("hot-key")
	if err != nil {
		t.Fatal(err)
	}
	spec.Clients, spec.Duration, spec.TTL = clients, d, testTTL
	spec.CriticalSection = workloads.Dist{Kind: "fixed", Mean: time.Millisecond}
	r := &workloadRig{c: c, clock: testClock{start: time.Now()}, rec: &events{}, spec: spec}
	r.env = workloads.Env{Lockers: []locks.Locker{l}, Resources: []*workloads.Resource{res},
		Clock: r.clock, NewRecorder: r.rec.recorder, Faults: workloads.NewClientFaults(clients), KeyPrefix: t.Name() + ":"}
	return r
}

// run runs the workload and the schedule together, as the runner does:
// the nemesis's context ends when the workload does.
func (r *workloadRig) run(t *testing.T, s Schedule, tg *Target) ([]Action, *workloads.Result) {
	t.Helper()
	tg.Faults, tg.Record, tg.Now = r.env.Faults, r.rec.Record, r.clock.Now
	tl, err := s.Timeline(1, Topology{Nodes: NodeNames(2), Groups: GroupNames(1), Clients: r.spec.Clients, TTL: r.spec.TTL, Duration: r.spec.Duration})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, tl, tg) }()
	res, werr := workloads.Run(context.Background(), r.spec, r.env)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if werr != nil {
		t.Fatalf("workload: %v", werr)
	}
	return tl, res
}

// TestClientPauseSeenInHistory: the schedule arms the pause, the worker
// records it as a nemesis pair around a pause of the asked length.
func TestClientPauseSeenInHistory(t *testing.T) {
	t.Parallel()
	r := newWorkloadRig(t, "token", 2, 1200*time.Millisecond, nil)
	const pause = 500 * time.Millisecond
	s := Schedule{Name: "pause", Steps: []Step{{Fault: FaultClientPause, At: 100 * time.Millisecond, Worker: 1, Duration: pause}}}
	_, res := r.run(t, s, &Target{})
	if res.Counts.Pauses != 1 {
		t.Fatalf("pauses = %d, want 1 (counts %+v)", res.Counts.Pauses, res.Counts)
	}
	var got []history.Event
	for _, e := range r.rec.snapshot() {
		if e.Type == history.Nemesis {
			got = append(got, e)
		}
	}
	if len(got) != 2 || got[0].Fault != FaultClientPause || got[0].Phase != PhaseStart || got[1].Phase != PhaseStop ||
		got[0].Target != "process 1" || got[1].Target != "process 1" {
		t.Fatalf("nemesis events %+v, want one client-pause start/stop pair on process 1", got)
	}
	if d := time.Duration(got[1].Time - got[0].Time); d < pause {
		t.Errorf("recorded pause %v, want ≥ %v", d, pause)
	}
	if got[0].Time < int64(100*time.Millisecond) {
		t.Errorf("pause started at %v, before it was armed at 100 ms", time.Duration(got[0].Time))
	}
}

// TestClientCrashSeenInHistory: the schedule arms the crash and records it;
// the worker records the crash event.
func TestClientCrashSeenInHistory(t *testing.T) {
	t.Parallel()
	r := newWorkloadRig(t, "token", 2, 800*time.Millisecond, nil)
	s := Schedule{Name: "crash", Steps: []Step{{Fault: FaultClientCrash, At: 100 * time.Millisecond, Worker: 1}}}
	tl, res := r.run(t, s, &Target{})
	if res.Counts.Crashes != 1 {
		t.Fatalf("crashes = %d, want 1", res.Counts.Crashes)
	}
	var crash *history.Event
	ev := r.rec.snapshot()
	for i := range ev {
		if ev[i].Type == history.Crash {
			crash = &ev[i]
		}
	}
	if crash == nil || crash.Process != 1 {
		t.Fatalf("crash event %+v, want one for process 1", crash)
	}
	got, want := r.rec.nemesis(), expected(tl)
	if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(want, []string{"client-crash start worker 1", "client-crash stop worker 1"}) {
		t.Errorf("recorded %q, want %q", got, want)
	}
}

// TestDelayedWriteArrivesLate: the resource proxy holds every request for
// longer than the TTL, so the protected write lands after the lease
// expired; after the fault, writes are fast again.
func TestDelayedWriteArrivesLate(t *testing.T) {
	t.Parallel()
	var rm *Mesh
	r := newWorkloadRig(t, "token", 1, 2*time.Second, func(c *cluster.Cluster) *redis.Client {
		rm = newMesh(t, GroupNames(1), []NodeAddr{{Name: "resource", Addr: c.Nodes[1].Endpoint().Addr}})
		opts := c.Nodes[1].Endpoint().ClientOptions(rm.Addr("A", "resource"))
		opts.ReadTimeout = 5 * time.Second
		return redis.NewClient(opts)
	})
	s := Schedule{Name: "delayed", Steps: []Step{{Fault: FaultDelayedWrite, At: 200 * time.Millisecond, Duration: 1200 * time.Millisecond}}}
	tl, _ := r.run(t, s, &Target{ResourceMesh: rm})
	var start, stop int64
	var invoked, deadline int64
	var late, fastAfter = 0, time.Hour
	for _, e := range r.rec.snapshot() {
		switch {
		case e.Type == history.Nemesis && e.Phase == PhaseStart:
			start = e.Time
		case e.Type == history.Nemesis && e.Phase == PhaseStop:
			stop = e.Time
		case e.Op == history.Acquire && e.Type == history.OK:
			deadline = e.Deadline
		case e.Op == history.Write && e.Type == history.Invoke:
			invoked = e.Time
		case e.Op == history.Write && e.Type == history.OK:
			d := time.Duration(e.Time - invoked)
			// A write held for the whole default delay (2×TTL) that
			// lands after its lease's deadline.
			if start > 0 && stop == 0 && d >= 2*testTTL && e.Time > deadline {
				late++
			}
			if stop > 0 && invoked > stop {
				fastAfter = min(fastAfter, d)
			}
		}
	}
	if late == 0 {
		t.Errorf("no write during the fault was held for %v and landed after its lease expired", 2*testTTL)
	}
	if fastAfter > 50*time.Millisecond {
		t.Errorf("fastest write after the fault took %v", fastAfter)
	}
	if got, want := r.rec.nemesis(), expected(tl); !reflect.DeepEqual(got, want) || want[0] != "delayed-write start resource" {
		t.Errorf("recorded %q, want %q", got, want)
	}
}

// TestSameSeedSameRecordedFaults runs one random schedule twice with the
// same seed (on two meshes at once) and compares what was recorded.
func TestSameSeedSameRecordedFaults(t *testing.T) {
	c := startCluster(t, cluster.Spec{Nodes: 3})
	s := Schedule{Name: "random", Steps: []Step{
		{Fault: FaultPartitionNode, Random: true, Duration: 100 * time.Millisecond, Every: 250 * time.Millisecond, Repeat: 3},
		{Fault: FaultLatency, Random: true, Nodes: 2, Latency: 5 * time.Millisecond, At: 800 * time.Millisecond, Window: 100 * time.Millisecond, Duration: 50 * time.Millisecond},
		{Fault: FaultPartitionAsymmetric, Random: true, At: 950 * time.Millisecond, Window: 50 * time.Millisecond, Duration: 50 * time.Millisecond},
	}}
	topo := topoOf(c, 2, 1, 1100*time.Millisecond)
	var recs [2]*events
	var tls [2][]Action
	var waits [2]func() error
	for i := range recs {
		recs[i] = &events{}
		m := newMesh(t, GroupNames(2), nodeAddrs(c))
		tls[i], waits[i] = startRun(t, s, 7, topo, &Target{Mesh: m, Record: recs[i].Record})
	}
	for i := range waits {
		if err := waits[i](); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	if !reflect.DeepEqual(tls[0], tls[1]) {
		t.Fatalf("same seed, different timelines:\n%q\n%q", brief(tls[0]), brief(tls[1]))
	}
	a, b := recs[0].nemesis(), recs[1].nemesis()
	if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(a, expected(tls[0])) || len(a) != 10 {
		t.Errorf("same seed, recorded\n%q\n%q\nwant %q", a, b, expected(tls[0]))
	}
	other, err := s.Timeline(8, topo)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(brief(other), brief(tls[0])) {
		t.Errorf("seeds 7 and 8 gave the same timeline %q", brief(other))
	}
}

// TestRunRefusesWhatTheTargetCannotDo: checked before anything changes,
// naming the providers that can.
func TestRunRefusesWhatTheTargetCannotDo(t *testing.T) {
	c := startCluster(t, cluster.Spec{Nodes: 1})
	ctx := context.Background()
	ext, err := cluster.NewExternal(cluster.ExternalOptions{Addrs: c.Addrs()}).Start(ctx, cluster.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	defer ext.Close()
	topo := topoOf(c, 1, 1, time.Second)
	for _, tc := range []struct {
		fault string
		tg    *Target
		want  string
		is    error
	}{
		{FaultKillRestart, &Target{Cluster: ext}, "kill on the external provider: not supported by this provider; use --provider exec or docker", cluster.ErrUnsupported},
		{FaultPauseNode, &Target{Cluster: ext}, "pause on the external provider: not supported by this provider; use --provider exec or docker", cluster.ErrUnsupported},
		{FaultClockJump, &Target{Cluster: ext}, "clock on the external provider: not supported by this provider; use --provider exec", cluster.ErrUnsupported},
		{FaultPartitionNode, &Target{Cluster: c}, "needs the proxy mesh in front of the lock nodes", ErrInvalid},
		{FaultCutBetween, &Target{Cluster: c, Faults: workloads.NewClientFaults(1)}, "needs the proxy mesh in front of the lock nodes", ErrInvalid},
		{FaultDelayedWrite, &Target{Cluster: c}, "needs the resource reached through a proxy mesh", ErrInvalid},
		{FaultClientCrash, &Target{Cluster: c}, "client faults need Target.Faults", ErrInvalid},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			tl, err := Schedule{Name: "s", Steps: []Step{{Fault: tc.fault}}}.Timeline(1, topo)
			if err != nil {
				t.Fatal(err)
			}
			rec := &events{}
			tc.tg.Record = rec.Record
			err = Run(ctx, tl, tc.tg)
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run: %v\nwant %q", err, tc.want)
			}
			if got := rec.nemesis(); len(got) > 0 {
				t.Errorf("a refused timeline recorded %q", got)
			}
			if err := pingAddr(c.Nodes[0].Endpoint().Addr, time.Second); err != nil {
				t.Errorf("node after a refused timeline: %v", err)
			}
		})
	}
}

// TestRunHealsOnCancelAndHealAllIsIdempotent: faults with no end in the
// timeline (the cell has no duration) last until the context ends; Run then
// heals them and records their stop. HealAll afterwards changes and records
// nothing, and brings back whatever happened outside the schedule.
func TestRunHealsOnCancelAndHealAllIsIdempotent(t *testing.T) {
	c := startCluster(t, cluster.Spec{Nodes: 2})
	m := newMesh(t, GroupNames(1), nodeAddrs(c))
	rec := &events{}
	tg := &Target{Cluster: c, Mesh: m, Record: rec.Record}
	s := Schedule{Name: "forever", Steps: []Step{
		{Fault: FaultPauseNode, Duration: UntilEnd},
		{Fault: FaultPartitionNode, Targets: []string{"n2"}, Duration: UntilEnd},
	}}
	tl, err := s.Timeline(1, topoOf(c, 1, 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(tl) != 2 {
		t.Fatalf("timeline %q, want two starts and no stop", brief(tl))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, tl, tg) }()
	rec.waitFor(t, FaultPartitionNode, PhaseStart, 1)
	time.Sleep(100 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Run returned before its context ended: %v", err)
	default:
	}
	if got := probeAll(m, []string{"A→n1", "A→n2"}); !slices.Equal(got, []string{"A→n1", "A→n2"}) {
		t.Errorf("unreachable %v, want n1 (paused) and n2 (cut)", got)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if got := probeAll(m, nil); len(got) > 0 {
		t.Errorf("after Run: unreachable %v", got)
	}
	want := []string{"pause-node start n1", "partition-node start n2", "pause-node stop n1", "partition-node stop n2"}
	if got := rec.nemesis(); !reflect.DeepEqual(got, want) {
		t.Errorf("recorded %q, want %q", got, want)
	}

	// Outside any schedule: a node killed, a link cut.
	bg := context.Background()
	if err := c.Nodes[0].Kill(bg); err != nil {
		t.Fatal(err)
	}
	if err := m.Partition(bg, "A", "n2"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := HealAll(bg, tg); err != nil {
			t.Fatalf("HealAll: %v", err)
		}
		if got := probeAll(m, nil); len(got) > 0 {
			t.Errorf("after HealAll: unreachable %v", got)
		}
	}
	if got := rec.nemesis(); len(got) != len(want) {
		t.Errorf("HealAll recorded more: %q", got[len(want):])
	}
}

// TestRunStopsAtAFailingActionAndHeals: a clock fault on nodes started
// without the clock shim fails; Run returns the error and leaves the
// history well formed (the start it recorded has its stop).
func TestRunStopsAtAFailingActionAndHeals(t *testing.T) {
	c := startCluster(t, cluster.Spec{Nodes: 1})
	rec := &events{}
	s := Schedule{Name: "noshim", Steps: []Step{
		{Fault: FaultClockJump, Duration: 300 * time.Millisecond},
		{Fault: FaultPauseNode, At: 500 * time.Millisecond, Duration: 100 * time.Millisecond},
	}}
	tl, err := s.Timeline(1, topoOf(c, 1, 1, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	err = Run(context.Background(), tl, &Target{Cluster: c, Record: rec.Record})
	if !errors.Is(err, cluster.ErrUnsupported) {
		t.Errorf("Run: %v, want ErrUnsupported from the node", err)
	}
	if got, want := rec.nemesis(), []string{"clock-jump start n1", "clock-jump stop n1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("recorded %q, want %q", got, want)
	}
	if err := pingAddr(c.Nodes[0].Endpoint().Addr, time.Second); err != nil {
		t.Errorf("node after the failed run: %v", err)
	}
}
