// Package zoo is `bench zoo`, the detection matrix: every lock failure the
// literature describes, reproduced as a cell with the verdict the
// literature predicts, beside the verdict the checker reaches. zoo.go
// holds the table and the matching; run.go runs the cells through the
// runner and writes the matrix (zoo.json, zoo.md).
package zoo

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lockbench/lockbench/chaos"
	"github.com/lockbench/lockbench/checker"
	"github.com/lockbench/lockbench/locks"
	"github.com/lockbench/lockbench/workloads"
)

// Safety expectations and observations (Expectation.Safety,
// Observation.Safety).
const (
	// SafetySafe: mutual exclusion held and the resource is ok.
	SafetySafe = "safe"
	// SafetyUnsafe: mutex violated, or the resource lost updates or
	// accepted a stale write.
	SafetyUnsafe = "unsafe"
	// SafetyUnknown: no violation found, but the search timed out.
	SafetyUnknown = "unknown"
)

// Availability expectations (Expectation.Availability).
const (
	// Available: during the fault windows, at least AvailableMin of the
	// seconds saw a successful acquire.
	Available = "available"
	// Unavailable: at most UnavailableMax of them did.
	Unavailable = "unavailable"
)

// Availability thresholds, and the grace trimmed off both ends of every
// fault window before it is measured: an acquire in flight when a fault
// starts or stops may complete inside the window without saying anything
// about the fault, and a 1 s bucket that holds only such a straggler would
// count as available.
const (
	AvailableMin      = 0.8
	UnavailableMax    = 0.2
	AvailabilityGrace = 250 * time.Millisecond
)

// Expectation is what the literature predicts for one (strategy, scenario)
// pair.
type Expectation struct {
	// Safety is SafetySafe or SafetyUnsafe.
	Safety string `json:"safety"`
	// Liveness, when set, is ok or stalled (a lock nobody can take while
	// no fault is active); empty when the literature predicts nothing
	// about it. A predicted liveness must be assessed to match: n/a never
	// matches ok.
	Liveness checker.LivenessVerdict `json:"liveness,omitempty"`
	// Availability, when set, is Available or Unavailable: measured over
	// the cell's fault windows (see AvailabilityGrace).
	Availability string `json:"availability,omitempty"`
	// StaleRejected: the resource must have rejected at least one stale
	// write (fencing at work).
	StaleRejected bool `json:"stale_rejected,omitempty"`
	// Cause, when set, is an overlap cause (checker.Cause*) that at least
	// one overlap must have: the failure happened the way the literature
	// says, not only somehow.
	Cause string `json:"cause,omitempty"`
}

// String is the expectation as the matrix prints it: "unsafe",
// "safe · stalled", "safe · unavailable".
func (e Expectation) String() string {
	parts := []string{e.Safety}
	if e.Liveness != "" {
		parts = append(parts, livenessWord(e.Liveness))
	}
	if e.Availability != "" {
		parts = append(parts, e.Availability)
	}
	if e.StaleRejected {
		parts = append(parts, "stale writes rejected")
	}
	if e.Cause != "" {
		parts = append(parts, "overlap by "+e.Cause)
	}
	return strings.Join(parts, " · ")
}

// livenessWord is "live" for ok, "liveness n/a" when not assessed, else
// the verdict.
func livenessWord(v checker.LivenessVerdict) string {
	switch v {
	case checker.LivenessOK:
		return "live"
	case checker.LivenessNA:
		return "liveness n/a"
	}
	return string(v)
}

