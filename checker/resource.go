package checker

import (
	"cmp"
	"slices"
)

// resourceFindings are the resource checks' results.
type resourceFindings struct {
	lostUpdates, staleAccepted int
	lostWitnesses              []Witness
	staleWitnesses             []Witness
}

// checkResources looks for lost updates and stale writes accepted on
// every resource (DESIGN §5). Rejected writes were counted by the digest.
// Lost updates are judged by value, whatever the clocks: on d. Stale
// writes are judged by the order of writes: on certain, whose intervals
// are widened by each process's clock uncertainty (d itself when the
// history has none), so that only a certain order convicts.
func checkResources(d, certain *digest) resourceFindings {
	var f resourceFindings
	for r := range d.writes {
		lost, lw := lostUpdates(d, int32(r))
		if lost > 0 {
			f.lostUpdates += lost
			f.lostWitnesses = append(f.lostWitnesses, lw)
		}
		stale, sw := staleWrites(certain, int32(r))
		if stale > 0 {
			f.staleAccepted += stale
			f.staleWitnesses = append(f.staleWitnesses, sw)
		}
	}
	return f
}

// lostUpdates counts the accepted writes of resource r whose value an
// earlier accepted write (in ok order) already wrote: each holder reads
// the counter and writes value+1, so two writes of one value mean two
// read-modify-write cycles read the same value and one increment was
// lost. The witness is the earliest such pair.
func lostUpdates(d *digest, r int32) (int, Witness) {
	ws := d.writes[r]
	first := make(map[int64]int, len(ws))
	var (
		n int
		w Witness
	)
	for i := range ws {
		j, seen := first[ws[i].value]
		if !seen {
			first[ws[i].value] = i
			continue
		}
		if n == 0 {
			w = lostUpdateWitness(d, r, &ws[j], &ws[i], 0)
		}
		n++
	}
	w.Count = n
	return n, w
}

// staleWrites counts the accepted fenced writes l of resource r for which
// a write h with a higher fence had been accepted before l was invoked
// (h.ok < l.inv): the resource certainly applied h first and still took
// the lower fence. Writes whose intervals overlap may have been applied in
// either order, so a lower fence accepted among them is not a violation
// ("by ok time" alone would cry wolf there). This is exact: the accepted
// writes can be ordered with non-decreasing fences inside their intervals
// unless such a pair exists. The witness is the earliest l.
func staleWrites(d *digest, r int32) (int, Witness) {
	var byInv []*write
	for i := range d.writes[r] {
		if w := &d.writes[r][i]; w.fence > 0 {
			byInv = append(byInv, w)
		}
	}
	if len(byInv) < 2 {
		return 0, Witness{}
	}
	byOk := slices.Clone(byInv) // the digest keeps writes in ok order
	slices.SortStableFunc(byInv, func(x, y *write) int { return cmp.Compare(x.inv, y.inv) })
	var (
		n    int
		w    Witness
		j    int
		high *write
	)
	for _, l := range byInv {
		for j < len(byOk) && byOk[j].ok < l.inv {
			if high == nil || byOk[j].fence > high.fence {
				high = byOk[j]
			}
			j++
		}
		if high != nil && high.fence > l.fence {
			if n == 0 {
				w = staleWriteWitness(d, r, high, l, 0)
			}
			n++
		}
	}
	w.Count = n
	return n, w
}
