package checker

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Overlap causes: what the history shows about how a process was granted
// a lock that another still believed it held (Witness.Cause,
// Counts.OverlapCauses). Each is a fact of the history, tested in this
// order; the reading after the colon assumes a store that keeps a key
// until it expires or is deleted.
const (
	// CauseTTLPassed: the grant came after the holder's TTL had run out:
	// the holder outlived its lease (a pause, slow work, no validity
	// check).
	CauseTTLPassed = "ttl-passed"
	// CauseStaleRelease: the grant came within the holder's TTL, and in
	// between another process sent a release of the key when its own lock
	// was gone (its TTL had run out, or the key had been granted to
	// someone else since): a release that does not check ownership (a
	// plain DEL) removes the holder's lock. Never the cause when
	// Options.Releases is ReleasesCheckOwner.
	CauseStaleRelease = "stale-release"
	// CauseLostWithinTTL: the grant came within the holder's TTL and no
	// stale release came in between: the store lost the lock or never
	// kept it (a restart without persistence, a failover, a clock jump on
	// the node, or no lock at all).
	CauseLostWithinTTL = "lost-within-ttl"
)

// The causes' indices, as keyScan counts them.
const (
	causeTTLPassed = iota
	causeStaleRelease
	causeLostWithinTTL
)

// causes are the cause names by index.
var causes = [...]string{causeTTLPassed: CauseTTLPassed, causeStaleRelease: CauseStaleRelease, causeLostWithinTTL: CauseLostWithinTTL}

// CauseText is counts by cause as "ttl-passed 3, stale-release 1", in
// the order the causes are tested; "" when there are none.
func CauseText(counts map[string]int) string {
	var parts []string
	for _, name := range causes {
		if n := counts[name]; n > 0 {
			parts = append(parts, name+" "+strconv.Itoa(n))
		}
	}
	return strings.Join(parts, ", ")
}

// overlapCause says why belief b was granted while a, granted earlier,
// still believed: an index into causes, or -1 when a recorded no TTL. For
// CauseStaleRelease it also returns the stale release. It is called from
// one goroutine: it makes the key's releaseMaxRet on first use.
func overlapCause(d *digest, a, b *belief) (int, *release) {
	if a.lease == 0 {
		return -1, nil
	}
	if b.ok >= a.lease {
		return causeTTLPassed, nil
	}
	// a's acquire took effect no earlier than a.inv, b's no later than
	// b.ok: a release that removed a's key took effect in between (none
	// can, when releases check ownership). It counts only if it was sent
	// when its own process's lock was gone (else it found that lock): a
	// late release sent in time, or one whose outcome is unknown, is not
	// blamed.
	if d.releasesKind == ReleasesCheckOwner {
		return causeLostWithinTTL, nil
	}
	rs, maxRet := d.releases[a.key], d.releaseMaxRet[a.key]
	if len(maxRet) != len(rs) {
		maxRet = runningMaxRet(rs)
		d.releaseMaxRet[a.key] = maxRet
	}
	i, _ := slices.BinarySearchFunc(rs, b.ok+1, func(r release, t int64) int { return cmp.Compare(r.inv, t) })
	for j := i - 1; j >= 0 && maxRet[j] >= a.inv; j-- {
		r := &rs[j]
		if r.proc != a.proc && r.lease > 0 && (r.inv >= r.lease || r.superseded) && max(r.inv, a.inv) <= min(r.ret, b.ok) {
			return causeStaleRelease, r
		}
	}
	return causeLostWithinTTL, nil
}

// runningMaxRet is the running maximum of the releases' ret in invoke
// order: a scan back through them can stop where it falls below the time
// it looks for.
func runningMaxRet(rs []release) []int64 {
	m := make([]int64, len(rs))
	hi := int64(-1)
	for i := range rs {
		hi = max(hi, rs[i].ret)
		m[i] = hi
	}
	return m
}

// causeClause ends an overlap witness's sentence with its cause.
func causeClause(d *digest, a, b *belief, cause int, by *release) string {
	ttl := msText(a.ttl)
	switch cause {
	case causeTTLPassed:
		return fmt.Sprintf("; process %d's TTL (%s ms, asked at %s ms) had run out at %s ms: it outlived its lease",
			a.proc, ttl, msText(a.inv), msText(a.lease))
	case causeStaleRelease:
		gone := "the key had been granted to another since its own acquire"
		if by.inv >= by.lease {
			gone = "its own TTL had run out at " + msText(by.lease) + " ms"
		}
		reading := "a release that does not check ownership (a plain DEL) frees another's lock"
		if d.releasesKind == ReleasesPlainDelete {
			reading = "this lock's release is a plain DEL, so it freed process " + strconv.Itoa(a.proc) + "'s lock"
		}
		return fmt.Sprintf("; process %d's TTL (%s ms, asked at %s ms) had not run out, but process %d sent a release at %s ms when its own lock was gone (%s): %s%s",
			a.proc, ttl, msText(a.inv), by.proc, msText(by.inv), gone, reading, faultsBetween(d, a, b))
	case causeLostWithinTTL:
		return fmt.Sprintf("; process %d's TTL (%s ms, asked at %s ms) had not run out and no stale release came in between: the store lost or never kept the lock%s",
			a.proc, ttl, msText(a.inv), faultsBetween(d, a, b))
	}
	return ""
}

// faultsBetween names the faults between a's acquire and b's grant, where
// the store can have lost a's lock: " (between the two grants: …)".
func faultsBetween(d *digest, a, b *belief) string {
	if f := faultsDuring(d, a.inv, b.ok); len(f) > 0 {
		return " (between the two grants: " + strings.Join(f, ", ") + ")"
	}
	return ""
}
