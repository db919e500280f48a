package checker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// Colours of the visualisation's annotations.
const (
	faultColour     = "#ffd8a0"
	violationColour = "#ff9191"
)

// visualize writes porcupine's HTML visualisation of each failing key into
// dir, annotated with the fault windows that touch the key's operations
// and with the witness. It draws DESIGN's literal intervals (no narrowing).
// The search it needs shares the check's deadline; a key it cannot finish
// in time is still drawn, with the partial linearizations found so far. Problems are recorded in r, not returned: a
// visualisation is an aid, the verdict stands without it.
func visualize(ctx context.Context, d *digest, model porcupine.Model, keys []int32, scans []keyScan, r *Result, dir string, deadline time.Time) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.VisualizeErrors = append(r.VisualizeErrors, fmt.Sprintf("create %s: %v", dir, err))
		return
	}
	witnesses := make(map[string]*Witness)
	for i := range r.Witnesses {
		if w := &r.Witnesses[i]; w.Kind == KindOverlap || w.Kind == KindFenceOrder || w.Kind == KindNoLinearization {
			witnesses[w.Key] = w
		}
	}
	used := make(map[string]bool)
	replay := newModel(d, nil)
	for _, k := range keys {
		key := d.keys[k]
		if ctx.Err() != nil {
			return
		}
		left := time.Until(deadline)
		if left <= 0 {
			r.VisualizeErrors = append(r.VisualizeErrors, fmt.Sprintf("%s: not drawn: the timeout was spent", key))
			continue
		}
		ids, shown := around(d, k, scans[k])
		ops := beliefOperations(d, ids, denseClients(d, ids))
		_, info := porcupine.CheckOperationsVerbose(model, ops, left)
		if ctx.Err() != nil {
			return
		}
		notes := annotations(d, ops, witnesses[key])
		if shown != "" {
			notes = append(notes, porcupine.Annotation{Tag: "note", Start: firstCall(ops), Description: "excerpt", Details: shown})
		}
		info.AddAnnotations(notes)
		path := filepath.Join(dir, fileName(key, used))
		// The drawing replays the partial linearizations found, whose
		// steps were all legal: replay them with a model that a cancelled
		// context cannot make fail (porcupine panics on a failed replay).
		if err := porcupine.VisualizePath(replay, info, path); err != nil {
			r.VisualizeErrors = append(r.VisualizeErrors, fmt.Sprintf("%s: %v", key, err))
			continue
		}
		r.Visualizations = append(r.Visualizations, Visualization{Key: key, Path: path})
	}
}

// denseClients numbers the processes of the beliefs ids 0, 1, … in
// process order: one row each in the visualisation.
func denseClients(d *digest, ids []int32) func(int) int {
	var procs []int
	for _, id := range ids {
		procs = append(procs, d.beliefs[id].proc)
	}
	slices.Sort(procs)
	procs = slices.Compact(procs)
	return func(p int) int {
		i, _ := slices.BinarySearch(procs, p)
		return i
	}
}

// excerpt is how many beliefs before and after the witness's a
// visualisation shows.
const excerpt = 20

// around picks the beliefs of key k to draw: with a witness, the two
// beliefs it names and the excerpt beliefs on either side of each (in ok
// order) — still no linearization, as the pair alone has none, and small
// enough for a person and for porcupine; otherwise all of them. shown
// describes an excerpt ("" for all).
func around(d *digest, k int32, s keyScan) (ids []int32, shown string) {
	all := d.keyBeliefs[k]
	a, b := s.first, s.second
	if s.overlaps == 0 {
		a, b = s.fenceEarlier, s.fenceLater
	}
	if a < 0 || len(all) <= 4*excerpt+2 {
		return all, ""
	}
	pa, pb := slices.Index(all, a), slices.Index(all, b)
	pa, pb = min(pa, pb), max(pa, pb)
	keep := func(i int) bool {
		return (i >= pa-excerpt && i <= pa+excerpt) || (i >= pb-excerpt && i <= pb+excerpt)
	}
	for i, id := range all {
		if keep(i) {
			ids = append(ids, id)
		}
	}
	return ids, fmt.Sprintf("%d of the key's %d acquires: the witness's two and up to %d on either side of each", len(ids), len(all), excerpt)
}

// firstCall is the earliest call of ops (not empty).
func firstCall(ops []porcupine.Operation) int64 {
	t := ops[0].Call
	for _, op := range ops {
		t = min(t, op.Call)
	}
	return t
}

// annotations marks the fault windows that touch the span of ops, and the
// witness's overlap.
func annotations(d *digest, ops []porcupine.Operation, w *Witness) []porcupine.Annotation {
	if len(ops) == 0 {
		return nil
	}
	lo, hi := ops[0].Call, ops[0].Return
	for _, op := range ops {
		lo, hi = min(lo, op.Call), max(hi, op.Return)
	}
	var out []porcupine.Annotation
	for i := range d.faults {
		f := &d.faults[i]
		if f.start > hi || f.end < lo {
			continue
		}
		out = append(out, porcupine.Annotation{
			Tag:             "fault: " + f.name(),
			Start:           max(f.start, lo),
			End:             min(f.end, hi),
			Description:     f.fault,
			Details:         fmt.Sprintf("%s from %s ms to %s ms", f.name(), msText(f.start), msText(f.end)),
			BackgroundColor: faultColour,
		})
	}
	if w != nil {
		a := porcupine.Annotation{
			Tag:             "violation",
			Description:     w.Kind,
			Details:         w.Explanation,
			BackgroundColor: violationColour,
		}
		switch {
		case len(w.OverlapMs) == 2:
			a.Start, a.End = msToNs(w.OverlapMs[0]), msToNs(w.OverlapMs[1])
		case len(w.IntervalsMs) == 2:
			a.Start, a.End = msToNs(w.IntervalsMs[0][1]), msToNs(w.IntervalsMs[1][1])
		default:
			a.Start, a.End = lo, hi
		}
		out = append(out, a)
	}
	return out
}

// msToNs inverts nsToMs (to the µs).
func msToNs(ms float64) int64 { return int64(ms*1e3+0.5) * 1e3 }

// fileName is "mutex-<key>.html" with the key made safe for a file name,
// numbered when two keys map to the same name.
func fileName(key string, used map[string]bool) string {
	safe := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, key)
	if len(safe) > 100 {
		safe = safe[:100]
	}
	name := "mutex-" + safe + ".html"
	for i := 2; used[name]; i++ {
		name = fmt.Sprintf("mutex-%s-%d.html", safe, i)
	}
	used[name] = true
	return name
}
