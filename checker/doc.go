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
// Clock uncertainty (clock.go). In a multi-host run the times of an
// agent's processes were mapped onto the controller's timeline and may be
// off by ± ε, as the history's clock events say. Each process p has an
// uncertainty ε(p): the largest of its own clock events and of every clock
// event of its agent (a re-measurement covers the agent's crashed
// processes too); without a clock event ε is 0, on the controller's
// clock. Processes of one agent, or both on the controller, share a clock
// and their relative times are exact. Mutual exclusion is then decided in
// two steps:
//
//   - the certain check: the scans and the search above, run on a digest
//     whose every interval is widened by its process's ε — an operation
//     [call, return] becomes [call−ε, return+ε], a belief [ok, end) shrinks
//     to [ok+ε, end−ε) (empty: no owner operation, as for a belief expired
//     on arrival), deadline, crash, failed-extend and release ends move ε
//     earlier, fence windows widen. The true intervals, whatever the clock
//     errors within their bounds, contain these operations, and the true
//     beliefs these beliefs, so a violation found is certain. The widening
//     is done on the digest, not on the events, which would break each
//     process's order; the key's beliefs are re-sorted by the widened ok.
//     When q was granted while p still believed, the two overlap in it
//     exactly when their recorded overlap is longer than ε(p)+ε(q).
//   - the exact check, on the recorded times, of each key the certain
//     check cleared: an overlap of two processes on one clock is exact and
//     convicts; any other violation is too close to call — the key is
//     unknown (Result.TooCloseKeys, also in UnknownKeys, with the recorded
//     violation in Result.Uncertain), never ok and never violated. The
//     exact check is the scans alone: they decide the owner model as the
//     search does.
//
// Witnesses give the recorded times. Lost updates are judged by value,
// clock-free; stale writes by the widened rule only (h.ok+ε_h <
// l.inv−ε_l). Liveness, stalls, progress and availability keep the
// recorded times: ε is milliseconds next to a stall bound of seconds. A
// history with no clock event, or ε = 0 everywhere, takes today's path
// exactly: no widened digest is made.
//
// [Result] is JSON-serialisable; [WriteText] writes it for a person and
// [Result.ExitCode] maps it to the exit codes of `bench check`.
package checker
