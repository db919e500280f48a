package checker

import (
	"slices"
)

// second is the availability bucket.
const second = int64(1e9)

// acquiresIn counts the acquire oks (any key) in [s, e).
func acquiresIn(d *digest, s, e int64) int {
	i, _ := slices.BinarySearch(d.allAcqOK, s)
	j, _ := slices.BinarySearch(d.allAcqOK, e)
	return j - i
}

// availability computes, for every fault window, the share of its seconds
// with at least one successful acquire: 1 s buckets from the window's
// start, a partial last bucket counting as one (a window shorter than a
// second is one bucket, [start, end]). The baseline is the same share over
// the run's fault-free seconds: buckets [i s, (i+1) s) from the start that
// touch no fault window.
func availability(d *digest) ([]WindowAvailability, *float64) {
	out := make([]WindowAvailability, 0, len(d.faults))
	for i := range d.faults {
		f := &d.faults[i]
		wa := WindowAvailability{Fault: f.fault, Target: f.target, StartMs: nsToMs(f.start), EndMs: nsToMs(f.end), Open: f.open}
		for s := f.start; ; s += second {
			e := min(s+second, f.end)
			if e == f.end {
				e++ // the window's last instant belongs to it
			}
			wa.Seconds++
			if acquiresIn(d, s, e) > 0 {
				wa.SecondsWithAcquire++
			}
			if s+second >= f.end {
				break
			}
		}
		wa.Availability = float64(wa.SecondsWithAcquire) / float64(wa.Seconds)
		wa.LongestGapMs = nsToMs(longestGap(d.allAcqOK, f.start, f.end, d.end))
		out = append(out, wa)
	}
	var buckets, avail int
	for s := int64(0); s < d.end; s += second {
		e := s + second
		touched := false
		for i := range d.faults {
			if f := &d.faults[i]; f.start < e && f.end >= s {
				touched = true
				break
			}
		}
		if touched {
			continue
		}
		buckets++
		if acquiresIn(d, s, e) > 0 {
			avail++
		}
	}
	if buckets == 0 {
		return out, nil
	}
	share := float64(avail) / float64(buckets)
	return out, &share
}

// longestGap is the longest interval between successive grants (sorted
// oks; the history's start and end bound the first and last) that
// touches [s, e].
func longestGap(oks []int64, s, e, end int64) int64 {
	// The grants that bound gaps touching [s, e]: the last one before s
	// (or the start), every one inside, the first one after e (or the
	// end).
	i, _ := slices.BinarySearch(oks, s)
	j, _ := slices.BinarySearch(oks, e+1)
	prev := int64(0)
	if i > 0 {
		prev = oks[i-1]
	}
	var longest int64
	for k := i; k <= j; k++ {
		next := end
		if k < len(oks) {
			next = oks[k]
		}
		longest = max(longest, next-prev)
		prev = next
		if k == len(oks) {
			break
		}
	}
	return longest
}
