package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/lockbench/lockbench/report"
	"github.com/lockbench/lockbench/runner"
	"github.com/lockbench/lockbench/workloads"
)

// printTable prints one row per cell: throughput, acquire p50/p99/p99.9,
// handoff p50 and the three verdicts, coloured on a terminal.
func printTable(w io.Writer, sum *runner.Summary, colour bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LOCK\tWORKLOAD\tFAULT\tACQ/S\tP50\tP99\tP99.9\tHANDOFF P50\tMUTEX\tRESOURCE\tLIVENESS\t")
	for _, c := range sum.Cells {
		if c.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\t%s\t-\t-\t-\t-\t-\t%s\t\t\t\n", c.Lock, c.Workload, c.Fault, paint("error", colour))
			continue
		}
		acq, hand := c.Latency[workloads.HistAcquireOK], c.Latency[workloads.HistHandoff]
		handoff := "-"
		if hand.Count > 0 {
			handoff = report.FormatMicros(hand.P50)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", c.Lock, c.Workload, c.Fault, c.Throughput,
			report.FormatMicros(acq.P50), report.FormatMicros(acq.P99), report.FormatMicros(acq.P999), handoff,
			paint(string(c.Verdicts.Mutex), colour), paint(string(c.Verdicts.Resource), colour), paint(string(c.Verdicts.Liveness), colour))
	}
	tw.Flush()
}

// paint colours a verdict: green ok, red unsafe, yellow undecided.
func paint(v string, colour bool) string {
	if !colour || v == "" {
		return v
	}
	code := "33" // unknown, stalled, error
	switch v {
	case "ok":
		code = "32"
	case "violated", "lost-updates", "stale-writes-accepted":
		code = "31"
	}
	return "\033[" + code + "m" + v + "\033[0m"
}
