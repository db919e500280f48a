package checker

import (
	"context"
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lockbench/lockbench/history"
)

// wantWitness is what a test expects of a history's first witness.
type wantWitness struct {
	kind      string
	key       string
	processes []int
	overlapMs []float64
	fences    []int64
	faults    []string
	ends      []string
	cause     string
}

// TestTestdata checks every hand-written history: each rule of DESIGN §5
// once legal (must pass) and once illegal (must fail), with the witness.
func TestTestdata(t *testing.T) {
	const (
		ok       = MutexOK
		violated = MutexViolated
	)
	tests := []struct {
		file     string
		rule     string
		mutex    MutexVerdict
		resource ResourceVerdict
		liveness LivenessVerdict
		witness  *wantWitness
	}{
		{file: "mutex-sequential-legal", rule: "a belief starts at the acquire ok; an acquire may take effect anywhere in [invoke, ok]", mutex: ok},
		{file: "mutex-overlap-illegal", rule: "two beliefs on one key must not overlap", mutex: violated,
			witness: &wantWitness{kind: KindOverlap, key: "lock:x", processes: []int{1, 2}, overlapMs: []float64{5, 10}, ends: []string{"release", "release"}}},
		{file: "release-ok-legal", rule: "release ok ends the belief at its invoke", mutex: ok},
		{file: "release-ok-illegal", rule: "release ok ends the belief at its invoke, not before", mutex: violated,
			witness: &wantWitness{kind: KindOverlap, key: "lock:x", processes: []int{1, 2}, overlapMs: []float64{4, 5}}},
		{file: "release-fail-legal", rule: "a release ends the belief whatever its outcome (fail)", mutex: ok},
		{file: "release-fail-illegal", rule: "a failed release ends the belief at its invoke, not before", mutex: violated,
			witness: &wantWitness{kind: KindOverlap, key: "lock:x", processes: []int{1, 2}, overlapMs: []float64{4, 5}}},
		{file: "release-info-legal", rule: "an info release may take effect any time after its invoke", mutex: ok},
		{file: "release-info-illegal", rule: "an info release ends the belief at its invoke, not before", mutex: violated,
			witness: &wantWitness{kind: KindOverlap, key: "lock:x", processes: []int{1, 2}, overlapMs: []float64{4, 5}}},
		{file: "release-info-earlier-belief-legal", rule: "a later belief ends at its own release", mutex: ok},
		{file: "release-info-earlier-belief-illegal", rule: "an info release of an earlier belief does not end a later one", mutex: violated,
			witness: &wantWitness{kind: KindOverlap, key: "lock:x", processes: []int{1, 2}, overlapMs: []float64{13, 20}}},
		{file: "extend-fail-legal", rule: "an extend ending fail ends the belief when it ends", mutex: ok},
		{file: "extend-fail-illegal", rule: "the belief lasts until the failed extend ends", mutex: violated,
			witness: &wantWitness{kind: KindOverlap, key: "lock:x", processes: []int{1, 2}, overlapMs: []float64{7, 8}, ends: []string{"extend-failed", "release"}}},
		{file: "extend-info-legal", rule: "an extend ending info ends the belief when it ends", mutex: ok},
		{file: "extend-info-illegal", rule: "the belief lasts until the info extend ends", mutex: violated,
			witness: &wantWitness{kind: KindOverlap, key: "lock:x", processes: []int{1, 2}, overlapMs: []float64{7, 8}}},
		{file: "extend-ok-legal", rule: "extend ok changes no owner; its deadline ends the belief", mutex: ok},
		{file: "extend-ok-illegal", rule: "extend ok's deadline replaces the acquire's", mutex: violated,
			witness: &wantWitness{kind: KindOverlap, key: "lock:x", processes: []int{1, 2}, overlapMs: []float64{13, 15}, ends: []string{"deadline", "deadline"}}},
		{file: "extend-ok-past-deadline-legal", rule: "an extend ok whose deadline has passed ends the belief when it arrives", mutex: ok},
		{file: "extend-ok-past-deadline-illegal", rule: "an extend ok whose deadline has passed ends the belief then, not in the past", mutex: violated,
			witness: &wantWitness{kind: KindOverlap, key: "lock:x", processes: []int{1, 2}, overlapMs: []float64{7.5, 8}, ends: []string{"deadline", "end-of-history"}}},
		{file: "deadline-legal", rule: "a lease that expires after its deadline is no violation", mutex: ok},
		{file: "deadline-illegal", rule: "the belief lasts until the deadline", mutex: violated,
			witness: &wantWitness{kind: KindOverlap, key: "lock:x", processes: []int{1, 2}, overlapMs: []float64{8, 10}, ends: []string{"deadline", "release"}}},
		{file: "crash-legal", rule: "a lease that expires after its holder crashed is no violation", mutex: ok},
		{file: "crash-illegal", rule: "the belief lasts until the crash", mutex: violated,
			witness: &wantWitness{kind: KindOverlap, key: "lock:x", processes: []int{1, 2}, overlapMs: []float64{4, 5}, ends: []string{"crash", "release"}}},
		{file: "end-of-history-legal", rule: "a belief never ended lasts to the end of the history", mutex: ok},
		{file: "end-of-history-illegal", rule: "a belief never ended lasts to the end of the history", mutex: violated,
			witness: &wantWitness{kind: KindOverlap, key: "lock:x", processes: []int{1, 2}, overlapMs: []float64{10, 20}, ends: []string{"end-of-history", "end-of-history"}}},
		{file: "acquire-fail-info-legal", rule: "acquire fail/info give no belief", mutex: ok},
		{file: "acquire-fail-info-illegal", rule: "acquire fail/info give no belief (the same acquire ok does)", mutex: violated,
			witness: &wantWitness{kind: KindOverlap, key: "lock:x", processes: []int{1, 2}, overlapMs: []float64{4, 4.5}}},
		{file: "fence-legal", rule: "fences rise in the order the lock is granted", mutex: ok},
		{file: "fence-decreasing-illegal", rule: "acquire ok with fence f is legal only if f > last fence", mutex: violated,
			witness: &wantWitness{kind: KindFenceOrder, key: "lock:x", processes: []int{1, 2}, fences: []int64{5, 3}}},
		{file: "fence-failover-illegal", rule: "a fence from a promoted replica's stale counter goes back: caught, the promotion named", mutex: violated,
			witness: &wantWitness{kind: KindFenceOrder, key: "lock:x", processes: []int{1, 2}, fences: []int64{41, 38}, faults: []string{"failover on primary", "promotion on n1→n2"}}},
		{file: "fence-duplicate-illegal", rule: "acquire ok with fence f is legal only if f > last fence (equal)", mutex: violated,
			witness: &wantWitness{kind: KindFenceOrder, key: "lock:x", processes: []int{1, 2}, fences: []int64{4, 4}}},
		{file: "fence-expired-on-arrival-illegal", rule: "a fence handed out with an expired lease still counts", mutex: violated,
			witness: &wantWitness{kind: KindFenceOrder, key: "lock:x", processes: []int{1, 2}, fences: []int64{5, 3}}},
		{file: "pause-expiry-illegal", rule: "a lease that expires while its holder still believes is a violation", mutex: violated, resource: ResourceLostUpdates,
			witness: &wantWitness{kind: KindOverlap, key: "lock:x", processes: []int{1, 2}, overlapMs: []float64{15, 17}, faults: []string{"client-pause on process 1"}, cause: CauseTTLPassed}},
		{file: "cause-stale-release-illegal", rule: "a holder outlives its TTL, then its release removes the next holder's lock", mutex: violated,
			witness: &wantWitness{kind: KindOverlap, key: "lock:x", processes: []int{1, 2}, overlapMs: []float64{151, 200}, faults: []string{"client-pause on process 1"}, cause: CauseTTLPassed}},
		{file: "cause-no-ttl-illegal", rule: "an acquire with TTL 0 still gives a belief", mutex: violated,
			witness: &wantWitness{kind: KindOverlap, key: "lock:x", processes: []int{1, 2}, overlapMs: []float64{4, 5}}},
		{file: "cause-retried-acquire-illegal", rule: "an acquire that retried set its key late: granted again before its holder's deadline is within its TTL, not after it", mutex: violated,
			witness: &wantWitness{kind: KindOverlap, key: "lock:x", processes: []int{1, 2}, overlapMs: []float64{12, 17.8}, cause: CauseLostWithinTTL}},
		{file: "cause-lost-within-ttl-illegal", rule: "a lock granted again within its holder's TTL, with no release but a failed one in between", mutex: violated,
			witness: &wantWitness{kind: KindOverlap, key: "lock:x", processes: []int{1, 2}, overlapMs: []float64{21, 30}, cause: CauseLostWithinTTL}},
		{file: "pause-expiry-legal", rule: "the holder's deadline ends its belief; the fenced resource rejects its stale write", mutex: ok},
		{file: "reacquire-legal", rule: "a process may acquire again after releasing", mutex: ok},
		{file: "reacquire-illegal", rule: "acquire ok is legal only if the owner is none (the process itself holds it)", mutex: violated,
			witness: &wantWitness{kind: KindOverlap, key: "lock:x", processes: []int{1, 1}, overlapMs: []float64{4, 5}}},
		{file: "expired-on-arrival-legal", rule: "an ok at or after its own deadline gives no belief", mutex: ok},
		{file: "expired-on-arrival-illegal", rule: "an ok before its deadline gives a belief", mutex: violated,
			witness: &wantWitness{kind: KindOverlap, key: "lock:x", processes: []int{2, 1}, overlapMs: []float64{30, 32}}},
		{file: "lost-update-legal", rule: "distinct accepted values; an info write does not count", mutex: ok},
		{file: "lost-update-illegal", rule: "two accepted writes of one value are a lost update", mutex: ok, resource: ResourceLostUpdates,
			witness: &wantWitness{kind: KindLostUpdate, key: "resource:lock:x", processes: []int{1, 2}}},
		{file: "stale-write-rejected-legal", rule: "rejected stale writes are counted, not violations", mutex: ok},
		{file: "stale-write-concurrent-legal", rule: "concurrent writes may have been applied in either order", mutex: ok},
		{file: "stale-write-accepted-illegal", rule: "a lower fence accepted after a higher one", mutex: ok, resource: ResourceStaleWritesAccepted,
			witness: &wantWitness{kind: KindStaleWrite, key: "resource:lock:x", processes: []int{1, 2}, fences: []int64{5, 3}}},
		{file: "stall-deadlock-stalled", rule: "no acquire for longer than the bound while clients try and nobody holds it", mutex: ok, liveness: LivenessStalled},
		{file: "stall-fault-live", rule: "no stall while a fault is active; no fault-free stretch longer than the bound: not assessed", mutex: ok},
		{file: "stall-long-hold-live", rule: "a holder keeping the lock is no stall", mutex: ok, liveness: LivenessOK},
		{file: "stall-idle-gap-live", rule: "a pause of more than the bound between attempts is not trying", mutex: ok, liveness: LivenessOK},
		{file: "availability", rule: "availability per fault window", mutex: ok},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			if tt.resource == "" {
				tt.resource = ResourceOK
			}
			if tt.liveness == "" {
				// Hand-written histories last milliseconds: far shorter
				// than any stall bound, so liveness cannot be assessed.
				tt.liveness = LivenessNA
			}
			events, err := history.ReadFile(filepath.Join("testdata", tt.file+".jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			r, err := Check(context.Background(), events, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Mutex != tt.mutex || r.Resource != tt.resource || r.Liveness != tt.liveness {
				t.Fatalf("%s: got mutex=%s resource=%s liveness=%s, want %s %s %s; witnesses %+v",
					tt.rule, r.Mutex, r.Resource, r.Liveness, tt.mutex, tt.resource, tt.liveness, r.Witnesses)
			}
			wantExit := ExitSafe
			if tt.mutex == violated || tt.resource != ResourceOK {
				wantExit = ExitViolation
			}
			if r.ExitCode() != wantExit {
				t.Errorf("exit %d, want %d", r.ExitCode(), wantExit)
			}
			if tt.witness == nil {
				if len(r.Witnesses) != 0 {
					t.Errorf("unexpected witnesses %+v", r.Witnesses)
				}
			} else {
				checkWitness(t, r.Witnesses, tt.witness)
			}
			assertAgreement(t, events)
		})
	}
}

