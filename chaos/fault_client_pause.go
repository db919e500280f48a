package chaos

import "context"

func init() { register(90, clientPause{}) }

// FaultClientPause is the name of clientPause.
const FaultClientPause = "client-pause"

// clientPause makes a worker pause, like a stop-the-world GC, between
// reading the resource and writing it, for longer than the TTL. It is
// armed, not applied: the worker pauses in its next critical section and
// records the pause itself (target "process P"), since only it knows when.
type clientPause struct{ onWorker }

// Kind describes client-pause.
func (clientPause) Kind() FaultKind {
	return FaultKind{
		Name:        FaultClientPause,
		Description: "a worker pauses (a stop-the-world GC) between reading the resource and writing it, longer than the TTL",
		Params:      "worker (default 0, −1 = drawn with the seed), duration = pause (default 3×TTL)",
		Side:        SideClient,
		Source:      sourceKleppmann + ", section \"Protecting a resource with a lock\"",
		takes:       fWorker | fDuration,
		timing:      timingArmed,
	}
}

// Defaults: a pause of 3×TTL.
func (clientPause) Defaults(st Step, topo Topology) Step {
	st.Duration = or(st.Duration, 3*topo.TTL)
	return st
}

// Apply arms the worker to pause for a.Duration.
func (clientPause) Apply(_ context.Context, t *Target, a Action) error {
	t.Faults.Pause(a.Worker, a.Duration)
	t.arm(a)
	return nil
}

// Undo disarms a pause the worker has not made yet.
func (clientPause) Undo(_ context.Context, t *Target, a Action) error {
	t.Faults.Pause(a.Worker, 0)
	return nil
}
