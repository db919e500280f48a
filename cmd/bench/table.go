package main

import (
	"fmt"
	"io"
	"text/tabwriter"

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
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t-\t-\t-\t-\t-\t%s\t\t\t\t\t\n", c.Lock, c.Workload, c.Fault, c.NetworkPath(), paint("error", colour))
			continue
		}
		acq, hand := c.Latency[summary.HistAcquireOK], c.Latency[summary.HistHandoff]
		handoff := "-"
		if hand.Count > 0 {
			handoff = report.FormatMicros(hand.P50)
		}
		nums := []string{fmt.Sprintf("%.0f", c.Throughput), report.FormatMicros(acq.P50), report.FormatMicros(acq.P99), report.FormatMicros(acq.P999), handoff}
		harness := "-"
		if c.Harness != nil {
			harness = "ok"
			if c.Harness.Overloaded {
				harness = "overloaded"
				for i, n := range nums {
					nums[i] = "(" + n + ")"
				}
			}
		}
		switch {
		case c.Verdicts.Progress != "" && c.Verdicts.Progress != "ok":
			// The progress note names a starved harness too.
			notes = append(notes, fmt.Sprintf("%s: progress %s: %s", c.ID, c.Verdicts.Progress, c.Notes.Progress))
		case c.Harness != nil && c.Harness.Overloaded:
			notes = append(notes, fmt.Sprintf("%s: %s", c.ID, c.Harness.Note))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", c.Lock, c.Workload, c.Fault, c.NetworkPath(),
			nums[0], nums[1], nums[2], nums[3], nums[4],
			paint(string(c.Verdicts.Mutex), colour), paint(string(c.Verdicts.Resource), colour), paint(string(c.Verdicts.Liveness), colour),
			paint(string(c.Verdicts.Progress), colour), paint(harness, colour))
	}
	tw.Flush()
	for _, n := range notes {
		fmt.Fprintln(w, "  · "+n)
	}
	if line := report.ProxyCostLine(sum); line != "" {
		fmt.Fprintln(w, "  · "+line)
	}
}

// paint colours a verdict: green ok, red unsafe or no progress, yellow
// undecided, degraded or overloaded; not assessed stays plain.
func paint(v string, colour bool) string {
	if !colour || v == "" || v == "n/a" || v == "-" {
		return v
	}
	code := "33" // unknown, stalled, degraded, overloaded, error
	switch v {
	case "ok":
		code = "32"
	case "violated", "lost-updates", "stale-writes-accepted", "none":
		code = "31"
	}
	return "\033[" + code + "m" + v + "\033[0m"
}
