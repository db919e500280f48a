package main

import (
	"bytes"
	"fmt"
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

// twoRates is a run of token and redlock × none and partition-minority ×
// two open-loop workloads of one name, at 2 000/s and 200 000/s: token is
// unsafe under the partition at 200 000/s, redlock made no progress under
// it at 2 000/s, and redlock's fault-free cell at 2 000/s issued only
// 1 079 acquires/s.
func twoRates() *summary.Summary {
	safe := summary.Verdicts{Mutex: checker.MutexOK, Resource: checker.ResourceOK, Liveness: checker.LivenessOK, Progress: checker.ProgressOK}
	sum := &summary.Summary{}
	for _, fault := range []string{"none", "partition-minority"} {
		for _, rate := range []float64{2000, 200000} {
			for _, lock := range []string{"token", "redlock"} {
				c := summary.CellResult{
					ID: fmt.Sprintf("%03d-%s-uncontended-%s-s1", len(sum.Cells)+1, lock, fault), Lock: lock, Workload: "uncontended", Fault: fault,
					Network: summary.NetworkDirect, Verdicts: safe, Throughput: rate / 2, AchievedRate: rate,
					Spec:    summary.Spec{Name: "uncontended", Clients: 4, Keys: summary.Keys{Kind: "per-client"}, Rate: rate},
					Latency: map[string]summary.Percentiles{summary.HistAcquireOK: {Count: 10, P50: 100, P99: 900, P999: 2000}},
				}
				switch {
				case lock == "token" && fault != "none" && rate == 200000:
					c.Verdicts.Mutex = checker.MutexViolated
				case lock == "redlock" && fault != "none" && rate == 2000:
					c.Verdicts.Progress = checker.ProgressNone
				case lock == "redlock" && fault == "none" && rate == 2000:
					c.Saturated, c.AchievedRate, c.Throughput = true, 1079, 1050
				}
				sum.Cells = append(sum.Cells, c)
			}
		}
	}
	return sum
}

// TestMatrixComesFirst: the matrix has a row per lock and a column per
// fault, the worst class over the workloads with n/m, then the figures
// without fault per workload, told apart by rate, the saturated one
// marked; on a terminal the entries are coloured by class and the columns
// still line up.
func TestMatrixComesFirst(t *testing.T) {
	for _, colour := range []bool{false, true} {
		t.Run(fmt.Sprint("colour=", colour), func(t *testing.T) {
			var b bytes.Buffer
			printMatrix(&b, twoRates(), colour)
			out := b.String()
			if colour {
				for _, w := range []string{"\033[31munsafe 1/2\033[0m", "\033[31mno-progress 1/2\033[0m", "\033[32msafe\033[0m"} {
					if !strings.Contains(out, w) {
						t.Errorf("matrix lacks %q:\n%q", w, out)
					}
				}
				out = regexp.MustCompile("\033\\[[0-9;]*m").ReplaceAllString(out, "")
			}
			lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
			if len(lines) != 4 || !strings.HasPrefix(lines[0], "Which lock, under which fault: ") {
				t.Fatalf("matrix is not a caption, a head and two rows:\n%s", out)
			}
			want := [][]string{
				{"LOCK", "none", "partition-minority", "ACQ/S uncontended @2000/s", "P99", "ACQ/S uncontended @200000/s", "P99"},
				{"token", "safe", "unsafe 1/2", "1000", "900µs", "100000", "900µs"},
				{"redlock", "safe", "no-progress 1/2", "1050 sat 1079/2000", "900µs", "100000", "900µs"},
			}
			for i, w := range want {
				if got := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(lines[i+1]), -1); fmt.Sprint(got) != fmt.Sprint(w) {
					t.Errorf("line %d: %q, want %q", i+1, got, w)
				}
			}
			// Aligned: every row's second column starts where the head's does.
			col := strings.Index(lines[1], "none")
			for _, l := range lines[2:] {
				if !strings.HasPrefix(l[col:], "safe") {
					t.Errorf("misaligned row %q (head %q)", l, lines[1])
				}
			}
		})
	}
}

// TestTableTellsWorkloadsApartAndMarksSaturation: two open-loop workloads
// of one name read apart by their rate; the saturated cell's throughput
// says what it achieved of its target, and the note under the table names
// it.
func TestTableTellsWorkloadsApartAndMarksSaturation(t *testing.T) {
	var b bytes.Buffer
	printTable(&b, twoRates(), false)
	out := b.String()
	for _, re := range []string{
		`(?m)^token\s+uncontended @2000/s\s+none\s+direct\s+1000\s`,
		`(?m)^token\s+uncontended @200000/s\s+none\s+direct\s+100000\s`,
		`(?m)^redlock\s+uncontended @2000/s\s+none\s+direct\s+1050 sat 1079/2000\s+100µs\s`,
		`(?m)^redlock\s+uncontended @200000/s\s+none\s+direct\s+100000\s`,
		`(?m)^  · 002-redlock-uncontended-none-s1: open loop saturated: issued 1079 acquires/s of the 2000/s asked \(54 %\)`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("table does not match %s:\n%s", re, out)
		}
	}
	if n := strings.Count(out, " sat "); n != 1 {
		t.Errorf("%d cells marked saturated, want 1:\n%s", n, out)
	}
}
