package chaos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/history"
)

// healTimeout bounds the heal Run does on its way out, after its own
// context may have ended: starting a killed node can take seconds.
const healTimeout = time.Minute

// Target is what a timeline acts on in one cell. Build it with a struct
// literal, pass a pointer to Run and HealAll, and do not copy it after:
// it remembers which faults are in force so that HealAll can record their
// stop. All its methods are safe for concurrent use.
type Target struct {
	// Cluster holds the nodes node faults act on.
	Cluster *cluster.Cluster
	// Mesh is the proxies between the client groups and the nodes
	// (network faults). Its groups must be named by GroupNames.
	Mesh *Mesh
	// ResourceMesh, when the resource is reached through proxies, has the
	// client groups as groups and the resource node as its node
	// (delayed-write). May be nil otherwise.
	ResourceMesh *Mesh
	// ResourceNode is the resource's node name in ResourceMesh; default
	// its only node.
	ResourceNode string
	// Faults are the client faults the workload honours (client-pause,
	// client-crash, cut-between-commands): the same value the workload
	// was given.
	Faults ClientFaults
	// LockKey is the lock key the replication faults aim at: on the
	// cluster topology a failover promotes the replica of this key's
	// shard. Empty: the first primary's.
	LockKey string
	// Record writes a nemesis event into the history (for instance
	// (*history.Writer).Append); it must be safe to call from any
	// goroutine and must not keep the pointer. Nil records nothing.
	Record func(*history.Event) error
	// Now is the run's clock in ns, the one the history uses. Nil: ns
	// since Run was called.
	Now func() int64

	mu     sync.Mutex
	origin time.Time
	active []activeFault // in the order they started
	armed  []Action      // client faults armed and not stopped (arm)
	cuts   []armedCut    // cut-between-commands occurrences in force
}

// ClientFaults are the client-side fault mechanisms of the workload that
// the client faults arm: a worker carries an armed fault out at the right
// moment of its next critical section. workloads.ClientFaults implements
// it; give the same value to the workload and to Target.Faults.
type ClientFaults interface {
	// Pause arms worker to pause for d between reading the resource and
	// writing it in its next critical section; 0 disarms it.
	Pause(worker int, d time.Duration)
	// Crash arms worker to crash right after its next acquire.
	Crash(worker int)
	// CutBetween arms worker to be cut off between the two commands of
	// its next two-command acquire.
	CutBetween(worker int)
	// TakeCutBetween reports whether worker has a cut armed and disarms
	// it.
	TakeCutBetween(worker int) bool
	// Worker returns the index of the worker whose context ctx is (a lock
	// strategy's hook runs inside the worker's acquire).
	Worker(ctx context.Context) (int, bool)
}

// activeFault is a fault that started and has not stopped.
type activeFault struct {
	step, occurrence int
	fault, target    string
}

