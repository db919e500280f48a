package summary

import "github.com/lockbench/lockbench/checker"

// Class is how a cell reads at a glance, in increasing severity: the one
// predicate the terminal table, the report, bench compare and the zoo
// share.
type Class int

// Cell classes, least severe first.
const (
	// ClassSafe: no violation, progress ok, the harness kept up.
	ClassSafe Class = iota
	// ClassDegraded: no violation, but few acquires succeeded.
	ClassDegraded
	// ClassStalled: no violation, but the lock stalled (liveness).
	ClassStalled
	// ClassOverloaded: the harness was starved; the numbers are the
	// machine's, not the lock's.
	ClassOverloaded
	// ClassNoProgress: no acquire succeeded outside faults: nothing was
	// shown safe.
	ClassNoProgress
	// ClassUndecided: the mutex search did not finish in time.
	ClassUndecided
	// ClassError: the cell could not run.
	ClassError
	// ClassUnsafe: mutual exclusion or the resource was violated.
	ClassUnsafe
)

var classNames = [...]string{"safe", "degraded", "stalled", "harness-overloaded", "no-progress", "undecided", "error", "unsafe"}

// String is the class's name, as the report and the table print it.
func (c Class) String() string { return classNames[c] }

// Classes lists every class, most severe first (the report's order).
func Classes() []Class {
	return []Class{ClassUnsafe, ClassError, ClassUndecided, ClassNoProgress, ClassOverloaded, ClassStalled, ClassDegraded, ClassSafe}
}

// Class says how the cell reads. A violation found is real whatever else
// went wrong, so unsafe comes first; a cell that granted nothing, or whose
// harness was starved, is never safe.
func (c *CellResult) Class() Class {
	switch {
	case c.Verdicts.Unsafe():
		return ClassUnsafe
	case c.Error != "":
		return ClassError
	case c.Verdicts.Mutex == checker.MutexUnknown:
		return ClassUndecided
	case c.Verdicts.Progress == checker.ProgressNone:
		return ClassNoProgress
	case c.Overloaded():
		return ClassOverloaded
	case c.Verdicts.Liveness == checker.LivenessStalled:
		return ClassStalled
	case c.Verdicts.Progress == checker.ProgressDegraded:
		return ClassDegraded
	}
	return ClassSafe
}
