package checker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/lockbench/lockbench/history"
)

// DefaultTimeout bounds the linearizability search when Options.Timeout
// is zero: the check never hangs; keys left undecided are unknown.
const DefaultTimeout = time.Minute

// Options tune Check. The zero value is the defaults.
type Options struct {
	// Timeout bounds the whole linearizability search (all keys, and the
	// visualisations); zero means DefaultTimeout. Keys whose search did not
	// finish in time and have no definite violation are unknown.
	Timeout time.Duration
	// StallBound is how long no acquire may succeed on a key while clients
	// try and nobody holds it before the key counts as stalled; zero means
	// max(3 × the longest TTL asked for, MinStallBound).
	StallBound time.Duration
	// VisualizeDir, when not empty, is where porcupine's HTML visualisation
	// of each key with a mutex violation is written (annotated with the
	// fault windows and the witness), one file per key. It is created if
	// needed.
	VisualizeDir string
	// Releases says what a release of the lock does, when the caller
	// knows (it decides whether an overlap can be blamed on a stale
	// release, see CauseStaleRelease).
	Releases Releases
	// Stats is what the reader saw of the history, when it was read from
	// a file (history.ReadFileStats). A history it found unfinished —
	// checkpoints but no end marker: its recorder was killed, and each of
	// its streams may have lost a different tail of events — is checked
	// up to its last checkpoint only, before which every event is there:
	// the events after it are left out, operations in flight then are in
	// flight at the end of the history, and Result.Truncated says so.
	Stats *history.Stats
}

// Releases is what a release of the lock under check does.
type Releases uint8

const (
	// ReleasesUnknown: not said (a history from elsewhere); a stale
	// release is named as a possible cause.
	ReleasesUnknown Releases = iota
	// ReleasesCheckOwner: a release deletes only the releaser's own lock
	// (compare-and-delete), so it never frees another's.
	ReleasesCheckOwner
	// ReleasesPlainDelete: a release deletes whatever lock is there (DEL).
	ReleasesPlainDelete
)

// ErrOptions is wrapped by the error Check returns for invalid Options.
var ErrOptions = errors.New("checker: invalid options")

