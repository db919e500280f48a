package checker

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lockbench/lockbench/history"
	"pgregory.net/rapid"
)

// drawSim draws a simulated correct lock: few processes and keys, short
// runs, and every hazard a correct lock must survive.
func drawSim(t *rapid.T) simConfig {
	maxLat := rapid.Int64Range(2_000, 200_000).Draw(t, "maxLat")
	deadlines := rapid.Bool().Draw(t, "deadlines")
	cfg := simConfig{
		procs:          rapid.IntRange(1, 6).Draw(t, "procs"),
		keys:           rapid.IntRange(1, 3).Draw(t, "keys"),
		ops:            rapid.IntRange(1, 300).Draw(t, "ops"),
		maxLat:         maxLat,
		ttl:            maxLat * rapid.Int64Range(20, 40).Draw(t, "ttlFactor"),
		fenced:         rapid.Bool().Draw(t, "fenced"),
		deadlines:      deadlines,
		pInfo:          rapid.Float64Range(0, 0.3).Draw(t, "pInfo"),
		pLost:          rapid.Float64Range(0, 1).Draw(t, "pLost"),
		pCrash:         rapid.Float64Range(0, 0.2).Draw(t, "pCrash"),
		pCrashInFlight: rapid.Float64Range(0, 0.05).Draw(t, "pCrashInFlight"),
		pExtend:        rapid.Float64Range(0, 0.5).Draw(t, "pExtend"),
		pWrite:         rapid.Float64Range(0, 0.9).Draw(t, "pWrite"),
		retry:          rapid.Bool().Draw(t, "retry"),
		seed:           rapid.Uint64().Draw(t, "seed"),
	}
	if deadlines {
		cfg.pSlow = rapid.Float64Range(0, 0.2).Draw(t, "pSlow")
		cfg.pLate = rapid.Float64Range(0, 0.3).Draw(t, "pLate")
	}
	return cfg
}

// TestPropertyCorrectLockPasses: histories of a correct lock, with random
// crashes, lost replies, slow replies, deadlines and extends, always pass,
// and porcupine — on DESIGN's intervals and on the narrowed, segmented
// ones — agrees on every key.
func TestPropertyCorrectLockPasses(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := drawSim(t)
		events := simulate(cfg)
		if len(events) == 0 {
			return
		}
		r, err := Check(context.Background(), events, Options{Timeout: time.Minute})
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		if r.Mutex != MutexOK || r.Resource != ResourceOK || r.ExitCode() != ExitSafe {
			t.Fatalf("correct lock judged mutex=%s resource=%s; witnesses %+v\n%s", r.Mutex, r.Resource, r.Witnesses, dump(events))
		}
		if r.Counts.StaleRejected != 0 || r.Counts.LostUpdates != 0 {
			t.Fatalf("correct lock: counts %+v", r.Counts)
		}
		if msg := agreement(events); msg != "" {
			t.Fatalf("%s\n%s", msg, dump(events))
		}
	})
}

// inject adds a process q that believes it holds w.key over a sub-interval
// of w, ending its belief in one of the ways DESIGN §5 allows. It returns
// the new history and q.
func inject(t *rapid.T, events []history.Event, w beliefWindow) ([]history.Event, int) {
	q := 0
	for _, e := range events {
		q = max(q, e.Process+1)
	}
	// Three instants a < ok < end in (w.ok, w.until]: q's acquire invoke,
	// its ok, and the end of its belief.
	pts := []int64{
		rapid.Int64Range(w.ok+1, w.until).Draw(t, "a"),
		rapid.Int64Range(w.ok+1, w.until).Draw(t, "b"),
		rapid.Int64Range(w.ok+1, w.until).Draw(t, "c"),
	}
	slices.Sort(pts)
	if pts[0] == pts[1] || pts[1] == pts[2] {
		pts = []int64{w.ok + 1, w.ok + 2, w.ok + 3}
	}
	inv, ok, end := pts[0], pts[1], pts[2]
	out := slices.Clone(events)
	out = append(out,
		history.Event{Time: inv, Process: q, Type: history.Invoke, Op: history.Acquire, Key: w.key, TTLms: 1},
	)
	acqOK := history.Event{Time: ok, Process: q, Type: history.OK, Op: history.Acquire, Key: w.key}
	switch how := rapid.IntRange(0, 4).Draw(t, "end"); how {
	case 0: // release ok
		out = append(out, acqOK,
			history.Event{Time: end, Process: q, Type: history.Invoke, Op: history.Release, Key: w.key},
			history.Event{Time: end + 1, Process: q, Type: history.OK, Op: history.Release, Key: w.key})
	case 1: // release info: may take effect any time after
		out = append(out, acqOK,
			history.Event{Time: end, Process: q, Type: history.Invoke, Op: history.Release, Key: w.key},
			history.Event{Time: end + 1, Process: q, Type: history.Info, Op: history.Release, Key: w.key})
	case 2: // deadline
		acqOK.Deadline = end
		out = append(out, acqOK)
	case 3: // crash
		out = append(out, acqOK, history.Event{Time: end, Process: q, Type: history.Crash})
	case 4: // failed extend
		out = append(out, acqOK,
			history.Event{Time: ok, Process: q, Type: history.Invoke, Op: history.Extend, Key: w.key, TTLms: 1},
			history.Event{Time: end, Process: q, Type: history.Fail, Op: history.Extend, Key: w.key})
	}
	history.Sort(out)
	return out, q
}

