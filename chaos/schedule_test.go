package chaos

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lockbench/lockbench/cluster"
)

// topo5 is Kleppmann's setup: five nodes, two client groups.
func topo5() Topology {
	return Topology{Nodes: NodeNames(5), Groups: GroupNames(2), Clients: 4, TTL: time.Second, Duration: 10 * time.Second}
}

// brief renders a timeline compactly: "at fault phase target" per action.
func brief(tl []Action) []string {
	out := make([]string, len(tl))
	for i, a := range tl {
		out[i] = fmt.Sprintf("%v %s %s %s", a.At, a.Fault, a.Phase, a.Target)
	}
	return out
}

func TestTimelineResolvesDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		topo Topology
		step Step
		want []string
	}{
		{"minority of 5 is 2", topo5(), Step{Fault: FaultPartitionMinority, At: time.Second},
			[]string{"1s partition-minority start n1,n2", "4s partition-minority stop n1,n2"}},
		{"majority of 5 is 3", topo5(), Step{Fault: FaultPartitionMajority},
			[]string{"0s partition-majority start n1,n2,n3", "3s partition-majority stop n1,n2,n3"}},
		{"majority of 4 is 3", Topology{Nodes: NodeNames(4), Groups: GroupNames(1), TTL: time.Second, Duration: 5 * time.Second},
			Step{Fault: FaultPartitionMajority},
			[]string{"0s partition-majority start n1,n2,n3", "3s partition-majority stop n1,n2,n3"}},
		{"asymmetric is Kleppmann's", topo5(), Step{Fault: FaultPartitionAsymmetric, Duration: time.Second},
			[]string{"0s partition-asymmetric start A→n4,n5; B→n1,n2", "1s partition-asymmetric stop A→n4,n5; B→n1,n2"}},
		{"asymmetric of 3 nodes", Topology{Nodes: NodeNames(3), Groups: GroupNames(3), TTL: time.Second, Duration: 5 * time.Second},
			Step{Fault: FaultPartitionAsymmetric, Duration: time.Second},
			[]string{"0s partition-asymmetric start A→n3; B→n1; C→n3", "1s partition-asymmetric stop A→n3; B→n1; C→n3"}},
		{"explicit cuts", topo5(), Step{Fault: FaultPartitionAsymmetric, Duration: time.Second, Cuts: map[string][]string{"B": {"n5", "n2"}}},
			[]string{"0s partition-asymmetric start B→n2,n5", "1s partition-asymmetric stop B→n2,n5"}},
		{"shared node jumps until the end", topo5(), Step{Fault: FaultClockJump, At: time.Second, Targets: []string{SharedNodes}},
			[]string{"1s clock-jump start n3", "10s clock-jump stop n3"}},
		{"shared of 4 nodes", Topology{Nodes: NodeNames(4), Groups: GroupNames(2), TTL: time.Second, Duration: 5 * time.Second},
			Step{Fault: FaultPauseNode, Targets: []string{SharedNodes}, Duration: time.Second},
			[]string{"0s pause-node start n2,n3", "1s pause-node stop n2,n3"}},
		{"kill-restart stops as it starts", topo5(), Step{Fault: FaultKillRestart, At: 2 * time.Second, Nodes: 2},
			[]string{"2s kill-restart start n1,n2", "2s kill-restart stop n1,n2"}},
		{"delayed restart stays down 2×TTL", topo5(), Step{Fault: FaultKillDelayedRestart, At: time.Second},
			[]string{"1s kill-delayed-restart start n1", "3s kill-delayed-restart stop n1"}},
		{"latency on one group", topo5(), Step{Fault: FaultLatency, Groups: []string{"B"}, Duration: time.Second},
			[]string{"0s latency start B→n1,n2,n3,n4,n5", "1s latency stop B→n1,n2,n3,n4,n5"}},
		{"delayed write on the resource", topo5(), Step{Fault: FaultDelayedWrite, At: time.Second},
			[]string{"1s delayed-write start resource", "4s delayed-write stop resource"}},
		{"client faults are armed once", topo5(), Step{Fault: FaultClientCrash, At: time.Second, Worker: 3},
			[]string{"1s client-crash start worker 3"}},
		{"stops are cut at the end of the cell", topo5(), Step{Fault: FaultPauseNode, At: 9 * time.Second},
			[]string{"9s pause-node start n1", "10s pause-node stop n1"}},
		{"flapping repeats back to back", Topology{Nodes: NodeNames(3), Groups: GroupNames(1), TTL: 100 * time.Millisecond, Duration: 10 * time.Second},
			Step{Fault: FaultFlapping, Repeat: 3},
			[]string{"0s flapping start n1", "100ms flapping stop n1", "200ms flapping start n1",
				"300ms flapping stop n1", "400ms flapping start n1", "500ms flapping stop n1"}},
		{"back to back: stop before start", topo5(), Step{Fault: FaultPartitionNode, Duration: time.Second, Every: time.Second, Repeat: 2},
			[]string{"0s partition-node start n1", "1s partition-node stop n1", "1s partition-node start n1", "2s partition-node stop n1"}},
		{"repeat until the end", topo5(), Step{Fault: FaultKillRestart, At: 5 * time.Second, Every: 2 * time.Second, Repeat: -1},
			[]string{"5s kill-restart start n1", "5s kill-restart stop n1", "7s kill-restart start n1", "7s kill-restart stop n1",
				"9s kill-restart start n1", "9s kill-restart stop n1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl, err := Schedule{Name: "t", Steps: []Step{tc.step}}.Timeline(1, tc.topo)
			if err != nil {
				t.Fatal(err)
			}
			if got := brief(tl); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("timeline\n got  %q\n want %q", got, tc.want)
			}
		})
	}
}