// checkWitness compares the first witness with want.
func checkWitness(t *testing.T, ws []Witness, want *wantWitness) {
	t.Helper()
	if len(ws) == 0 {
		t.Fatalf("no witness, want %+v", want)
	}
	w := ws[0]
	if w.Kind != want.kind || w.Key != want.key || !slices.Equal(w.Processes, want.processes) {
		t.Fatalf("witness %s on %s by %v, want %s on %s by %v", w.Kind, w.Key, w.Processes, want.kind, want.key, want.processes)
	}
	if want.overlapMs != nil && !slices.Equal(w.OverlapMs, want.overlapMs) {
		t.Errorf("overlap %v ms, want %v", w.OverlapMs, want.overlapMs)
	}
	if want.fences != nil && !slices.Equal(w.Fences, want.fences) {
		t.Errorf("fences %v, want %v", w.Fences, want.fences)
	}
	if want.faults == nil {
		want.faults = []string{}
	}
	if !slices.Equal(w.Faults, want.faults) {
		t.Errorf("faults %q, want %q", w.Faults, want.faults)
	}
	if want.ends != nil && !slices.Equal(w.BeliefEnds, want.ends) {
		t.Errorf("belief ends %v, want %v", w.BeliefEnds, want.ends)
	}
	if want.cause != "" && w.Cause != want.cause {
		t.Errorf("cause %q, want %q (%s)", w.Cause, want.cause, w.Explanation)
	}
	if w.Count < 1 || w.Explanation == "" || len(w.IntervalsMs) != 2 {
		t.Errorf("incomplete witness %+v", w)
	}
}