// TestPropertyInjectedOverlapFails: the same histories with one injected
// overlap always fail, the witness names the injected pair, and porcupine
// finds no linearization of that key either.
func TestPropertyInjectedOverlapFails(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := drawSim(t)
		events := simulate(cfg)
		var windows []beliefWindow
		for _, w := range beliefWindows(events) {
			if w.until-w.ok >= 3 {
				windows = append(windows, w)
			}
		}
		if len(windows) == 0 {
			return
		}
		w := rapid.SampledFrom(windows).Draw(t, "belief")
		bad, q := inject(t, events, w)
		r, err := Check(context.Background(), bad, Options{Timeout: time.Minute})
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		if r.Mutex != MutexViolated || r.ExitCode() != ExitViolation {
			t.Fatalf("injected overlap of %d and %d on %s missed: %s", w.proc, q, w.key, r.Mutex)
		}
		var found bool
		for _, wi := range r.Witnesses {
			if wi.Key != w.key {
				continue
			}
			found = true
			got := slices.Sorted(slices.Values(wi.Processes))
			want := slices.Sorted(slices.Values([]int{w.proc, q}))
			if wi.Kind != KindOverlap || !slices.Equal(got, want) {
				t.Fatalf("witness %+v, want an overlap of processes %v", wi, want)
			}
		}
		if !found {
			t.Fatalf("no witness for %s: %+v", w.key, r.Witnesses)
		}
		if n := len(r.Witnesses); n != 1 {
			t.Fatalf("%d witnesses, want 1: %+v", n, r.Witnesses)
		}
		// The formal check agrees.
		d := digestEvents(bad, int64(MinStallBound))
		k := slices.Index(d.keys, w.key)
		if v := searchKey(d, newModel(d, nil), int32(k), time.Now().Add(time.Minute)); v != searchIllegal {
			t.Fatalf("porcupine: %v on the injected key, want illegal", v)
		}
	})
}

// drawMessy draws an arbitrary valid history on few keys: processes
// acquire, release and extend at random with random outcomes, deadlines,
// fences (often equal or decreasing) and crashes, timestamps often equal.
// Most such histories violate mutual exclusion; some don't.
func drawMessy(t *rapid.T) []history.Event {
	procs := rapid.IntRange(1, 4).Draw(t, "procs")
	keys := rapid.IntRange(1, 2).Draw(t, "keys")
	steps := rapid.IntRange(4, 40).Draw(t, "steps")
	type pstate struct {
		inFlight bool
		op       history.Op
		key      string
		crashed  bool
	}
	ps := make([]pstate, procs)
	var (
		events []history.Event
		now    int64 = 1
	)
	for range steps {
		now += rapid.Int64Range(0, 3).Draw(t, "dt")
		p := rapid.IntRange(0, procs-1).Draw(t, "p")
		s := &ps[p]
		if s.crashed {
			continue
		}
		if !s.inFlight {
			if rapid.IntRange(0, 20).Draw(t, "crash?") == 0 {
				events = append(events, history.Event{Time: now, Process: p, Type: history.Crash})
				s.crashed = true
				continue
			}
			op := rapid.SampledFrom([]history.Op{history.Acquire, history.Acquire, history.Release, history.Extend}).Draw(t, "op")
			key := fmt.Sprintf("k%d", rapid.IntRange(0, keys-1).Draw(t, "key"))
			e := history.Event{Time: now, Process: p, Type: history.Invoke, Op: op, Key: key}
			if op != history.Release {
				e.TTLms = 5
			}
			events = append(events, e)
			*s = pstate{inFlight: true, op: op, key: key}
			continue
		}
		typ := rapid.SampledFrom([]history.Type{history.OK, history.OK, history.Fail, history.Info}).Draw(t, "outcome")
		e := history.Event{Time: now, Process: p, Type: typ, Op: s.op, Key: s.key}
		if typ == history.OK && (s.op == history.Acquire || s.op == history.Extend) {
			if rapid.Bool().Draw(t, "deadline?") {
				e.Deadline = now + rapid.Int64Range(-2, 12).Draw(t, "ttl")
				if e.Deadline <= 0 {
					e.Deadline = 1
				}
			}
			if s.op == history.Acquire {
				e.Fence = rapid.Int64Range(0, 5).Draw(t, "fence")
			}
		}
		events = append(events, e)
		s.inFlight = false
	}
	return events
}

