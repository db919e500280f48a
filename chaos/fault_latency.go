package chaos

import (
	"context"
	"time"
)

func init() { register(10, linkDelay{jitter: false}, linkDelay{jitter: true}) }

// The names of the delays on a link.
const (
	FaultLatency = "latency"
	FaultJitter  = "jitter"
)

// linkDelay delays the traffic between client groups and lock nodes, one
// way in each direction: latency, or with jitter latency ± jitter drawn
// per chunk.
type linkDelay struct {
	onLinks
	jitter bool
}

// Kind describes latency or jitter.
func (f linkDelay) Kind() FaultKind {
	k := FaultKind{
		Name:        FaultLatency,
		Description: "delay traffic between clients and nodes, one way in each direction",
		Params:      "latency (default TTL/10), nodes|targets (default all), groups (default all), duration (default 3×TTL)",
		Side:        SideNetwork,
		Source:      sourceJepsen + "; DESIGN §6",
		takes:       fNodes | fGroups | fLatency | fJitter | fDuration,
		family:      "latency",
		mesh:        true,
	}
	if f.jitter {
		k.Name = FaultJitter
		k.Description = "delay traffic by latency ± jitter, uniformly drawn per chunk"
		k.Params = "latency (default TTL/10), jitter (default = latency), nodes|targets (default all), groups, duration (default 3×TTL)"
	}
	return k
}

// Defaults: TTL/10 (at least 1 ms) for 3×TTL on every node; jitter's
// spread is the latency.
func (f linkDelay) Defaults(st Step, topo Topology) Step {
	st.Duration = or(st.Duration, 3*topo.TTL)
	st.Latency = or(st.Latency, max(topo.TTL/10, time.Millisecond))
	if f.jitter {
		st.Jitter = or(st.Jitter, st.Latency)
	}
	st.Nodes = or(st.Nodes, len(topo.Nodes))
	return st
}

// Apply adds the delay on every link of a.
func (linkDelay) Apply(ctx context.Context, t *Target, a Action) error {
	return t.eachLink(a, func(g, n string) error { return t.Mesh.AddLatency(ctx, g, n, a.Latency, a.Jitter, Both) })
}

// Undo removes it.
func (linkDelay) Undo(ctx context.Context, t *Target, a Action) error {
	return t.eachLink(a, func(g, n string) error { return t.Mesh.RemoveLatency(ctx, g, n) })
}

// or is v, or def when v is zero: a parameter's default.
func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