// Observation is what a zoo cell showed, in the terms of Expectation.
type Observation struct {
	// Safety is SafetySafe, SafetyUnsafe or SafetyUnknown; empty when the
	// cell could not run.
	Safety string `json:"safety,omitempty"`
	// Mutex, Resource and Liveness are the checker's verdicts.
	Mutex    checker.MutexVerdict    `json:"mutex,omitempty"`
	Resource checker.ResourceVerdict `json:"resource,omitempty"`
	Liveness checker.LivenessVerdict `json:"liveness,omitempty"`
	// Progress is the checker's progress verdict: a safe cell that
	// granted nothing showed nothing.
	Progress checker.ProgressVerdict `json:"progress,omitempty"`
	// Availability is the share of the fault windows' seconds (trimmed by
	// AvailabilityGrace at both ends) with a successful acquire; nil when
	// not measured (no expectation about it, or no window long enough).
	Availability *float64 `json:"availability,omitempty"`
	// FailoverGapMs is the longest time without a grant through the
	// cell's failovers (checker.WindowAvailability.LongestGapMs, the
	// switch-over included); nil without a failover.
	FailoverGapMs *float64 `json:"failover_gap_ms,omitempty"`
	// StaleRejected is the number of writes the resource rejected.
	StaleRejected int `json:"stale_rejected"`
	// HarnessOverloaded: the harness itself was starved in the cell
	// (summary.FlagHarnessOverloaded); a difference is then not judged.
	HarnessOverloaded bool `json:"harness_overloaded,omitempty"`
	// Causes counts the overlaps by cause (checker.Counts.OverlapCauses).
	Causes map[string]int `json:"overlap_causes,omitempty"`
	// Error is why the cell could not run.
	Error string `json:"error,omitempty"`
}

// observe turns a checker result into an observation; avail is the
// measured availability (nil when not measured).
func observe(chk *checker.Result, avail *float64) Observation {
	o := Observation{Mutex: chk.Mutex, Resource: chk.Resource, Liveness: chk.Liveness, Progress: chk.Progress,
		Availability: avail, StaleRejected: chk.Counts.StaleRejected, Causes: chk.Counts.OverlapCauses}
	for _, w := range chk.Availability {
		if w.Fault == chaos.FaultFailover && (o.FailoverGapMs == nil || w.LongestGapMs > *o.FailoverGapMs) {
			o.FailoverGapMs = &w.LongestGapMs
		}
	}
	switch {
	case checker.Unsafe(chk.Mutex, chk.Resource):
		o.Safety = SafetyUnsafe
	case chk.Mutex == checker.MutexUnknown:
		o.Safety = SafetyUnknown
	default:
		o.Safety = SafetySafe
	}
	return o
}

// String is the observation as the matrix prints it: "unsafe (mutex
// violated, lost-updates) · live", "safe · live · unavailable 0%".
func (o Observation) String() string {
	if o.Error != "" {
		return "error"
	}
	safety := o.Safety
	if o.Safety == SafetyUnsafe {
		var why []string
		if o.Mutex == checker.MutexViolated {
			mutex := "mutex violated"
			if c := checker.CauseText(o.Causes); c != "" {
				mutex += " [" + c + "]"
			}
			why = append(why, mutex)
		}
		if o.Resource != checker.ResourceOK {
			why = append(why, string(o.Resource))
		}
		safety += " (" + strings.Join(why, ", ") + ")"
	}
	parts := []string{safety, livenessWord(o.Liveness)}
	if o.Progress != "" && o.Progress != checker.ProgressOK {
		parts = append(parts, "progress "+string(o.Progress))
	}
	if o.Availability != nil {
		word := "partly available"
		switch {
		case *o.Availability >= AvailableMin:
			word = Available
		case *o.Availability <= UnavailableMax:
			word = Unavailable
		}
		parts = append(parts, word+" "+strconv.FormatFloat(100**o.Availability, 'f', 0, 64)+"%")
	}
	if o.FailoverGapMs != nil {
		parts = append(parts, fmt.Sprintf("no grant for %.1f s through the failover", *o.FailoverGapMs/1000))
	}
	if o.StaleRejected > 0 {
		parts = append(parts, fmt.Sprintf("%d stale writes rejected", o.StaleRejected))
	}
	if o.HarnessOverloaded {
		parts = append(parts, "harness overloaded")
	}
	return strings.Join(parts, " · ")
}

