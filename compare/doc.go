// Package compare is the CI gate of `bench compare` (DESIGN §8): it reads
// two sides of a comparison (summary.json files, run directories or
// directories of runs), matches their cells by lock, workload, fault and
// seed, tests every metric's change for significance and against its
// threshold, and fails on any lost safety verdict. [Compare] compares two
// summaries, [Files] two paths; [Power] measures the gate's false alarms
// and power on passes of unchanged code.
//
// It reads summaries through package summary only, and draws nothing:
// the gate links neither the plots nor the fault injection.
package compare
