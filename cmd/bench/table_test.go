package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/lockbench/lockbench/checker"
	"github.com/lockbench/lockbench/summary"
)

// TestTableShowsTheNetworkPath: every row says how the cell reached the
// lock nodes (a summary from before the field was recorded reads proxied),
// and the line under the table says what the proxies cost.
func TestTableShowsTheNetworkPath(t *testing.T) {
	for _, tc := range []struct {
		name    string
		network string
		cost    *summary.ProxyCost
		want    []string
	}{
		{"direct", summary.NetworkDirect, &summary.ProxyCost{Fraction: 0.55, Direct: 18720, Proxied: 8466, Rounds: 3, RoundMs: 100},
			[]string{"NET", "· an idle fault proxy took 55 % of the harness's throughput (token, uncontended: 18720 lock cycles/s direct, 8466 proxied"}},
		{"proxied", summary.NetworkProxied, &summary.ProxyCost{Error: "chaos: start proxy A->n1: address in use"},
			[]string{"· proxy cost not measured: chaos: start proxy A->n1: address in use"}},
		{"before the field", "", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sum := &summary.Summary{ProxyCost: tc.cost, Cells: []summary.CellResult{
				{ID: "001", Lock: "token", Workload: "uncontended", Fault: "none", Network: tc.network},
				{ID: "002", Lock: "redlock", Workload: "uncontended", Fault: "none", Network: tc.network, Error: "boom"},
			}}
			var b bytes.Buffer
			printTable(&b, sum, false)
			out := b.String()
			path := tc.network
			if path == "" {
				path = summary.NetworkProxied
			}
			for _, lock := range []string{"token", "redlock"} {
				if !regexp.MustCompile(`(?m)^` + lock + `\s+uncontended\s+none\s+` + path + `\s`).MatchString(out) {
					t.Errorf("no %s row saying %s:\n%s", lock, path, out)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("table lacks %q:\n%s", w, out)
				}
			}
			if tc.cost == nil && strings.Contains(out, "proxy cost") {
				t.Errorf("a run without a measured proxy cost mentions it:\n%s", out)
			}
		})
	}
}

// TestTableColoursByVerdict: on a terminal a violation is red, ok green,
// an undecided or stalled verdict yellow, and what was not assessed plain.
func TestTableColoursByVerdict(t *testing.T) {
	red, green, yellow := "\033[31m", "\033[32m", "\033[33m"
	for _, tc := range []struct {
		name string
		v    summary.Verdicts
		want []string
	}{
		{"safe", summary.Verdicts{Mutex: checker.MutexOK, Resource: checker.ResourceOK, Liveness: checker.LivenessNA, Progress: checker.ProgressOK},
			[]string{green + "ok", " n/a "}},
		{"violated", summary.Verdicts{Mutex: checker.MutexViolated, Resource: checker.ResourceLostUpdates, Liveness: checker.LivenessOK, Progress: checker.ProgressOK},
			[]string{red + "violated", red + "lost-updates", green + "ok"}},
		{"stale writes", summary.Verdicts{Mutex: checker.MutexOK, Resource: checker.ResourceStaleWritesAccepted, Liveness: checker.LivenessStalled, Progress: checker.ProgressNone},
			[]string{red + "stale-writes-accepted", yellow + "stalled", red + "none"}},
		{"undecided", summary.Verdicts{Mutex: checker.MutexUnknown, Resource: checker.ResourceOK, Liveness: checker.LivenessOK, Progress: checker.ProgressDegraded},
			[]string{yellow + "unknown", yellow + "degraded"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			printTable(&b, &summary.Summary{Cells: []summary.CellResult{{ID: "001", Lock: "token", Workload: "w", Fault: "none", Verdicts: tc.v}}}, true)
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("table lacks %q:\n%q", w, b.String())
				}
			}
		})
	}
}
