package checker

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockbench/lockbench/history"
)

// TestTruncatedHistory checks histories cut short by a killed recorder:
// each is checked up to its last checkpoint, and the result says so.
// lost-tail is a correct lock whose first holder's release was in the
// tail its stream lost: taken as complete, the holder seems to hold the
// lock forever and the next holder overlaps it; up to the checkpoint it
// is safe. nolock's overlap lies before the checkpoint and is still found.
func TestTruncatedHistory(t *testing.T) {
	tests := []struct {
		file           string
		mutex          MutexVerdict // checked up to the checkpoint
		asIfComplete   MutexVerdict // all the events, taken as complete
		atMs           float64
		dropped, total int
		witness        *wantWitness
	}{
		{file: "truncated-lost-tail-legal", mutex: MutexOK, asIfComplete: MutexViolated, atMs: 4.6, dropped: 9, total: 15},
		{file: "truncated-nolock-illegal", mutex: MutexViolated, asIfComplete: MutexViolated, atMs: 5, dropped: 2, total: 6,
			witness: &wantWitness{kind: KindOverlap, key: "lock:x", processes: []int{1, 2}, overlapMs: []float64{3, 5}, ends: []string{"end-of-history", "end-of-history"}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			events, st, err := history.ReadFileStats(filepath.Join("testdata", tt.file+".jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			if !st.Unfinished() || len(events) != tt.total {
				t.Fatalf("stats %+v, %d events: want an unfinished history of %d", st, len(events), tt.total)
			}
			r, err := Check(context.Background(), events, Options{Stats: &st})
			if err != nil {
				t.Fatal(err)
			}
			if r.Mutex != tt.mutex || r.Resource != ResourceOK {
				t.Fatalf("mutex %s, resource %s; want %s, ok; witnesses %+v", r.Mutex, r.Resource, tt.mutex, r.Witnesses)
			}
			tr := r.Truncated
			if tr == nil || tr.AtMs != tt.atMs || tr.EventsDropped != tt.dropped || tr.EventsDropped != st.AfterCheckpoint || tr.Reason == "" {
				t.Fatalf("truncated = %+v, want at %v ms with %d events dropped", tr, tt.atMs, tt.dropped)
			}
			if r.DurationMs != tt.atMs || r.Counts.Events != tt.total-tt.dropped {
				t.Errorf("checked %d events over %v ms, want %d up to the checkpoint at %v ms", r.Counts.Events, r.DurationMs, tt.total-tt.dropped, tt.atMs)
			}
			if tt.witness != nil {
				checkWitness(t, r.Witnesses, tt.witness)
			}

			// The same events with no word of the cut: every belief whose
			// release was lost lasts to the end.
			whole, err := Check(context.Background(), events, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if whole.Mutex != tt.asIfComplete || whole.Truncated != nil {
				t.Errorf("taken as complete: mutex %s, truncated %+v; want %s and no truncation", whole.Mutex, whole.Truncated, tt.asIfComplete)
			}

			var text, js bytes.Buffer
			WriteText(&text, r)
			first, _, _ := strings.Cut(text.String(), "\n")
			if !strings.HasPrefix(first, "history:  TRUNCATED") || !strings.Contains(first, "checked up to its last checkpoint at ") ||
				!strings.Contains(first, fmtMs(tt.atMs)+" ms") {
				t.Errorf("first line %q: want it to say the history was truncated and checked up to %v ms", first, tt.atMs)
			}
			if err := WriteJSON(&js, r); err != nil {
				t.Fatal(err)
			}
			var back struct {
				Truncated *struct {
					AtMs          float64 `json:"at_ms"`
					EventsDropped int     `json:"events_dropped"`
					Reason        string  `json:"reason"`
				} `json:"truncated"`
			}
			if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Truncated == nil || back.Truncated.AtMs != tt.atMs ||
				back.Truncated.EventsDropped != tt.dropped || back.Truncated.Reason == "" {
				t.Errorf("JSON truncated = %+v (%v), want at_ms %v, events_dropped %d, a reason", back.Truncated, err, tt.atMs, tt.dropped)
			}
		})
	}
}

// TestCompleteHistoryIsNotTruncated: a history with its end marker, and one
// with no marker at all (another recorder's), are checked whole.
func TestCompleteHistoryIsNotTruncated(t *testing.T) {
	for _, name := range []string{"end-of-history-legal", "truncated-lost-tail-legal"} {
		events, st, err := history.ReadFileStats(filepath.Join("testdata", name+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		if st.Checkpoints > 0 { // the cut history, closed after all
			st.Ended, st.EndTime = true, events[len(events)-1].Time
		}
		r, err := Check(context.Background(), events, Options{Stats: &st})
		if err != nil {
			t.Fatal(err)
		}
		var text bytes.Buffer
		WriteText(&text, r)
		if r.Truncated != nil || r.Counts.Events != len(events) || strings.Contains(text.String(), "TRUNCATED") {
			t.Errorf("%s: truncated %+v, %d of %d events checked; text:\n%s", name, r.Truncated, r.Counts.Events, len(events), text.String())
		}
	}
}