func TestTimelineAfterChainsSteps(t *testing.T) {
	s := Schedule{Name: "chain", Steps: []Step{
		{Fault: FaultPartitionNode, At: time.Second, Duration: time.Second},
		{Fault: FaultPauseNode, After: 500 * time.Millisecond, Duration: time.Second},
		{Fault: FaultKillRestart, After: time.Second},
	}}
	tl, err := s.Timeline(1, topo5())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"1s partition-node start n1", "2s partition-node stop n1", "2.5s pause-node start n1",
		"3.5s pause-node stop n1", "4.5s kill-restart start n1", "4.5s kill-restart stop n1"}
	if got := brief(tl); !reflect.DeepEqual(got, want) {
		t.Errorf("timeline\n got  %q\n want %q", got, want)
	}
}

// randomSchedule draws starts, nodes and workers from the seed.
func randomSchedule() Schedule {
	return Schedule{Name: "random", Steps: []Step{
		{Fault: FaultPartitionNode, Random: true, Duration: 200 * time.Millisecond, Every: time.Second, Repeat: 5},
		{Fault: FaultPauseNode, Random: true, Nodes: 2, At: 6 * time.Second, Window: 2 * time.Second, Duration: 300 * time.Millisecond},
		{Fault: FaultClientPause, Random: true, Worker: -1, Repeat: 4, Every: 2 * time.Second, Duration: 100 * time.Millisecond},
	}}
}

func TestTimelineSameSeedSameTimeline(t *testing.T) {
	for _, seed := range []uint64{0, 1, 42, 1 << 63} {
		a, err := randomSchedule().Timeline(seed, topo5())
		if err != nil {
			t.Fatal(err)
		}
		b, err := randomSchedule().Timeline(seed, topo5())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("seed %d: two timelines differ:\n%q\n%q", seed, brief(a), brief(b))
		}
		for i := 1; i < len(a); i++ {
			if a[i].At < a[i-1].At {
				t.Errorf("seed %d: timeline not sorted at %d: %q", seed, i, brief(a))
			}
		}
	}
}

func TestTimelineDifferentSeedDifferentChoices(t *testing.T) {
	a, err := randomSchedule().Timeline(1, topo5())
	if err != nil {
		t.Fatal(err)
	}
	b, err := randomSchedule().Timeline(2, topo5())
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(brief(a), brief(b)) {
		t.Fatalf("seeds 1 and 2 gave the same timeline: %q", brief(a))
	}
	// Each kind of draw differs somewhere: times, nodes, workers.
	var times, targets, workers bool
	for _, s := range []struct {
		x, y []Action
	}{{a, b}} {
		for i := range min(len(s.x), len(s.y)) {
			times = times || s.x[i].At != s.y[i].At
			if s.x[i].Fault == s.y[i].Fault && s.x[i].Fault != FaultClientPause {
				targets = targets || s.x[i].Target != s.y[i].Target
			}
			if s.x[i].Fault == FaultClientPause && s.y[i].Fault == FaultClientPause {
				workers = workers || s.x[i].Worker != s.y[i].Worker
			}
		}
	}
	if !times || !targets || !workers {
		t.Errorf("seeds 1 and 2: times differ %v, targets differ %v, workers differ %v; want all\n%q\n%q",
			times, targets, workers, brief(a), brief(b))
	}
	// A step's draws do not depend on the steps after it.
	first := Schedule{Name: "two", Steps: randomSchedule().Steps[:2]}
	c, err := first.Timeline(1, topo5())
	if err != nil {
		t.Fatal(err)
	}
	var withoutPauses []Action
	for _, x := range a {
		if x.Fault != FaultClientPause {
			withoutPauses = append(withoutPauses, x)
		}
	}
	if !reflect.DeepEqual(withoutPauses, c) {
		t.Errorf("steps 1 and 2 alone drew %q, inside the schedule %q", brief(c), brief(withoutPauses))
	}
}

