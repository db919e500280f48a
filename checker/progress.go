package checker

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/lockbench/lockbench/history"
)

// ProgressVerdict says whether the lock was granted at all (DESIGN §5): a
// cell that granted nothing must never read as fine, however clean its
// safety verdicts are — nothing happened that could have been unsafe.
type ProgressVerdict string

// Progress verdicts.
const (
	// ProgressOK: acquires succeeded outside fault windows and known
	// outcomes dominate.
	ProgressOK ProgressVerdict = "ok"
	// ProgressDegraded: some acquires succeeded outside faults, but
	// unknown outcomes (timeouts) outnumber them; the runner also uses it
	// for a share of successes far below the same lock's without faults,
	// and for a harness too starved to measure the lock.
	ProgressDegraded ProgressVerdict = "degraded"
	// ProgressNone: no acquire succeeded outside fault windows.
	ProgressNone ProgressVerdict = "none"
)

// ProgressCounts are the acquire attempts behind the progress verdict. An
// attempt belongs to the fault-free time when no fault window was open at
// its invoke.
type ProgressCounts struct {
	// OutsideFaults is false when the history had no fault-free time: the
	// counts are then of every attempt.
	OutsideFaults bool `json:"outside_faults"`
	// Attempts are acquire invokes; OK, NotObtained and Unknown their
	// outcomes (ok, fail, info); Pending those still in flight at the
	// history's end.
	Attempts    int `json:"attempts"`
	OK          int `json:"ok"`
	NotObtained int `json:"not_obtained"`
	Unknown     int `json:"unknown"`
	Pending     int `json:"pending"`
}

// Share is the share of attempts that succeeded; 0 without attempts.
func (p ProgressCounts) Share() float64 {
	if p.Attempts == 0 {
		return 0
	}
	return float64(p.OK) / float64(p.Attempts)
}

// progressTally counts acquire attempts, in and out of fault windows, as
// the digest pass meets them.
type progressTally struct {
	// openFaults is how many fault windows are open at the current event.
	openFaults int
	outside    ProgressCounts
	all        ProgressCounts
}

// invoke counts an acquire invoked now; it reports whether a fault was
// open, which the attempt's outcome must be counted under.
func (p *progressTally) invoke() (inFault bool) {
	p.all.Attempts++
	if p.openFaults > 0 {
		return true
	}
	p.outside.Attempts++
	return false
}

// outcome counts the end of an attempt invoked inside a fault or not:
// ok, fail or info; any other type is an attempt the history ended before.
func (p *progressTally) outcome(inFault bool, t history.Type) {
	add := func(pc *ProgressCounts) {
		switch t {
		case history.OK:
			pc.OK++
		case history.Fail:
			pc.NotObtained++
		case history.Info:
			pc.Unknown++
		default:
			pc.Pending++
		}
	}
	add(&p.all)
	if !inFault {
		add(&p.outside)
	}
}

// counts are the attempts the verdict is judged on: those outside faults,
// or all of them when the history had no fault-free time.
func (p *progressTally) counts(faultFreeNs int64) ProgressCounts {
	if faultFreeNs > 0 {
		c := p.outside
		c.OutsideFaults = true
		return c
	}
	return p.all
}

// faultFree returns the history's time outside every fault window and its
// longest such stretch, in ns.
func faultFree(d *digest) (total, longest int64) {
	ws := make([]interval, 0, len(d.faults))
	for i := range d.faults {
		ws = append(ws, interval{d.faults[i].start, d.faults[i].end})
	}
	slices.SortFunc(ws, func(a, b interval) int { return cmp.Compare(a.start, b.start) })
	var at int64 // the end of the faulty time so far
	gap := func(until int64) {
		if g := until - at; g > 0 {
			total += g
			longest = max(longest, g)
		}
	}
	for _, w := range ws {
		gap(min(w.start, d.end))
		at = max(at, w.end)
	}
	gap(d.end)
	return total, longest
}

// judgeProgress gives the history-level progress verdict and its reason.
// The runner can lower it further with what a history cannot show: the
// same lock's success share without faults, the harness's health.
func judgeProgress(p ProgressCounts) (ProgressVerdict, string) {
	where := "outside faults"
	if !p.OutsideFaults {
		where = "(faults were active throughout)"
	}
	switch {
	case p.Attempts == 0:
		return ProgressNone, "no acquire was attempted " + where
	case p.OK == 0:
		return ProgressNone, fmt.Sprintf("none of %d acquires %s succeeded (%d unknown, %d not obtained, %d still pending at the end)",
			p.Attempts, where, p.Unknown, p.NotObtained, p.Pending)
	case p.Unknown > p.OK:
		return ProgressDegraded, fmt.Sprintf("unknown outcomes dominate: %d of %d acquires %s timed out or lost their connection, %d succeeded",
			p.Unknown, p.Attempts, where, p.OK)
	}
	return ProgressOK, fmt.Sprintf("%d of %d acquires %s succeeded", p.OK, p.Attempts, where)
}

// judgeLiveness says whether the liveness check could have seen a stall:
// only a fault-free stretch longer than the bound can hold one. It returns
// LivenessNA with the reason when none was, and "" otherwise.
func judgeLiveness(longestFree, bound int64) (LivenessVerdict, string) {
	if longestFree > bound {
		return "", ""
	}
	return LivenessNA, fmt.Sprintf("not assessed: the longest fault-free stretch (%s ms) is not longer than the stall bound (%s ms), so no stall could have been seen",
		fmtMs(nsToMs(longestFree)), fmtMs(nsToMs(bound)))
}
