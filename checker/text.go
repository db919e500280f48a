package checker

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// WriteText writes r for a person: how much of a truncated history was
// checked, the three verdicts, each witness in a sentence, availability
// during faults, stalls, and what was checked.
// Write errors are ignored, as for fmt.Fprintf to a terminal.
func WriteText(w io.Writer, r *Result) {
	var b strings.Builder
	c := &r.Counts

	if t := r.Truncated; t != nil {
		// First, before any verdict: what the verdicts are about.
		fmt.Fprintf(&b, "history:  TRUNCATED, no end marker (the recorder was killed): checked up to its last checkpoint at %s ms; %s after it left out\n",
			fmtMs(t.AtMs), count(t.EventsDropped, "event", "events"))
	}
	switch r.Mutex {
	case MutexViolated:
		fmt.Fprintf(&b, "mutex:    VIOLATED on %d of %d %s%s%s\n", c.ViolatingKeys, c.Keys, plural(c.Keys, "key", "keys"), causeCounts(c), tooCloseClause(r, "; "))
	case MutexUnknown:
		if timedOut := c.UnknownKeys - c.TooCloseKeys; timedOut > 0 {
			fmt.Fprintf(&b, "mutex:    UNKNOWN: the search timed out on %s (%s)%s; no violation found\n",
				count(timedOut, "key", "keys"), strings.Join(timedOutKeys(r), ", "), tooCloseClause(r, "; "))
		} else {
			fmt.Fprintf(&b, "mutex:    UNKNOWN: %s; no certain violation\n", tooCloseClause(r, ""))
		}
	default:
		fmt.Fprintf(&b, "mutex:    ok (%s, %s, no two overlap)\n", count(c.Keys, "key", "keys"), count(c.Beliefs, "holder", "holders"))
	}
	rejected := count(c.StaleRejected, "stale write rejected", "stale writes rejected")
	switch r.Resource {
	case ResourceOK:
		fmt.Fprintf(&b, "resource: ok (%s)\n", rejected)
	default:
		fmt.Fprintf(&b, "resource: %s (%s, %s, %s)\n", strings.ToUpper(string(r.Resource)),
			count(c.LostUpdates, "lost update", "lost updates"),
			count(c.StaleAccepted, "stale write accepted", "stale writes accepted"), rejected)
	}
	switch r.Liveness {
	case LivenessStalled:
		fmt.Fprintf(&b, "liveness: STALLED (%s longer than %s ms)\n", count(len(r.Stalls), "stall", "stalls"), fmtMs(r.StallBoundMs))
	case LivenessNA:
		fmt.Fprintf(&b, "liveness: n/a (%s)\n", r.LivenessNote)
	default:
		fmt.Fprintf(&b, "liveness: ok (no stall longer than %s ms in %s ms without faults)\n", fmtMs(r.StallBoundMs), fmtMs(r.FaultFreeMs))
	}
	switch r.Progress {
	case ProgressOK:
		fmt.Fprintf(&b, "progress: ok (%s)\n", r.ProgressNote)
	default:
		fmt.Fprintf(&b, "progress: %s (%s)\n", strings.ToUpper(string(r.Progress)), r.ProgressNote)
	}

	if len(r.Witnesses) > 0 {
		b.WriteString("\nwitnesses:\n")
		for i := range r.Witnesses {
			wi := &r.Witnesses[i]
			fmt.Fprintf(&b, "  %d. %s\n", i+1, wi.Explanation)
			if detail := witnessDetail(wi); detail != "" {
				fmt.Fprintf(&b, "     %s\n", detail)
			}
		}
	}
	if len(r.Uncertain) > 0 {
		b.WriteString("\ntoo close to call (the recorded times, within the clocks' uncertainty):\n")
		for i := range r.Uncertain {
			wi := &r.Uncertain[i]
			fmt.Fprintf(&b, "  %d. %s\n", i+1, wi.Explanation)
			if detail := witnessDetail(wi); detail != "" {
				fmt.Fprintf(&b, "     %s\n", detail)
			}
		}
	}
	if len(r.Stalls) > 0 {
		b.WriteString("\nstalls (clients trying, lock free, no fault, no acquire):\n")
		for _, s := range r.Stalls {
			fmt.Fprintf(&b, "  %s from %s ms to %s ms (%s ms)\n", s.Key, fmtMs(s.StartMs), fmtMs(s.EndMs), fmtMs(s.EndMs-s.StartMs))
		}
	}
	if len(r.Availability) > 0 {
		b.WriteString("\navailability during faults (seconds with an acquire):\n")
		for _, a := range r.Availability {
			open := ""
			if a.Open {
				open = ", never stopped"
			}
			fmt.Fprintf(&b, "  %s on %s from %s ms to %s ms%s: %d of %d s (%s)\n", a.Fault, a.Target,
				fmtMs(a.StartMs), fmtMs(a.EndMs), open, a.SecondsWithAcquire, a.Seconds, percent(a.Availability))
		}
		if r.BaselineAvailability != nil {
			fmt.Fprintf(&b, "  without faults: %s\n", percent(*r.BaselineAvailability))
		}
	}
	for _, v := range r.Visualizations {
		fmt.Fprintf(&b, "\nvisualisation of %s: %s", v.Key, v.Path)
	}
	for _, e := range r.VisualizeErrors {
		fmt.Fprintf(&b, "\nvisualisation failed: %s", e)
	}
	if len(r.Visualizations)+len(r.VisualizeErrors) > 0 {
		b.WriteString("\n")
	}
	clock := ""
	if r.ClockUncertaintyMs > 0 {
		clock = fmt.Sprintf("; agents' clocks uncertain by up to ±%s ms", fmtMs(r.ClockUncertaintyMs))
	}
	fmt.Fprintf(&b, "\nchecked %s (%s over %s ms) on %s and %s in %s ms%s\n",
		count(c.Ops, "operation", "operations"), count(c.Events, "event", "events"), fmtMs(r.DurationMs),
		count(c.Keys, "lock key", "lock keys"), count(c.Resources, "resource", "resources"), fmtMs(r.CheckDurationMs), clock)
	_, _ = io.WriteString(w, b.String())
}

