// Package checker decides a recorded history (DESIGN §5): mutual
// exclusion, the protected resource, and liveness, each with the evidence
// a person needs to believe the verdict.
//
// Mutual exclusion. A process believes it holds key k from its acquire ok
// until the earliest of its next release invoke on k, an extend on k that
// ends fail/info, its deadline (of the acquire ok or the latest extend
// ok), its crash, or the end of the history. No two beliefs on one key may
// overlap. [Check] decides this twice over:
//
//   - an O(n log n) scan per key (overlap.go) that sorts the beliefs and
//     sweeps them. A belief is exactly the time its process certainly
//     believed, so an overlap it finds is proof; it names the two
//     processes, their intervals, the overlap and the faults active then.
//     A second scan checks that fences rise in the order the lock was
//     granted.
//   - porcupine's linearizability search against the owner model, one
//     partition per key (model.go explains the encoding and why pruning
//     operations that cannot change the state is sound), bounded by a
//     timeout: a key it cannot decide in time, and on which the scans found
//     nothing, is unknown — never a hang. A key the scans convicted needs
//     no search; with Options.VisualizeDir its search is run anyway, to
//     draw porcupine's HTML visualisation, annotated with fault windows.
//
// The two agree by construction (see model.go) and the tests check that
// they agree on random histories.
//
// Resource: two accepted writes of the same value are a lost update; a
// write accepted with a lower fence than a write accepted before it was
// invoked is a stale write accepted; rejected writes are counted.
//
// Liveness: a key is stalled when, for longer than the stall bound
// (default max(3 × TTL, 5 s)), clients kept trying to acquire it, nobody
// believed they held it, no fault was active and no acquire succeeded —
// how setnx's deadlock after a holder's crash shows. Availability is
// reported per fault window as the share of its seconds with at least one
// successful acquire.
//
// A history cut short — the reader found checkpoints but no end marker:
// its recorder was killed and each stream may have lost a different tail —
// is decided up to its last checkpoint only, given Options.Stats: the
// events after it are left out, what was in flight then lasts until it,
// and [Result].Truncated says so. Taken whole, a holder whose release was
// lost would seem to hold its lock forever.
//
// [Result] is JSON-serialisable; [WriteText] writes it for a person and
// [Result.ExitCode] maps it to the exit codes of `bench check`.
package checker
