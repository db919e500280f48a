package runner

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lockbench/lockbench/agent"
	"github.com/lockbench/lockbench/checker"
	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/fleet"
	"github.com/lockbench/lockbench/history"
	"github.com/lockbench/lockbench/internal/testagent"
	"github.com/lockbench/lockbench/internal/testenv"
	"github.com/lockbench/lockbench/summary"
	"github.com/lockbench/lockbench/workloads"
)

// localAgents are n agents that are this test binary, with extra agent
// flags.
func localAgents(n int, args ...string) *Agents {
	cmd, env := testagent.AgentCommand()
	return &Agents{Spec: fleet.Spec{Engine: "local", Count: n}, Engine: &fleet.Local{Command: cmd, Env: env}, Args: args}
}

// runOnAgents runs sc's cells on agents and returns the summary.
func runOnAgents(t *testing.T, sc Scenario, a *Agents) *summary.Summary {
	t.Helper()
	cells, err := sc.Expand()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := ExecuteCells(ctx, sc, cells, Options{Cluster: cluster.AutoOptions{Provider: "exec"}, Dir: dir, RunID: "test", Agents: a}); err != nil {
		t.Fatal(err)
	}
	sum, err := summary.Read(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range sum.Cells {
		if c := &sum.Cells[i]; c.Error != "" {
			t.Fatalf("cell %s could not run: %s", c.ID, c.Error)
		}
		sum.Cells[i].History = filepath.Join(dir, sum.Cells[i].History)
	}
	return sum
}

// workload is preset name with clients, a critical section and a
// duration.
func workload(t *testing.T, name string, clients int, cs, d time.Duration) WorkloadRef {
	t.Helper()
	spec, err := workloads.Preset("hot-key")
	if err != nil {
		t.Fatal(err)
	}
	spec.Name, spec.Clients, spec.Duration = name, clients, d
	spec.CriticalSection = workloads.Dist{Kind: "fixed", Mean: cs}
	return WorkloadRef{Spec: spec}
}

// checkAgents asserts that every cell ran on n agents that each made
// progress, with their clocks measured, and that its history has the
// clock events of every agent.
func checkAgentsRecorded(t *testing.T, sum *summary.Summary, n int) {
	t.Helper()
	if sum.Agents == "" {
		t.Error("the summary does not say the run was on agents")
	}
	for _, c := range sum.Cells {
		if len(c.Agents) != n {
			t.Fatalf("cell %s: %d agents recorded, want %d", c.ID, len(c.Agents), n)
		}
		var attempts int64
		for _, a := range c.Agents {
			if a.Clients == 0 || a.Attempts == 0 || a.UncertaintyMs <= 0 || a.RTTMs <= 0 {
				t.Errorf("cell %s: agent %+v", c.ID, a)
			}
			attempts += a.Attempts
		}
		if attempts != c.Counts.Attempts {
			t.Errorf("cell %s: the agents made %d attempts, the cell counts %d", c.ID, attempts, c.Counts.Attempts)
		}
		events, err := history.ReadFile(c.History)
		if err != nil {
			t.Fatal(err)
		}
		targets := map[string]bool{}
		for _, e := range events {
			if e.Type == history.ClockSample {
				targets[e.Target] = true
			}
		}
		if len(targets) != n {
			t.Errorf("cell %s: clock events name %v, want %d agents", c.ID, targets, n)
		}
	}
}

// TestAgentsLocal is the multi-host run on one machine: three agent
// processes run the clients of a token cell (safe) and a nolock cell
// (violated: the canary), and the summary shows each agent with its
// share, its clock offset and ε.
func TestAgentsLocal(t *testing.T) {
	testenv.NeedRedisServer(t)
	sc := Scenario{Name: "t", Locks: []string{"token", "nolock"}, Workloads: []WorkloadRef{workload(t, "hot-key", 8, time.Millisecond, 2*time.Second)}}
	sum := runOnAgents(t, sc, localAgents(3))
	checkAgentsRecorded(t, sum, 3)
	for _, c := range sum.Cells {
		unsafe := checker.Unsafe(c.Verdicts.Mutex, c.Verdicts.Resource)
		switch c.Lock {
		case "token":
			if unsafe || c.Verdicts.Mutex != checker.MutexOK || c.Counts.AcquireOK == 0 {
				t.Errorf("token on agents: %+v (%d acquires)", c.Verdicts, c.Counts.AcquireOK)
			}
		case "nolock":
			if c.Verdicts.Mutex != checker.MutexViolated {
				t.Errorf("nolock on agents: %+v", c.Verdicts)
			}
		}
	}
}

// TestAgentsSkewedClocks runs agents whose clocks are 50 ms ahead, 50 ms
// behind and right, and whose clock probes are answered 40 ms late, so
// that each agent's ε is over 20 ms: overlaps longer than two agents'
// combined ε are caught, shorter ones are too close to call (unknown,
// never ok), and a correct lock raises no alarm.
func TestAgentsSkewedClocks(t *testing.T) {
	testenv.NeedRedisServer(t)
	skews := "--test-clock-offset=50ms,-50ms,0"
	t.Run("no false alarm", func(t *testing.T) {
		sc := Scenario{Name: "t", Locks: []string{"token"}, Workloads: []WorkloadRef{workload(t, "hot-key", 6, time.Millisecond, 2*time.Second)}}
		sum := runOnAgents(t, sc, localAgents(3, skews))
		checkAgentsRecorded(t, sum, 3)
		c := sum.Cells[0]
		if c.Verdicts.Mutex != checker.MutexOK || c.Verdicts.Resource != checker.ResourceOK {
			t.Errorf("token with skewed agents: %+v %v", c.Verdicts, c.Witnesses)
		}
		// The offsets measured carry the skews: agent 0 reads 100 ms
		// ahead of agent 1, give or take when each cell clock started.
		gap := c.Agents[0].OffsetMs - c.Agents[1].OffsetMs
		if gap < 90 || gap > 110 {
			t.Errorf("offsets %v ms and %v ms: %v apart, want about 100", c.Agents[0].OffsetMs, c.Agents[1].OffsetMs, gap)
		}
	})
	t.Run("long and short overlaps", func(t *testing.T) {
		// One client per agent: every overlap is between two clocks.
		sc := Scenario{Name: "t", Locks: []string{"nolock", "token"}, Workloads: []WorkloadRef{
			workload(t, "long", 3, 300*time.Millisecond, 2*time.Second),
			workload(t, "short", 3, 0, 2*time.Second),
		}}
		sum := runOnAgents(t, sc, localAgents(3, skews, "--test-pong-delay=40ms"))
		checkAgentsRecorded(t, sum, 3)
		for _, c := range sum.Cells {
			for _, a := range c.Agents {
				if a.UncertaintyMs < 20 {
					t.Errorf("cell %s: agent %s has ε %v ms with 40 ms late probes", c.ID, a.Name, a.UncertaintyMs)
				}
			}
			switch {
			case c.Lock == "token":
				if c.Verdicts.Mutex == checker.MutexViolated {
					t.Errorf("token %s: a false alarm: %v", c.Workload, c.Witnesses)
				}
			case c.Workload == "long":
				if c.Verdicts.Mutex != checker.MutexViolated {
					t.Errorf("nolock, 300 ms overlaps: %+v, want violated", c.Verdicts)
				}
			default:
				if c.Verdicts.Mutex != checker.MutexUnknown || c.Check == nil || !strings.Contains(checkText(c.Check), "too close") {
					t.Errorf("nolock, sub-ms overlaps within ε: %+v, want unknown (too close to call)", c.Verdicts)
				}
			}
		}
	})
}

// checkText is the checker's report of r.
func checkText(r *checker.Result) string {
	var b strings.Builder
	checker.WriteText(&b, r)
	return b.String()
}

// TestRemoteAgentsThroughTheMesh is the remote shape on one machine:
// agents started by someone else (wait:2, here goroutines of the test
// that know the token), external nodes, and a network fault. With the
// proxies advertised where the agents reach them, the agents' traffic
// goes through the fault: a cut of the lock node leaves their clients
// without a grant for most of the cut. Without an advertised address the
// same cell is refused before anything starts.
func TestRemoteAgentsThroughTheMesh(t *testing.T) {
	lockNode, resNode := testenv.StartRedis(t, nil), testenv.StartRedis(t, nil)
	w := workload(t, "hot-key", 4, time.Millisecond, 4*time.Second)
	w.Spec.TTL = 500 * time.Millisecond // the cut lasts 3 × TTL
	sc := Scenario{Name: "t", Nodes: 1, Locks: []string{"token"}, Workloads: []WorkloadRef{w}, Faults: []string{"partition-node"}}
	cells, err := sc.Expand()
	if err != nil {
		t.Fatal(err)
	}
	opts := func(a *Agents) Options {
		return Options{Cluster: cluster.AutoOptions{Provider: "external", External: cluster.ExternalOptions{Addrs: []string{lockNode, resNode}, Remote: true}},
			Dir: t.TempDir(), RunID: "test", Agents: a}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	refused := &Agents{Spec: fleet.Spec{Engine: "wait", Count: 2}, Engine: fleet.Waiting{}, Token: "t"}
	if _, err := ExecuteCells(ctx, sc, cells, opts(refused)); !errors.Is(err, ErrBadScenario) || !strings.Contains(err.Error(), "--agent-advertise") {
		t.Fatalf("a network fault for remote agents without an advertised address: %v", err)
	}

	port := freePort(t)
	a := &Agents{Spec: fleet.Spec{Engine: "wait", Count: 2}, Engine: fleet.Waiting{}, Token: "t", Listen: "127.0.0.1:" + port, Advertise: "127.0.0.1"}
	var wg sync.WaitGroup
	defer wg.Wait()
	agentCtx, stopAgents := context.WithCancel(ctx)
	defer stopAgents()
	for i := range 2 {
		wg.Go(func() {
			_ = agent.Run(agentCtx, agent.Config{Controller: "127.0.0.1:" + port, Token: "t", Name: "remote-" + strconv.Itoa(i), Index: i, DialTimeout: time.Minute})
		})
	}
	o := opts(a)
	if _, err := ExecuteCells(ctx, sc, cells, o); err != nil {
		t.Fatal(err)
	}
	sum, err := summary.Read(filepath.Join(o.Dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	c := sum.Cells[0]
	if c.Error != "" || c.Network != summary.NetworkProxied || len(c.Agents) != 2 || c.Check == nil || len(c.Check.Availability) == 0 {
		t.Fatalf("cell: error %q, network %s, %d agents, check %v", c.Error, c.Network, len(c.Agents), c.Check != nil)
	}
	if gap := c.Check.Availability[0].LongestGapMs; gap < 1000 {
		t.Errorf("the agents' clients got a grant within %v ms during a 1.5 s cut of the lock node: their traffic bypassed the proxies", gap)
	}
	if c.Counts.AcquireOK == 0 {
		t.Error("no grant at all: the cell shows nothing")
	}
}

// freePort is a port nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}