// Match compares an observation with the expectation. It returns nil when
// every expected property was observed, else one line per difference. An
// observation of a cell that could not run, or whose mutex search did not
// finish, never matches.
func (e Expectation) Match(o Observation) []string {
	if o.Error != "" {
		return []string{"the cell could not run: " + o.Error}
	}
	var diffs []string
	if o.Safety != e.Safety {
		diffs = append(diffs, fmt.Sprintf("expected %s, observed %s", e.Safety, o.Safety))
	}
	if e.Safety == SafetySafe && o.Progress == checker.ProgressNone {
		diffs = append(diffs, "no acquire succeeded outside faults: nothing was shown safe")
	}
	if e.Liveness != "" && o.Liveness != e.Liveness {
		diffs = append(diffs, fmt.Sprintf("expected liveness %s, observed %s", e.Liveness, o.Liveness))
	}
	switch e.Availability {
	case "":
	case Available, Unavailable:
		switch {
		case o.Availability == nil:
			diffs = append(diffs, "expected "+e.Availability+" during the fault, but no fault window was long enough to measure")
		case e.Availability == Available && *o.Availability < AvailableMin:
			diffs = append(diffs, fmt.Sprintf("expected available during the fault (≥ %.0f%% of its seconds with an acquire), observed %.0f%%", 100*AvailableMin, 100**o.Availability))
		case e.Availability == Unavailable && *o.Availability > UnavailableMax:
			diffs = append(diffs, fmt.Sprintf("expected unavailable during the fault (≤ %.0f%% of its seconds with an acquire), observed %.0f%%", 100*UnavailableMax, 100**o.Availability))
		}
	default:
		diffs = append(diffs, fmt.Sprintf("unknown availability expectation %q", e.Availability))
	}
	if e.StaleRejected && o.StaleRejected == 0 {
		diffs = append(diffs, "expected stale writes rejected by the resource, observed none")
	}
	if e.Cause != "" && o.Causes[e.Cause] == 0 {
		observed := checker.CauseText(o.Causes)
		if observed == "" {
			observed = "none"
		}
		diffs = append(diffs, fmt.Sprintf("expected an overlap by %s, observed overlaps by cause: %s", e.Cause, observed))
	}
	return diffs
}

// Entry is one row of the detection matrix: a strategy, a literature
// scenario (a fault preset and a workload shaped so the failure shows
// reliably), what the literature predicts, and where it says so.
type Entry struct {
	// Lock is the strategy (bench list locks).
	Lock string `json:"lock"`
	// Scenario is the scenario's short name in the matrix.
	Scenario string `json:"scenario"`
	// Fault is the fault schedule preset (bench list presets).
	Fault string `json:"fault"`
	// Topology is how the lock nodes replicate (bench list topologies);
	// "" is standalone.
	Topology string `json:"topology,omitempty"`
	// Workload is the cell's workload; its seed is the zoo's.
	Workload workloads.Spec `json:"workload"`
	// StallBound is the checker's stall bound (0 = its default).
	StallBound time.Duration `json:"stall_bound_ns,omitempty"`
	// Expect is the literature's prediction.
	Expect Expectation `json:"expect"`
	// Source cites the prediction, in one line.
	Source string `json:"source"`
	// Setup says, in one line, how the cell provokes the failure.
	Setup string `json:"setup"`
	// Quick marks the entries `bench zoo --quick` runs.
	Quick bool `json:"quick,omitempty"`
}

// ID names the entry: "lock/scenario".
func (e Entry) ID() string { return e.Lock + "/" + e.Scenario }

// The sources the zoo cites.
const (
	zooKleppmann  = "Kleppmann, \"How to do distributed locking\" (2016)"
	zooRedisIO    = "redis.io, \"Distributed Locks with Redis\""
	zooRedisSETNX = "redis.io, SETNX, \"Design pattern: Locking with SETNX\", \"Handling deadlocks\""
	zooRedisSET   = "redis.io, SET, \"Patterns\": SET NX EX is one command, unlike SETNX then EXPIRE"
	zooDesign     = "DESIGN §3"
	zooFailover   = "redis.io, \"Distributed Locks with Redis\", \"Why Failover-based Implementations Are Not Enough\"; Kingsbury, \"Jepsen: Redis\" (2013)"
	zooRedisson   = "redisson/redisson#5256: WAIT acknowledged by one replica, another promoted"
)

// zooSpec is the zoo's workload: one hot key, clients in groups, a fixed
// critical section and think time, and a retry budget short enough (≈ 1 s)
// that an acquire still retrying when the cell ends does not hold it up
// for long. Clients honour their lease's validity, as real clients of the
// validity-tracking strategies do (the naive strategies have none).
func zooSpec(name string, clients, groups int, ttl, cs, think, d time.Duration) workloads.Spec {
	return workloads.Spec{
		Name:            name,
		Clients:         clients,
		Groups:          groups,
		Keys:            workloads.Keys{Kind: "single"},
		CriticalSection: workloads.Dist{Kind: "fixed", Mean: cs},
		Think:           workloads.Dist{Kind: "fixed", Mean: think},
		TTL:             ttl,
		Retry:           locks.Retry{Policy: "exponential", Base: 2 * time.Millisecond, Cap: 20 * time.Millisecond, Attempts: 100},
		Duration:        d,
		HonourDeadline:  true,
	}
}

