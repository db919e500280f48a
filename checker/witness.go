package checker

import (
	"fmt"
	"slices"
	"strings"
)

// faultsDuring names the fault windows that touch [s, e].
func faultsDuring(d *digest, s, e int64) []string {
	out := []string{}
	for i := range d.faults {
		w := &d.faults[i]
		if w.start <= e && w.end >= s {
			if n := w.name(); !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// msText formats ns since the run started as ms: "120.4", "131.0",
// "0.005" (µs precision, at least one decimal).
func msText(ns int64) string { return fmtMs(nsToMs(ns)) }

// faultClause ends a witness sentence with the faults active then.
func faultClause(faults []string) string {
	if len(faults) == 0 {
		return "; no fault was active"
	}
	return "; active faults: " + strings.Join(faults, ", ")
}

// overlapWitness explains the earliest overlap on key k.
func overlapWitness(d *digest, k int32, s *keyScan) Witness {
	a, b := &d.beliefs[s.first], &d.beliefs[s.second]
	from, to := b.ok, min(a.end, b.end)
	w := Witness{
		Kind:        KindOverlap,
		Key:         d.keys[k],
		Processes:   []int{a.proc, b.proc},
		IntervalsMs: [][2]float64{{nsToMs(a.ok), nsToMs(a.end)}, {nsToMs(b.ok), nsToMs(b.end)}},
		OverlapMs:   []float64{nsToMs(from), nsToMs(to)},
		BeliefEnds:  []string{a.kind.String(), b.kind.String()},
		Faults:      faultsDuring(d, from, to),
		Count:       s.overlaps,
	}
	if a.proc == b.proc {
		w.Explanation = fmt.Sprintf("process %d acquired %s again at %s ms while it still believed it held it (until %s ms)",
			a.proc, w.Key, msText(b.ok), msText(a.end))
	} else {
		w.Explanation = fmt.Sprintf("processes %d and %d both believed they held %s from %s ms to %s ms",
			a.proc, b.proc, w.Key, msText(from), msText(to))
	}
	cause, by := overlapCause(d, a, b)
	if cause >= 0 {
		w.Cause = causes[cause]
	}
	w.Explanation += causeClause(d, a, b, cause, by) + faultClause(w.Faults)
	return w
}

// fenceWitness explains the earliest fence-order violation on key k.
func fenceWitness(d *digest, k int32, s *keyScan) Witness {
	a, b := &d.beliefs[s.fenceEarlier], &d.beliefs[s.fenceLater]
	w := Witness{
		Kind:        KindFenceOrder,
		Key:         d.keys[k],
		Processes:   []int{a.proc, b.proc},
		IntervalsMs: [][2]float64{{nsToMs(a.inv), nsToMs(a.ok)}, {nsToMs(b.inv), nsToMs(b.ok)}},
		Fences:      []int64{a.fence, b.fence},
		Faults:      faultsDuring(d, min(a.ok, b.ok), max(a.ok, b.ok)),
		Count:       s.fenceViolations,
	}
	if a.fence == b.fence {
		w.Explanation = fmt.Sprintf("processes %d and %d were both granted %s with fence %d (at %s ms and %s ms)",
			a.proc, b.proc, w.Key, a.fence, msText(a.ok), msText(b.ok)) + faultClause(w.Faults)
	} else {
		w.Explanation = fmt.Sprintf("process %d was granted %s with fence %d at %s ms, after process %d had been granted fence %d at %s ms: fences must increase",
			b.proc, w.Key, b.fence, msText(b.ok), a.proc, a.fence, msText(a.ok)) + faultClause(w.Faults)
	}
	return w
}

// searchWitness reports a key on which the search found no linearization
// but the scans found nothing (which the tests show does not happen).
func searchWitness(d *digest, k int32) Witness {
	key := d.keys[k]
	return Witness{
		Kind:        KindNoLinearization,
		Key:         key,
		Faults:      []string{},
		Count:       1,
		Explanation: fmt.Sprintf("the linearizability search found no legal order of %s's operations under the owner model; see its visualisation", key),
	}
}

// lostUpdateWitness explains two accepted writes of the same value.
func lostUpdateWitness(d *digest, r int32, a, b *write, count int) Witness {
	v := a.value
	w := Witness{
		Kind:        KindLostUpdate,
		Key:         d.resources[r],
		Processes:   []int{a.proc, b.proc},
		IntervalsMs: [][2]float64{{nsToMs(a.rmwStart), nsToMs(a.ok)}, {nsToMs(b.rmwStart), nsToMs(b.ok)}},
		Value:       &v,
		Count:       count,
	}
	from, to := max(a.rmwStart, b.rmwStart), min(a.ok, b.ok)
	if from < to {
		w.OverlapMs = []float64{nsToMs(from), nsToMs(to)}
	} else {
		from, to = min(a.rmwStart, b.rmwStart), max(a.ok, b.ok)
	}
	w.Faults = faultsDuring(d, from, to)
	w.Explanation = fmt.Sprintf("processes %d and %d both wrote %d to %s (read-modify-write from %s to %s ms and from %s to %s ms): one update was lost",
		a.proc, b.proc, v, w.Key, msText(a.rmwStart), msText(a.ok), msText(b.rmwStart), msText(b.ok)) + faultClause(w.Faults)
	return w
}

// staleWriteWitness explains a lower fence accepted after a higher one.
// Found by the certain check, it gives the writes' recorded times.
func staleWriteWitness(d *digest, r int32, hi, lo *write, count int) Witness {
	if d.certain {
		h, l := *hi, *lo
		for _, w := range []*write{&h, &l} {
			e := d.clocks.eps(w.proc)
			w.inv, w.rmwStart, w.ok = w.inv+e, w.rmwStart+e, w.ok-e
		}
		hi, lo = &h, &l
	}
	w := Witness{
		Kind:        KindStaleWrite,
		Key:         d.resources[r],
		Processes:   []int{hi.proc, lo.proc},
		IntervalsMs: [][2]float64{{nsToMs(hi.inv), nsToMs(hi.ok)}, {nsToMs(lo.inv), nsToMs(lo.ok)}},
		Fences:      []int64{hi.fence, lo.fence},
		Faults:      faultsDuring(d, hi.ok, lo.ok),
		Count:       count,
	}
	w.Explanation = fmt.Sprintf("process %d's write to %s with fence %d was accepted at %s ms although process %d's write with fence %d had been accepted at %s ms, before it was sent",
		lo.proc, w.Key, lo.fence, msText(lo.ok), hi.proc, hi.fence, msText(hi.ok)) + faultClause(w.Faults)
	return w
}

// tooCloseWitness explains the violation the recorded times show on key
// k (s is the scan of d, the exact digest) that the certain check does
// not: it lies within the two processes' clocks' combined uncertainty.
func tooCloseWitness(d *digest, k int32, s *keyScan) Witness {
	var w Witness
	if s.overlaps > 0 {
		w = overlapWitness(d, k, s)
		a, b := &d.beliefs[s.first], &d.beliefs[s.second]
		eps := d.clocks.eps(a.proc) + d.clocks.eps(b.proc)
		w.UncertaintyMs = nsToMs(eps)
		w.Explanation = fmt.Sprintf("processes %d and %d both held %s for %s ms (from %s ms to %s ms on the recorded times), within their clocks' combined uncertainty of %s ms: too close to call",
			a.proc, b.proc, w.Key, fmtMs(w.OverlapMs[1]-w.OverlapMs[0]), fmtMs(w.OverlapMs[0]), fmtMs(w.OverlapMs[1]), msText(eps)) + faultClause(w.Faults)
		return w
	}
	w = fenceWitness(d, k, s)
	a, b := &d.beliefs[s.fenceEarlier], &d.beliefs[s.fenceLater]
	eps := d.clocks.eps(a.proc) + d.clocks.eps(b.proc)
	w.UncertaintyMs = nsToMs(eps)
	w.Explanation = fmt.Sprintf("process %d was granted %s with fence %d at %s ms, after process %d had been granted fence %d at %s ms on the recorded times, but within their clocks' combined uncertainty of %s ms the grants may have come in the other order: too close to call",
		b.proc, w.Key, b.fence, msText(b.ok), a.proc, a.fence, msText(a.ok), msText(eps)) + faultClause(w.Faults)
	return w
}

// certainClause adds to w, the witness of a violation between beliefs a
// and b that the certain check found, that it holds whatever the clocks'
// errors, when the two processes' clocks are not one and are uncertain.
func certainClause(d *digest, w Witness, a, b int32) Witness {
	p, q := d.beliefs[a].proc, d.beliefs[b].proc
	if d.clocks.shared(p, q) {
		return w
	}
	if eps := d.clocks.eps(p) + d.clocks.eps(q); eps > 0 {
		w.UncertaintyMs = nsToMs(eps)
		w.Explanation += "; certain beyond the clocks' combined uncertainty of " + msText(eps) + " ms"
	}
	return w
}
