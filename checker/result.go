package checker

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"
)

// MutexVerdict is the mutual-exclusion verdict of DESIGN §5.
type MutexVerdict string

// Mutex verdicts.
const (
	// MutexOK: no two beliefs on one key overlap, and every key's history
	// is linearizable against the owner model.
	MutexOK MutexVerdict = "ok"
	// MutexViolated: at least one key has a definite violation (see the
	// witnesses) or no linearization.
	MutexViolated MutexVerdict = "violated"
	// MutexUnknown: no violation was found, but the search on at least one
	// key did not finish within the timeout, or a key is too close to
	// call: its recorded times show a violation that the uncertainty of
	// the processes' clocks can explain away (Result.TooCloseKeys).
	MutexUnknown MutexVerdict = "unknown"
)

// ResourceVerdict is the verdict on the protected resource (DESIGN §5).
type ResourceVerdict string

// Resource verdicts.
const (
	// ResourceOK: no lost update and no stale write accepted.
	ResourceOK ResourceVerdict = "ok"
	// ResourceLostUpdates: two accepted writes wrote the same value to one
	// resource (two read-modify-write cycles overlapped).
	ResourceLostUpdates ResourceVerdict = "lost-updates"
	// ResourceStaleWritesAccepted: a write with a lower fence was accepted
	// after one with a higher fence. When both kinds occur this one is
	// reported: it is the cause the fencing was meant to prevent.
	ResourceStaleWritesAccepted ResourceVerdict = "stale-writes-accepted"
)

// LivenessVerdict is the liveness verdict (DESIGN §5).
type LivenessVerdict string

// Liveness verdicts.
const (
	// LivenessOK: no stall.
	LivenessOK LivenessVerdict = "ok"
	// LivenessStalled: on some key, clients tried and nobody got the lock
	// for longer than the stall bound while nobody held it and no fault
	// was active (see [Stall]).
	LivenessStalled LivenessVerdict = "stalled"
	// LivenessNA: not assessed — no fault-free stretch of the history was
	// longer than the stall bound, so no stall could have been seen
	// (Result.LivenessNote says so with the figures).
	LivenessNA LivenessVerdict = "n/a"
)

// Witness kinds.
const (
	// KindOverlap: two beliefs on one lock key overlapped.
	KindOverlap = "overlap"
	// KindFenceOrder: a lock was granted with a fence not above one
	// granted before it (or the same fence twice).
	KindFenceOrder = "fence-order"
	// KindNoLinearization: the linearizability search found no
	// linearization but no simpler witness was found; the visualisation
	// shows the longest partial linearizations.
	KindNoLinearization = "no-linearization"
	// KindLostUpdate: two accepted writes of the same value.
	KindLostUpdate = "lost-update"
	// KindStaleWrite: a write with a lower fence accepted after one with a
	// higher fence.
	KindStaleWrite = "stale-write"
)

// Exit codes of `bench check` (DESIGN §5, §9).
const (
	// ExitSafe: no safety violation and a decided verdict.
	ExitSafe = 0
	// ExitViolation: a mutex or resource safety violation.
	ExitViolation = 1
	// ExitUnknown: no violation found, but the search timed out or a key
	// was too close to call.
	ExitUnknown = 2
	// ExitBadInput: the history is malformed (the CLI reports the line).
	ExitBadInput = 3
)

// Witness is the evidence for one violation: who, where, when, and which
// faults were active then. Times are ms since the run started.
type Witness struct {
	// Kind is one of the Kind* constants.
	Kind string `json:"kind"`
	// Key is the lock key (overlap, fence-order, no-linearization) or the
	// resource (lost-update, stale-write).
	Key string `json:"key"`
	// Processes are the two processes involved, in the order of
	// IntervalsMs (absent for no-linearization).
	Processes []int `json:"processes"`
	// IntervalsMs are the two processes' intervals: beliefs [acquire ok,
	// belief end] for an overlap; acquires [invoke, ok] for a fence-order
	// witness; read-modify-write cycles [read invoke, write ok] for a lost
	// update; writes [invoke, ok] for a stale write.
	IntervalsMs [][2]float64 `json:"intervals_ms"`
	// OverlapMs is when both held the lock (overlap) or both cycles ran
	// (lost update, when they overlap).
	OverlapMs []float64 `json:"overlap_ms,omitempty"`
	// BeliefEnds says why each belief of an overlap ended: "release",
	// "deadline", "extend-failed", "crash" or "end-of-history".
	BeliefEnds []string `json:"belief_ends,omitempty"`
	// Fences are the two fences (fence-order, stale-write).
	Fences []int64 `json:"fences,omitempty"`
	// Value is the value written twice (lost-update).
	Value *int64 `json:"value,omitempty"`
	// Faults are the faults active during the overlap (or, without one,
	// between the two events), as "fault on target".
	Faults []string `json:"faults"`
	// Count is how many violations of this kind the key has; the witness
	// is the earliest.
	Count int `json:"count"`
	// Cause is, for an overlap, what the history shows about how the
	// second grant came about (Cause* constants); absent when the first
	// holder recorded no TTL.
	Cause string `json:"cause,omitempty"`
	// UncertaintyMs is the two processes' clocks' combined uncertainty
	// ε(p)+ε(q) when they run on different clocks and it is not zero:
	// for a witness in Result.Uncertain, what the violation the recorded
	// times show does not exceed; for one in Witnesses, what it does.
	UncertaintyMs float64 `json:"uncertainty_ms,omitempty"`
	// Explanation is the witness in one sentence.
	Explanation string `json:"explanation"`
}

