package checker

import (
	"cmp"
	"slices"
)

// keyScan is what the scans found on one key.
type keyScan struct {
	// overlaps is the number of beliefs that overlap an earlier one;
	// first/second the earliest overlapping pair (second started later).
	overlaps      int
	first, second int32
	// causes counts the overlaps by cause (indices into causes).
	causes [len(causes)]int
	// fenceViolations is the number of fence-order violations (checked only
	// when no beliefs overlap); fenceEarlier/fenceLater the earliest pair:
	// fenceLater was granted certainly after fenceEarlier, with a fence not
	// above it.
	fenceViolations          int
	fenceEarlier, fenceLater int32
}

// violated reports a definite violation on the key.
func (s *keyScan) violated() bool { return s.overlaps > 0 || s.fenceViolations > 0 }

// scanKey runs the overlap scan and, when no beliefs overlap, the fence
// scan on key k. O(n log n) in the key's beliefs.
func scanKey(d *digest, k int32) keyScan {
	s := keyScan{first: -1, second: -1, fenceEarlier: -1, fenceLater: -1}
	scanOverlaps(d, k, &s)
	if s.overlaps == 0 {
		scanFences(d, k, &s)
	}
	return s
}

// scanOverlaps sweeps the key's beliefs [ok, end) in ok order (the order
// they were made in), keeping the one that ends last: a belief that starts
// before that end overlaps it. The beliefs are exactly the intervals during
// which a process certainly believed it held the key — from the ok it
// received to the earliest instant its belief can have ended (a release
// counts from its invoke) — so an overlap is proof, not a guess.
func scanOverlaps(d *digest, k int32, s *keyScan) {
	scanOverlapIDs(d, d.keyBeliefs[k], s)
}

// scanOverlapIDs is scanOverlaps over the beliefs ids of one key, in ok
// order.
func scanOverlapIDs(d *digest, ids []int32, s *keyScan) {
	var (
		maxEnd int64
		holder int32 = -1
	)
	for _, id := range ids {
		b := &d.beliefs[id]
		if b.empty() {
			continue
		}
		if holder >= 0 && b.ok < maxEnd {
			if s.overlaps == 0 {
				s.first, s.second = holder, id
			}
			s.overlaps++
			if c, _ := overlapCause(d, &d.beliefs[holder], b); c >= 0 {
				s.causes[c]++
			}
		}
		if holder < 0 || b.end > maxEnd {
			maxEnd, holder = b.end, id
		}
	}
}

// fenceItem is an acquire that carries a fence, with the window in which
// the model can place it: [lo, hi].
type fenceItem struct {
	lo, hi int64
	fence  int64
	belief int32
}

// scanFences finds acquires granted out of fence order, given that no
// beliefs on the key overlap. Then the model's acquires of beliefs are
// forced into belief order, and each can be placed anywhere in [max(its
// invoke, the previous belief's end), its ok]; a fenced empty belief
// anywhere in [invoke, ok]. Fences must rise along the linearization, so
// the key is linearizable exactly when no two acquires carry the same
// fence and no acquire i has an acquire j with a higher fence whose window
// ends before i's begins (hi_j < lo_i): sorting by fence and placing each
// at the earliest point its window and its predecessor allow succeeds
// unless such a pair exists.
func scanFences(d *digest, k int32, s *keyScan) {
	var (
		items   []fenceItem
		prevEnd int64 = -1
	)
	for _, id := range d.keyBeliefs[k] {
		b := &d.beliefs[id]
		if b.empty() {
			if b.fence > 0 {
				items = append(items, fenceItem{lo: b.inv, hi: b.ok, fence: b.fence, belief: id})
			}
			continue
		}
		if b.fence > 0 {
			items = append(items, fenceItem{lo: max(b.inv, prevEnd), hi: b.ok, fence: b.fence, belief: id})
		}
		prevEnd = b.end
	}
	if len(items) < 2 {
		return
	}
	byHi := slices.Clone(items)
	slices.SortFunc(byHi, func(x, y fenceItem) int { return cmp.Compare(x.hi, y.hi) })
	slices.SortFunc(items, func(x, y fenceItem) int { return cmp.Or(cmp.Compare(x.lo, y.lo), cmp.Compare(x.belief, y.belief)) })
	var (
		j    int
		best = -1 // index in byHi of the highest fence seen so far
	)
	for _, it := range items {
		for j < len(byHi) && byHi[j].hi < it.lo {
			if best < 0 || byHi[j].fence > byHi[best].fence {
				best = j
			}
			j++
		}
		if best >= 0 && byHi[best].fence >= it.fence {
			// ≥: an equal fence is a duplicate; both can't be legal.
			if s.fenceViolations == 0 {
				s.fenceEarlier, s.fenceLater = byHi[best].belief, it.belief
			}
			s.fenceViolations++
		}
	}
	// Duplicates among acquires that may be concurrent.
	slices.SortFunc(byHi, func(x, y fenceItem) int { return cmp.Or(cmp.Compare(x.fence, y.fence), cmp.Compare(x.hi, y.hi)) })
	for i := 1; i < len(byHi); i++ {
		if byHi[i].fence != byHi[i-1].fence {
			continue
		}
		a, b := byHi[i-1], byHi[i]
		if b.hi < a.lo || a.hi < b.lo {
			continue // counted above: one certainly came before the other
		}
		if s.fenceViolations == 0 {
			s.fenceEarlier, s.fenceLater = a.belief, b.belief
		}
		s.fenceViolations++
	}
}
