// Package chaos injects the faults of DESIGN §6 into a run.
//
// # Network faults
//
// Network faults go through a Mesh: one embedded toxiproxy proxy for every
// (client group, node) pair, each listening on 127.0.0.1 only. A client of
// group g reaches node n at Mesh.Addr(g, n) and never at the node's own
// address, so a fault can hit one group's view of one node while every other
// group still sees that node healthy; Kleppmann's asymmetric scenarios need
// exactly that. The proxies run inside the harness process: there is no
// toxiproxy server to install and no HTTP API listening anywhere.
//
// Facts about toxiproxy (v2.12.0) this package relies on, checked by its
// tests:
//
//   - A toxic applies to connections that are already open as well as to new
//     ones. toxiproxy splices the toxic into the pipeline of every live link,
//     so a fault reaches a client's pooled connection at once; nobody has to
//     reconnect for it to take effect.
//   - toxiproxy's "toxicity" is not a per-request probability. It is rolled
//     once per connection and direction when the toxic starts on that link
//     (when the toxic is added, when the connection is made, and again
//     whenever the toxic behind it in the chain is added or removed). With a
//     toxicity below 1 some connections would be fully affected and others not
//     at all, which no fault schedule can describe. Every toxic here is added
//     with toxicity 1; probabilistic faults belong in the schedule.
//   - toxiproxy works in whole milliseconds. Durations are rounded up so a
//     requested delay is never shortened.
//   - Removing a partition closes every connection that existed while it was
//     in force (the timeout toxic's cleanup closes its link). Clients see EOF
//     on those connections after Heal and must reconnect; go-redis does that
//     by itself because its pool health check drops closed idle connections.
//
// # Faults
//
// Every fault is a type implementing Fault, in a file of its own
// (fault_latency.go, fault_partition.go, fault_kill.go, …): its catalogue
// entry, its parameters' defaults, what it needs from the run, what an
// occurrence acts on, and how it is applied and undone. Faults is the
// registry; the catalogue, the schedule checks, Timeline and Run iterate
// over it and know no fault by name, so a new fault is a new file (and
// its line in Faults). docs/faults.md is the catalogue for users and
// says how to write a schedule in a scenario file.
//
// # Fault schedules
//
// Catalogue lists every fault of DESIGN §6 with its parameters and the
// providers that can inject it (FaultKind.Providers); Presets lists the
// named schedules, the scenarios from the literature first, then one per
// catalogue fault under the fault's own name. A Schedule is data (YAML/JSON
// tags): steps with at or after, duration, every and repeat, or random
// starts drawn from the run's seed. Schedule.Validate refuses up front, in
// one line, what the provider cannot do ("fault kill-restart needs kill on
// the external provider: not supported by this provider; use --provider
// exec or docker"); Schedule.Requirements tells the runner what to set up
// (clock shim, persistence mode, proxies in front of the lock nodes or of
// the resource, client faults, the smallest topology). Proxies in front of
// the lock nodes are set up only for faults that act through them
// (FaultKind.UsesMesh): an idle proxy still costs a fast lock a large share
// of its throughput, which a cell without such a fault must not measure.
//
// Schedule.Timeline expands a schedule for one topology and seed into timed
// start/stop actions. It is a pure function: the same schedule, seed and
// topology give the same timeline, and each step draws from its own
// generator. Decisions it encodes:
//
//   - Targets default to the first nodes (n1, n2, …), where the
//     single-instance strategies keep their lock; only random steps draw
//     their nodes (and start) from the seed. Worker −1 draws a worker.
//   - Fault defaults follow the TTL: latency TTL/10, slow replies and
//     delayed writes 2×TTL, a delayed restart 2×TTL down, a client pause
//     3×TTL, a clock jump 2×TTL forward; most faults last 3×TTL.
//   - A clock jump with no duration lasts until the end of the cell: a
//     real jump does not undo itself. Given a duration, the clock is set
//     back to real time at its end, which is itself a backward jump (keys
//     set meanwhile live longer). A fast clock is set back at its end.
//   - Nothing happens at or after the cell's end; faults still in force are
//     stopped at it; repeats are capped (MaxOccurrences, MaxActions). Two
//     steps acting on one node or link at once are refused, since faults on
//     one target are not stacked.
//
// Run carries out a timeline against a Target and records each network,
// node and resource fault as a nemesis event pair: start stamped just
// before the fault is applied, stop just after it is undone, so the window
// covers the fault. Client faults are armed, not applied: a client pause
// is recorded by the worker itself when it pauses (target "process P"),
// since only it knows when; a client crash is recorded by Run as a
// start/stop pair at arming time (target "worker W") and by the worker as
// its crash event. A cut between commands is armed at its start and
// recorded from then until its stop; the cut itself is made by the lock
// strategy's hook (Target.BetweenCommands), which partitions the worker's
// client group from n1 between setnx-expire's SETNX and EXPIRE, and the
// stop heals it. Run heals everything (HealAll) before it returns,
// whether the timeline ran out, an action failed or its context ended;
// HealAll also repairs what happened outside the schedule (a node that
// does not answer is resumed or started) and records the stop of every
// fault Run left in force.
//
// Client groups are named by GroupNames (A, B, …); worker i is in group
// i mod groups, so build the Mesh with GroupNames for schedules and the
// workload to agree.
package chaos
