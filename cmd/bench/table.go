package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/lockbench/lockbench/checker"
	"github.com/lockbench/lockbench/report"
	"github.com/lockbench/lockbench/summary"
)

// printTable prints one row per cell: how its clients reached the lock
// nodes (NET: direct, or proxied for a network fault), throughput, acquire
// p50/p99/p99.9, handoff p50, the four verdicts and the harness's health,
// coloured on a terminal. A cell whose harness was starved has its figures
// in brackets: they are the machine's, not the lock's. The notes under the
// table say why a cell made no or degraded progress, or had its harness
// starved, and what the proxies cost the proxied cells' figures.
func printTable(w io.Writer, sum *summary.Summary, colour bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LOCK\tWORKLOAD\tFAULT\tNET\tACQ/S\tP50\tP99\tP99.9\tHANDOFF P50\tMUTEX\tRESOURCE\tLIVENESS\tPROGRESS\tHARNESS\t")
	var notes []string
	for i := range sum.Cells {
		c := &sum.Cells[i]
		if c.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t-\t-\t-\t-\t-\t%s\t\t\t\t\t\n", c.Lock, c.Workload, c.Fault, c.NetworkPath(), paint("error", doubtful, colour))
			continue
		}
		acq, hand := c.Latency[summary.HistAcquireOK], c.Latency[summary.HistHandoff]
		handoff := "-"
		if hand.Count > 0 {
			handoff = report.FormatMicros(hand.P50)
		}
		nums := []string{fmt.Sprintf("%.0f", c.Throughput), report.FormatMicros(acq.P50), report.FormatMicros(acq.P99), report.FormatMicros(acq.P999), handoff}
		harness, harnessTone := "-", plain
		if c.Harness != nil {
			harness, harnessTone = "ok", good
			if c.Overloaded() {
				harness, harnessTone = "overloaded", doubtful
				for i, n := range nums {
					nums[i] = "(" + n + ")"
				}
			}
		}
		v := c.Verdicts
		switch {
		case v.Progress != "" && v.Progress != checker.ProgressOK:
			// The progress note names a starved harness too.
			notes = append(notes, fmt.Sprintf("%s: progress %s: %s", c.ID, v.Progress, c.Notes.Progress))
		case c.Overloaded():
			notes = append(notes, fmt.Sprintf("%s: %s", c.ID, c.Harness.Note))
		}
		mutex, resource, liveness, progress := verdictTones(v)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", c.Lock, c.Workload, c.Fault, c.NetworkPath(),
			nums[0], nums[1], nums[2], nums[3], nums[4],
			paint(string(v.Mutex), mutex, colour), paint(string(v.Resource), resource, colour), paint(string(v.Liveness), liveness, colour),
			paint(string(v.Progress), progress, colour), paint(harness, harnessTone, colour))
	}
	tw.Flush()
	for _, n := range notes {
		fmt.Fprintln(w, "  · "+n)
	}
	if line := report.ProxyCostLine(sum); line != "" {
		fmt.Fprintln(w, "  · "+line)
	}
}

// tone is how a verdict reads on a terminal.
type tone int

const (
	// plain: not assessed (liveness n/a, no harness figures).
	plain tone = iota
	// good: ok.
	good
	// doubtful: undecided, stalled, degraded, overloaded, or the cell
	// could not run.
	doubtful
	// bad: a safety violation, or no progress at all.
	bad
)

// verdictTones reads a cell's four verdicts. Safety reads through
// checker.Unsafe, the predicate the cell's class and bench check use.
func verdictTones(v summary.Verdicts) (mutex, resource, liveness, progress tone) {
	mutex, resource, liveness, progress = doubtful, good, doubtful, doubtful
	switch {
	case checker.Unsafe(v.Mutex, ""):
		mutex = bad
	case v.Mutex == checker.MutexOK:
		mutex = good
	}
	switch {
	case v.Resource == "":
		resource = plain
	case checker.Unsafe("", v.Resource):
		resource = bad
	}
	switch v.Liveness {
	case checker.LivenessOK:
		liveness = good
	case "", checker.LivenessNA:
		liveness = plain
	}
	switch v.Progress {
	case checker.ProgressOK:
		progress = good
	case checker.ProgressNone:
		progress = bad
	case "":
		progress = plain
	}
	return mutex, resource, liveness, progress
}

// paint colours v by its tone on a terminal: green good, red bad, yellow
// doubtful; plain stays plain.
func paint(v string, t tone, colour bool) string {
	code := map[tone]string{good: "32", doubtful: "33", bad: "31"}[t]
	if !colour || code == "" || v == "" {
		return v
	}
	return "\033[" + code + "m" + v + "\033[0m"
}
