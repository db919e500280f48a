package chaos

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestEveryFaultDefaultsAndAim is each fault's own row: what its step
// resolves to with nothing but its name (TTL 1 s, five nodes, two client
// groups, four clients), and what an occurrence of it is aimed at. A fault
// added to the registry without a row here fails.
func TestEveryFaultDefaultsAndAim(t *testing.T) {
	const ttl = time.Second
	topo := Topology{Nodes: NodeNames(5), Groups: GroupNames(2), Clients: 4, TTL: ttl, Duration: 20 * time.Second}
	for _, tc := range []struct {
		fault  string
		want   Step // the resolved step's parameters
		target string
	}{
		{FaultLatency, Step{Duration: 3 * ttl, Latency: ttl / 10, Nodes: 5}, "n1,n2,n3,n4,n5"},
		{FaultJitter, Step{Duration: 3 * ttl, Latency: ttl / 10, Jitter: ttl / 10, Nodes: 5}, "n1,n2,n3,n4,n5"},
		{FaultSlowReplies, Step{Duration: 3 * ttl, Latency: 2 * ttl, Nodes: 5}, "n1,n2,n3,n4,n5"},
		{FaultPartitionNode, Step{Duration: 3 * ttl, Nodes: 1}, "n1"},
		{FaultPartitionMinority, Step{Duration: 3 * ttl, Nodes: 2}, "n1,n2"},
		{FaultPartitionMajority, Step{Duration: 3 * ttl, Nodes: 3}, "n1,n2,n3"},
		{FaultPartitionAsymmetric, Step{Duration: 3 * ttl, Nodes: 1}, "A→n4,n5; B→n1,n2"},
		{FaultFlapping, Step{Duration: ttl, Repeat: 10, Every: 2 * ttl, Nodes: 1}, "n1"},
		{FaultKillRestart, Step{Nodes: 1}, "n1"},
		{FaultFailover, Step{Nodes: 1}, "primary"},
		{FaultReplicationCut, Step{Duration: 5 * ttl, Nodes: 5}, "n1,n2,n3,n4,n5"},
		{FaultKillDelayedRestart, Step{Duration: 2 * ttl, Nodes: 1}, "n1"},
		{FaultPauseNode, Step{Duration: 3 * ttl, Nodes: 1}, "n1"},
		{FaultClockJump, Step{Duration: UntilEnd, Offset: 2 * ttl, Nodes: 1}, "n1"},
		{FaultClockFast, Step{Duration: 3 * ttl, Rate: 2, Nodes: 1}, "n1"},
		{FaultClientPause, Step{Duration: 3 * ttl, Nodes: 1}, "worker 0"},
		{FaultClientCrash, Step{Nodes: 1}, "worker 0"},
		{FaultCutBetween, Step{Duration: 3 * ttl, Nodes: 1}, "worker 0"},
		{FaultDelayedWrite, Step{Duration: 3 * ttl, Latency: 2 * ttl, Nodes: 1}, "resource"},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			r, err := Step{Fault: tc.fault}.resolve(topo)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			want.Fault = tc.fault
			if !reflect.DeepEqual(r.Step, want) {
				t.Errorf("resolved\n got  %+v\n want %+v", r.Step, want)
			}
			a := Action{Fault: tc.fault, Worker: -1}
			r.fault.Aim(&a, Occurrence{Step: r.Step, Topology: topo, Nodes: NodeNames(5)[:r.Nodes], Rand: rand.New(rand.NewPCG(1, 2))})
			if a.Target != tc.target {
				t.Errorf("aimed at %q, want %q", a.Target, tc.target)
			}
			// The catalogue's words give the same defaults: each
			// default the step resolves to is named in Params.
			k := r.kind
			for field, word := range map[string]string{"Latency": "latency", "Jitter": "jitter", "Offset": "offset", "Rate": "rate", "Repeat": "repeat"} {
				if !reflect.ValueOf(r.Step).FieldByName(field).IsZero() && !strings.Contains(k.Params, word) {
					t.Errorf("%s defaults %s, which its Params %q do not mention", tc.fault, field, k.Params)
				}
			}
		})
	}
	var rows []string
	for _, k := range Catalogue() {
		rows = append(rows, k.Name)
	}
	if !slices.Equal(rows, FaultNames()) {
		t.Errorf("catalogue %v and FaultNames %v differ", rows, FaultNames())
	}
}

// TestRegistryIsTheOnlyList: every fault of the registry has its name
// constant's value, is found by name, and its Kind says how it is timed
// consistently with the fields it takes.
func TestRegistryIsTheOnlyList(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range Faults() {
		k := f.Kind()
		if seen[k.Name] {
			t.Errorf("%s registered twice", k.Name)
		}
		seen[k.Name] = true
		got, err := lookupFault(k.Name)
		if err != nil || got.Kind().Name != k.Name {
			t.Errorf("lookupFault(%q) = %v, %v", k.Name, got, err)
		}
		switch {
		case k.timing == timingInstant && k.takes&fDuration != 0:
			t.Errorf("%s is instant but takes a duration", k.Name)
		case k.Side == SideClient && k.takes&fWorker == 0:
			t.Errorf("%s acts in a worker but takes no worker", k.Name)
		case k.Armed() && k.Side != SideClient:
			t.Errorf("%s is armed but does not act in a worker", k.Name)
		case k.Side == SideNetwork && !k.UsesMesh():
			t.Errorf("%s is a network fault that does not use the mesh", k.Name)
		}
	}
	if _, err := lookupFault("failback"); !errors.Is(err, ErrUnknownFault) {
		t.Errorf("an unregistered fault: %v", err)
	}
}

// TestStepErrorNamesTheStep: Validate and Timeline say which step, with
// the index a caller maps back to a file's line.
func TestStepErrorNamesTheStep(t *testing.T) {
	s := Schedule{Name: "s", Steps: []Step{{Fault: FaultLatency}, {Fault: FaultPauseNode, Targets: []string{"n7"}}}}
	for name, err := range map[string]error{
		"Validate": s.Validate(execCaps(), "exec", 5, 2, 4),
		"Check":    s.Check(5, 2, 4),
		"Timeline": func() error { _, err := s.Timeline(1, topo5()); return err }(),
	} {
		var se *StepError
		if !errors.As(err, &se) || se.Step != 1 || se.Schedule != "s" || se.Fault != FaultPauseNode || !errors.Is(err, ErrBadSchedule) {
			t.Errorf("%s: %v (%+v); want a StepError for step index 1 wrapping ErrBadSchedule", name, err, se)
		}
		if want := `schedule "s" step 2 (pause-node): target "n7" is not a node`; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: %q, want it to start %q", name, err, want)
		}
	}
}