// Counts are the history's sizes and the resource check's tallies.
type Counts struct {
	// Events is the number of events in the history.
	Events int `json:"events"`
	// Ops is the number of operations (invoke events).
	Ops int `json:"ops"`
	// Keys is the number of lock keys; Resources the number of resources.
	Keys      int `json:"keys"`
	Resources int `json:"resources"`
	// AcquiresOK is the number of successful acquires; Beliefs those that
	// gave their process a (non-empty) belief.
	AcquiresOK int `json:"acquires_ok"`
	Beliefs    int `json:"beliefs"`
	// ModelOps is the number of operations left for the linearizability
	// search after pruning those that cannot change the model's state.
	ModelOps int `json:"model_ops"`
	// Overlaps is the number of beliefs that overlap an earlier one (with
	// clock uncertainty: certainly, or on one clock);
	// OverlapCauses counts them by cause (Cause* constants), leaving out
	// those whose earlier holder recorded no TTL.
	Overlaps      int            `json:"overlaps"`
	OverlapCauses map[string]int `json:"overlap_causes,omitempty"`
	// ViolatingKeys, UnknownKeys: keys with a mutex violation, and keys
	// whose search timed out without a violation found or that are too
	// close to call; TooCloseKeys those too close to call.
	ViolatingKeys int `json:"violating_keys"`
	UnknownKeys   int `json:"unknown_keys"`
	TooCloseKeys  int `json:"too_close_keys,omitempty"`
	// LostUpdates counts accepted writes whose value an earlier accepted
	// write on the same resource already wrote.
	LostUpdates int `json:"lost_updates"`
	// StaleAccepted counts accepted writes whose fence is below that of a
	// write accepted before they were invoked.
	StaleAccepted int `json:"stale_accepted"`
	// StaleRejected counts rejected writes (write fail): not violations.
	StaleRejected int `json:"stale_rejected"`
}

// WindowAvailability is how available the lock was during one fault
// window: the share of its seconds (1 s buckets from the window's start;
// a partial last one counts) that saw at least one successful acquire.
type WindowAvailability struct {
	// Fault and Target are the nemesis event's fault and target.
	Fault  string `json:"fault"`
	Target string `json:"target"`
	// StartMs, EndMs bound the window. A fault never stopped ends with the
	// history (Open).
	StartMs float64 `json:"start_ms"`
	EndMs   float64 `json:"end_ms"`
	Open    bool    `json:"open,omitempty"`
	// Seconds is the number of buckets; SecondsWithAcquire those with at
	// least one acquire ok; Availability their ratio.
	Seconds            int     `json:"seconds"`
	SecondsWithAcquire int     `json:"seconds_with_acquire"`
	Availability       float64 `json:"availability"`
	// LongestGapMs is the longest time without a successful acquire (any
	// key) that touches the window, not cut at its ends: how long clients
	// went without a grant through the fault, a failover's switch-over
	// included, which comes after the promotion the window ends with.
	// From the history's start or to its end when no grant bounds it.
	LongestGapMs float64 `json:"longest_gap_ms,omitempty"`
}

// Stall is a period on one key longer than the stall bound during which
// clients were trying to acquire it, nobody believed they held it, no
// fault was active, and no acquire succeeded — how a lock that is never
// released (setnx after its holder crashed) shows.
type Stall struct {
	// Key is the lock key that stalled.
	Key string `json:"key"`
	// StartMs and EndMs bound the stall (ms since the run started).
	StartMs float64 `json:"start_ms"`
	EndMs   float64 `json:"end_ms"`
}

// Visualization is one porcupine HTML file written for a failing key.
type Visualization struct {
	// Key is the lock key drawn; Path the HTML file.
	Key  string `json:"key"`
	Path string `json:"path"`
}

// Truncation says that a history was cut short — its recorder was killed
// before it wrote the end marker — and how much of it was checked: up to
// its last checkpoint, before which every event is known to be there.
type Truncation struct {
	// AtMs is the last checkpoint (ms since the run started): the verdicts
	// speak of the history up to it and of nothing after.
	AtMs float64 `json:"at_ms"`
	// EventsDropped is the number of events after it, left out of the
	// check: their processes may have lost events around them.
	EventsDropped int `json:"events_dropped"`
	// Reason says why, in words.
	Reason string `json:"reason"`
}

