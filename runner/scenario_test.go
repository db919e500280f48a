package runner

import (
	"errors"
	"github.com/lockbench/lockbench/chaos"
	"strings"
	"testing"
	"time"

	"github.com/lockbench/lockbench/scenarios"
)

func TestBuiltinScenariosExpand(t *testing.T) {
	for _, name := range scenarios.Names() {
		t.Run(name, func(t *testing.T) {
			s, err := LoadScenario("", name)
			if err != nil {
				t.Fatal(err)
			}
			cells, err := s.Expand()
			if err != nil {
				t.Fatal(err)
			}
			want := len(s.Locks) * len(s.Workloads) * max(1, len(s.Faults)) * max(1, len(s.Seeds)) * max(1, s.Repeat)
			if len(cells) != want {
				t.Errorf("%d cells, want %d", len(cells), want)
			}
			ids := map[string]bool{}
			for _, c := range cells {
				if ids[c.ID] {
					t.Errorf("duplicate cell id %s", c.ID)
				}
				ids[c.ID] = true
				if c.Workload.Duration != s.Duration && s.Duration > 0 {
					t.Errorf("cell %s duration %v, scenario says %v", c.ID, c.Workload.Duration, s.Duration)
				}
			}
		})
	}
}

func TestDefaultScenarioIsTheIssuesMatrix(t *testing.T) {
	s, err := LoadScenario("", "default")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"setnx", "setnx-expire", "set-nx-ex", "token", "fenced", "redlock", "redsync", "redislock"} {
		if !strings.Contains(strings.Join(s.Locks, ","), l) {
			t.Errorf("default scenario lacks %s", l)
		}
	}
	if strings.Contains(strings.Join(s.Locks, ","), "nolock") {
		t.Error("the canary is in the default scenario")
	}
}

func TestInlineWorkloadOverridesItsPreset(t *testing.T) {
	s, err := ParseScenario([]byte(`
name: t
locks: [token]
workloads:
  - hot-key
  - preset: zipf
    name: wide-zipf
    clients: 16
    keys: {kind: zipf, count: 1000, s: 1.5}
    critical_section: {kind: lognormal, mean: 5ms, sigma: 0.5}
`))
	if err != nil {
		t.Fatal(err)
	}
	w := s.Workloads[1].Spec
	if w.Name != "wide-zipf" || w.Clients != 16 || w.Keys.Count != 1000 || w.Keys.S != 1.5 {
		t.Errorf("overrides not applied: %+v", w)
	}
	if w.CriticalSection.Mean != 5*time.Millisecond || w.CriticalSection.Sigma != 0.5 {
		t.Errorf("critical section %+v", w.CriticalSection)
	}
	if w.TTL != time.Second || w.Retry.Policy != "exponential" {
		t.Errorf("fields the mapping did not name should keep the preset's: ttl %v retry %+v", w.TTL, w.Retry)
	}
	if s.Workloads[0].Spec.Name != "hot-key" {
		t.Errorf("first workload %+v", s.Workloads[0].Spec)
	}
}

func TestBadScenariosSayWhatIsWrong(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"unknown lock", "locks: [mutex9000]\nworkloads: [hot-key]", "mutex9000"},
		{"unknown workload", "locks: [token]\nworkloads: [lukewarm-key]", "lukewarm-key"},
		{"unknown fault", "locks: [token]\nworkloads: [hot-key]\nfaults: [meteor-strike]", "meteor-strike"},
		{"negative duration", "locks: [token]\nworkloads: [hot-key]\nduration: -5s", "negative"},
		{"unknown field", "locks: [token]\nworkloads: [hot-key]\nlokcs: [x]", "lokcs"},
		{"not yaml", "locks: [token\nworkloads", "yaml"},
		{"redlock on one node", "nodes: 1\nlocks: [redlock]\nworkloads: [hot-key]", "3 nodes"},
		{"no locks", "workloads: [hot-key]", "at least one lock"},
		{"bad inline workload", "locks: [token]\nworkloads: [{preset: hot-key, clients: -3}]", "clients"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseScenario([]byte(tc.yaml))
			if err == nil {
				_, err = s.Expand()
			}
			if !errors.Is(err, ErrBadScenario) {
				t.Fatalf("err = %v, want ErrBadScenario", err)
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("message %q: want one line mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := LoadScenario("", "no-such-preset"); !errors.Is(err, ErrBadScenario) || !strings.Contains(err.Error(), "default") {
		t.Errorf("unknown preset: %v", err)
	}
}

// TestDefaultScenarioAssessesLiveness: every cell of make bench's scenario
// starts with a fault-free stretch longer than its stall bound (faults
// start at their timeline's first action; client faults can only start
// later), so its liveness verdict can be ok or stalled, not n/a.
func TestDefaultScenarioAssessesLiveness(t *testing.T) {
	s, err := LoadScenario("", "default")
	if err != nil {
		t.Fatal(err)
	}
	cells, err := s.Expand()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cells {
		if c.StallBound <= 0 {
			t.Fatalf("%s: no stall bound: the checker's 5 s default exceeds a %v cell", c.ID, c.Workload.Duration)
		}
		sched, err := chaos.LookupPreset(c.Fault)
		if err != nil {
			t.Fatal(err)
		}
		req := sched.Requirements()
		topo := chaos.Topology{Nodes: chaos.NodeNames(s.Nodes), Groups: chaos.GroupNames(max(c.Workload.Groups, req.MinGroups, 1)),
			Clients: max(c.Workload.Clients, req.MinClients), TTL: c.Workload.TTL, Duration: c.Workload.Duration}
		tl, err := sched.Timeline(c.Seed, topo)
		if err != nil {
			t.Fatal(err)
		}
		free := c.Workload.Duration
		if len(tl) > 0 {
			free = tl[0].At
		}
		if free <= c.StallBound {
			t.Errorf("%s: first fault at %v, not after the stall bound %v: liveness could not be assessed", c.ID, free, c.StallBound)
		}
	}
}
