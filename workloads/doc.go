// Package workloads generates the load lockbench puts on a lock strategy
// and measures it.
//
// A [Spec] says how many clients in how many client groups, which keys
// ([Keys]: one hot key, one key per client, uniform or zipf over N keys),
// how long the critical section and the think time last ([Dist]: fixed,
// exponential or lognormal), the lease TTL, the retry policy, and a
// duration or an op budget. [Presets] are uncontended, hot-key, zipf and
// long-critical-section. Each client draws its steps from its own seeded
// generator ([Schedule]), so the same seed gives the same keys and
// durations whatever the timing.
//
// [Run] drives a spec against an [Env] — one locker and one protected
// [Resource] per client group, the run's clock, a [Recorder] per worker
// that writes the history — closed loop (each client as fast as it can)
// or open loop (Spec.Rate: operations scheduled at fixed times, latency
// measured from the intended start, so a stall counts against every
// request due during it; service time is kept beside it and a run under
// 99 % of its target rate is marked saturated).
//
// Inside every critical section the client reads a counter on a separate
// Redis node, works, and writes value+1: two holders at once lose an
// update, and [Result].LostUpdates counts them. With a fencing token the
// write goes through a Lua script that rejects a fence lower than the
// highest seen. Clients that honour their deadline skip the resource when
// the lease has expired. [ClientFaults] are the client side of the chaos
// schedule: a pause between the read and the write (a stop-the-world GC
// pause), a crash right after an acquire, and the cut between commands a
// lock strategy's hook carries out.
//
// An external lock client (package extclient) runs one process per
// client: Env.ClientLockers gives each worker a locker of its own, and a
// [ProcessLocker] is told the worker's process id and carries out the
// crash (kill) and the pause (SIGSTOP) on its process. A locker error
// wrapping locks.ErrClientGone is unknown followed by a crash; one
// wrapping locks.ErrFatal ends the run with it.
//
// A [Result] holds merged HDR latency histograms (acquire, handoff and the
// rest, by Hist* name), per-second counters and the outcome counts.
package workloads