// Check decides a history (DESIGN §5): mutual exclusion by
// linearizability against the owner model, partitioned by key, with
// witnesses; the protected resource (lost updates, stale writes); and
// liveness (stalls, availability per fault window). A history cut short
// (see Options.Stats) is decided up to its last checkpoint. A history with
// clock events (agents' processes, their times uncertain by ± ε) is
// convicted only of what holds whatever the clocks' errors; a key whose
// recorded times alone show a violation is too close to call (mutex
// unknown, Result.TooCloseKeys): see the package documentation.
//
// events must be sorted by time, as history.ReadAll returns them (see
// history.Sort). A history that breaks DESIGN §4 is an error wrapping
// history.ErrMalformed (an *history.InputError naming the event's 1-based
// position). If ctx ends first, the error wraps ctx.Err().
func Check(ctx context.Context, events []history.Event, opts Options) (*Result, error) {
	began := time.Now()
	if opts.Timeout < 0 || opts.StallBound < 0 {
		return nil, fmt.Errorf("%w: negative timeout or stall bound", ErrOptions)
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("checker: %w", err)
	}
	if err := history.Validate(events); err != nil {
		return nil, fmt.Errorf("checker: %w", err)
	}
	var cut *Truncation
	end := int64(0)
	if n := len(events); n > 0 {
		end = events[n-1].Time
	}
	if st := opts.Stats; st != nil && st.Unfinished() {
		events, cut = truncate(events, st.LastCheckpoint)
		end = st.LastCheckpoint
	}
	bound := opts.StallBound
	if bound == 0 {
		var maxTTL int64
		for i := range events {
			if e := &events[i]; e.Type == history.Invoke && e.Op == history.Acquire {
				maxTTL = max(maxTTL, e.TTLms)
			}
		}
		bound = defaultStallBound(maxTTL)
	}

	d := digestTo(events, int64(bound), end)
	d.releasesKind = opts.Releases
	r := &Result{
		Mutex:        MutexOK,
		Resource:     ResourceOK,
		Liveness:     LivenessOK,
		Truncated:    cut,
		Witnesses:    []Witness{},
		StallBoundMs: durMs(bound),
		DurationMs:   nsToMs(d.end),
	}

	// With clock uncertainty the mutex and stale-write checks run on the
	// certain digest (every process's intervals widened by its ε); without
	// it the certain digest is d itself and nothing below differs.
	certain := d
	if d.clocks.max > 0 {
		certain = d.widened()
		r.ClockUncertaintyMs = nsToMs(d.clocks.max)
	}

	// Mutex: the scans decide what they can prove; the search checks the
	// rest formally (it adds nothing for a key the scans already convicted).
	scans := make([]keyScan, len(d.keys))
	var toSearch []int32
	for k := range d.keys {
		scans[k] = scanKey(certain, int32(k))
		countOverlaps(&d.counts, &scans[k])
		d.counts.ModelOps += modelOpCount(certain, int32(k))
		if !scans[k].violated() {
			toSearch = append(toSearch, int32(k))
		}
	}
	deadline := began.Add(timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	model := newModel(certain, ctx.Done())
	verdicts := searchKeys(certain, model, toSearch, deadline)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("checker: %w", err)
	}
	searched := make(map[int32]searchVerdict, len(toSearch))
	for i, k := range toSearch {
		searched[k] = verdicts[i]
	}
	var failing []int32
	for k := range d.keys {
		key := int32(k)
		s := &scans[k]
		if certain != d && !s.violated() && searched[key] != searchIllegal {
			// Not certainly violated: an overlap of two processes on one
			// clock is exact all the same; any other violation the
			// recorded times show is too close to call.
			if shared := sharedClockOverlaps(d, key); shared.overlaps > 0 {
				*s = shared
				countOverlaps(&d.counts, s)
			} else if searched[key] != searchUnknown {
				if exact := scanKey(d, key); exact.violated() {
					r.UnknownKeys = append(r.UnknownKeys, d.keys[k])
					r.TooCloseKeys = append(r.TooCloseKeys, d.keys[k])
					r.Uncertain = append(r.Uncertain, tooCloseWitness(d, key, &exact))
				}
				continue
			}
		}
		// Witnesses speak of the recorded times: belief ids are the same
		// in d and certain.
		switch {
		case s.overlaps > 0:
			r.Witnesses = append(r.Witnesses, certainClause(d, overlapWitness(d, key, s), s.first, s.second))
		case s.fenceViolations > 0:
			r.Witnesses = append(r.Witnesses, certainClause(d, fenceWitness(d, key, s), s.fenceEarlier, s.fenceLater))
		case searched[key] == searchIllegal:
			r.Witnesses = append(r.Witnesses, searchWitness(d, key))
		case searched[key] == searchUnknown:
			r.UnknownKeys = append(r.UnknownKeys, d.keys[k])
			continue
		default:
			continue
		}
		failing = append(failing, key)
	}
	d.counts.ViolatingKeys = len(failing)
	d.counts.UnknownKeys = len(r.UnknownKeys)
	d.counts.TooCloseKeys = len(r.TooCloseKeys)
	switch {
	case len(failing) > 0:
		r.Mutex = MutexViolated
	case len(r.UnknownKeys) > 0:
		r.Mutex = MutexUnknown
	}
	slices.SortStableFunc(r.Witnesses, func(a, b Witness) int { return cmp.Compare(a.Key, b.Key) })
	slices.Sort(r.UnknownKeys)
	slices.Sort(r.TooCloseKeys)
	slices.SortStableFunc(r.Uncertain, func(a, b Witness) int { return cmp.Compare(a.Key, b.Key) })

	// Resource.
	rf := checkResources(d, certain)
	d.counts.LostUpdates, d.counts.StaleAccepted = rf.lostUpdates, rf.staleAccepted
	switch {
	case rf.staleAccepted > 0:
		r.Resource = ResourceStaleWritesAccepted
	case rf.lostUpdates > 0:
		r.Resource = ResourceLostUpdates
	}
	res := append(rf.staleWitnesses, rf.lostWitnesses...)
	slices.SortStableFunc(res, func(a, b Witness) int { return cmp.Compare(a.Key, b.Key) })
	r.Witnesses = append(r.Witnesses, res...)

	// Liveness.
	r.Stalls = findStalls(d, int64(bound))
	if r.Stalls == nil {
		r.Stalls = []Stall{}
	}
	free, longest := faultFree(d)
	r.FaultFreeMs, r.LongestFaultFreeMs = nsToMs(free), nsToMs(longest)
	if len(r.Stalls) > 0 {
		r.Liveness = LivenessStalled
	} else if v, note := judgeLiveness(longest, int64(bound)); v != "" {
		r.Liveness, r.LivenessNote = v, note
	}
	r.ProgressCounts = d.progress.counts(free)
	r.Progress, r.ProgressNote = judgeProgress(r.ProgressCounts)
	r.Availability, r.BaselineAvailability = availability(d)

	if opts.VisualizeDir != "" && len(failing) > 0 {
		visualize(ctx, certain, model, failing, scans, r, opts.VisualizeDir, deadline)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("checker: %w", err)
		}
	}
	r.Counts = d.counts
	r.CheckDurationMs = durMs(time.Since(began))
	return r, nil
}

// countOverlaps adds a key's overlaps, by cause, to c.
func countOverlaps(c *Counts, s *keyScan) {
	c.Overlaps += s.overlaps
	for i, n := range s.causes {
		if n > 0 {
			if c.OverlapCauses == nil {
				c.OverlapCauses = map[string]int{}
			}
			c.OverlapCauses[causes[i]] += n
		}
	}
}

// truncateReason says why a history was checked only up to a checkpoint.
const truncateReason = "no end marker: the recorder was killed before it closed the history, so each process may have lost its last events; every event up to the last checkpoint is there"

// truncate returns the events of a history cut short that lie up to its
// last checkpoint at (ns), and says what was left out.
func truncate(events []history.Event, at int64) ([]history.Event, *Truncation) {
	keep, _ := slices.BinarySearchFunc(events, at, func(e history.Event, t int64) int {
		if e.Time <= t {
			return -1
		}
		return 1
	})
	return events[:keep], &Truncation{AtMs: nsToMs(at), EventsDropped: len(events) - keep, Reason: truncateReason}
}
