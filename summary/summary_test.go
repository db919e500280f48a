package summary

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/lockbench/lockbench/checker"
)

// TestCommittedSummariesRoundTrip: every committed summary (the gate's
// baseline) reads, and writes back byte for byte: the schema's JSON names
// and shapes are those the runner wrote before the schema had its own
// package.
func TestCommittedSummariesRoundTrip(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "results", "baseline", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no committed summaries found (%v)", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			sum, err := Read(f)
			if err != nil {
				t.Fatal(err)
			}
			for i := range sum.Cells {
				if c := &sum.Cells[i]; len(c.Hists()) != len(c.Histograms) {
					t.Errorf("cell %s: %d histograms decoded of %d", c.ID, len(c.Hists()), len(c.Histograms))
				}
			}
			out := filepath.Join(t.TempDir(), "summary.json")
			if err := Write(out, sum); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("written back, %s differs from the committed file", f)
			}
		})
	}
}

// TestReadRefuses: another schema version, a broken file and a broken
// histogram are errors that name the file.
func TestReadRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"other version", `{"schema_version": 2, "cells": []}`, "schema version 2"},
		{"not json", `{"schema_version": 1,`, "unexpected end"},
		{"bad histogram", `{"schema_version": 1, "cells": [{"id": "c1", "histograms": {"acquire_ok": "not base64!"}}]}`, "cell c1 histogram acquire_ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "summary.json")
			if err := os.WriteFile(path, []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Read(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("Read: %v, want an error naming %s and saying %q", err, path, tc.want)
			}
		})
	}
}

// TestSetHistograms: the percentiles, the encoding and the decoded
// histograms agree, and the encoding reads back.
func TestSetHistograms(t *testing.T) {
	h := hdrhistogram.New(1, 60_000_000, 3)
	for v := int64(1); v <= 1000; v++ {
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	c := CellResult{ID: "c1"}
	c.SetHistograms(map[string]*hdrhistogram.Histogram{HistAcquireOK: h})
	p := c.Latency[HistAcquireOK]
	if p.Count != 1000 || p.P50 != h.ValueAtQuantile(50) || p.P999 != h.ValueAtQuantile(99.9) || p.Max != h.Max() {
		t.Errorf("percentiles %+v", p)
	}
	if c.Hists()[HistAcquireOK] != h {
		t.Error("Hists does not return the histogram given")
	}
	back, err := hdrhistogram.Decode([]byte(c.Histograms[HistAcquireOK]))
	if err != nil || back.TotalCount() != 1000 || back.Max() != h.Max() {
		t.Errorf("encoded histogram reads back as %v (err %v)", back, err)
	}
	b, err := json.Marshal(c)
	if err != nil || strings.Contains(string(b), "hists") {
		t.Errorf("the decoded histograms must not be persisted: %s (err %v)", b, err)
	}
}

// TestClass: each class from the verdicts that make it, the most severe
// winning.
func TestClass(t *testing.T) {
	ok := Verdicts{Mutex: checker.MutexOK, Resource: checker.ResourceOK, Liveness: checker.LivenessOK, Progress: checker.ProgressOK}
	with := func(f func(*CellResult)) CellResult {
		c := CellResult{Verdicts: ok, Harness: &Harness{}}
		f(&c)
		return c
	}
	for _, tc := range []struct {
		name string
		cell CellResult
		want Class
	}{
		{"all ok", with(func(*CellResult) {}), ClassSafe},
		{"degraded", with(func(c *CellResult) { c.Verdicts.Progress = checker.ProgressDegraded }), ClassDegraded},
		{"stalled", with(func(c *CellResult) { c.Verdicts.Liveness = checker.LivenessStalled }), ClassStalled},
		{"overloaded", with(func(c *CellResult) { c.Harness.Overloaded = true; c.Verdicts.Liveness = checker.LivenessStalled }), ClassOverloaded},
		{"no progress", with(func(c *CellResult) { c.Verdicts.Progress = checker.ProgressNone; c.Harness.Overloaded = true }), ClassNoProgress},
		{"undecided", with(func(c *CellResult) {
			c.Verdicts.Mutex = checker.MutexUnknown
			c.Verdicts.Progress = checker.ProgressNone
		}), ClassUndecided},
		{"error", CellResult{Error: "boom"}, ClassError},
		{"mutex violated", with(func(c *CellResult) { c.Verdicts.Mutex = checker.MutexViolated; c.Error = "boom" }), ClassUnsafe},
		{"lost updates", with(func(c *CellResult) { c.Verdicts.Resource = checker.ResourceLostUpdates }), ClassUnsafe},
		{"stale writes", with(func(c *CellResult) { c.Verdicts.Resource = checker.ResourceStaleWritesAccepted }), ClassUnsafe},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cell.Class(); got != tc.want {
				t.Errorf("class %s, want %s", got, tc.want)
			}
		})
	}
	if n := len(Classes()); n != len(classNames) {
		t.Errorf("Classes lists %d classes, %d are named", n, len(classNames))
	}
}
