package workloads

import (
	"context"
	"sync/atomic"
	"time"
)

// ClientFaults are the client-side fault mechanisms the chaos schedule
// drives: arm a pause or a crash for a worker, and the worker carries it
// out at the right moment of its next critical section. Each worker reads
// only its own slots, with one atomic load per operation. A cut between
// commands is armed here too but carried out by a lock strategy's hook
// (locks.Hooks.BetweenCommands), which consumes it with TakeCutBetween.
// *ClientFaults is the chaos.ClientFaults the nemesis arms: give the same
// value to the workload (Env.Faults) and to chaos.Target.Faults.
type ClientFaults struct {
	pause []atomic.Int64 // ns to pause in the next critical section
	crash []atomic.Bool  // crash after the next acquire
	cut   []atomic.Bool  // cut off between the commands of the next acquire
}

// NewClientFaults makes slots for clients workers.
func NewClientFaults(clients int) *ClientFaults {
	return &ClientFaults{pause: make([]atomic.Int64, clients), crash: make([]atomic.Bool, clients), cut: make([]atomic.Bool, clients)}
}

// Pause arms worker to pause for d between reading the resource and
// writing it in its next critical section: a stop-the-world GC pause at
// the worst moment (Kleppmann's scenario). A d of 0 disarms it.
// Out-of-range workers are ignored.
func (f *ClientFaults) Pause(worker int, d time.Duration) {
	if f != nil && worker >= 0 && worker < len(f.pause) {
		f.pause[worker].Store(int64(d))
	}
}

// Crash arms worker to crash right after its next successful acquire: it
// abandons the lease without releasing and comes back as a new process.
func (f *ClientFaults) Crash(worker int) {
	if f != nil && worker >= 0 && worker < len(f.crash) {
		f.crash[worker].Store(true)
	}
}

// takePause returns and clears worker's armed pause.
func (f *ClientFaults) takePause(worker int) time.Duration {
	if f == nil || f.pause[worker].Load() == 0 {
		return 0
	}
	return time.Duration(f.pause[worker].Swap(0))
}

// takeCrash returns and clears worker's armed crash.
func (f *ClientFaults) takeCrash(worker int) bool {
	return f != nil && f.crash[worker].Load() && f.crash[worker].Swap(false)
}

// CutBetween arms worker to be cut off from its lock node between the two
// commands of its next two-command acquire (setnx-expire's SETNX and
// EXPIRE). The workload does not act on it: the strategy's
// BetweenCommands hook asks TakeCutBetween and does the cutting.
// Out-of-range workers are ignored.
func (f *ClientFaults) CutBetween(worker int) {
	if f != nil && worker >= 0 && worker < len(f.cut) {
		f.cut[worker].Store(true)
	}
}

// TakeCutBetween reports whether worker has a cut armed and disarms it:
// one armed cut is taken once.
func (f *ClientFaults) TakeCutBetween(worker int) bool {
	return f != nil && worker >= 0 && worker < len(f.cut) && f.cut[worker].Load() && f.cut[worker].Swap(false)
}

// workerKey is the context key of the worker index.
type workerKey struct{}

// WithWorker returns ctx carrying worker's index. Run gives every worker
// such a context, so that code the worker calls (a lock strategy's hook)
// can tell which worker it runs for.
func WithWorker(ctx context.Context, worker int) context.Context {
	return context.WithValue(ctx, workerKey{}, worker)
}

// WorkerFrom returns the worker index WithWorker put into ctx.
func WorkerFrom(ctx context.Context) (int, bool) {
	w, ok := ctx.Value(workerKey{}).(int)
	return w, ok
}

// Worker returns the index of the worker whose context ctx is (WorkerFrom):
// the hook a lock strategy calls inside a worker's acquire asks it which
// worker's cut to take.
func (f *ClientFaults) Worker(ctx context.Context) (int, bool) { return WorkerFrom(ctx) }
