package checker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lockbench/lockbench/history"
)

func readTestdata(t *testing.T, name string) []history.Event {
	t.Helper()
	events, err := history.ReadFile(filepath.Join("testdata", name+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// TestTimeout: a search that runs out of time is unknown (exit 2), never a
// hang — unless the scans found a definite violation, which stands.
func TestTimeout(t *testing.T) {
	correct := simulate(simConfig{procs: 4, keys: 3, ops: 300, ttl: 2_000_000, maxLat: 100_000, fenced: true, pInfo: 0.1, pLost: 0.5, pExtend: 0.3, pWrite: 0.5, seed: 7})
	tests := []struct {
		name   string
		events []history.Event
		mutex  MutexVerdict
		exit   int
	}{
		{"correct history", correct, MutexUnknown, ExitUnknown},
		{"definite overlap", readTestdata(t, "mutex-overlap-illegal"), MutexViolated, ExitViolation},
		{"empty history", nil, MutexOK, ExitSafe},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Check(context.Background(), tt.events, Options{Timeout: time.Nanosecond})
			if err != nil {
				t.Fatal(err)
			}
			if r.Mutex != tt.mutex || r.ExitCode() != tt.exit {
				t.Fatalf("mutex %s exit %d, want %s %d", r.Mutex, r.ExitCode(), tt.mutex, tt.exit)
			}
			if tt.mutex == MutexUnknown && (len(r.UnknownKeys) != 3 || r.Counts.UnknownKeys != 3) {
				t.Fatalf("unknown keys %v", r.UnknownKeys)
			}
		})
	}
}

// TestExitCode covers the mapping of verdicts to exit codes.
func TestExitCode(t *testing.T) {
	tests := []struct {
		r    Result
		want int
	}{
		{Result{Mutex: MutexOK, Resource: ResourceOK, Liveness: LivenessOK}, ExitSafe},
		{Result{Mutex: MutexOK, Resource: ResourceOK, Liveness: LivenessStalled}, ExitSafe},
		{Result{Mutex: MutexViolated, Resource: ResourceOK}, ExitViolation},
		{Result{Mutex: MutexOK, Resource: ResourceLostUpdates}, ExitViolation},
		{Result{Mutex: MutexUnknown, Resource: ResourceStaleWritesAccepted}, ExitViolation},
		{Result{Mutex: MutexUnknown, Resource: ResourceOK}, ExitUnknown},
	}
	for _, tt := range tests {
		if got := tt.r.ExitCode(); got != tt.want {
			t.Errorf("%s/%s: exit %d, want %d", tt.r.Mutex, tt.r.Resource, got, tt.want)
		}
	}
}

// TestCancel: a cancelled context ends the check with its error.
func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Check(ctx, readTestdata(t, "mutex-sequential-legal"), Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if _, err := Check(context.Background(), nil, Options{Timeout: -1}); !errors.Is(err, ErrOptions) {
		t.Fatalf("negative timeout: err %v", err)
	}
}

// TestJSONFields pins the JSON field names: report/ and users read them.
func TestJSONFields(t *testing.T) {
	r, err := Check(context.Background(), readTestdata(t, "pause-expiry-illegal"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	keys := func(m map[string]any) []string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	wantTop := []string{"availability", "check_duration_ms", "counts", "duration_ms", "fault_free_ms", "liveness", "liveness_note", "longest_fault_free_ms", "mutex", "progress", "progress_counts", "progress_note", "resource", "stall_bound_ms", "stalls", "witnesses"}
	if got := keys(m); !slices.Equal(got, wantTop) {
		t.Errorf("top-level fields %v\nwant %v", got, wantTop)
	}
	wantCounts := []string{"acquires_ok", "beliefs", "events", "keys", "lost_updates", "model_ops", "ops", "overlap_causes", "overlaps", "resources", "stale_accepted", "stale_rejected", "unknown_keys", "violating_keys"}
	if got := keys(m["counts"].(map[string]any)); !slices.Equal(got, wantCounts) {
		t.Errorf("count fields %v\nwant %v", got, wantCounts)
	}
	w := m["witnesses"].([]any)[0].(map[string]any)
	wantWitness := []string{"belief_ends", "cause", "count", "explanation", "faults", "intervals_ms", "key", "kind", "overlap_ms", "processes"}
	if got := keys(w); !slices.Equal(got, wantWitness) {
		t.Errorf("witness fields %v\nwant %v", got, wantWitness)
	}
	if m["mutex"] != "violated" || m["resource"] != "lost-updates" || m["liveness"] != "n/a" || m["progress"] != "ok" {
		t.Errorf("verdicts %v %v %v %v", m["mutex"], m["resource"], m["liveness"], m["progress"])
	}
}

// TestWriteText: the verdict reads as sentences a person believes.
func TestWriteText(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"pause-expiry-illegal", []string{
			"mutex:    VIOLATED on 1 of 1 key; overlaps by cause: ttl-passed 1",
			"resource: LOST-UPDATES (1 lost update, 0 stale writes accepted, 0 stale writes rejected)",
			"liveness: n/a (not assessed: the longest fault-free stretch (4.0 ms) is not longer than the stall bound (5000.0 ms)",
			"progress: ok (1 of 1 acquires outside faults succeeded)",
			"1. processes 1 and 2 both believed they held lock:x from 15.0 ms to 17.0 ms; process 1's TTL (10.0 ms, asked at 1.0 ms) had run out at 11.0 ms: it outlived its lease; active faults: client-pause on process 1",
			"beliefs: process 1 2.0–33.0 ms (ended by release), process 2 15.0–17.0 ms (ended by release)",
			"2. processes 2 and 1 both wrote 1 to resource:lock:x",
			"client-pause on process 1 from 3.0 ms to 30.0 ms: 1 of 1 s (100.0%)",
		}},
		{"mutex-sequential-legal", []string{"mutex:    ok (1 key, 2 holders, no two overlap)", "resource: ok (0 stale writes rejected)"}},
		{"fence-decreasing-illegal", []string{"process 2 was granted lock:x with fence 3 at 7.0 ms, after process 1 had been granted fence 5 at 2.0 ms: fences must increase; no fault was active"}},
		{"stall-deadlock-stalled", []string{"liveness: STALLED (1 stall longer than 5000.0 ms)", "lock:x from 3.0 ms to 7063.0 ms (7060.0 ms)"}},
		{"stale-write-accepted-illegal", []string{"process 2's write to resource:lock:x with fence 3 was accepted at 4.0 ms although process 1's write with fence 5 had been accepted at 2.0 ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r, err := Check(context.Background(), readTestdata(t, tt.file), Options{})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			WriteText(&buf, r)
			for _, s := range tt.want {
				if !strings.Contains(buf.String(), s) {
					t.Errorf("missing %q in\n%s", s, buf.String())
				}
			}
		})
	}
	var buf bytes.Buffer
	WriteText(&buf, &Result{Mutex: MutexUnknown, Resource: ResourceOK, Liveness: LivenessOK, UnknownKeys: []string{"lock:a"}, Counts: Counts{UnknownKeys: 1}})
	if !strings.Contains(buf.String(), "mutex:    UNKNOWN: the search timed out on 1 key (lock:a); no violation found") {
		t.Errorf("unknown verdict:\n%s", buf.String())
	}
}

// TestVisualize: a failing key gets porcupine's HTML, annotated with the
// fault windows and the witness.
func TestVisualize(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vis")
	r, err := Check(context.Background(), readTestdata(t, "pause-expiry-illegal"), Options{VisualizeDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.VisualizeErrors) != 0 || len(r.Visualizations) != 1 || r.Visualizations[0].Key != "lock:x" {
		t.Fatalf("visualizations %+v errors %v", r.Visualizations, r.VisualizeErrors)
	}
	html, err := os.ReadFile(r.Visualizations[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"fault: client-pause on process 1", "violation", "p1 acquire", "held by p1"} {
		if !bytes.Contains(html, []byte(s)) {
			t.Errorf("visualisation lacks %q", s)
		}
	}
	if filepath.Base(r.Visualizations[0].Path) != "mutex-lock_x.html" {
		t.Errorf("file %s", r.Visualizations[0].Path)
	}
	// A passing history draws nothing.
	r, err = Check(context.Background(), readTestdata(t, "mutex-sequential-legal"), Options{VisualizeDir: dir})
	if err != nil || len(r.Visualizations) != 0 {
		t.Fatalf("err %v visualizations %+v", err, r.Visualizations)
	}
}

// TestFileName covers the visualisation's file names.
func TestFileName(t *testing.T) {
	used := map[string]bool{}
	for _, tt := range []struct{ key, want string }{
		{"lock:x", "mutex-lock_x.html"},
		{"lock/x", "mutex-lock_x-2.html"},
		{"a.b-c_d", "mutex-a.b-c_d.html"},
	} {
		if got := fileName(tt.key, used); got != tt.want {
			t.Errorf("fileName(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

// TestCanaries: the nolock strategy (grants everything) is always caught,
// with a witness for every key that had two holders at once; a correct
// token lock without faults exits 0.
func TestCanaries(t *testing.T) {
	tests := []struct {
		name string
		cfg  simConfig
		exit int
	}{
		{"nolock one key", simConfig{procs: 8, keys: 1, ops: 2000, ttl: 20e6, maxLat: 1e6, nolock: true, pWrite: 0.5, seed: 1}, ExitViolation},
		{"nolock many keys", simConfig{procs: 20, keys: 5, ops: 5000, ttl: 20e6, maxLat: 1e6, nolock: true, pWrite: 0.5, pExtend: 0.3, seed: 2}, ExitViolation},
		{"token", simConfig{procs: 8, keys: 2, ops: 5000, ttl: 20e6, maxLat: 1e6, pWrite: 0.5, pExtend: 0.3, seed: 3}, ExitSafe},
		{"token retrying", simConfig{procs: 8, keys: 1, ops: 5000, ttl: 20e6, maxLat: 1e6, pWrite: 0.5, retry: true, seed: 4}, ExitSafe},
		{"fenced with deadlines", simConfig{procs: 8, keys: 2, ops: 5000, ttl: 20e6, maxLat: 1e6, fenced: true, deadlines: true, pWrite: 0.5, pExtend: 0.3, seed: 5}, ExitSafe},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events := simulate(tt.cfg)
			r, err := Check(context.Background(), events, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if r.ExitCode() != tt.exit {
				t.Fatalf("exit %d, want %d: %s/%s %+v", r.ExitCode(), tt.exit, r.Mutex, r.Resource, r.Witnesses)
			}
			if tt.exit == ExitViolation {
				keys := map[string]bool{}
				for _, w := range r.Witnesses {
					if w.Kind == KindOverlap {
						keys[w.Key] = true
					}
				}
				if len(keys) != r.Counts.ViolatingKeys || len(keys) == 0 {
					t.Fatalf("%d keys with overlap witnesses, %d violating", len(keys), r.Counts.ViolatingKeys)
				}
			}
		})
	}
}

// TestViolationBeatsUnknown: a key the scans convicted stays violated
// while another key's search times out.
func TestViolationBeatsUnknown(t *testing.T) {
	events := simulate(simConfig{procs: 4, keys: 2, ops: 200, ttl: 2e6, maxLat: 1e5, seed: 9})
	bad := readTestdata(t, "mutex-overlap-illegal")
	for i := range bad {
		bad[i].Time += events[len(events)-1].Time
		bad[i].Process += 100
	}
	events = append(events, bad...)
	r, err := Check(context.Background(), events, Options{Timeout: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Mutex != MutexViolated || r.ExitCode() != ExitViolation || len(r.UnknownKeys) != 2 || r.Witnesses[0].Key != "lock:x" {
		t.Fatalf("mutex %s unknown %v witnesses %+v", r.Mutex, r.UnknownKeys, r.Witnesses)
	}
}

// TestVisualizeExcerpt: a long key with one late overlap is drawn as an
// excerpt around the witness, quickly.
func TestVisualizeExcerpt(t *testing.T) {
	events := simulate(simConfig{procs: 10, keys: 1, ops: 20000, ttl: 20e6, maxLat: 1e6, retry: true, pWrite: 0.5, pExtend: 0.3, seed: 8})
	ws := beliefWindows(events)
	w := ws[len(ws)-10]
	q := 1000
	events = append(events,
		history.Event{Time: w.ok + 1, Process: q, Type: history.Invoke, Op: history.Acquire, Key: w.key, TTLms: 1},
		history.Event{Time: w.ok + 2, Process: q, Type: history.OK, Op: history.Acquire, Key: w.key},
		history.Event{Time: w.ok + 3, Process: q, Type: history.Crash})
	history.Sort(events)
	dir := t.TempDir()
	start := time.Now()
	r, err := Check(context.Background(), events, Options{VisualizeDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if r.Mutex != MutexViolated || len(r.Visualizations) != 1 || !slices.Equal(r.Witnesses[0].Processes, []int{w.proc, q}) {
		t.Fatalf("mutex %s visualizations %+v errors %v witnesses %+v", r.Mutex, r.Visualizations, r.VisualizeErrors, r.Witnesses)
	}
	html, err := os.ReadFile(r.Visualizations[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(html, []byte("excerpt")) || !bytes.Contains(html, []byte("p1000 acquire")) {
		t.Errorf("the visualisation is not an excerpt around the witness")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestLongestGap: the longest time without a grant touching a window,
// not cut at its ends, bounded by the history's start and end.
func TestLongestGap(t *testing.T) {
	const s = int64(1e9)
	oks := []int64{1 * s, 2 * s, 6 * s, 7 * s}
	for _, tc := range []struct {
		name       string
		oks        []int64
		start, end int64
		want       int64
	}{
		{"a gap across the window", oks, 3 * s, 4 * s, 4 * s},
		{"a gap starting in the window", oks, 2 * s, 3 * s, 4 * s},
		{"grants inside: the longest piece", oks, 1 * s, 7 * s, 4 * s},
		{"after the last grant: to the end", oks, 8 * s, 9 * s, 3 * s},
		{"before the first grant: from the start", oks, 0, s / 2, 1 * s},
		{"no grant at all", nil, 2 * s, 3 * s, 10 * s},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := longestGap(tc.oks, tc.start, tc.end, 10*s); got != tc.want {
				t.Errorf("longestGap = %v, want %v", got, tc.want)
			}
		})
	}
}