// witnessDetail is a witness's second line: the intervals behind it.
func witnessDetail(w *Witness) string {
	if len(w.Processes) != 2 || len(w.IntervalsMs) != 2 {
		return ""
	}
	iv := func(i int) string {
		return fmt.Sprintf("%s–%s ms", fmtMs(w.IntervalsMs[i][0]), fmtMs(w.IntervalsMs[i][1]))
	}
	switch w.Kind {
	case KindOverlap:
		s := fmt.Sprintf("beliefs: process %d %s (ended by %s), process %d %s (ended by %s)",
			w.Processes[0], iv(0), w.BeliefEnds[0], w.Processes[1], iv(1), w.BeliefEnds[1])
		if w.Count > 1 {
			s += fmt.Sprintf("; %d overlapping beliefs on this key in all", w.Count)
		}
		return s
	case KindFenceOrder:
		return fmt.Sprintf("acquires (invoke–ok): process %d %s, process %d %s", w.Processes[0], iv(0), w.Processes[1], iv(1))
	case KindLostUpdate:
		if w.Count > 1 {
			return fmt.Sprintf("%d lost updates on this resource in all", w.Count)
		}
	case KindStaleWrite:
		s := fmt.Sprintf("writes (invoke–ok): process %d %s, process %d %s", w.Processes[0], iv(0), w.Processes[1], iv(1))
		if w.Count > 1 {
			s += fmt.Sprintf("; %d stale writes accepted on this resource in all", w.Count)
		}
		return s
	}
	return ""
}

// fmtMs formats ms with at least one decimal, at most three.
func fmtMs(ms float64) string {
	s := strconv.FormatFloat(ms, 'f', 3, 64)
	s = strings.TrimRight(s, "0")
	if strings.HasSuffix(s, ".") {
		s += "0"
	}
	return s
}

// percent formats a share as "97.5%".
func percent(x float64) string {
	return strconv.FormatFloat(100*x, 'f', 1, 64) + "%"
}

// plural picks the word for n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// count is "n word(s)".
func count(n int, one, many string) string {
	return strconv.Itoa(n) + " " + plural(n, one, many)
}

// causeCounts is "; overlaps by cause: ttl-passed 3, stale-release 1",
// or "" when no overlap has a cause.
func causeCounts(c *Counts) string {
	if text := CauseText(c.OverlapCauses); text != "" {
		return "; overlaps by cause: " + text
	}
	return ""
}

// tooCloseClause is "too close to call on 2 keys (k1, k2): overlap 0.42 ms
// within clock uncertainty 1.1 ms" (the first key's figures) after sep, or
// "" when no key is too close to call.
func tooCloseClause(r *Result, sep string) string {
	if len(r.TooCloseKeys) == 0 {
		return ""
	}
	s := fmt.Sprintf("%stoo close to call on %s (%s)", sep, count(len(r.TooCloseKeys), "key", "keys"), strings.Join(r.TooCloseKeys, ", "))
	if len(r.Uncertain) > 0 {
		w := &r.Uncertain[0]
		what := "fence order"
		if len(w.OverlapMs) == 2 {
			what = "overlap " + fmtMs(w.OverlapMs[1]-w.OverlapMs[0]) + " ms"
		}
		s += fmt.Sprintf(": %s within clock uncertainty %s ms", what, fmtMs(w.UncertaintyMs))
	}
	return s
}

// timedOutKeys are the unknown keys that are not too close to call: those
// whose search timed out.
func timedOutKeys(r *Result) []string {
	var keys []string
	for _, k := range r.UnknownKeys {
		if !slices.Contains(r.TooCloseKeys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}
