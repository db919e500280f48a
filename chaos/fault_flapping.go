package chaos

import "context"

func init() { register(50, flapping{}) }

// FaultFlapping is the name of flapping.
const FaultFlapping = "flapping"

// flapping partitions the same nodes on and off again and again.
type flapping struct{ onLinks }

// Kind describes flapping.
func (flapping) Kind() FaultKind {
	return FaultKind{
		Name:        FaultFlapping,
		Description: "partition the same nodes on and off again and again",
		Params:      "nodes (default 1) or targets, groups, duration = time cut (default TTL), every = period (default 2×duration), repeat (default 10)",
		Side:        SideNetwork,
		Source:      sourceJepsen + " (a partitioner started and stopped on a cycle)",
		takes:       fNodes | fGroups | fDuration,
		family:      "partition",
		mesh:        true,
	}
}

// Defaults: one node cut for a TTL out of every two, ten times.
func (flapping) Defaults(st Step, topo Topology) Step {
	st.Duration = or(st.Duration, topo.TTL)
	st.Repeat = or(st.Repeat, 10)
	if st.Every == 0 && st.Repeat != 1 {
		st.Every = 2 * st.Duration
	}
	return st
}

// Apply cuts every group of a off its nodes.
func (flapping) Apply(ctx context.Context, t *Target, a Action) error { return cutLinks(ctx, t, a) }

// Undo heals the cut.
func (flapping) Undo(ctx context.Context, t *Target, a Action) error { return healLinks(ctx, t, a) }
