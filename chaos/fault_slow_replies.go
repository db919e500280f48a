package chaos

import "context"

func init() { register(20, slowReplies{}) }

// FaultSlowReplies is the name of slowReplies.
const FaultSlowReplies = "slow-replies"

// slowReplies delays only what the nodes answer: commands run at once and
// the clients hear of them late, after the lease has expired.
type slowReplies struct{ onLinks }

// Kind describes slow-replies.
func (slowReplies) Kind() FaultKind {
	return FaultKind{
		Name:        FaultSlowReplies,
		Description: "delay only the replies, longer than the TTL: commands run at once, clients hear late",
		Params:      "latency = reply delay (default 2×TTL), nodes|targets (default all), groups, duration (default 3×TTL)",
		Side:        SideNetwork,
		Source:      sourceKleppmann + ", section \"Protecting a resource with a lock\" (network delay, GitHub's 90-second packet delay)",
		takes:       fNodes | fGroups | fLatency | fDuration,
		family:      "slow-replies",
		mesh:        true,
	}
}

// Defaults: replies 2×TTL late for 3×TTL, from every node.
func (slowReplies) Defaults(st Step, topo Topology) Step {
	st.Duration = or(st.Duration, 3*topo.TTL)
	st.Latency = or(st.Latency, 2*topo.TTL)
	st.Nodes = or(st.Nodes, len(topo.Nodes))
	return st
}

// Apply delays the replies on every link of a.
func (slowReplies) Apply(ctx context.Context, t *Target, a Action) error {
	return t.eachLink(a, func(g, n string) error { return t.Mesh.SlowReplies(ctx, g, n, a.Latency) })
}

// Undo removes the delay.
func (slowReplies) Undo(ctx context.Context, t *Target, a Action) error {
	return t.eachLink(a, func(g, n string) error { return t.Mesh.RemoveSlowReplies(ctx, g, n) })
}
