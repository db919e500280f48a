package checker

import (
	"cmp"
	"slices"
	"time"
)

// MinStallBound is the least default stall bound; the default is
// max(3 × the longest TTL asked for, MinStallBound).
const MinStallBound = 5 * time.Second

// defaultStallBound is max(3 × maxTTLms, MinStallBound).
func defaultStallBound(maxTTLms int64) time.Duration {
	return max(3*time.Duration(maxTTLms)*time.Millisecond, MinStallBound)
}

// livePoint is a change on the liveness timeline of one key.
type livePoint struct {
	t int64
	// dWait, dHeld, dFault change the number of processes trying, of
	// beliefs held, and of active faults.
	dWait, dHeld, dFault int8
	// reset: an acquire succeeded or a fault started; a stall can't span it.
	reset bool
}

// findStalls reports, per key, the periods longer than bound (ns) during
// which some process was trying to acquire the key (see streak), nobody
// believed they held it, no fault was active, and no acquire succeeded.
// Requiring that nobody held it keeps a holder that legitimately keeps the
// lock for a long time (extending it) from counting as a stall; a lock
// whose holder crashed without releasing (setnx) is held by nobody, and
// that is the deadlock this check exists for.
func findStalls(d *digest, bound int64) []Stall {
	var (
		stalls []Stall
		pts    []livePoint
	)
	for k := range d.keys {
		if len(d.waits[k]) == 0 {
			continue
		}
		pts = pts[:0]
		for _, w := range d.waits[k] {
			pts = append(pts, livePoint{t: w.start, dWait: 1}, livePoint{t: w.end, dWait: -1})
		}
		for _, id := range d.keyBeliefs[k] {
			if b := &d.beliefs[id]; !b.empty() {
				pts = append(pts, livePoint{t: b.ok, dHeld: 1}, livePoint{t: b.end, dHeld: -1})
			}
		}
		for _, t := range d.acqOK[k] {
			pts = append(pts, livePoint{t: t, reset: true})
		}
		for i := range d.faults {
			f := &d.faults[i]
			pts = append(pts, livePoint{t: f.start, dFault: 1, reset: true}, livePoint{t: f.end, dFault: -1})
		}
		slices.SortFunc(pts, func(x, y livePoint) int { return cmp.Compare(x.t, y.t) })
		var (
			waiting, held, faults int
			run                   int64 = -1 // start of the current eligible run
		)
		for i := 0; i < len(pts); {
			t, reset := pts[i].t, false
			for ; i < len(pts) && pts[i].t == t; i++ {
				p := pts[i]
				waiting += int(p.dWait)
				held += int(p.dHeld)
				faults += int(p.dFault)
				reset = reset || p.reset
			}
			eligible := waiting > 0 && held == 0 && faults == 0
			if run >= 0 && (reset || !eligible) {
				if t-run > bound {
					stalls = append(stalls, Stall{Key: d.keys[k], StartMs: nsToMs(run), EndMs: nsToMs(t)})
				}
				run = -1
			}
			if eligible && run < 0 {
				run = t
			}
		}
		if run >= 0 && d.end-run > bound {
			stalls = append(stalls, Stall{Key: d.keys[k], StartMs: nsToMs(run), EndMs: nsToMs(d.end)})
		}
	}
	slices.SortStableFunc(stalls, func(x, y Stall) int { return cmp.Compare(x.StartMs, y.StartMs) })
	return stalls
}