func TestTimelineRandomStaysInsideItsWindow(t *testing.T) {
	s := Schedule{Name: "w", Steps: []Step{{Fault: FaultPartitionNode, Random: true, At: 2 * time.Second, Window: time.Second, Duration: 100 * time.Millisecond}}}
	for seed := range uint64(200) {
		tl, err := s.Timeline(seed, topo5())
		if err != nil {
			t.Fatal(err)
		}
		if at := tl[0].At; at < 2*time.Second || at >= 3*time.Second {
			t.Fatalf("seed %d: start %v outside [2s, 3s)", seed, at)
		}
	}
}

func TestTimelineIsBounded(t *testing.T) {
	topo := topo5()
	topo.TTL = time.Millisecond
	s := Schedule{Name: "many", Steps: []Step{{Fault: FaultKillRestart, Every: time.Millisecond, Repeat: -1}}}
	tl, err := s.Timeline(1, topo)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(tl); got != 2*MaxOccurrences {
		t.Errorf("repeat until the end of a 10 s cell every 1 ms gave %d actions, want the cap %d", got, 2*MaxOccurrences)
	}
	topo.Duration = 500 * time.Millisecond
	if tl, _ = s.Timeline(1, topo); len(tl) != 1000 || tl[len(tl)-1].At >= topo.Duration {
		t.Errorf("a 500 ms cell: %d actions, last at %v", len(tl), tl[len(tl)-1].At)
	}
}

func TestTimelineRefuses(t *testing.T) {
	noEnd := topo5()
	noEnd.Duration = 0
	for _, tc := range []struct {
		name string
		topo Topology
		step []Step
		want string
	}{
		{"overlap on one node", topo5(), []Step{{Fault: FaultPauseNode, Duration: 2 * time.Second}, {Fault: FaultKillRestart, At: time.Second}},
			"steps 1 and 2 both act on n1"},
		{"overlap on one link", topo5(), []Step{{Fault: FaultPartitionNode, Targets: []string{"n4"}}, {Fault: FaultPartitionAsymmetric}},
			"both act on A→n4"},
		{"period shorter than the fault", topo5(), []Step{{Fault: FaultPauseNode, Duration: 2 * time.Second, Every: time.Second, Repeat: 2}},
			"longer than the period"},
		{"repeated until the end", topo5(), []Step{{Fault: FaultClockJump, Repeat: 2}}, "needs a duration"},
		{"repeat forever without a cell duration", noEnd, []Step{{Fault: FaultKillRestart, Repeat: -1}}, "needs a cell duration"},
		{"starts after the cell", topo5(), []Step{{Fault: FaultPauseNode, At: 10 * time.Second}}, "not before the cell ends"},
		{"jitter above the default latency", topo5(), []Step{{Fault: FaultLatency, Jitter: time.Second}}, "jitter 1s exceeds latency 100ms"},
		{"no ttl", Topology{Nodes: NodeNames(1), Groups: GroupNames(1)}, []Step{{Fault: FaultPauseNode}}, "needs the lease TTL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Schedule{Name: "bad", Steps: tc.step}.Timeline(1, tc.topo)
			if !errors.Is(err, ErrBadSchedule) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrBadSchedule saying %q", err, tc.want)
			}
		})
	}
}

// The capabilities of the three providers, as the tests assume them.
func execCaps() []cluster.Capability {
	return []cluster.Capability{cluster.CapKill, cluster.CapPause, cluster.CapClock}
}
func dockerCaps() []cluster.Capability {
	return []cluster.Capability{cluster.CapKill, cluster.CapPause}
}
func externalCaps() []cluster.Capability { return nil }

