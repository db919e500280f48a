package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lockbench/lockbench/chaos"
	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/history"
	"github.com/lockbench/lockbench/internal/testenv"
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
			want := len(s.Locks) * len(s.Workloads) * max(1, len(s.Faults)) * max(1, len(s.Seeds)) * max(1, s.Repeat) * max(1, len(s.Topologies))
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
		{"unknown topology", "locks: [token]\nworkloads: [hot-key]\ntopology: galaxy", "bench list topologies"},
		{"topology not a list", "locks: [token]\nworkloads: [hot-key]\ntopology: {a: b}", "topology"},
		{"redlock on sentinel", "locks: [redlock]\nworkloads: [hot-key]\ntopology: [standalone, sentinel]", "independent primaries"},
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

// TestTopologyIsADimension: a scenario's topologies multiply its cells,
// one topology's cells side by side (its nodes start once); a cell on a
// replicated topology says so in its ID, a standalone one keeps the ID it
// had before topologies existed.
func TestTopologyIsADimension(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string // cell IDs
	}{
		{"default standalone", "locks: [token, fenced]\nworkloads: [hot-key]",
			[]string{"001-token-hot-key-none-s1", "002-fenced-hot-key-none-s1"}},
		{"one name", "locks: [token]\nworkloads: [hot-key]\ntopology: sentinel",
			[]string{"001-token-sentinel-hot-key-none-s1"}},
		{"a list", "locks: [token, fenced]\nworkloads: [hot-key]\ntopology: [standalone, cluster]",
			[]string{"001-token-hot-key-none-s1", "002-fenced-hot-key-none-s1", "003-token-cluster-hot-key-none-s1", "004-fenced-cluster-hot-key-none-s1"}},
		{"comma separated", "locks: [token]\nworkloads: [hot-key]\ntopology: sentinel, cluster",
			[]string{"001-token-sentinel-hot-key-none-s1", "002-token-cluster-hot-key-none-s1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseScenario([]byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			cells, err := s.Expand()
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, c := range cells {
				ids = append(ids, c.ID)
				if want := strings.Contains(c.ID, "-sentinel-") || strings.Contains(c.ID, "-cluster-"); want != (c.Topology != "") {
					t.Errorf("cell %s has topology %q", c.ID, c.Topology)
				}
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("cells %v, want %v", ids, tc.want)
			}
		})
	}
}

// TestTopologyMismatchesAreRefused: what a topology cannot run is refused
// before any node starts, in one line that says which topology to use.
func TestTopologyMismatchesAreRefused(t *testing.T) {
	testenv.NeedRedisServer(t)
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"failover on standalone", "locks: [token]\nworkloads: [hot-key]\nfaults: [failover-after-replication-cut]\nprovider: exec", "--topology sentinel or cluster"},
		{"replication cut on standalone", "locks: [token]\nworkloads: [hot-key]\nfaults: [replication-cut]\nprovider: exec", "--topology sentinel or cluster"},
		{"token-wait on standalone", "locks: [token-wait]\nworkloads: [hot-key]\nprovider: exec", "token-wait waits for replicas"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseScenario([]byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			_, err = Execute(context.Background(), s, Options{Dir: dir})
			if !errors.Is(err, ErrBadScenario) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want one line wrapping ErrBadScenario that says %q", err, tc.want)
			}
			if _, serr := os.Stat(filepath.Join(dir, "summary.json")); serr == nil {
				t.Errorf("a refused scenario wrote a summary")
			}
		})
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

