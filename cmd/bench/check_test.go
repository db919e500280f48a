package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lockbench/lockbench/checker"
)

// TestCheckClockUncertainty: bench check on histories with clock events
// exits by the verdict — an overlap within the clocks' uncertainty is
// unknown (2) and says it is too close to call, one beyond it or on one
// clock a violation (1), none ok (0) — and the JSON lists the too-close
// keys and the clock uncertainty.
func TestCheckClockUncertainty(t *testing.T) {
	tests := []struct {
		file string
		exit int
		text []string
	}{
		{"clock-two-agents-too-close-unknown", checker.ExitUnknown, []string{
			"mutex:    UNKNOWN: too close to call on 1 key (lock:x): overlap 3.0 ms within clock uncertainty 10.0 ms; no certain violation",
			"too close to call (the recorded times, within the clocks' uncertainty):",
			"processes 1 and 2 both held lock:x for 3.0 ms",
			"agents' clocks uncertain by up to ±5.0 ms",
		}},
		{"clock-two-agents-overlap-illegal", checker.ExitViolation, []string{"mutex:    VIOLATED", "certain beyond the clocks' combined uncertainty of 10.0 ms"}},
		{"clock-same-agent-overlap-illegal", checker.ExitViolation, []string{"mutex:    VIOLATED", "processes 1 and 2 both believed they held lock:x from 17.0 ms to 20.0 ms"}},
		{"clock-two-agents-sequential-legal", checker.ExitSafe, []string{"mutex:    ok", "agents' clocks uncertain by up to ±5.0 ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("..", "..", "checker", "testdata", tt.file+".jsonl")
			var o, e bytes.Buffer
			if code := run([]string{"check", path}, &o, &e); code != tt.exit {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.exit, o.String(), e.String())
			}
			for _, want := range tt.text {
				if !strings.Contains(o.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, o.String())
				}
			}
			if strings.Contains(o.String(), "timed out") {
				t.Errorf("output speaks of a timeout:\n%s", o.String())
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		path := filepath.Join("..", "..", "checker", "testdata", "clock-two-agents-too-close-unknown.jsonl")
		var o, e bytes.Buffer
		if code := run([]string{"check", "--json", path}, &o, &e); code != checker.ExitUnknown {
			t.Fatalf("exit %d: %s", code, e.String())
		}
		var r struct {
			Mutex              string   `json:"mutex"`
			UnknownKeys        []string `json:"unknown_keys"`
			TooCloseKeys       []string `json:"too_close_keys"`
			ClockUncertaintyMs float64  `json:"clock_uncertainty_ms"`
			Uncertain          []struct {
				Kind          string  `json:"kind"`
				UncertaintyMs float64 `json:"uncertainty_ms"`
			} `json:"uncertain"`
		}
		if err := json.Unmarshal(o.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Mutex != "unknown" || !slices.Equal(r.UnknownKeys, []string{"lock:x"}) || !slices.Equal(r.TooCloseKeys, []string{"lock:x"}) ||
			r.ClockUncertaintyMs != 5 || len(r.Uncertain) != 1 || r.Uncertain[0].Kind != "overlap" || r.Uncertain[0].UncertaintyMs != 10 {
			t.Errorf("JSON %+v", r)
		}
	})
}
