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
package chaos
