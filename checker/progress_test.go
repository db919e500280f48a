package checker

import (
	"context"
	"testing"
)

// TestProgress: a history that granted nothing outside its faults reads
// none, one where timeouts outnumber grants degraded, and the counts say
// what the verdict was judged on.
func TestProgress(t *testing.T) {
	tests := []struct {
		file string
		want ProgressVerdict
		// counts judged on: attempts, ok, not obtained, unknown, pending
		counts ProgressCounts
	}{
		// The only grant came inside the partition: none outside it; the
		// attempt still in flight at the end is pending.
		{"progress-none", ProgressNone, ProgressCounts{OutsideFaults: true, Attempts: 4, OK: 0, NotObtained: 1, Unknown: 2, Pending: 1}},
		// Two timeouts and a crash mid-acquire (unknown) against one grant.
		{"progress-degraded", ProgressDegraded, ProgressCounts{OutsideFaults: true, Attempts: 4, OK: 1, Unknown: 3}},
		{"mutex-sequential-legal", ProgressOK, ProgressCounts{OutsideFaults: true, Attempts: 2, OK: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r, err := Check(context.Background(), readTestdata(t, tt.file), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Progress != tt.want || r.ProgressCounts != tt.counts {
				t.Errorf("progress %s %+v (%s), want %s %+v", r.Progress, r.ProgressCounts, r.ProgressNote, tt.want, tt.counts)
			}
			if r.ProgressNote == "" {
				t.Error("no progress note")
			}
			if r.Mutex != MutexOK {
				t.Errorf("mutex %s: progress must not change the safety verdicts", r.Mutex)
			}
		})
	}
}

// TestFaultFree: the fault-free time and its longest stretch, with
// overlapping, nested and open windows.
func TestFaultFree(t *testing.T) {
	w := func(start, end int64) faultWindow { return faultWindow{start: start, end: end} }
	tests := []struct {
		name           string
		end            int64
		faults         []faultWindow
		total, longest int64
	}{
		{"no faults", 100, nil, 100, 100},
		{"one window", 100, []faultWindow{w(30, 50)}, 80, 50},
		{"overlapping and nested", 100, []faultWindow{w(10, 40), w(20, 30), w(35, 60)}, 50, 40},
		{"open to the end", 100, []faultWindow{w(70, 100)}, 70, 70},
		{"everything", 100, []faultWindow{w(0, 100)}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			total, longest := faultFree(&digest{end: tt.end, faults: tt.faults})
			if total != tt.total || longest != tt.longest {
				t.Errorf("got %d, %d; want %d, %d", total, longest, tt.total, tt.longest)
			}
		})
	}
}

// TestLivenessAssessed: liveness is ok only with a fault-free stretch
// longer than the bound, n/a (with the figures) otherwise.
func TestLivenessAssessed(t *testing.T) {
	tests := []struct {
		file string
		want LivenessVerdict
	}{
		{"stall-long-hold-live", LivenessOK},   // 7 s fault-free, bound 5 s
		{"stall-fault-live", LivenessNA},       // the long stretch is a fault
		{"mutex-sequential-legal", LivenessNA}, // milliseconds long
		{"stall-deadlock-stalled", LivenessStalled},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r, err := Check(context.Background(), readTestdata(t, tt.file), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Liveness != tt.want {
				t.Fatalf("liveness %s, want %s (%s)", r.Liveness, tt.want, r.LivenessNote)
			}
			if r.Liveness == LivenessOK && r.LongestFaultFreeMs <= r.StallBoundMs {
				t.Errorf("ok with the longest fault-free stretch %v ms ≤ bound %v ms", r.LongestFaultFreeMs, r.StallBoundMs)
			}
			if (r.Liveness == LivenessNA) != (r.LivenessNote != "") {
				t.Errorf("liveness %s with note %q", r.Liveness, r.LivenessNote)
			}
		})
	}
}