// TestHandWrittenSchedule: the example scenario's faults: list is a
// preset's name and a schedule; both become cells, and the schedule's
// steps are what the file says.
func TestHandWrittenSchedule(t *testing.T) {
	s, err := LoadScenario("", "custom-schedule")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"none", "latency-then-partition"}; !slices.Equal(s.Faults, want) {
		t.Fatalf("faults %q, want %q", s.Faults, want)
	}
	sched, err := s.Schedule("latency-then-partition")
	if err != nil {
		t.Fatal(err)
	}
	want := []chaos.Step{
		{Fault: chaos.FaultLatency, Targets: []string{"n1"}, At: time.Second, Duration: 2 * time.Second, Latency: 50 * time.Millisecond},
		{Fault: chaos.FaultPartitionNode, Targets: []string{"n2"}, Groups: []string{"A"}, At: 3 * time.Second, Duration: 500 * time.Millisecond},
	}
	if !reflect.DeepEqual(sched.Steps, want) {
		t.Errorf("steps\n got  %+v\n want %+v", sched.Steps, want)
	}
	cells, err := s.Expand()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(cells); n != 4 {
		t.Errorf("%d cells, want 2 locks × 2 fault schedules", n)
	}
	if _, err := s.Schedule("kleppmann-clock-jump"); err != nil {
		t.Errorf("presets are still there beside the file's schedules: %v", err)
	}
	if _, err := s.Schedule("no-such"); !errors.Is(err, chaos.ErrUnknownPreset) || !strings.Contains(err.Error(), "latency-then-partition") {
		t.Errorf("an unknown name: %v; want ErrUnknownPreset naming the scenario's own schedules", err)
	}

	// --faults NAME picks the file's schedule like a preset.
	s.Faults = []string{"latency-then-partition"}
	if cells, err := s.Expand(); err != nil || len(cells) != 2 {
		t.Errorf("--faults latency-then-partition: %d cells, %v", len(cells), err)
	}

	// The schedule is kept in summary.json's scenario; a summary
	// without schedules (every one before them) reads as before.
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Scenario
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if got, err := back.Schedule("latency-then-partition"); err != nil || !reflect.DeepEqual(got.Steps, want) {
		t.Errorf("read back from JSON: %+v, %v", got.Steps, err)
	}
	var old Scenario
	if err := json.Unmarshal([]byte(`{"name":"old","faults":["none","partition-minority"]}`), &old); err != nil || len(old.Schedules) != 0 || len(old.Faults) != 2 {
		t.Errorf("an old summary's scenario: %+v, %v", old, err)
	}
}

