package chaos

import (
	"context"
	"fmt"

	"github.com/lockbench/lockbench/cluster"
)

func init() { register(75, failover{}) }

// FaultFailover is the name of the failover fault.
const FaultFailover = "failover"

// FaultPromotion is the fault name of the nemesis events that record a
// promotion: target "n1→n2", the old primary and the new one. A failover
// records one start/stop pair once the new primary is agreed on, dated
// from the failover command to that agreement: the promotion happened in
// between, and clients may switch before the Sentinels all agree, so a
// witness then names the promotion between two grants of one lock.
const FaultPromotion = "promotion"

// failover promotes a replica of the lock key's primary: SENTINEL FAILOVER
// on the sentinel topology (the Sentinels pick the replica, by priority:
// the lowest-numbered healthy one), CLUSTER FAILOVER FORCE on the key
// shard's replica on cluster (FORCE: it does not wait for the primary to
// hand over its writes, so it works while replication is cut, as an
// operator forcing a failover does). Asynchronous replication means the
// promoted replica lacks whatever it had not received: a lock the old
// primary granted is gone. It is an instant fault: its window lasts from
// the command until the promotion is seen; the topology is put back
// (cluster.Cluster.Restore) before the next cell.
type failover struct{ noChecks }

// Kind describes failover.
func (failover) Kind() FaultKind {
	return FaultKind{
		Name:        FaultFailover,
		Description: "promote a replica of the lock key's primary (SENTINEL FAILOVER, or CLUSTER FAILOVER FORCE on its shard); the promotion old→new is recorded",
		Params:      "none; needs topology sentinel or cluster",
		Side:        SideNode,
		replicated:  true,
		Source:      sourceRedisFailover,
		timing:      timingInstant,
		family:      "topology",
	}
}

// Defaults: nothing to fill in.
func (failover) Defaults(st Step, _ Topology) Step { return st }

// Require asks for a replicated topology.
func (failover) Require(_ Step, r *Requirements) { r.Replicated = true }

// Aim hits the primary of the lock key, which only the run knows.
func (failover) Aim(a *Action, _ Occurrence) { a.Target = "primary" }

// Ready needs a replicated cluster.
func (failover) Ready(t *Target, a Action) error { return readyReplicated(t, a) }

// Apply fails over and records the promotion.
func (failover) Apply(ctx context.Context, t *Target, a Action) error {
	start := t.now()
	p, err := t.Cluster.Failover(ctx, t.LockKey)
	if err != nil {
		return fmt.Errorf("chaos: %s: %w", a.Fault, err)
	}
	target := p.Old + "→" + p.New
	if err := t.record(start, FaultPromotion, target, PhaseStart); err != nil {
		return err
	}
	return t.record(t.now(), FaultPromotion, target, PhaseStop)
}

// Undo does nothing: a promotion is not undone within the cell.
func (failover) Undo(context.Context, *Target, Action) error { return nil }

// readyReplicated refuses a target whose cluster does not replicate.
func readyReplicated(t *Target, a Action) error {
	if t.Cluster == nil {
		return notReady(a, "needs the cluster")
	}
	if t.Cluster.Topology != cluster.TopoSentinel && t.Cluster.Topology != cluster.TopoCluster {
		return notReady(a, "needs a replicated topology (sentinel or cluster), the nodes are %s", cluster.TopoStandalone)
	}
	return nil
}
