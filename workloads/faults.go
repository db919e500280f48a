package workloads

import (
	"sync/atomic"
	"time"
)

// ClientFaults are the client-side fault mechanisms the chaos schedule
// drives: arm a pause or a crash for a worker, and the worker carries it
// out at the right moment of its next critical section. Each worker reads
// only its own slots, with one atomic load per operation.
type ClientFaults struct {
	pause []atomic.Int64 // ns to pause in the next critical section
	crash []atomic.Bool  // crash after the next acquire
}

// NewClientFaults makes slots for clients workers.
func NewClientFaults(clients int) *ClientFaults {
	return &ClientFaults{pause: make([]atomic.Int64, clients), crash: make([]atomic.Bool, clients)}
}

// Pause arms worker to pause for d between reading the resource and
// writing it in its next critical section: a stop-the-world GC pause at
// the worst moment (Kleppmann's scenario). Out-of-range workers are ignored.
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
