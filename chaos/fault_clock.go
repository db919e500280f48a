package chaos

import (
	"context"

	"github.com/lockbench/lockbench/cluster"
)

func init() { register(80, clockJump{}, clockFast{}) }

// The names of the clock faults.
const (
	FaultClockJump = "clock-jump"
	FaultClockFast = "clock-fast"
)

// onClock is what the clock faults share: the nodes' clock shim, and
// putting the clock back on real time at the stop.
type onClock struct{ onNodes }

// Require asks for the nodes to be started with the clock shim.
func (onClock) Require(_ Step, r *Requirements) { r.FakeTime = true }

// Undo puts the clocks of a's nodes back on real time.
func (onClock) Undo(ctx context.Context, t *Target, a Action) error {
	return t.eachNode(a, func(n cluster.Node) error { return n.SetClock(ctx, 0, 1) })
}

// clockJump makes a node's wall clock jump forward past the TTL, so that
// its keys expire early. A real jump does not undo itself: by default it
// lasts until the end of the cell; given a duration, setting the clock
// back at its end is itself a backward jump.
type clockJump struct{ onClock }

// Kind describes clock-jump.
func (clockJump) Kind() FaultKind {
	return FaultKind{
		Name:        FaultClockJump,
		Description: "a node's wall clock jumps forward past the TTL, so its keys expire early",
		Params:      "offset (default 2×TTL), nodes (default 1) or targets (\"shared\" = the nodes both sides of the default asymmetric partition reach), duration (default: until the end of the cell; when given, the clock jumps back to real time at the end)",
		Needs:       []cluster.Capability{cluster.CapClock},
		Side:        SideNode,
		Source:      sourceKleppmann + ", section \"Breaking Redlock with bad timings\"; " + sourceJepsen + ".time bump-time",
		takes:       fNodes | fOffset | fDuration,
		family:      "clock",
	}
}

// Defaults: one node 2×TTL ahead until the end of the cell.
func (clockJump) Defaults(st Step, topo Topology) Step {
	st.Duration = or(st.Duration, UntilEnd)
	st.Offset = or(st.Offset, 2*topo.TTL)
	return st
}

// Apply moves the clocks of a's nodes forward by a.Offset.
func (clockJump) Apply(ctx context.Context, t *Target, a Action) error {
	return t.eachNode(a, func(n cluster.Node) error { return n.SetClock(ctx, a.Offset, 1) })
}

// clockFast makes a node's wall clock run fast, so that its keys expire
// early; the clock is set back to real time at the stop.
type clockFast struct{ onClock }

// Kind describes clock-fast.
func (clockFast) Kind() FaultKind {
	return FaultKind{
		Name:        FaultClockFast,
		Description: "a node's wall clock runs fast, so its keys expire early",
		Params:      "rate (default 2), nodes (default 1) or targets, duration (default 3×TTL; the clock is set back to real time at the end)",
		Needs:       []cluster.Capability{cluster.CapClock},
		Side:        SideNode,
		Source:      sourceKleppmann + ", section \"Synchrony assumptions of Redlock\"; " + sourceJepsen + ".time strobe-time",
		takes:       fNodes | fRate | fDuration,
		family:      "clock",
	}
}

// Defaults: one node twice as fast for 3×TTL.
func (clockFast) Defaults(st Step, topo Topology) Step {
	st.Duration = or(st.Duration, 3*topo.TTL)
	st.Rate = or(st.Rate, 2)
	return st
}

// Apply makes the clocks of a's nodes run at a.Rate.
func (clockFast) Apply(ctx context.Context, t *Target, a Action) error {
	return t.eachNode(a, func(n cluster.Node) error { return n.SetClock(ctx, 0, a.Rate) })
}