// TestPropertyScanAgreesWithSearch: on arbitrary histories the scans'
// verdict and porcupine's agree on every key — the overlap scan with the
// fence scan is an exact decision procedure for the owner model.
func TestPropertyScanAgreesWithSearch(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		events := drawMessy(t)
		if len(events) == 0 {
			return
		}
		if err := history.Validate(events); err != nil {
			t.Fatalf("generator made an invalid history: %v", err)
		}
		if msg := agreement(events); msg != "" {
			t.Fatalf("%s\n%s", msg, dump(events))
		}
	})
}

// agreement runs, on every key of events, the scans and porcupine three
// ways: on DESIGN's literal intervals, narrowed and cut into segments as
// Check does, and cut after every operation it can be; it says where they
// disagree, or "".
func agreement(events []history.Event) string {
	d := digestEvents(events, int64(MinStallBound))
	model := newModel(d, nil)
	deadline := time.Now().Add(time.Minute)
	for k := range d.keys {
		s := scanKey(d, int32(k))
		literal := searchOps(model, keyOperations(d, int32(k), nil), deadline)
		narrowed := searchKey(d, model, int32(k), deadline)
		cut := searchSegments(d, model, keyOperations(d, int32(k), nil), 1, deadline)
		if literal == searchUnknown || narrowed == searchUnknown || cut == searchUnknown {
			return fmt.Sprintf("search timed out on %d events", len(events))
		}
		if s.violated() != (literal == searchIllegal) || literal != narrowed || literal != cut {
			return fmt.Sprintf("key %s: scans say violated=%v (overlaps %d, fence %d), porcupine %v, narrowed %v, cut %v",
				d.keys[k], s.violated(), s.overlaps, s.fenceViolations, literal, narrowed, cut)
		}
	}
	return ""
}

// dump prints a history for a failure message.
func dump(events []history.Event) string {
	var b []byte
	for i := range events {
		b = history.AppendJSON(b, &events[i])
		b = append(b, '\n')
	}
	return string(b)
}

func (v searchVerdict) String() string {
	return [...]string{"not run", "ok", "illegal", "unknown"}[v]
}

// refBelief is a belief as the reference implementation finds it.
type refBelief struct {
	proc    int
	key     string
	ok, end int64
}

// referenceBeliefs is DESIGN §5's belief definition written as plainly as
// possible, O(n²): for each acquire ok, walk its process's later events
// until something ends the belief. It shares no code with the digest.
func referenceBeliefs(events []history.Event) []refBelief {
	var out []refBelief
	histEnd := events[len(events)-1].Time
	for i, e := range events {
		if e.Type != history.OK || e.Op != history.Acquire {
			continue
		}
		d := e.Deadline
		if d != 0 && d <= e.Time {
			continue // empty: it arrived after its own deadline
		}
		end, ended := histEnd, false
		for _, f := range events[i+1:] {
			if f.Type == history.Nemesis || f.Process != e.Process {
				continue
			}
			if d != 0 && d <= f.Time {
				end, ended = d, true
				break
			}
			if f.Type == history.Crash {
				end, ended = f.Time, true
				break
			}
			if f.Key != e.Key {
				continue
			}
			if f.Type == history.Invoke && f.Op == history.Release {
				end, ended = f.Time, true
				break
			}
			if f.Op == history.Extend && (f.Type == history.Fail || f.Type == history.Info) {
				end, ended = f.Time, true
				break
			}
			if f.Op == history.Extend && f.Type == history.OK {
				d = f.Deadline
				if d != 0 && d <= f.Time {
					end, ended = f.Time, true
					break
				}
			}
		}
		if !ended && d != 0 && d <= histEnd {
			end = d
		}
		if end > e.Time {
			out = append(out, refBelief{e.Process, e.Key, e.Time, end})
		}
	}
	return out
}

// TestPropertyBeliefsMatchReference: the digest's beliefs are exactly the
// reference implementation's, and the overlap scan convicts a key exactly
// when two reference beliefs on it overlap.
func TestPropertyBeliefsMatchReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		events := drawMessy(t)
		if len(events) == 0 {
			return
		}
		ref := referenceBeliefs(events)
		d := digestEvents(events, int64(MinStallBound))
		var got []refBelief
		for _, b := range d.beliefs {
			if !b.empty() {
				got = append(got, refBelief{b.proc, d.keys[b.key], b.ok, b.end})
			}
		}
		order := func(x, y refBelief) int {
			if x.ok != y.ok {
				return int(x.ok - y.ok)
			}
			return x.proc - y.proc
		}
		slices.SortFunc(ref, order)
		slices.SortFunc(got, order)
		if !slices.Equal(ref, got) {
			t.Fatalf("beliefs\n got %v\nwant %v\n%s", got, ref, dump(events))
		}
		for k, key := range d.keys {
			overlap := false
			for i := range ref {
				for j := i + 1; j < len(ref); j++ {
					a, b := ref[i], ref[j]
					if a.key == key && b.key == key && max(a.ok, b.ok) < min(a.end, b.end) {
						overlap = true
					}
				}
			}
			if s := scanKey(d, int32(k)); (s.overlaps > 0) != overlap {
				t.Fatalf("key %s: scan overlaps %d, reference overlap %v", key, s.overlaps, overlap)
			}
		}
	})
}