// TestScheduleMistakesNameTheirLine: whatever is wrong in a hand-written
// schedule is one line naming the file and the line, and what to do.
func TestScheduleMistakesNameTheirLine(t *testing.T) {
	// head is lines 1-6; the faults: list starts at line 5, the schedule's
	// first step at line 8, its fields at lines 8-11.
	const head = "name: t\nnodes: 3\nlocks: [token]\nworkloads: [{preset: hot-key, groups: 2}]\nfaults:\n  - name: s\n    steps:\n"
	step := func(lines ...string) string {
		out := "      - " + lines[0] + "\n"
		for _, l := range lines[1:] {
			out += "        " + l + "\n"
		}
		return out
	}
	for _, tc := range []struct {
		name string
		yaml string
		line int
		want string
	}{
		{"unknown fault kind", head + step("fault: latncy", "at: 1s"), 8, `unknown fault kind "latncy" (known: latency, jitter`},
		{"bad duration", head + step("fault: latency", "at: 1s", "duration: 2x"), 10, `duration: "2x" is not a duration; write it with a unit: 1s, 250ms, 1m30s, or until-end`},
		{"duration without unit", head + step("fault: latency", "at: 2"), 9, `at: "2" is not a duration`},
		{"negative start", head + step("fault: latency", "at: -1s"), 9, "at: -1s is negative"},
		{"node that does not exist", head + step("fault: pause-node", "targets: [n1, n9]"), 9, `node "n9" does not exist: the scenario has 3 nodes, n1 … n3`},
		{"group that does not exist", head + step("fault: latency", "groups: [a]"), 9, `client group "a" does not exist: groups are named A, B, C`},
		{"cut node that does not exist", head + step("fault: partition-asymmetric", "cuts: {A: [n4]}"), 9, `node "n4" does not exist`},
		{"unknown step field", head + step("fault: latency", "taregts: [n1]"), 9, `unknown field "taregts" in a fault step (known: fault, at, after, duration`},
		{"field twice", head + step("fault: latency", "at: 1s", "at: 2s"), 10, "at written twice"},
		{"step without fault", head + step("at: 1s"), 8, "a step needs fault:"},
		{"step not a mapping", head + "      - latency\n", 8, "a step is a mapping"},
		{"bad number", head + step("fault: flapping", "repeat: often"), 9, `repeat: "often" is not a whole number`},
		{"bad persistence", "name: t\nlocks: [token]\nworkloads: [hot-key]\nfaults:\n  - name: s\n    persistence: fsync\n    steps: [{fault: kill-restart}]\n", 6, "persistence: \"fsync\" is not a persistence mode"},
		{"unknown schedule field", "name: t\nlocks: [token]\nworkloads: [hot-key]\nfaults:\n  - name: s\n    step: [{fault: latency}]\n", 6, `unknown field "step" in a fault schedule (known: name, description, source, persistence, steps)`},
		{"schedule without name", "name: t\nlocks: [token]\nworkloads: [hot-key]\nfaults:\n  - steps: [{fault: latency}]\n", 5, "a fault schedule needs name:"},
		{"schedule without steps", "name: t\nlocks: [token]\nworkloads: [hot-key]\nfaults:\n  - name: s\n", 5, `fault schedule "s" needs steps`},
		{"schedule named like a preset", "name: t\nlocks: [token]\nworkloads: [hot-key]\nfaults:\n  - name: latency\n    steps: [{fault: latency}]\n", 5, `has a preset's name`},
		{"schedule written twice", "name: t\nlocks: [token]\nworkloads: [hot-key]\nfaults:\n  - {name: s, steps: [{fault: latency}]}\n  - {name: s, steps: [{fault: jitter}]}\n", 6, "written twice"},
		{"bad schedule name", "name: t\nlocks: [token]\nworkloads: [hot-key]\nfaults:\n  - name: a/b\n    steps: [{fault: latency}]\n", 5, "fault schedule name \"a/b\""},
		{"unknown preset", "name: t\nlocks: [token]\nworkloads: [hot-key]\nfaults:\n  - none\n  - meteor-strike\n", 6, `fault schedule "meteor-strike" (known: none`},
		{"entry is a list", "name: t\nlocks: [token]\nworkloads: [hot-key]\nfaults:\n  - [latency]\n", 5, "not a list"},
		// Found by Expand, with the whole scenario: the step's line.
		{"parameter the fault does not take", head + step("fault: latency", "offset: 1s"), 8, `step 1 of fault schedule "s" (latency): latency takes no offset`},
		{"starts after the cell", head + step("fault: latency", "at: 1s", "duration: 1s") + step("fault: pause-node", "at: 20s"), 11, `step 2 of fault schedule "s" (pause-node): starts at 20s, not before the cell ends at 10s (lengthen the cell)`},
		{"minority of too few nodes", strings.Replace(head, "nodes: 3", "nodes: 2", 1) + step("fault: partition-minority"), 8, "needs at least 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "s.yaml")
			if err := os.WriteFile(file, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := LoadScenario(file, "")
			if err == nil {
				_, err = s.Expand()
			}
			if !errors.Is(err, ErrBadScenario) {
				t.Fatalf("err = %v, want ErrBadScenario", err)
			}
			msg := err.Error()
			t.Log(msg)
			if prefix := fmt.Sprintf("%s:%d: ", file, tc.line); !strings.HasPrefix(msg, prefix) {
				t.Errorf("message %q\ndoes not start with %q", msg, prefix)
			}
			if !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("message %q\nwant one line saying %q", msg, tc.want)
			}
		})
	}
}

// TestScheduleStepsFollowTheNodes: a target checked against the file's
// nodes is checked again when --nodes changes them, naming the step.
func TestScheduleStepsFollowTheNodes(t *testing.T) {
	s, err := LoadScenario("", "custom-schedule")
	if err != nil {
		t.Fatal(err)
	}
	s.Nodes = 1
	_, err = s.Expand()
	if !errors.Is(err, ErrBadScenario) || !strings.HasPrefix(err.Error(), "scenarios/custom-schedule.yaml:") || !strings.Contains(err.Error(), `target "n2" is not a node (nodes: n1)`) {
		t.Errorf("nodes 1: %v", err)
	}
}

