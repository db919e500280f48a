package chaos

import (
	"context"
	"errors"
)

func init() { register(100, clientCrash{}) }

// FaultClientCrash is the name of clientCrash.
const FaultClientCrash = "client-crash"

// clientCrash makes a worker crash right after its next acquire: it
// abandons the lease and comes back as a new process. It is armed, and
// recorded as a start/stop pair at arming time (target "worker W"); the
// worker records the crash itself as a crash event.
type clientCrash struct{ onWorker }

// Kind describes client-crash.
func (clientCrash) Kind() FaultKind {
	return FaultKind{
		Name:        FaultClientCrash,
		Description: "a worker crashes right after its next acquire, abandoning the lease, and comes back as a new process",
		Params:      "worker (default 0, −1 = drawn with the seed)",
		Side:        SideClient,
		Source:      sourceRedisIO + ", section \"Safety and Liveness Guarantees\" (liveness A: deadlock free when a client crashes)",
		takes:       fWorker,
		timing:      timingArmed,
	}
}

// Defaults: nothing to fill in.
func (clientCrash) Defaults(st Step, _ Topology) Step {
	return st
}

// Apply arms the crash and records it.
func (clientCrash) Apply(_ context.Context, t *Target, a Action) error {
	t.Faults.Crash(a.Worker)
	t.arm(a)
	at := t.now()
	return errors.Join(t.record(at, a.Fault, a.Target, PhaseStart), t.record(at, a.Fault, a.Target, PhaseStop))
}

// Undo does nothing: an armed crash cannot be disarmed; it dies with the
// cell's workload.
func (clientCrash) Undo(context.Context, *Target, Action) error { return nil }
