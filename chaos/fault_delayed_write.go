package chaos

import "context"

func init() { register(120, delayedWrite{}) }

// FaultDelayedWrite is the name of delayedWrite.
const FaultDelayedWrite = "delayed-write"

// delayedWrite holds the requests to the protected resource in its proxy
// until the lease has expired: the write delayed in the network.
type delayedWrite struct{ noChecks }

// Kind describes delayed-write.
func (delayedWrite) Kind() FaultKind {
	return FaultKind{
		Name:        FaultDelayedWrite,
		Description: "writes to the protected resource are held in its proxy until the lease has expired (reads go direct)",
		Params:      "latency (default 2×TTL), groups (default all), duration (default 3×TTL); needs the resource reached through a proxy",
		Side:        SideResource,
		Source:      sourceKleppmann + ", section \"Protecting a resource with a lock\" (the write delayed in the network)",
		takes:       fGroups | fLatency | fDuration,
		family:      "resource-latency",
	}
}

// Defaults: requests 2×TTL late for 3×TTL.
func (delayedWrite) Defaults(st Step, topo Topology) Step {
	st.Duration = or(st.Duration, 3*topo.TTL)
	st.Latency = or(st.Latency, 2*topo.TTL)
	return st
}

// Require asks for the resource behind a proxy.
func (delayedWrite) Require(_ Step, r *Requirements) { r.ResourceProxy = true }

// Aim hits the step's groups' way to the resource.
func (delayedWrite) Aim(a *Action, o Occurrence) {
	for _, g := range o.Groups() {
		a.Cuts = append(a.Cuts, Cut{Group: g})
	}
	a.Target = o.Render(a.Cuts, "resource")
}

// Ready needs the resource mesh with a proxy for every group of a.
func (delayedWrite) Ready(t *Target, a Action) error {
	node := t.resourceNode()
	if t.ResourceMesh == nil || node == "" {
		return notReady(a, "needs the resource reached through a proxy mesh (Target.ResourceMesh and ResourceNode)")
	}
	for _, c := range a.Cuts {
		if t.ResourceMesh.Addr(c.Group, node) == "" {
			return notReady(a, "the resource mesh has no proxy %s→%s", c.Group, node)
		}
	}
	return nil
}

// Apply delays the requests, not the replies, of every group of a.
func (delayedWrite) Apply(ctx context.Context, t *Target, a Action) error {
	node := t.resourceNode()
	for _, c := range a.Cuts {
		if err := t.ResourceMesh.AddLatency(ctx, c.Group, node, a.Latency, 0, Upstream); err != nil {
			return err
		}
	}
	return nil
}

// Undo removes the delay.
func (delayedWrite) Undo(ctx context.Context, t *Target, a Action) error {
	node := t.resourceNode()
	for _, c := range a.Cuts {
		if err := t.ResourceMesh.RemoveLatency(ctx, c.Group, node); err != nil {
			return err
		}
	}
	return nil
}
