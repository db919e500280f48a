package chaos

import (
	"context"

	"github.com/lockbench/lockbench/cluster"
)

func init() { register(70, pauseNode{}) }

// FaultPauseNode is the name of pauseNode.
const FaultPauseNode = "pause-node"

// pauseNode freezes a node's process: its connections stay open and
// nothing is answered.
type pauseNode struct{ onNodes }

// Kind describes pause-node.
func (pauseNode) Kind() FaultKind {
	return FaultKind{
		Name:        FaultPauseNode,
		Description: "freeze a node's process (SIGSTOP / docker pause): connections stay open, nothing is answered",
		Params:      "nodes (default 1) or targets, duration (default 3×TTL)",
		Needs:       []cluster.Capability{cluster.CapPause},
		Side:        SideNode,
		Source:      sourceJepsen + " hammer-time (SIGSTOP/SIGCONT)",
		takes:       fNodes | fDuration,
		family:      "process",
	}
}

// Defaults: one node for 3×TTL.
func (pauseNode) Defaults(st Step, topo Topology) Step {
	st.Duration = or(st.Duration, 3*topo.TTL)
	return st
}

// Apply freezes the nodes of a.
func (pauseNode) Apply(ctx context.Context, t *Target, a Action) error {
	return t.eachNode(a, func(n cluster.Node) error { return n.Pause(ctx) })
}

// Undo resumes them.
func (pauseNode) Undo(ctx context.Context, t *Target, a Action) error {
	return t.eachNode(a, func(n cluster.Node) error { return n.Resume(ctx) })
}