// TestHandWrittenScheduleRuns runs the example scenario's schedule with the
// real runner on exec nodes: the nemesis events in each cell's history
// are the two steps, latency on n1 from 1 s to 3 s and group A cut off n2
// from 3 s to 3.5 s, at their times (within a tolerance for a busy
// machine), and summary.json's timeline is the schedule exactly.
func TestHandWrittenScheduleRuns(t *testing.T) {
	testenv.NeedRedisServer(t)
	s, err := LoadScenario("", "custom-schedule")
	if err != nil {
		t.Fatal(err)
	}
	s.Locks, s.Faults = []string{"token"}, []string{"latency-then-partition"}
	cells, err := s.Expand()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	sum, err := ExecuteCells(ctx, *s, cells, Options{Cluster: cluster.AutoOptions{Provider: "exec"}, Dir: dir, RunID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Cells) != 1 || sum.Cells[0].Error != "" {
		t.Fatalf("cells %+v", sum.Cells)
	}
	c := sum.Cells[0]
	type event struct {
		fault, target, phase string
		at                   time.Duration
	}
	want := []event{
		{chaos.FaultLatency, "n1", chaos.PhaseStart, time.Second},
		{chaos.FaultLatency, "n1", chaos.PhaseStop, 3 * time.Second},
		{chaos.FaultPartitionNode, "A→n2", chaos.PhaseStart, 3 * time.Second},
		{chaos.FaultPartitionNode, "A→n2", chaos.PhaseStop, 3500 * time.Millisecond},
	}
	var planned []event
	for _, a := range c.Timeline {
		planned = append(planned, event{a.Fault, a.Target, a.Phase, a.At})
	}
	if !reflect.DeepEqual(planned, want) {
		t.Errorf("summary timeline\n got  %v\n want %v", planned, want)
	}
	events, err := history.ReadFile(filepath.Join(dir, c.History))
	if err != nil {
		t.Fatal(err)
	}
	var got []event
	for _, e := range events {
		if e.Type == history.Nemesis {
			got = append(got, event{e.Fault, e.Target, e.Phase, time.Duration(e.Time)})
		}
	}
	// The history's clock starts a little before the nemesis does, and a
	// fault is applied a little after its time; a loaded machine under
	// the race detector adds to both.
	const tolerance = 300 * time.Millisecond
	t.Logf("nemesis events: %v", got)
	if len(got) != len(want) {
		t.Fatalf("nemesis events %v, want %v", got, want)
	}
	for i, w := range want {
		g := got[i]
		if g.fault != w.fault || g.target != w.target || g.phase != w.phase || g.at < w.at-tolerance || g.at > w.at+tolerance {
			t.Errorf("event %d: %v, want %v ± %v", i, g, w, tolerance)
		}
	}
	if got[1].at > got[2].at {
		t.Errorf("the latency stopped at %v, after the partition started at %v", got[1].at, got[2].at)
	}
}

// TestScenarioNamesExternalNodes: a scenario's redis: section gives the
// external nodes (a list or one comma-separated string) and their TLS
// files; flags win over it; the summary never records it, as its
// addresses may hold passwords.
func TestScenarioNamesExternalNodes(t *testing.T) {
	for _, addrs := range []string{`["redis://:pw@127.0.0.1:1", "127.0.0.1:2"]`, `"redis://:pw@127.0.0.1:1, 127.0.0.1:2"`} {
		s, err := ParseScenario([]byte("provider: external\nredis:\n  addrs: " + addrs + "\n  tls_ca: ca.pem\n  tls_insecure: true\n"))
		if err != nil {
			t.Fatal(err)
		}
		want := RedisNodes{Addrs: AddrList{"redis://:pw@127.0.0.1:1", "127.0.0.1:2"}, TLSCA: "ca.pem", TLSInsecure: true}
		if !reflect.DeepEqual(s.Redis, want) {
			t.Errorf("addrs: %s: got %+v, want %+v", addrs, s.Redis, want)
		}
		o := cluster.ExternalOptions{Addrs: []string{"127.0.0.1:3"}}
		o.TLS.CA = "flag.pem"
		s.Redis.applyTo(&o)
		if !slices.Equal(o.Addrs, []string{"127.0.0.1:3"}) || o.TLS.CA != "flag.pem" || !o.TLS.Insecure {
			t.Errorf("flags must win over the scenario, each option on its own: %+v", o)
		}
		b, _ := json.Marshal(recordScenario(*s))
		if strings.Contains(string(b), "pw@") {
			t.Errorf("the recorded scenario holds the addresses: %s", b)
		}
	}
	if _, err := ParseScenario([]byte("redis:\n  addrs: {a: b}\n")); !errors.Is(err, ErrBadScenario) {
		t.Errorf("addrs as a mapping: %v, want ErrBadScenario", err)
	}
}
