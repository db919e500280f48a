package chaos

import (
	"context"
)

func init() { register(76, replicationCut{}) }

// FaultReplicationCut is the name of the replication cut.
const FaultReplicationCut = "replication-cut"

// replicationCut stops replicas from syncing with their primary while the
// primary keeps granting locks: what a failover during it then loses. It
// is cut at the primary's door (the replicas' replication users are
// switched off, cluster.Cluster.CutReplication), not in a proxy: Sentinel
// re-points any replica that follows an address other than the primary's
// own, so no proxy can stay in the replication path. By default every data
// node is cut, so whichever node is or becomes a replica cannot catch up.
type replicationCut struct{ onNodes }

// Kind describes replication-cut.
func (replicationCut) Kind() FaultKind {
	return FaultKind{
		Name:        FaultReplicationCut,
		Description: "replicas cannot sync from their primary, which keeps granting locks (the replicas' replication users are switched off)",
		Params:      "nodes or targets: the replicas cut (default every data node), duration (default 5×TTL); needs topology sentinel or cluster",
		Side:        SideNode,
		replicated:  true,
		Source:      sourceRedisFailover,
		takes:       fNodes | fDuration,
		family:      "replication",
	}
}

// Defaults: every data node, for 5×TTL.
func (replicationCut) Defaults(st Step, topo Topology) Step {
	st.Duration = or(st.Duration, 5*topo.TTL)
	st.Nodes = or(st.Nodes, len(topo.Nodes))
	return st
}

// Require asks for a replicated topology.
func (replicationCut) Require(_ Step, r *Requirements) { r.Replicated = true }

// Ready needs a replicated cluster with the nodes of a.
func (f replicationCut) Ready(t *Target, a Action) error {
	if err := readyReplicated(t, a); err != nil {
		return err
	}
	return f.onNodes.Ready(t, a)
}

// Apply cuts the replicas of a.
func (replicationCut) Apply(ctx context.Context, t *Target, a Action) error {
	return t.Cluster.CutReplication(ctx, a.Nodes)
}

// Undo lets them sync again.
func (replicationCut) Undo(ctx context.Context, t *Target, a Action) error {
	return t.Cluster.HealReplication(ctx, a.Nodes)
}