// Result is the checker's verdict on one history. It is JSON-serialisable
// with stable snake_case field names.
type Result struct {
	// Mutex, Resource, Liveness and Progress are the verdicts.
	Mutex    MutexVerdict    `json:"mutex"`
	Resource ResourceVerdict `json:"resource"`
	Liveness LivenessVerdict `json:"liveness"`
	Progress ProgressVerdict `json:"progress"`
	// LivenessNote and ProgressNote say, in one sentence, why liveness
	// and progress read as they do.
	LivenessNote string `json:"liveness_note,omitempty"`
	ProgressNote string `json:"progress_note,omitempty"`
	// ProgressCounts are the acquire attempts the progress verdict was
	// judged on.
	ProgressCounts ProgressCounts `json:"progress_counts"`
	// Truncated is set when the history was cut short and checked only up
	// to its last checkpoint (Options.Stats).
	Truncated *Truncation `json:"truncated,omitempty"`
	// Witnesses: for every key with a mutex violation the earliest one,
	// then for every resource with a lost update or stale write accepted
	// the earliest one.
	Witnesses []Witness `json:"witnesses"`
	// UnknownKeys are the keys whose search timed out without a
	// violation, and the keys too close to call.
	UnknownKeys []string `json:"unknown_keys,omitempty"`
	// ClockUncertaintyMs is the largest uncertainty of the history's clock
	// events: how far off the times of an agent's processes may be;
	// absent when every time is exact.
	ClockUncertaintyMs float64 `json:"clock_uncertainty_ms,omitempty"`
	// TooCloseKeys are the lock keys too close to call (also in
	// UnknownKeys): the recorded times show a violation, but not one
	// beyond the uncertainty of the clocks involved.
	TooCloseKeys []string `json:"too_close_keys,omitempty"`
	// Uncertain has, for every key too close to call, the violation the
	// recorded times show, with the clocks' combined uncertainty
	// (Witness.UncertaintyMs). Not evidence of a violation.
	Uncertain []Witness `json:"uncertain,omitempty"`
	Counts    Counts    `json:"counts"`
	// Availability has one entry per fault window, in start order.
	Availability []WindowAvailability `json:"availability"`
	// BaselineAvailability is the share of the run's fault-free seconds
	// (1 s buckets from the start that no fault window touches) with at
	// least one successful acquire; absent when there are none.
	BaselineAvailability *float64 `json:"baseline_availability,omitempty"`
	Stalls               []Stall  `json:"stalls"`
	// StallBoundMs is the stall bound used.
	StallBoundMs float64 `json:"stall_bound_ms"`
	// DurationMs is the length of the history checked: the last event's
	// time, or the checkpoint a truncated history was checked up to.
	DurationMs float64 `json:"duration_ms"`
	// FaultFreeMs is the time no fault window covered; LongestFaultFreeMs
	// its longest stretch, which decides whether liveness was assessed.
	FaultFreeMs        float64 `json:"fault_free_ms"`
	LongestFaultFreeMs float64 `json:"longest_fault_free_ms"`
	// Visualizations are the HTML files written (Options.VisualizeDir).
	Visualizations []Visualization `json:"visualizations,omitempty"`
	// VisualizeErrors says which visualisations could not be made.
	VisualizeErrors []string `json:"visualize_errors,omitempty"`
	// CheckDurationMs is how long the check took.
	CheckDurationMs float64 `json:"check_duration_ms"`
}

// ExitCode is the exit status of `bench check` for r: 0 safe, 1 a safety
// violation (mutex or resource), 2 unknown. Liveness does not change it: a
// stall is reported, not a safety violation.
func (r *Result) ExitCode() int {
	switch {
	case Unsafe(r.Mutex, r.Resource):
		return ExitViolation
	case r.Mutex == MutexUnknown:
		return ExitUnknown
	default:
		return ExitSafe
	}
}

// Unsafe is the safety predicate every reader of verdicts shares (bench
// check's exit code, a run's cell classes, the zoo's observations): mutual
// exclusion was violated, or the resource was judged anything but ok (lost
// updates, stale writes accepted). A resource never judged ("", a cell
// that could not run) is no violation.
func Unsafe(m MutexVerdict, r ResourceVerdict) bool {
	return m == MutexViolated || (r != "" && r != ResourceOK)
}

// WriteJSON writes r as indented JSON followed by a newline.
func WriteJSON(w io.Writer, r *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("checker: write result: %w", err)
	}
	return nil
}

// nsToMs converts ns since the run started to ms, rounded to the µs.
func nsToMs(ns int64) float64 {
	return math.Round(float64(ns)/1e3) / 1e3
}

// durMs is d in ms, rounded to the µs.
func durMs(d time.Duration) float64 { return nsToMs(int64(d)) }
