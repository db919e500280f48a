package chaos

import (
	"context"

	"github.com/lockbench/lockbench/cluster"
)

func init() { register(60, kill{delayed: false}, kill{delayed: true}) }

// The names of the node kills.
const (
	FaultKillRestart        = "kill-restart"
	FaultKillDelayedRestart = "kill-delayed-restart"
)

// kill kills -9 a node and starts it again: at once (kill-restart, an
// instant fault), or after a downtime longer than the TTL (delayed).
type kill struct {
	onNodes
	delayed bool
}

// Kind describes kill-restart or kill-delayed-restart.
func (f kill) Kind() FaultKind {
	if f.delayed {
		return FaultKind{
			Name:        FaultKillDelayedRestart,
			Description: "kill -9 a node and keep it down for longer than the TTL before starting it (redis.io's delayed restart)",
			Params:      "nodes (default 1) or targets, duration = downtime (default 2×TTL); schedule persistence",
			Needs:       []cluster.Capability{cluster.CapKill},
			Side:        SideNode,
			Source:      sourceRedisIO + ", section \"Performance, Crash Recovery and fsync\" (delayed restarts)",
			takes:       fNodes | fDuration,
			family:      "process",
		}
	}
	return FaultKind{
		Name:        FaultKillRestart,
		Description: "kill -9 a node and start it again at once; what it keeps depends on the persistence mode",
		Params:      "nodes (default 1) or targets; schedule persistence: none | aof-everysec | aof-always",
		Needs:       []cluster.Capability{cluster.CapKill},
		Side:        SideNode,
		Source:      sourceRedisIO + ", section \"Performance, Crash Recovery and fsync\"",
		takes:       fNodes,
		timing:      timingInstant,
		family:      "process",
	}
}

// Defaults: one node; a delayed restart stays down 2×TTL.
func (f kill) Defaults(st Step, topo Topology) Step {
	if f.delayed {
		st.Duration = or(st.Duration, 2*topo.TTL)
	}
	return st
}

// Apply kills the nodes of a.
func (kill) Apply(ctx context.Context, t *Target, a Action) error {
	return t.eachNode(a, func(n cluster.Node) error { return n.Kill(ctx) })
}

// Undo starts them again, even when ctx has ended, as cluster.Restart
// does: a cancelled run must not leave a node down.
func (kill) Undo(ctx context.Context, t *Target, a Action) error {
	return t.eachNode(a, func(n cluster.Node) error { return n.Start(context.WithoutCancel(ctx)) })
}