// assertAgreement checks that porcupine (literal and narrowed) and the
// scans agree on every key.
func assertAgreement(t *testing.T, events []history.Event) {
	t.Helper()
	if msg := agreement(events); msg != "" {
		t.Error(msg)
	}
}

// TestTestdataDetails checks the numbers behind some verdicts.
func TestTestdataDetails(t *testing.T) {
	read := func(t *testing.T, name string) *Result {
		t.Helper()
		events, err := history.ReadFile(filepath.Join("testdata", name+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		r, err := Check(context.Background(), events, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	t.Run("stall", func(t *testing.T) {
		r := read(t, "stall-deadlock-stalled")
		want := []Stall{{Key: "lock:x", StartMs: 3, EndMs: 7063}}
		if !slices.Equal(r.Stalls, want) || r.StallBoundMs != 5000 {
			t.Fatalf("stalls %+v bound %v, want %+v bound 5000", r.Stalls, r.StallBoundMs, want)
		}
		if r.ExitCode() != ExitSafe {
			t.Errorf("a stall is not a safety violation: exit %d", r.ExitCode())
		}
	})
	t.Run("stall bound option", func(t *testing.T) {
		events, err := history.ReadFile(filepath.Join("testdata", "stall-fault-live.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		r, err := Check(context.Background(), events, Options{StallBound: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		want := []Stall{{Key: "lock:x", StartMs: 3, EndMs: 2000}, {Key: "lock:x", StartMs: 4000, EndMs: 7063}}
		if r.Liveness != LivenessStalled || !slices.Equal(r.Stalls, want) {
			t.Fatalf("stalls %+v, want %+v", r.Stalls, want)
		}
	})
	t.Run("availability", func(t *testing.T) {
		r := read(t, "availability")
		want := []WindowAvailability{
			{Fault: "latency", Target: "redis-3", StartMs: 0, EndMs: 600, Seconds: 1, SecondsWithAcquire: 0, Availability: 0, LongestGapMs: 700},
			{Fault: "partition", Target: "redis-1", StartMs: 500, EndMs: 3500, Seconds: 3, SecondsWithAcquire: 2, Availability: 2.0 / 3, LongestGapMs: 2200},
			{Fault: "clock-jump", Target: "redis-2", StartMs: 4200, EndMs: 4800, Seconds: 1, SecondsWithAcquire: 1, Availability: 1, LongestGapMs: 1600},
			{Fault: "node-pause", Target: "redis-1", StartMs: 7400, EndMs: 7500, Open: true, Seconds: 1, SecondsWithAcquire: 0, Availability: 0, LongestGapMs: 2000},
		}
		if !slices.Equal(r.Availability, want) {
			t.Fatalf("availability\n got %+v\nwant %+v", r.Availability, want)
		}
		if r.BaselineAvailability == nil || *r.BaselineAvailability != 0.5 {
			t.Fatalf("baseline %v, want 0.5", r.BaselineAvailability)
		}
	})
	t.Run("counts", func(t *testing.T) {
		r := read(t, "pause-expiry-legal")
		c := r.Counts
		if c.StaleRejected != 1 || c.LostUpdates != 0 || c.StaleAccepted != 0 || c.Keys != 1 || c.Resources != 1 || c.Beliefs != 2 || c.AcquiresOK != 2 {
			t.Fatalf("counts %+v", c)
		}
		r = read(t, "lost-update-illegal")
		if r.Counts.LostUpdates != 1 || *r.Witnesses[0].Value != 42 || !slices.Equal(r.Witnesses[0].OverlapMs, []float64{1.5, 4}) {
			t.Fatalf("lost update: counts %+v witness %+v", r.Counts, r.Witnesses[0])
		}
		r = read(t, "pause-expiry-illegal")
		if len(r.Witnesses) != 2 || r.Witnesses[1].Kind != KindLostUpdate || !slices.Equal(r.Witnesses[1].Processes, []int{2, 1}) {
			t.Fatalf("witnesses %+v", r.Witnesses)
		}
	})
	t.Run("explanation", func(t *testing.T) {
		r := read(t, "pause-expiry-illegal")
		want := "processes 1 and 2 both believed they held lock:x from 15.0 ms to 17.0 ms; process 1's TTL (10.0 ms, asked at 1.0 ms) had run out at 11.0 ms: it outlived its lease; active faults: client-pause on process 1"
		if got := r.Witnesses[0].Explanation; got != want {
			t.Fatalf("explanation\n got %q\nwant %q", got, want)
		}
	})
}

// TestMalformed: the reader refuses malformed histories naming the line,
// and Check refuses what history.Validate refuses.
func TestMalformed(t *testing.T) {
	files := []struct {
		file string
		line int
		msg  string
	}{
		{"malformed-json", 2, "JSON"},
		{"malformed-completion-without-invoke", 2, "no invoke"},
		{"malformed-second-invoke", 2, "second invoke"},
		{"malformed-after-crash", 4, "after its crash"},
		{"malformed-unknown-op", 1, "lock"},
		{"malformed-completion-mismatch", 2, "does not match"},
	}
	for _, tt := range files {
		t.Run(tt.file, func(t *testing.T) {
			_, err := history.ReadFile(filepath.Join("testdata", tt.file+".jsonl"))
			var ie *history.InputError
			if !errors.Is(err, history.ErrMalformed) || !errors.As(err, &ie) || ie.Line != tt.line || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err %v, want line %d containing %q", err, tt.line, tt.msg)
			}
		})
	}
	ev := func(tm int64, p int, typ history.Type, op history.Op) history.Event {
		e := history.Event{Time: tm, Process: p, Type: typ, Op: op, Key: "lock:x"}
		if typ == history.Invoke && op == history.Acquire {
			e.TTLms = 10
		}
		return e
	}
	events := []struct {
		name   string
		events []history.Event
		pos    int
	}{
		{"unsorted", []history.Event{ev(5, 1, history.Invoke, history.Acquire), ev(3, 1, history.OK, history.Acquire)}, 2},
		{"completion without invoke", []history.Event{ev(1, 1, history.OK, history.Acquire)}, 1},
		{"second invoke", []history.Event{ev(1, 1, history.Invoke, history.Acquire), ev(2, 1, history.Invoke, history.Acquire)}, 2},
		{"no type", []history.Event{{Time: 1, Process: 1}}, 1},
		{"negative time", []history.Event{ev(-1, 1, history.Invoke, history.Acquire)}, 1},
	}
	for _, tt := range events {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Check(context.Background(), tt.events, Options{})
			var ie *history.InputError
			if !errors.Is(err, history.ErrMalformed) || !errors.As(err, &ie) || ie.Line != tt.pos {
				t.Fatalf("err %v, want an input error at event %d", err, tt.pos)
			}
		})
	}
}

// farFuture is a deadline no test reaches.
func farFuture() time.Time { return time.Now().Add(time.Hour) }

// TestOverlapCauses: every overlap is counted by what the history shows
// about the second grant, and the witness says it in words.
func TestOverlapCauses(t *testing.T) {
	for _, tc := range []struct {
		file    string
		want    map[string]int
		explain []string
	}{
		{"pause-expiry-illegal", map[string]int{CauseTTLPassed: 1}, []string{"had run out at 11.0 ms: it outlived its lease"}},
		// Process 1's DEL, late after its pause, frees process 2's lock
		// while 2 still believes: 3 gets it within 2's TTL.
		{"cause-stale-release-illegal", map[string]int{CauseTTLPassed: 1, CauseStaleRelease: 1}, nil},
		// A failed release took no effect, process 4 released without
		// having held the lock (an ownership check finds nothing to
		// free), and process 1's own release came after: nothing but the
		// restart explains process 2's grant.
		{"cause-lost-within-ttl-illegal", map[string]int{CauseLostWithinTTL: 1}, []string{"the store lost or never kept the lock (between the two grants: kill on n1)"}},
		{"mutex-overlap-illegal", map[string]int{CauseLostWithinTTL: 1}, []string{"no stale release came in between: the store lost or never kept the lock"}},
		// TTL 0, no expiry asked for: no cause can be told.
		{"cause-no-ttl-illegal", nil, nil},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r, err := Check(context.Background(), readTestdata(t, tc.file), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(r.Counts.OverlapCauses, tc.want) {
				t.Errorf("overlap causes %v, want %v", r.Counts.OverlapCauses, tc.want)
			}
			for _, s := range tc.explain {
				if !strings.Contains(r.Witnesses[0].Explanation, s) {
					t.Errorf("explanation %q lacks %q", r.Witnesses[0].Explanation, s)
				}
			}
		})
	}
}

// TestStaleReleaseNamesTheRelease: the cause names the release that
// can have removed the lock, and not the holder's own.
func TestStaleReleaseNamesTheRelease(t *testing.T) {
	events := readTestdata(t, "cause-stale-release-illegal")
	d := digestEvents(events, int64(5*time.Second))
	beliefs := d.keyBeliefs[0]
	if len(beliefs) != 3 {
		t.Fatalf("%d beliefs, want 3", len(beliefs))
	}
	holder, later := &d.beliefs[beliefs[1]], &d.beliefs[beliefs[2]]
	cause, by := overlapCause(d, holder, later)
	if cause < 0 || causes[cause] != CauseStaleRelease || by == nil || by.proc != 1 {
		t.Fatalf("cause %d by %+v, want stale-release by process 1", cause, by)
	}
	want := "process 1 sent a release at 200.0 ms when its own lock was gone (its own TTL had run out at 101.0 ms)"
	if got := causeClause(d, holder, later, cause, by); !strings.Contains(got, want) {
		t.Errorf("clause %q lacks %q", got, want)
	}
}

// TestReleasesDecideStaleRelease: what the caller knows of the lock's
// release decides whether a stale release can be the cause.
func TestReleasesDecideStaleRelease(t *testing.T) {
	events := readTestdata(t, "cause-stale-release-illegal")
	for _, tc := range []struct {
		releases Releases
		want     map[string]int
	}{
		{ReleasesUnknown, map[string]int{CauseTTLPassed: 1, CauseStaleRelease: 1}},
		{ReleasesPlainDelete, map[string]int{CauseTTLPassed: 1, CauseStaleRelease: 1}},
		// A compare-and-delete frees nobody else's lock: the store lost it.
		{ReleasesCheckOwner, map[string]int{CauseTTLPassed: 1, CauseLostWithinTTL: 1}},
	} {
		r, err := Check(context.Background(), events, Options{Releases: tc.releases})
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(r.Counts.OverlapCauses, tc.want) {
			t.Errorf("releases %d: causes %v, want %v", tc.releases, r.Counts.OverlapCauses, tc.want)
		}
	}
	d := digestEvents(events, int64(5*time.Second))
	d.releasesKind = ReleasesPlainDelete
	ids := d.keyBeliefs[0]
	holder, later := &d.beliefs[ids[1]], &d.beliefs[ids[2]]
	cause, by := overlapCause(d, holder, later)
	if got, want := causeClause(d, holder, later, cause, by), "this lock's release is a plain DEL, so it freed process 2's lock"; !strings.Contains(got, want) {
		t.Errorf("clause %q lacks %q", got, want)
	}
}

// TestTestdataClocks checks the hand-written histories with clock events:
// agents' processes whose times are uncertain by ±ε. Each case is decided
// twice: as written, and with the clock events left out (every time
// exact), which is how the history reads at ε = 0.
func TestTestdataClocks(t *testing.T) {
	tests := []struct {
		file     string
		rule     string
		mutex    MutexVerdict
		resource ResourceVerdict
		exit     int
		tooClose []string
		// witness is the first of Witnesses, uncertain the first of
		// Uncertain (with the clocks' combined uncertainty, ms).
		witness     *wantWitness
		uncertain   *wantWitness
		uncertainMs float64
		// exact and exactResource are the verdicts with every clock
		// event left out (resource ok when not given).
		exact         MutexVerdict
		exactResource ResourceVerdict
	}{
		{file: "clock-two-agents-too-close-unknown", rule: "a 3 ms overlap of two agents' processes, ε 5 ms each, is too close to call",
			mutex: MutexUnknown, exit: ExitUnknown, tooClose: []string{"lock:x"},
			uncertain:   &wantWitness{kind: KindOverlap, key: "lock:x", processes: []int{1, 2}, overlapMs: []float64{17, 20}, ends: []string{"release", "release"}},
			uncertainMs: 10, exact: MutexViolated},
		{file: "clock-agent-and-recorder-too-close-unknown", rule: "a 3 ms overlap of an agent's process (ε 5 ms) and one on the recorder's clock is too close to call",
			mutex: MutexUnknown, exit: ExitUnknown, tooClose: []string{"lock:x"},
			uncertain:   &wantWitness{kind: KindOverlap, key: "lock:x", processes: []int{1, 2}, overlapMs: []float64{17, 20}, ends: []string{"release", "release"}},
			uncertainMs: 5, exact: MutexViolated},
		{file: "clock-two-agents-overlap-illegal", rule: "a 30 ms overlap of two agents' processes, ε 5 ms each, is certain",
			mutex: MutexViolated, exit: ExitViolation,
			witness: &wantWitness{kind: KindOverlap, key: "lock:x", processes: []int{1, 2}, overlapMs: []float64{17, 47}, ends: []string{"release", "release"}},
			exact:   MutexViolated},
		{file: "clock-same-agent-overlap-illegal", rule: "processes on one agent share its clock: a 3 ms overlap is exact",
			mutex: MutexViolated, exit: ExitViolation,
			witness: &wantWitness{kind: KindOverlap, key: "lock:x", processes: []int{1, 2}, overlapMs: []float64{17, 20}, ends: []string{"release", "release"}},
			exact:   MutexViolated},
		{file: "clock-two-agents-sequential-legal", rule: "no overlap on the recorded times: ok whatever the uncertainty",
			mutex: MutexOK, exit: ExitSafe, exact: MutexOK},
		{file: "clock-fence-order-too-close-unknown", rule: "fences out of order only on the recorded times: too close to call",
			mutex: MutexUnknown, exit: ExitUnknown, tooClose: []string{"lock:x"},
			uncertain:   &wantWitness{kind: KindFenceOrder, key: "lock:x", processes: []int{1, 2}, fences: []int64{5, 3}},
			uncertainMs: 10, exact: MutexViolated},
		{file: "clock-stale-write-too-close-legal", rule: "a stale write whose order lies within the uncertainty is not convicted",
			mutex: MutexOK, exit: ExitSafe, exact: MutexOK, exactResource: ResourceStaleWritesAccepted},
		{file: "clock-agent-remeasured-unknown", rule: "an agent's re-measurement after its process crashed widens that process's ε too",
			mutex: MutexUnknown, exit: ExitUnknown, tooClose: []string{"lock:x"},
			uncertain:   &wantWitness{kind: KindOverlap, key: "lock:x", processes: []int{1, 2}, overlapMs: []float64{17, 26}, ends: []string{"release", "crash"}},
			uncertainMs: 10, exact: MutexViolated},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			if tt.resource == "" {
				tt.resource = ResourceOK
			}
			events, err := history.ReadFile(filepath.Join("testdata", tt.file+".jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			r, err := Check(context.Background(), events, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Mutex != tt.mutex || r.Resource != tt.resource || r.ExitCode() != tt.exit {
				t.Fatalf("%s: got mutex=%s resource=%s exit %d, want %s %s %d; witnesses %+v uncertain %+v",
					tt.rule, r.Mutex, r.Resource, r.ExitCode(), tt.mutex, tt.resource, tt.exit, r.Witnesses, r.Uncertain)
			}
			if r.ClockUncertaintyMs != 5 {
				t.Errorf("clock uncertainty %v ms, want 5", r.ClockUncertaintyMs)
			}
			if !slices.Equal(r.TooCloseKeys, tt.tooClose) || r.Counts.TooCloseKeys != len(tt.tooClose) {
				t.Errorf("too close %v (count %d), want %v", r.TooCloseKeys, r.Counts.TooCloseKeys, tt.tooClose)
			}
			for _, k := range r.TooCloseKeys {
				if !slices.Contains(r.UnknownKeys, k) {
					t.Errorf("too-close key %s not among the unknown keys %v", k, r.UnknownKeys)
				}
			}
			if tt.witness == nil {
				if len(r.Witnesses) != 0 {
					t.Errorf("unexpected witnesses %+v", r.Witnesses)
				}
			} else {
				checkWitness(t, r.Witnesses, tt.witness)
			}
			if tt.uncertain == nil {
				if len(r.Uncertain) != 0 {
					t.Errorf("unexpected uncertain witnesses %+v", r.Uncertain)
				}
			} else {
				checkWitness(t, r.Uncertain, tt.uncertain)
				if w := r.Uncertain[0]; w.UncertaintyMs != tt.uncertainMs || !strings.Contains(w.Explanation, "too close to call") {
					t.Errorf("uncertain witness: %v ms, %q; want %v ms, too close to call", w.UncertaintyMs, w.Explanation, tt.uncertainMs)
				}
			}

			exact, err := Check(context.Background(), withoutClocks(events), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if tt.exactResource == "" {
				tt.exactResource = ResourceOK
			}
			if exact.Mutex != tt.exact || exact.Resource != tt.exactResource || exact.ClockUncertaintyMs != 0 || exact.TooCloseKeys != nil {
				t.Errorf("without clock events: mutex %s resource %s, clock %v ms, too close %v; want %s %s, 0, none",
					exact.Mutex, exact.Resource, exact.ClockUncertaintyMs, exact.TooCloseKeys, tt.exact, tt.exactResource)
			}
		})
	}
}

// withoutClocks is events without their clock events.
func withoutClocks(events []history.Event) []history.Event {
	return slices.DeleteFunc(slices.Clone(events), func(e history.Event) bool { return e.Type == history.ClockSample })
}
