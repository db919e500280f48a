package chaos

import (
	"context"
	"slices"
)

func init() { register(40, partitionAsymmetric{}) }

// FaultPartitionAsymmetric is the name of partitionAsymmetric.
const FaultPartitionAsymmetric = "partition-asymmetric"

// partitionAsymmetric cuts each client group off different nodes:
// Kleppmann's arrangement by default, where each side reaches a majority
// and the two majorities share the middle node(s).
type partitionAsymmetric struct{ onLinks }

// Kind describes partition-asymmetric.
func (partitionAsymmetric) Kind() FaultKind {
	return FaultKind{
		Name:        FaultPartitionAsymmetric,
		Description: "client group A is cut from some nodes, group B from others; each reaches a majority and the majorities overlap",
		Params:      "cuts {group: [nodes]} (default Kleppmann's: A cut from the top N−(N/2+1) nodes, B from the bottom ones; further groups alternate), duration (default 3×TTL); needs N ≥ 3 and 2 groups",
		Side:        SideNetwork,
		Source:      sourceKleppmann + ", section \"Breaking Redlock with bad timings\"; " + sourceJepsen + " partition-majorities-ring (bridge)",
		takes:       fGroups | fCuts | fDuration,
		family:      "partition",
		mesh:        true,
	}
}

// Defaults: 3×TTL.
func (partitionAsymmetric) Defaults(st Step, topo Topology) Step {
	st.Duration = or(st.Duration, 3*topo.TTL)
	return st
}

// Check: without explicit cuts, two overlapping majorities need three
// nodes and two groups.
func (partitionAsymmetric) Check(st Step, topo Topology) error {
	if len(st.Cuts) > 0 {
		return nil
	}
	if len(topo.Nodes) < 3 {
		return badStep("needs at least 3 nodes for two overlapping majorities, the cluster has %d", len(topo.Nodes))
	}
	g := len(topo.Groups)
	if len(st.Groups) > 0 {
		g = len(st.Groups)
	}
	if g < 2 {
		return badStep("needs at least 2 client groups (run with --groups 2 or more)")
	}
	return nil
}

// Require: three nodes, and two groups unless the cuts say who is cut.
func (partitionAsymmetric) Require(st Step, r *Requirements) {
	r.MinNodes = max(r.MinNodes, 3)
	if len(st.Cuts) == 0 {
		r.MinGroups = max(r.MinGroups, 2)
	}
}

// Aim builds the two-sided cuts: the step's own, or Kleppmann's, where the
// first side reaches the first majority of nodes and the second side the
// last majority; groups alternate between the sides.
func (partitionAsymmetric) Aim(a *Action, o Occurrence) {
	if len(o.Step.Cuts) > 0 {
		for _, g := range o.Topology.Groups {
			if ns, ok := o.Step.Cuts[g]; ok && len(ns) > 0 {
				a.Cuts = append(a.Cuts, Cut{Group: g, Nodes: inOrder(o.Topology.Nodes, ns)})
			}
		}
	} else {
		all := o.Topology.Nodes
		m := len(all)/2 + 1
		sides := [2][]string{slices.Clone(all[m:]), slices.Clone(all[:len(all)-m])}
		for j, g := range o.Groups() {
			a.Cuts = append(a.Cuts, Cut{Group: g, Nodes: sides[j%2]})
		}
	}
	a.Target = o.Render(a.Cuts, "")
}

// Apply cuts each group off its side's nodes.
func (partitionAsymmetric) Apply(ctx context.Context, t *Target, a Action) error {
	return cutLinks(ctx, t, a)
}

// Undo heals the cuts.
func (partitionAsymmetric) Undo(ctx context.Context, t *Target, a Action) error {
	return healLinks(ctx, t, a)
}
