package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/lockbench/lockbench/checker"
	"github.com/lockbench/lockbench/report"
	"github.com/lockbench/lockbench/summary"
)

// printMatrix prints the run's answer first: the strategy × fault matrix
// (report.Matrix), each entry the worst class of its cells and how many of
// them read so when not all do, coloured by class on a terminal; beside
// each strategy its throughput and acquire p99 without fault, per
// workload. Columns are padded before they are painted, so that colour
// codes do not skew them.
func printMatrix(w io.Writer, sum *summary.Summary, colour bool) {
	m := report.NewMatrix(sum)
	head := []string{"LOCK"}
	head = append(head, m.Faults...)
	if m.Baseline != nil {
		for _, wl := range m.Workloads {
			acq := "ACQ/S"
			if len(m.Workloads) > 1 {
				acq += " " + wl
			}
			head = append(head, acq, "P99")
		}
	}
	rows := [][]string{head}
	tones := [][]tone{make([]tone, len(head))}
	for i, lock := range m.Locks {
		row, rt := []string{lock}, []tone{plain}
		for _, e := range m.Entries[i] {
			row, rt = append(row, e.String()), append(rt, classTone(e))
		}
		if m.Baseline != nil {
			for _, b := range m.Baseline[i] {
				row, rt = append(row, b.ThroughputText(), b.P99Text()), append(rt, plain, plain)
			}
		}
		rows, tones = append(rows, row), append(tones, rt)
	}
	fmt.Fprintln(w, "Which lock, under which fault: "+m.Caption()+":")
	writeAligned(w, rows, tones, colour)
}

// classTone is how a matrix entry reads on a terminal: red for a
// violation or no progress at all, green for safe, yellow for the rest;
// plain for an entry without cells.
func classTone(e report.MatrixEntry) tone {
	switch {
	case len(e.Cells) == 0:
		return plain
	case e.Class == summary.ClassSafe:
		return good
	case e.Class == summary.ClassUnsafe, e.Class == summary.ClassNoProgress:
		return bad
	}
	return doubtful
}

// writeAligned writes rows in columns two spaces apart, each cell padded
// to its column's width and then painted by its tone.
func writeAligned(w io.Writer, rows [][]string, tones [][]tone, colour bool) {
	var widths []int
	for _, row := range rows {
		for j, x := range row {
			if j >= len(widths) {
				widths = append(widths, 0)
			}
			widths[j] = max(widths[j], utf8.RuneCountInString(x))
		}
	}
	for i, row := range rows {
		var b strings.Builder
		for j, x := range row {
			pad := widths[j] - utf8.RuneCountInString(x)
			if j == len(row)-1 {
				pad = 0
			} else {
				pad += 2
			}
			b.WriteString(paint(x, tones[i][j], colour) + strings.Repeat(" ", pad))
		}
		fmt.Fprintln(w, b.String())
	}
}

// printTable prints one row per cell: its workload's label (which tells
// workloads of one name apart), how its clients reached the lock nodes
// (NET: direct, or proxied for a network fault), throughput, acquire
// p50/p99/p99.9, handoff p50, the four verdicts and the harness's health,
// coloured on a terminal. A cell whose harness was starved has its figures
// in brackets: they are the machine's, not the lock's; a saturated
// open-loop cell's throughput carries "sat achieved/target". The notes
// under the table say why a cell made no or degraded progress, had its
// harness starved or fell behind its rate, and what the proxies cost the
// proxied cells' figures.
func printTable(w io.Writer, sum *summary.Summary, colour bool) {
	labels := summary.NewWorkloadLabels(sum.Cells)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LOCK\tWORKLOAD\tFAULT\tNET\tACQ/S\tP50\tP99\tP99.9\tHANDOFF P50\tMUTEX\tRESOURCE\tLIVENESS\tPROGRESS\tHARNESS\t")
	var notes []string
	for i := range sum.Cells {
		c := &sum.Cells[i]
		if c.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t-\t-\t-\t-\t-\t%s\t\t\t\t\t\n", c.Strategy(), labels.Of(c), c.Fault, c.NetworkPath(), paint("error", doubtful, colour))
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
		nums[0] += report.SaturationMark(c)
		if n := report.SaturationNote(c); n != "" {
			notes = append(notes, n)
		}
		v := c.Verdicts
		switch {
		case v.Progress != "" && v.Progress != checker.ProgressOK:
			// The progress note names a starved harness too.
			notes = append(notes, fmt.Sprintf("%s: progress %s: %s", c.ID, v.Progress, c.Notes.Progress))
		case c.Overloaded():
			notes = append(notes, fmt.Sprintf("%s: %s", c.ID, c.Harness.Note))
		}
		if n := report.AgentsNote(c); n != "" {
			notes = append(notes, n)
		}
		mutex, resource, liveness, progress := verdictTones(v)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", c.Strategy(), labels.Of(c), c.Fault, c.NetworkPath(),
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
