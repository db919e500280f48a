package chaos

import (
	"context"
	"fmt"
	"slices"
)

func init() { register(110, cutBetween{}) }

// FaultCutBetween is the name of cutBetween.
const FaultCutBetween = "cut-between-commands"

// cutBetween cuts a worker's client group off node n1 when the worker's
// setnx-expire acquire is between SETNX and EXPIRE: EXPIRE and the release
// are lost and the key never expires. Its start arms the worker (the
// window is recorded from then); the cut itself is made by the lock
// strategy's hook (Target.BetweenCommands); its stop disarms the worker
// if the cut never came, heals the partition if it did, and records the
// stop, so the recorded window covers the whole time the worker was armed
// or cut off.
type cutBetween struct{ onWorker }

// Kind describes cut-between-commands.
func (cutBetween) Kind() FaultKind {
	return FaultKind{
		Name:        FaultCutBetween,
		Description: "when a worker's setnx-expire acquire is between SETNX and EXPIRE, its client group is cut off node n1: EXPIRE and the release are lost and the key never expires",
		Params:      "worker (default 0, −1 = drawn with the seed), duration = from arming until the cut heals (default 3×TTL); only setnx-expire has the two commands",
		Side:        SideClient,
		Source:      sourceRedisSET + " (one command, SET NX EX, because a failure between SETNX and EXPIRE leaves a lock that never expires)",
		takes:       fWorker | fDuration,
		mesh:        true,
	}
}

// Defaults: armed for 3×TTL.
func (cutBetween) Defaults(st Step, topo Topology) Step {
	st.Duration = or(st.Duration, 3*topo.TTL)
	return st
}

// Ready needs the client faults and a mesh with node n1 in it.
func (f cutBetween) Ready(t *Target, a Action) error {
	if err := f.onWorker.Ready(t, a); err != nil {
		return err
	}
	if t.Mesh == nil || len(t.Mesh.Nodes()) == 0 {
		return notReady(a, "a cut between commands needs a proxy mesh with node n1 in it")
	}
	return nil
}

// armedCut is a cut-between-commands occurrence between its start (armed)
// and its stop (healed): the hook fills in what it cut.
type armedCut struct {
	step, occurrence int
	worker           int
	taken            bool     // the hook ran for it
	group            string   // the group cut off, once taken
	nodes            []string // the nodes it was cut from, once taken
	err              error    // why the cut could not be made
}

// Apply arms the worker; the hook makes the cut.
func (cutBetween) Apply(_ context.Context, t *Target, a Action) error {
	t.cuts = append(t.cuts, armedCut{step: a.Step, occurrence: a.Occurrence, worker: a.Worker})
	t.arm(a)
	t.Faults.CutBetween(a.Worker)
	return nil
}

// Undo disarms the worker if the cut never came and heals the cut if it
// did. An error the hook met making the cut is returned here.
func (cutBetween) Undo(ctx context.Context, t *Target, a Action) error {
	i := slices.IndexFunc(t.cuts, func(c armedCut) bool { return c.step == a.Step && c.occurrence == a.Occurrence })
	if i < 0 {
		return nil // never started, or already healed
	}
	c := t.cuts[i]
	if !c.taken {
		// Disarm. If the hook has just taken the arm and waits for the
		// lock, it finds no cut left and does nothing.
		t.Faults.TakeCutBetween(c.worker)
	}
	if len(c.nodes) > 0 {
		if err := t.Mesh.HealGroup(ctx, c.group, c.nodes); err != nil {
			return fmt.Errorf("chaos: heal the cut of %s: %w", a.Target, err) // still active: HealAll retries
		}
	}
	t.cuts = slices.Delete(t.cuts, i, i+1)
	return c.err
}

// BetweenCommands is what a lock strategy's hook between its two acquire
// commands (locks.Hooks.BetweenCommands, called by setnx-expire after SETNX
// succeeded and before EXPIRE) does in client group group: when the calling
// worker (Target.Faults.Worker(ctx)) has a cut-between-commands fault
// armed, it cuts group off the first node, n1, where the single-node
// strategies keep their lock, in both directions. EXPIRE and the later
// release are then lost and the key is left without a TTL; the occurrence's
// stop heals the partition. It does nothing for a worker with nothing
// armed, costing one atomic load, and is safe for concurrent use.
//
// Wire it to every group's lockers before the workload starts, e.g.
// Hooks{BetweenCommands: func(ctx context.Context, _ string) {
// t.BetweenCommands(ctx, group) }}. An error cutting the group off is
// returned by Run with the occurrence's stop.
func (t *Target) BetweenCommands(ctx context.Context, group string) {
	if t.Faults == nil {
		return
	}
	w, ok := t.Faults.Worker(ctx)
	if !ok || !t.Faults.TakeCutBetween(w) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	i := slices.IndexFunc(t.cuts, func(c armedCut) bool { return c.worker == w && !c.taken })
	if i < 0 {
		return // the occurrence stopped meanwhile
	}
	c := &t.cuts[i]
	c.taken, c.group = true, group
	if t.Mesh == nil || len(t.Mesh.Nodes()) == 0 {
		// Run refuses such a timeline; a Target driven by hand gets the
		// error with the occurrence's stop instead of a nil dereference
		// in a worker.
		c.err = fmt.Errorf("chaos: cut group %s off n1 between commands: no proxy mesh to cut through: %w", group, ErrInvalid)
		return
	}
	nodes := t.Mesh.Nodes()[:1]
	if err := t.Mesh.PartitionGroup(context.WithoutCancel(ctx), group, nodes); err != nil {
		c.err = fmt.Errorf("chaos: cut group %s off %s between commands: %w", group, nodes[0], err)
		return
	}
	c.nodes = nodes
}