// Run carries out timeline against t: each action at its time, counted from
// when Run is called, one after the other (an action that takes long, such
// as starting a node, delays the ones after it). Network and node faults are
// recorded as nemesis events when applied: start with the time just before
// the fault is applied, stop with the time just after it is undone, so the
// recorded window covers the fault. A client pause is only armed here: the
// worker records its start and stop when it pauses. A client crash is armed
// and recorded as a start/stop pair at arming time; the worker records the
// crash itself as a crash event.
//
// Everything timeline needs from t (a mesh for network faults, process
// control for node faults, client faults) is checked before anything is
// applied. Run stops at the first action that fails. It returns when ctx
// ends, or as soon as the timeline is done if nothing may still be in
// force: while a fault has no stop in the timeline (the cell has no
// duration) or a client fault was armed (the worker carries it out at its
// next critical section), Run waits for ctx, which the caller ends at the
// end of the cell. Whatever happened — the timeline done, an error, ctx
// ended — Run heals every fault (HealAll) before it returns. An ended ctx
// is the cell's normal end, not an error: Run returns nil for it.
func Run(ctx context.Context, timeline []Action, t *Target) (err error) {
	if err := t.check(timeline); err != nil {
		return err
	}
	start := time.Now()
	t.mu.Lock()
	if t.origin.IsZero() {
		t.origin = start
	}
	t.mu.Unlock()
	defer func() {
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), healTimeout)
		defer cancel()
		if herr := HealAll(hctx, t); herr != nil {
			err = errors.Join(err, herr)
		}
	}()

	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for _, a := range timeline {
		if wait := time.Until(start.Add(a.At)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return nil
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if err := t.do(ctx, a); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	// Faults with no stop in the timeline, and client faults armed but
	// perhaps not yet carried out, stay until the cell ends.
	t.mu.Lock()
	open := len(t.active) > 0 || len(t.armed) > 0
	t.mu.Unlock()
	if open {
		<-ctx.Done()
	}
	return nil
}

// now reads the run's clock.
func (t *Target) now() int64 {
	if t.Now != nil {
		return t.Now()
	}
	return int64(time.Since(t.origin))
}

// record writes one nemesis event.
func (t *Target) record(at int64, fault, target, phase string) error {
	if t.Record == nil {
		return nil
	}
	e := history.Event{Time: at, Type: history.Nemesis, Fault: fault, Target: target, Phase: phase}
	if err := t.Record(&e); err != nil {
		return fmt.Errorf("chaos: record %s %s on %s: %w", fault, phase, target, err)
	}
	return nil
}

// resourceNode is the node delayed-write delays.
func (t *Target) resourceNode() string {
	if t.ResourceNode != "" || t.ResourceMesh == nil {
		return t.ResourceNode
	}
	if nodes := t.ResourceMesh.Nodes(); len(nodes) == 1 {
		return nodes[0]
	}
	return ""
}

// check refuses a timeline t cannot carry out, before anything changes:
// what every fault needs (the lock mesh, the provider's process control),
// then what the fault itself needs (Fault.Ready).
func (t *Target) check(timeline []Action) error {
	for _, a := range timeline {
		f, err := lookupFault(a.Fault)
		if err != nil {
			return fmt.Errorf("chaos: %w", err)
		}
		if a.Phase != PhaseStart && a.Phase != PhaseStop {
			return notReady(a, "phase %q", a.Phase)
		}
		k := f.Kind()
		// The same predicate as Schedule.Requirements' LockMesh: a cell
		// that left its lock nodes unproxied is refused here, loudly,
		// rather than running without its fault.
		if k.UsesMesh() && t.Mesh == nil {
			return notReady(a, "needs the proxy mesh in front of the lock nodes, and the target has none (Requirements.LockMesh)")
		}
		if len(k.Needs) > 0 && t.Cluster == nil {
			return notReady(a, "node faults need the cluster")
		}
		for _, c := range k.Needs {
			if !t.Cluster.Can(c) {
				return fmt.Errorf("chaos: fault %s needs %s on the %s provider: %w; use --provider %s",
					k.Name, c, t.Cluster.Provider, cluster.ErrUnsupported, cluster.ProvidersWith(c))
			}
		}
		if err := f.Ready(t, a); err != nil {
			return err
		}
	}
	return nil
}

// node finds a cluster node by name.
func (t *Target) node(name string) cluster.Node {
	for _, n := range t.Cluster.Nodes {
		if n.Name() == name {
			return n
		}
	}
	return nil
}

// do carries out one action and records it. A fault that lasts is
// recorded here: its start with the time just before Apply, its stop just
// after Undo. An armed fault is only applied (armed); it records what it
// records itself, and has no stop.
func (t *Target) do(ctx context.Context, a Action) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, err := lookupFault(a.Fault)
	if err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	if f.Kind().Armed() {
		if a.Phase == PhaseStop {
			return nil // armed faults have no stop of their own
		}
		return f.Apply(ctx, t, a)
	}
	if a.Phase == PhaseStart {
		at := t.now()
		// In force from now on as far as healing goes, even if applying
		// fails half way: HealAll undoes it and records its stop.
		t.active = append(t.active, activeFault{step: a.Step, occurrence: a.Occurrence, fault: a.Fault, target: a.Target})
		err := f.Apply(ctx, t, a)
		if rerr := t.record(at, a.Fault, a.Target, PhaseStart); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return err
	}
	same := func(o Action) bool { return o.Step == a.Step && o.Occurrence == a.Occurrence }
	i := slices.IndexFunc(t.active, func(f activeFault) bool { return f.step == a.Step && f.occurrence == a.Occurrence })
	if i < 0 {
		return nil // never started (the cell began late) or already healed
	}
	if err := f.Undo(ctx, t, a); err != nil {
		return err // still active: HealAll retries and records the stop
	}
	t.active = slices.Delete(t.active, i, i+1)
	t.armed = slices.DeleteFunc(t.armed, same)
	return t.record(t.now(), a.Fault, a.Target, PhaseStop)
}

// arm notes that a's Apply armed a worker: until a stops, HealAll
// disarms it (Fault.Undo) and Run waits for the end of the cell, when the
// worker may still carry it out. t.mu is held.
func (t *Target) arm(a Action) { t.armed = append(t.armed, a) }

