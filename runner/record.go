package runner

import (
	"github.com/lockbench/lockbench/chaos"
	"github.com/lockbench/lockbench/summary"
	"github.com/lockbench/lockbench/workloads"
)

// The runner fills in the summary's schema from the types that produce
// it: every field summary.json persists is copied here, so that the
// summary's readers link neither the fault injection nor the workloads.

// recordScenario is the scenario as summary.json records it.
func recordScenario(s Scenario) summary.Scenario {
	out := summary.Scenario{
		Name: s.Name, Description: s.Description, Provider: s.Provider, Nodes: s.Nodes,
		Locks: s.Locks, Faults: s.Faults, Seeds: s.Seeds, Repeat: s.Repeat,
		Duration: s.Duration, Clients: s.Clients, TTL: s.TTL, NodeTimeout: s.NodeTimeout, StallBound: s.StallBound,
		Topologies: s.Topologies,
	}
	for _, c := range s.LockClients {
		out.LockClients = append(out.LockClients, summary.LockClient{Name: c.Name, Command: c.Command, Release: c.Release})
	}
	for _, sc := range s.Schedules {
		r := summary.Schedule{Name: sc.Name, Description: sc.Description, Source: sc.Source, Persistence: string(sc.Persistence)}
		for _, st := range sc.Steps {
			r.Steps = append(r.Steps, summary.Step{
				Fault: st.Fault, At: st.At, After: st.After, Duration: st.Duration, Every: st.Every, Repeat: st.Repeat,
				Random: st.Random, Window: st.Window, Nodes: st.Nodes, Targets: st.Targets, Groups: st.Groups, Cuts: st.Cuts,
				Latency: st.Latency, Jitter: st.Jitter, Offset: st.Offset, Rate: st.Rate, Worker: st.Worker,
			})
		}
		out.Schedules = append(out.Schedules, r)
	}
	if s.Workloads != nil {
		out.Workloads = make([]summary.ScenarioWorkload, len(s.Workloads))
		for i, w := range s.Workloads {
			out.Workloads[i] = summary.ScenarioWorkload{Spec: recordSpec(w.Spec)}
		}
	}
	return out
}

// recordSpec is a workload spec as summary.json records it.
func recordSpec(s workloads.Spec) summary.Spec {
	dist := func(d workloads.Dist) summary.Dist { return summary.Dist{Kind: d.Kind, Mean: d.Mean, Sigma: d.Sigma} }
	return summary.Spec{
		Name: s.Name, Clients: s.Clients, Groups: s.Groups,
		Keys:            summary.Keys{Kind: s.Keys.Kind, Count: s.Keys.Count, S: s.Keys.S},
		CriticalSection: dist(s.CriticalSection), Think: dist(s.Think), TTL: s.TTL,
		Retry:    summary.Retry{Policy: s.Retry.Policy, Base: s.Retry.Base, Cap: s.Retry.Cap, Attempts: s.Retry.Attempts},
		Duration: s.Duration, Ops: s.Ops, Rate: s.Rate, Seed: s.Seed,
		HonourDeadline: s.HonourDeadline, SkipResource: s.SkipResource,
	}
}

// recordTimeline is a fault timeline as summary.json records it.
func recordTimeline(timeline []chaos.Action) []summary.Action {
	if timeline == nil {
		return nil
	}
	out := make([]summary.Action, len(timeline))
	for i, a := range timeline {
		out[i] = summary.Action{
			At: a.At, Step: a.Step, Occurrence: a.Occurrence, Fault: a.Fault, Phase: a.Phase, Target: a.Target,
			Nodes: a.Nodes, Worker: a.Worker, Duration: a.Duration,
			Latency: a.Latency, Jitter: a.Jitter, Offset: a.Offset, Rate: a.Rate,
		}
		if a.Cuts != nil {
			out[i].Cuts = make([]summary.Cut, len(a.Cuts))
			for j, c := range a.Cuts {
				out[i].Cuts[j] = summary.Cut{Group: c.Group, Nodes: c.Nodes}
			}
		}
	}
	return out
}

// recordWorkload copies the workload's measurements into the cell result.
func recordWorkload(res *summary.CellResult, w *workloads.Result) {
	res.Throughput = w.Throughput
	c := w.Counts
	res.Counts = summary.Counts{
		Attempts: c.Attempts, AcquireOK: c.AcquireOK, NotObtained: c.NotObtained, AcquireUnknown: c.AcquireUnknown,
		ReleaseOK: c.ReleaseOK, ReleaseLost: c.ReleaseLost, ReleaseUnknown: c.ReleaseUnknown,
		WritesOK: c.WritesOK, WritesRejected: c.WritesRejected, ResourceErrors: c.ResourceErrors,
		SkippedExpired: c.SkippedExpired, Crashes: c.Crashes, Pauses: c.Pauses,
	}
	res.LostUpdates = w.LostUpdates
	res.Saturated = w.Saturated
	res.AchievedRate = w.AchievedRate
	if w.Seconds != nil {
		res.Seconds = make([]summary.Second, len(w.Seconds))
		for i, s := range w.Seconds {
			res.Seconds[i] = summary.Second{AcquireOK: s.AcquireOK, NotObtained: s.NotObtained, Unknown: s.Unknown, P99us: s.P99us}
		}
	}
	res.SetHistograms(w.Hists)
}