// Entries returns the detection matrix, in the order it runs (entries needing
// the same kind of nodes side by side, so nodes restart rarely). Each call
// returns fresh values.
func Entries() []Entry {
	const ms = time.Millisecond
	// contended: short critical sections, many clients; the baseline and
	// the partition scenarios (availability is measured per second).
	contended := func(d time.Duration) workloads.Spec {
		return zooSpec("zoo-contended", 8, 2, time.Second, ms, 0, d)
	}
	// turns: three clients taking turns on a short critical section, so
	// that an armed client fault (crash, pause, cut) finds its worker
	// holding the lock within a few turns.
	turns := func(ttl, d time.Duration) workloads.Spec {
		return zooSpec("zoo-turns", 3, 1, ttl, 10*ms, 10*ms, d)
	}
	// kleppmann: Kleppmann's two client groups (the asymmetric partition
	// gives each a majority sharing n3), two clients each, holding the
	// lock 80 % of its TTL (the write still lands 130 ms before the
	// validity ends), so that when n3 restarts empty or its clock jumps,
	// a holder is usually inside its critical section long enough for the
	// other group to take n3 and its own two nodes. It is a race (the
	// holder's own group grabs the freed n3 half the time, and then keeps
	// it while the holder works), so the fault repeats: every occurrence
	// is a fresh chance.
	kleppmann := func(d time.Duration) workloads.Spec {
		return zooSpec("zoo-kleppmann", 4, 2, time.Second, 800*ms, 0, d)
	}
	safe := Expectation{Safety: SafetySafe}
	unsafe := Expectation{Safety: SafetyUnsafe}
	stalled := Expectation{Safety: SafetySafe, Liveness: checker.LivenessStalled}

	out := []Entry{
		{Lock: "nolock", Scenario: "no-fault", Fault: "none", Workload: contended(2 * time.Second), Expect: unsafe, Quick: true,
			Source: zooDesign + ": nolock grants every request, the canary the checker must always catch",
			Setup:  "eight clients on one key, no fault"},
		{Lock: "setnx", Scenario: "holder-crash", Fault: "client-crash", Workload: turns(300*ms, 4*time.Second), StallBound: time.Second, Expect: stalled, Quick: true,
			Source: zooRedisSETNX + ": a holder that crashes never releases a lock without expiry",
			Setup:  "worker 0 crashes right after an acquire at 1 s; stall bound 1 s"},
		{Lock: "setnx-expire", Scenario: "cut-between-commands", Fault: "cut-between-commands", Workload: turns(300*ms, 5*time.Second), StallBound: time.Second, Expect: stalled, Quick: true,
			Source: zooRedisSET + " (a failure between them leaves a lock that never expires)",
			Setup:  "worker 0's group is cut off n1 between SETNX and EXPIRE (armed at 1 s, healed at 1.9 s); stall bound 1 s"},
		{Lock: "set-nx-ex", Scenario: "holder-outlives-ttl", Fault: "kleppmann-client-pause", Workload: zooSpec("zoo-turns-long", 3, 1, time.Second, 300*ms, 10*ms, 7*time.Second), Quick: true,
			Expect: Expectation{Safety: SafetyUnsafe, Cause: checker.CauseStaleRelease},
			Source: zooRedisIO + ", \"Correct Implementation with a Single Instance\": a holder blocked past the expiry later removes a lock another client acquired",
			Setup:  "a worker pauses 3 s (3×TTL) inside its critical section; its naive lease has no validity, so it trusts the lock until its DEL, which lands while the next holder works its 300 ms and frees the lock to the third"},
		{Lock: "token", Scenario: "client-pause", Fault: "kleppmann-client-pause", Workload: turns(300*ms, 3*time.Second), Expect: unsafe, Quick: true,
			Source: zooKleppmann + ", \"Protecting a resource with a lock\": a GC pause past the lease lets a stale holder write",
			Setup:  "a worker pauses 900 ms (3×TTL) between reading and writing the resource, after its validity check"},
		{Lock: "redislock", Scenario: "client-pause", Fault: "kleppmann-client-pause", Workload: turns(300*ms, 3*time.Second), Expect: unsafe,
			Source: zooKleppmann + ", \"Protecting a resource with a lock\" (bsm/redislock is a token lock)",
			Setup:  "a worker pauses 900 ms (3×TTL) between reading and writing the resource, after its validity check"},
		{Lock: "fenced", Scenario: "client-pause", Fault: "kleppmann-client-pause", Workload: turns(300*ms, 3*time.Second), Quick: true,
			Expect: Expectation{Safety: SafetySafe, StaleRejected: true},
			Source: zooKleppmann + ", \"Making the lock safe with fencing\": the resource rejects the paused holder's stale write",
			Setup:  "the same pause; the resource checks fencing tokens"},
		{Lock: "redlock", Scenario: "partition-minority", Fault: "partition-minority", Workload: contended(5 * time.Second), Quick: true,
			Expect: Expectation{Safety: SafetySafe, Availability: Available},
			Source: zooRedisIO + ", \"Safety and Liveness Guarantees\": locks can be acquired while a majority of nodes is up",
			Setup:  "n1, n2 cut off from every client for 3 s (3×TTL)"},
		{Lock: "redsync", Scenario: "partition-minority", Fault: "partition-minority", Workload: contended(5 * time.Second),
			Expect: Expectation{Safety: SafetySafe, Availability: Available},
			Source: zooRedisIO + ", \"Safety and Liveness Guarantees\" (redsync implements Redlock)",
			Setup:  "n1, n2 cut off from every client for 3 s (3×TTL)"},
		{Lock: "redlock", Scenario: "partition-majority", Fault: "partition-majority", Workload: contended(5 * time.Second), Quick: true,
			Expect: Expectation{Safety: SafetySafe, Availability: Unavailable},
			Source: zooRedisIO + ", \"Safety and Liveness Guarantees\": without a majority no lock is granted, and locks are granted again once it heals",
			Setup:  "n1, n2, n3 cut off from every client for 3 s (3×TTL)"},
		{Lock: "redsync", Scenario: "partition-majority", Fault: "partition-majority", Workload: contended(5 * time.Second),
			Expect: Expectation{Safety: SafetySafe, Availability: Unavailable},
			Source: zooRedisIO + ", \"Safety and Liveness Guarantees\" (redsync implements Redlock)",
			Setup:  "n1, n2, n3 cut off from every client for 3 s (3×TTL)"},
		{Lock: "redlock", Scenario: "restart-no-fsync", Fault: "redis-restart-no-fsync", Workload: kleppmann(14 * time.Second), Expect: unsafe, Quick: true,
			Source: zooRedisIO + ", \"Performance, Crash Recovery and fsync\": a node restarted without persistence forgets a lock and grants it again",
			Setup:  "asymmetric partition (A: n1–n3, B: n3–n5); n3 killed and restarted empty every 2 s from 1.25 s (7 times; n1 too, from 1.75 s) while holders work 800 ms of their 1 s TTL"},
		{Lock: "redsync", Scenario: "restart-no-fsync", Fault: "redis-restart-no-fsync", Workload: kleppmann(14 * time.Second), Expect: unsafe,
			Source: zooRedisIO + ", \"Performance, Crash Recovery and fsync\" (redsync implements Redlock)",
			Setup:  "asymmetric partition (A: n1–n3, B: n3–n5); n3 killed and restarted empty every 2 s from 1.25 s (7 times; n1 too, from 1.75 s) while holders work 800 ms of their 1 s TTL"},
		{Lock: "redlock", Scenario: "delayed-restart", Fault: "redis-delayed-restart", Workload: kleppmann(8 * time.Second), Expect: safe, Quick: true,
			Source: zooRedisIO + ", \"Performance, Crash Recovery and fsync\": a node kept down longer than the TTL before it rejoins keeps Redlock safe",
			Setup:  "as restart-no-fsync, but each killed node (n3 at 1.25 and 5.25 s, n1 at 1.75 and 5.75 s) stays down 2 s (2×TTL) before it restarts empty"},
		{Lock: "redsync", Scenario: "delayed-restart", Fault: "redis-delayed-restart", Workload: kleppmann(8 * time.Second), Expect: safe,
			Source: zooRedisIO + ", \"Performance, Crash Recovery and fsync\" (redsync implements Redlock)",
			Setup:  "as restart-no-fsync, but each killed node (n3 at 1.25 and 5.25 s, n1 at 1.75 and 5.75 s) stays down 2 s (2×TTL) before it restarts empty"},
	}
	// The reference Python clients (clients/python), run through the
	// external client protocol: the seed's snippets as written, and
	// redis-py's own Lock. The same scenarios as their Go twins.
	zooSeed := "the seed's Python snippet as written, run through the external client protocol"
	out = append(out,
		Entry{Lock: "py-setnx", Scenario: "holder-crash", Fault: "client-crash", Workload: turns(300*ms, 4*time.Second), StallBound: time.Second, Expect: stalled, Quick: true,
			Source: zooRedisSETNX + " (" + zooSeed + ")",
			Setup:  "worker 0's client process is killed (SIGKILL) right after an acquire at 1 s; stall bound 1 s"},
		Entry{Lock: "py-set-nx-ex", Scenario: "holder-outlives-ttl", Fault: "kleppmann-client-pause", Workload: zooSpec("zoo-turns-long", 3, 1, time.Second, 300*ms, 10*ms, 7*time.Second),
			Expect: Expectation{Safety: SafetyUnsafe, Cause: checker.CauseStaleRelease},
			Source: zooRedisIO + ", \"Correct Implementation with a Single Instance\" (" + zooSeed + ")",
			Setup:  "a worker and its client process (SIGSTOP) pause 3 s (3×TTL) inside the critical section; its DEL lands while the next holder works"},
		Entry{Lock: "py-redis-lock", Scenario: "no-fault", Fault: "none", Workload: contended(2 * time.Second), Expect: safe,
			Source: "redis-py's redis.lock.Lock: a token lock with a Lua compare-and-delete release",
			Setup:  "eight clients, each its own Python process, on one key, no fault"},
		Entry{Lock: "py-redis-lock", Scenario: "client-pause", Fault: "kleppmann-client-pause", Workload: turns(300*ms, 3*time.Second), Expect: unsafe, Quick: true,
			Source: zooKleppmann + ", \"Protecting a resource with a lock\" (redis-py's Lock is a token lock)",
			Setup:  "a worker and its client process (SIGSTOP) pause 900 ms (3×TTL) after the validity check, before writing the resource"},
	)
	correct := []string{"token", "fenced", "redlock", "redsync", "redislock"}
	for _, l := range correct {
		out = append(out, Entry{Lock: l, Scenario: "no-fault", Fault: "none", Workload: contended(2 * time.Second), Expect: safe,
			Quick:  l == "token" || l == "redlock",
			Source: zooDesign + " and " + zooRedisIO + ", \"Safety property: mutual exclusion\"",
			Setup:  "eight clients on one key, no fault"})
	}
	for _, l := range correct {
		out = append(out, Entry{Lock: l, Scenario: "latency", Fault: "latency", Workload: contended(5 * time.Second), Expect: safe,
			Quick:  l == "fenced" || l == "redsync",
			Source: zooRedisIO + ", \"Safety arguments\": validity is counted from before the request, so delays below the TTL cannot break exclusion",
			Setup:  "100 ms (TTL/10) added each way between every client and every node for 3 s"})
	}
	out = append(out, Entry{Lock: "redlock", Scenario: "restart-aof-always", Fault: "redis-restart-aof-always", Workload: kleppmann(8 * time.Second), Expect: safe, Quick: true,
		Source: zooRedisIO + ", \"Performance, Crash Recovery and fsync\": with fsync=always a restarted node keeps its locks",
		Setup:  "as restart-no-fsync, with the append-only file fsynced before every reply (n3 and n1 killed and restarted every 2 s)"})
	// failover: the clients switch to the promoted primary about a
	// second after the failover command on Sentinel (at once on
	// Cluster); a lock granted by the old primary and still held then is
	// granted again by the new one, which never got it. Eight clients in
	// two groups on four keys, each holding a key for 1.2 s of its 2 s TTL
	// on average: at the switch-over several keys are held, each a chance.
	// The critical section is drawn (lognormal, σ 0.3), so that holders do
	// not hand over in step: with a fixed one, every handover fell on the
	// same instants, and a switch-over landing on one found nobody
	// holding. (A holder whose lease runs out first stops there: its
	// belief ends at its deadline.) token-wait's old primary grants
	// nothing once Sentinel has pointed the last acknowledging replica at
	// the new one, about a second before the switch-over, so only locks
	// granted before that and held past the switch-over count there.
	failover := func(d time.Duration) workloads.Spec {
		w := zooSpec("zoo-failover", 8, 2, 2*time.Second, 0, 0, d)
		w.CriticalSection = workloads.Dist{Kind: "lognormal", Mean: 1200 * ms, Sigma: 0.3}
		w.Keys = workloads.Keys{Kind: "uniform", Count: 4}
		return w
	}
	holders := "eight clients on four keys hold each for 1.2 s of its 2 s TTL on average (lognormal)"
	cutAll := "replication cut from every data node at 1 s; the primary failed over at 3 s (SENTINEL FAILOVER); clients switch over when the Sentinels agree on the new primary; " + holders
	for _, f := range []Entry{
		{Lock: "token", Scenario: "sentinel-failover-after-cut", Expect: Expectation{Safety: SafetyUnsafe, Cause: checker.CauseLostWithinTTL},
			Source: zooFailover + ": the promoted replica never got the lock", Setup: cutAll},
		{Lock: "redislock", Scenario: "sentinel-failover-after-cut", Expect: unsafe,
			Source: zooFailover + " (bsm/redislock is a token lock; bsm/redislock#30)", Setup: cutAll},
		{Lock: "fenced", Scenario: "sentinel-failover-after-cut", Expect: unsafe,
			Source: zooFailover + ": the fence counter lives on the same primary, so the promoted replica's INCR goes back", Setup: cutAll},
		{Lock: "token-wait", Scenario: "sentinel-failover-after-cut", Expect: safe,
			Source: zooRedisson + " (the mitigation): no replica acknowledges while they are cut, so nothing is granted that a promotion could lose",
			Setup:  cutAll + "; WAIT 1 times out and the acquire is undone"},
		{Lock: "token-wait", Scenario: "sentinel-failover-after-replica-cut", Fault: "failover-after-replica-cut", Expect: Expectation{Safety: SafetyUnsafe, Cause: checker.CauseLostWithinTTL},
			Source: zooRedisson,
			Setup:  "only n2, the replica Sentinel promotes first (replica-priority), is cut at 1 s; n3 acknowledges WAIT 1; n2 is promoted at 3 s; " + holders},
	} {
		f.Topology = "sentinel"
		f.Fault = cmp.Or(f.Fault, "failover-after-replication-cut")
		f.Workload = failover(9 * time.Second)
		f.Quick = f.Lock == "token" || f.Scenario == "sentinel-failover-after-replica-cut"
		out = append(out, f)
	}
	// On Redis Cluster the failover moves one shard, the first lock
	// key's: one hot key, so that every client contends for it.
	hotFailover := failover(6 * time.Second)
	hotFailover.Name, hotFailover.Keys = "zoo-failover-hot", workloads.Keys{Kind: "single"}
	out = append(out, Entry{Lock: "token", Scenario: "cluster-failover-after-cut", Topology: "cluster", Fault: "failover-after-replication-cut", Workload: hotFailover,
		Expect: Expectation{Safety: SafetyUnsafe, Cause: checker.CauseLostWithinTTL}, Quick: true,
		Source: zooFailover + "; redisson/redisson#4822 (Redis Cluster failover)",
		Setup:  "replication cut from every node at 1 s; CLUSTER FAILOVER FORCE on the replica of the lock key's shard at 3 s; the old primary answers MOVED and the clients follow; eight clients on one key hold it for 1.2 s of its 2 s TTL on average (lognormal)"})
	// The clock jump needs nodes started with the clock shim: last, so
	// the nodes restart once.
	for _, l := range []string{"redlock", "redsync"} {
		out = append(out, Entry{Lock: l, Scenario: "clock-jump", Fault: "kleppmann-clock-jump", Workload: kleppmann(11 * time.Second), Expect: unsafe,
			Quick:  l == "redlock",
			Source: zooKleppmann + ", \"Breaking Redlock with bad timings\": a clock jump on the shared node expires the holder's key there",
			Setup:  "asymmetric partition (A: n1–n3, B: n3–n5); n3's clock jumps 2 s (2×TTL) forward at 1, 4, 7, 10 s (back 2 s later) while holders work 800 ms of their 1 s TTL"})
	}
	return out
}