// TestValidateRefusesWhatTheProviderCannotDo: the message is one line,
// names the fault and the providers that can, and wraps
// cluster.ErrUnsupported.
func TestValidateRefusesWhatTheProviderCannotDo(t *testing.T) {
	for _, tc := range []struct {
		fault    string
		provider string
		caps     []cluster.Capability
		want     string
	}{
		{FaultClockJump, "docker", dockerCaps(), "fault clock-jump needs clock on the docker provider: not supported by this provider; use --provider exec"},
		{FaultClockFast, "external", externalCaps(), "fault clock-fast needs clock on the external provider: not supported by this provider; use --provider exec"},
		{FaultKillRestart, "external", externalCaps(), "fault kill-restart needs kill on the external provider: not supported by this provider; use --provider exec or docker"},
		{FaultKillDelayedRestart, "external", externalCaps(), "use --provider exec or docker"},
		{FaultPauseNode, "external", externalCaps(), "fault pause-node needs pause on the external provider: not supported by this provider; use --provider exec or docker"},
	} {
		t.Run(tc.fault+"/"+tc.provider, func(t *testing.T) {
			s := Schedule{Name: "s", Steps: []Step{{Fault: FaultLatency}, {Fault: tc.fault}}}
			err := s.Validate(tc.caps, tc.provider, 5, 2, 4)
			if !errors.Is(err, cluster.ErrUnsupported) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v\nwant one line wrapping ErrUnsupported containing %q", err, tc.want)
			}
			if err := s.Validate(execCaps(), "exec", 5, 2, 4); err != nil {
				t.Errorf("the exec provider can: %v", err)
			}
		})
	}
	for _, name := range []string{"latency", "partition-asymmetric", "slow-replies", "client-pause", "delayed-write"} {
		s := Schedule{Name: "s", Steps: []Step{{Fault: name}}}
		if err := s.Validate(externalCaps(), "external", 5, 2, 4); err != nil {
			t.Errorf("%s on external: %v", name, err)
		}
	}
	aof := Schedule{Name: "aof", Persistence: cluster.PersistAOFAlways, Steps: []Step{{Fault: FaultLatency}}}
	if err := aof.Validate(externalCaps(), "external", 5, 2, 4); !errors.Is(err, cluster.ErrUnsupported) || !strings.Contains(err.Error(), "use --provider exec or docker") {
		t.Errorf("persistence on external: %v", err)
	}
}

