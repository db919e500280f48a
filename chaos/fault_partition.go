package chaos

import "context"

func init() {
	register(30, partition{name: FaultPartitionNode}, partition{name: FaultPartitionMinority}, partition{name: FaultPartitionMajority})
}

// The names of the symmetric partitions.
const (
	FaultPartitionNode     = "partition-node"
	FaultPartitionMinority = "partition-minority"
	FaultPartitionMajority = "partition-majority"
)

// partition cuts nodes off from the client groups in both directions;
// packets are dropped silently. The three differ in how many nodes they
// cut by default: one, a minority or a majority.
type partition struct {
	onLinks
	name string
}

// Kind describes the partition called p.name.
func (p partition) Kind() FaultKind {
	k := FaultKind{
		Name:   p.name,
		Side:   SideNetwork,
		takes:  fGroups | fDuration,
		family: "partition",
		mesh:   true,
	}
	switch p.name {
	case FaultPartitionNode:
		k.Description = "cut nodes off from the client groups in both directions; packets are dropped silently"
		k.Params = "nodes (default 1) or targets, groups (default all), duration (default 3×TTL)"
		k.Source = sourceJepsen + " partition-random-node"
		k.takes |= fNodes
	case FaultPartitionMinority:
		k.Description = "cut (N−1)/2 nodes off from every client: a Redlock quorum stays reachable"
		k.Params = "groups (default all), duration (default 3×TTL); needs N ≥ 3"
	case FaultPartitionMajority:
		k.Description = "cut N/2+1 nodes off from every client: no Redlock quorum is reachable"
		k.Params = "groups (default all), duration (default 3×TTL)"
	}
	return k
}

// Defaults: 3×TTL; partition-node cuts one node, a minority (N−1)/2 and a
// majority N/2+1.
func (p partition) Defaults(st Step, topo Topology) Step {
	st.Duration = or(st.Duration, 3*topo.TTL)
	n := len(topo.Nodes)
	switch p.name {
	case FaultPartitionMinority:
		st.Nodes = or(st.Nodes, (n-1)/2)
	case FaultPartitionMajority:
		st.Nodes = or(st.Nodes, n/2+1)
	}
	return st
}

// Check: a minority of fewer than three nodes is nobody.
func (p partition) Check(_ Step, topo Topology) error {
	if p.name == FaultPartitionMinority && len(topo.Nodes) < 3 {
		return badStep("a minority of %d nodes is nobody: needs at least 3", len(topo.Nodes))
	}
	return nil
}

// Require: a minority needs three nodes.
func (p partition) Require(_ Step, r *Requirements) {
	if p.name == FaultPartitionMinority {
		r.MinNodes = max(r.MinNodes, 3)
	}
}

// Apply cuts every group of a off its nodes.
func (partition) Apply(ctx context.Context, t *Target, a Action) error { return cutLinks(ctx, t, a) }

// Undo heals the cut.
func (partition) Undo(ctx context.Context, t *Target, a Action) error { return healLinks(ctx, t, a) }

// cutLinks partitions each cut's group from its nodes: every partition
// fault is carried out so.
func cutLinks(ctx context.Context, t *Target, a Action) error {
	for _, c := range a.Cuts {
		if err := t.Mesh.PartitionGroup(ctx, c.Group, c.Nodes); err != nil {
			return err
		}
	}
	return nil
}

// healLinks undoes cutLinks.
func healLinks(ctx context.Context, t *Target, a Action) error {
	for _, c := range a.Cuts {
		if err := t.Mesh.HealGroup(ctx, c.Group, c.Nodes); err != nil {
			return err
		}
	}
	return nil
}