// eachLink calls f for every (group, node) pair of a's cuts.
func (t *Target) eachLink(a Action, f func(group, node string) error) error {
	for _, c := range a.Cuts {
		for _, n := range c.Nodes {
			if err := f(c.Group, n); err != nil {
				return err
			}
		}
	}
	return nil
}

// eachNode calls f for every node of a.
func (t *Target) eachNode(a Action, f func(cluster.Node) error) error {
	for _, name := range a.Nodes {
		if err := f(t.node(name)); err != nil {
			return fmt.Errorf("chaos: %s on %s: %w", a.Fault, name, err)
		}
	}
	return nil
}

// HealAll makes everything healthy again, whatever happened before: it
// removes every toxic on both meshes, resumes paused nodes and starts
// killed ones (any node of a process-controlling provider that does not
// answer PING), puts every clock-controlled node back on real time, and
// disarms what Run armed in the workers and they have not carried out
// (Fault.Undo of client pauses and cuts between commands; an armed crash
// cannot be disarmed: it dies with the cell's workload). It then records
// a stop event for every
// fault Run started and did not stop. Run calls it on its way out; call it
// yourself at the end of a cell or on interrupt when Run may not have run
// to its end. It is idempotent: a second call changes and records nothing.
// Errors are joined; every step is tried regardless.
func HealAll(ctx context.Context, t *Target) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.origin.IsZero() {
		t.origin = time.Now()
	}
	var errs []error
	for _, m := range []*Mesh{t.Mesh, t.ResourceMesh} {
		if m == nil {
			continue
		}
		if err := m.ClearAll(ctx); err != nil && !errors.Is(err, ErrClosed) {
			errs = append(errs, err)
		}
	}
	// Disarm what a worker has not carried out yet; the meshes are clear
	// already, so undoing a cut has nothing left to heal.
	for _, a := range t.armed {
		f, err := lookupFault(a.Fault)
		if err == nil {
			err = f.Undo(ctx, t, a)
		}
		if err != nil && !errors.Is(err, ErrClosed) {
			errs = append(errs, err)
		}
	}
	t.armed = nil
	if c := t.Cluster; c != nil {
		if c.Can(cluster.CapKill) || c.Can(cluster.CapPause) {
			for _, n := range c.Nodes {
				if err := revive(ctx, c, n); err != nil {
					errs = append(errs, err)
				}
			}
		}
		if c.Topology == cluster.TopoSentinel || c.Topology == cluster.TopoCluster {
			// Replicas may sync again; the promotions are undone by
			// Restore before the next cell, which waits for the sync.
			if err := c.HealReplication(ctx, nil); err != nil {
				errs = append(errs, fmt.Errorf("chaos: heal replication: %w", err))
			}
		}
		if c.Can(cluster.CapClock) {
			for _, n := range c.Nodes {
				// Nodes started without the clock shim cannot have moved.
				if err := n.SetClock(ctx, 0, 1); err != nil && !errors.Is(err, cluster.ErrUnsupported) {
					errs = append(errs, fmt.Errorf("chaos: reset clock of %s: %w", n.Name(), err))
				}
			}
		}
	}
	at := t.now()
	for _, f := range t.active {
		if err := t.record(at, f.fault, f.target, PhaseStop); err != nil {
			errs = append(errs, err)
		}
	}
	t.active = nil
	return errors.Join(errs...)
}

// revive brings a node that does not answer back: resume it (it may be
// paused), and start it if it still does not answer (it was killed).
func revive(ctx context.Context, c *cluster.Cluster, n cluster.Node) error {
	if ping(ctx, n, 300*time.Millisecond) == nil {
		return nil
	}
	if c.Can(cluster.CapPause) {
		// An error here means the node was not paused; what matters is
		// whether it answers afterwards.
		_ = n.Resume(ctx)
		if ping(ctx, n, time.Second) == nil {
			return nil
		}
	}
	if !c.Can(cluster.CapKill) {
		return fmt.Errorf("chaos: node %s does not answer after resume", n.Name())
	}
	if err := n.Start(ctx); err != nil {
		return fmt.Errorf("chaos: heal: start %s: %w", n.Name(), err)
	}
	return nil
}

// ping sends one PING straight to the node, bypassing every proxy.
func ping(ctx context.Context, n cluster.Node, timeout time.Duration) error {
	ep := n.Endpoint()
	opts := ep.ClientOptions("")
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = timeout, timeout, timeout
	opts.PoolSize = 1
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return c.Ping(ctx).Err()
}