func TestValidateRefusesBadSteps(t *testing.T) {
	for _, tc := range []struct {
		name string
		step Step
		want string
	}{
		{"unknown fault", Step{Fault: "partition"}, "known: latency"},
		{"field the fault does not take", Step{Fault: FaultPauseNode, Offset: time.Second}, "pause-node takes no offset"},
		{"duration on an instant fault", Step{Fault: FaultKillRestart, Duration: time.Second}, "takes no duration"},
		{"worker on a node fault", Step{Fault: FaultClockJump, Worker: 2}, "takes no worker"},
		{"negative time", Step{Fault: FaultPauseNode, At: -time.Second}, "must not be negative"},
		{"at and after", Step{Fault: FaultPauseNode, At: time.Second, After: time.Second}, "not both"},
		{"window without random", Step{Fault: FaultPauseNode, Window: time.Second}, "needs random"},
		{"too many nodes", Step{Fault: FaultPauseNode, Nodes: 6}, "6 nodes asked for but the cluster has 5"},
		{"unknown target", Step{Fault: FaultPauseNode, Targets: []string{"n9"}}, `target "n9" is not a node`},
		{"nodes and targets", Step{Fault: FaultPauseNode, Nodes: 1, Targets: []string{"n1"}}, "nodes or targets"},
		{"unknown group", Step{Fault: FaultLatency, Groups: []string{"C"}}, `group "C" is not a client group`},
		{"bad cut", Step{Fault: FaultPartitionAsymmetric, Cuts: map[string][]string{"A": {"n7"}}}, `cut node "n7"`},
		{"empty cuts", Step{Fault: FaultPartitionAsymmetric, Cuts: map[string][]string{"A": {}}}, "cuts cut nothing"},
		{"asymmetric on one group", Step{Fault: FaultPartitionAsymmetric, Groups: []string{"A"}}, "at least 2 client groups"},
		{"jitter above latency", Step{Fault: FaultJitter, Latency: time.Millisecond, Jitter: time.Second}, "exceeds latency"},
		{"worker out of range", Step{Fault: FaultClientPause, Worker: 4}, "worker 4 is not a client"},
		{"absurd rate", Step{Fault: FaultClockFast, Rate: 1e9}, "between 0 and 1000"},
		{"repeat above the cap", Step{Fault: FaultKillRestart, Repeat: MaxOccurrences + 1}, "exceeds the cap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Schedule{Name: "s", Steps: []Step{tc.step}}.Validate(execCaps(), "exec", 5, 2, 4)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !(errors.Is(err, ErrBadSchedule) || errors.Is(err, ErrUnknownFault)) {
				t.Errorf("err = %v, want ErrBadSchedule saying %q", err, tc.want)
			}
		})
	}
	small := []struct {
		fault          string
		nodes, groups  int
		want           string
		targets        []string
		wantMinNodes   int
		wantMinGroups  int
		wantMinClients int
	}{
		{FaultPartitionMinority, 2, 1, "needs at least 3", nil, 3, 1, 0},
		{FaultPartitionAsymmetric, 2, 2, "at least 3 nodes", nil, 3, 2, 0},
		{FaultPartitionAsymmetric, 5, 1, "at least 2 client groups", nil, 3, 2, 0},
		{FaultClockJump, 2, 1, "needs at least 3 nodes", []string{SharedNodes}, 3, 1, 0},
	}
	for _, tc := range small {
		s := Schedule{Name: "s", Steps: []Step{{Fault: tc.fault, Targets: tc.targets}}}
		if err := s.Validate(execCaps(), "exec", tc.nodes, tc.groups, 4); !errors.Is(err, ErrBadSchedule) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s on %d nodes, %d groups: %v; want %q", tc.fault, tc.nodes, tc.groups, err, tc.want)
		}
		r := s.Requirements()
		if r.MinNodes != tc.wantMinNodes || r.MinGroups != tc.wantMinGroups {
			t.Errorf("%s: requirements %+v, want %d nodes, %d groups", tc.fault, r, tc.wantMinNodes, tc.wantMinGroups)
		}
	}
}

func TestRequirements(t *testing.T) {
	for _, tc := range []struct {
		preset string
		want   Requirements
	}{
		{"none", Requirements{}},
		{"kleppmann-clock-jump", Requirements{Caps: []cluster.Capability{cluster.CapClock}, FakeTime: true, LockMesh: true, MinNodes: 3, MinGroups: 2}},
		{"redis-restart-no-fsync", Requirements{Caps: []cluster.Capability{cluster.CapKill}, Persistence: cluster.PersistNone, LockMesh: true, MinNodes: 3, MinGroups: 2}},
		{"partition-minority", Requirements{LockMesh: true, MinNodes: 3, MinGroups: 1}},
		{"cut-between-commands", Requirements{ClientFaults: true, LockMesh: true, MinNodes: 1, MinGroups: 1, MinClients: 1}},
		{"kleppmann-client-pause", Requirements{ClientFaults: true, MinNodes: 1, MinGroups: 1, MinClients: 1}},
		{"delayed-write", Requirements{ResourceProxy: true, MinNodes: 1, MinGroups: 1}},
		{"pause-node", Requirements{Caps: []cluster.Capability{cluster.CapPause}, MinNodes: 1, MinGroups: 1}},
	} {
		p, err := LookupPreset(tc.preset)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Requirements(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: requirements %+v, want %+v", tc.preset, got, tc.want)
		}
	}
}

func TestGroupAndNodeNames(t *testing.T) {
	g := GroupNames(28)
	if g[0] != "A" || g[1] != "B" || g[25] != "Z" || g[26] != "G27" || g[27] != "G28" {
		t.Errorf("GroupNames(28) = %v", g)
	}
	for i, name := range g {
		if j, ok := groupIndex(name); !ok || j != i {
			t.Errorf("groupIndex(%q) = %d, %v; want %d", name, j, ok, i)
		}
	}
	if n := NodeNames(3); !reflect.DeepEqual(n, []string{"n1", "n2", "n3"}) {
		t.Errorf("NodeNames(3) = %v", n)
	}
	for _, bad := range []string{"n0", "n01", "x1", "n"} {
		if _, ok := nodeIndex(bad); ok {
			t.Errorf("nodeIndex(%q) accepted", bad)
		}
	}
}
