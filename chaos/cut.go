package chaos

import (
	"context"
	"fmt"
	"slices"

	"github.com/lockbench/lockbench/workloads"
)

// doCut carries out one phase of a cut-between-commands occurrence; t.mu is
// held. The start arms the worker (workloads.ClientFaults.CutBetween) and
// records the start of the window; the cut itself happens later, in the
// worker's acquire, when the strategy calls BetweenCommands. The stop
// disarms the worker if the cut never came, heals the partition if it did,
// and records the stop, so the recorded window covers the whole time the
// worker was armed or cut off.
func (t *Target) doCut(ctx context.Context, a Action) error {
	if a.Phase == PhaseStart {
		at := t.now()
		t.active = append(t.active, activeFault{step: a.Step, occurrence: a.Occurrence, fault: a.Fault, target: a.Target})
		t.cuts = append(t.cuts, armedCut{step: a.Step, occurrence: a.Occurrence, worker: a.Worker})
		t.Faults.CutBetween(a.Worker)
		return t.record(at, a.Fault, a.Target, PhaseStart)
	}
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
	if j := slices.IndexFunc(t.active, func(f activeFault) bool { return f.step == a.Step && f.occurrence == a.Occurrence }); j >= 0 {
		t.active = slices.Delete(t.active, j, j+1)
	}
	err := t.record(t.now(), a.Fault, a.Target, PhaseStop)
	if c.err != nil {
		return c.err
	}
	return err
}

// BetweenCommands is what a lock strategy's hook between its two acquire
// commands (locks.Hooks.BetweenCommands, called by setnx-expire after SETNX
// succeeded and before EXPIRE) does in client group group: when the calling
// worker (workloads.WorkerFrom(ctx)) has a cut-between-commands fault
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
	w, ok := workloads.WorkerFrom(ctx)
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
