package zoo

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lockbench/lockbench/checker"
	"github.com/lockbench/lockbench/clients/python"
	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/history"
	"github.com/lockbench/lockbench/runner"
	"github.com/lockbench/lockbench/summary"
)

// Row is one entry of a zoo run: what was expected, what was observed,
// whether they match, and the evidence.
type Row struct {
	Entry Entry `json:"entry"`
	// CellID names the cell in summary.json and results/<run-id>/cells/.
	CellID string `json:"cell_id"`
	// Seed reproduces the cell: bench zoo --seed N --only lock/scenario.
	Seed     uint64      `json:"seed"`
	Observed Observation `json:"observed"`
	// Match is true when every expected property was observed; Diffs say
	// what differed otherwise.
	Match bool     `json:"match"`
	Diffs []string `json:"diffs,omitempty"`
	// Witnesses are the checker's witnesses (every violation), Stalls its
	// stalls.
	Witnesses []checker.Witness `json:"witnesses"`
	Stalls    []checker.Stall   `json:"stalls"`
	ElapsedMs float64           `json:"elapsed_ms"`
}

// Report is a zoo run: zoo.json, and the matrix of zoo.md.
type Report struct {
	RunID     string    `json:"run_id"`
	Seed      uint64    `json:"seed"`
	Quick     bool      `json:"quick,omitempty"`
	Started   time.Time `json:"started"`
	ElapsedMs float64   `json:"elapsed_ms"`
	Provider  string    `json:"provider,omitempty"`
	Rows      []Row     `json:"rows"`
	// Matched, Differed and Errored count the rows: observed as
	// expected, observed otherwise, and cells that could not run or
	// could not be decided (mutex unknown).
	Matched  int `json:"matched"`
	Differed int `json:"differed"`
	Errored  int `json:"errored"`
}

// Options configure a zoo run.
type Options struct {
	// Run is how cells run: provider, results dir, run id, progress.
	Run runner.Options
	// Seed seeds every cell's fault timeline and workload.
	Seed uint64
	// Quick marks the report as a --quick run (the caller picks the
	// entries, e.g. with QuickEntries).
	Quick bool
}

// QuickEntries is the subset of entries `bench zoo --quick` runs: one
// strategy per literature claim, sized to finish within a few minutes.
func QuickEntries(entries []Entry) []Entry {
	var out []Entry
	for _, e := range entries {
		if e.Quick {
			out = append(out, e)
		}
	}
	return out
}

// Select keeps the entries whose ID (lock/scenario) is in ids, in table
// order; an ID matching no entry is an error wrapping runner.ErrBadScenario.
func Select(entries []Entry, ids []string) ([]Entry, error) {
	var out []Entry
	for _, id := range ids {
		if !slices.ContainsFunc(entries, func(e Entry) bool { return e.ID() == id }) {
			known := make([]string, len(entries))
			for i, e := range entries {
				known[i] = e.ID()
			}
			return nil, fmt.Errorf("no zoo entry %q (known: %s): %w", id, strings.Join(known, ", "), runner.ErrBadScenario)
		}
	}
	for _, e := range entries {
		if slices.Contains(ids, e.ID()) {
			out = append(out, e)
		}
	}
	return out, nil
}

// Cells builds one cell per entry, all with seed.
func Cells(entries []Entry, seed uint64) []runner.Cell {
	cells := make([]runner.Cell, len(entries))
	for i, e := range entries {
		w := e.Workload
		w.Seed = seed
		cells[i] = runner.Cell{
			ID:   fmt.Sprintf("%02d-%s-%s-s%d", i+1, e.Lock, e.Scenario, seed),
			Lock: e.Lock, Workload: w, Fault: e.Fault, Seed: seed, StallBound: e.StallBound, Topology: e.Topology,
		}
	}
	return cells
}

// Scenario is the scenario a zoo run records: every lock, fault and
// workload of entries, on five lock nodes.
func Scenario(entries []Entry, seed uint64) runner.Scenario {
	sc := runner.Scenario{Name: "zoo", Description: "bench zoo: every known lock failure, expected against observed", Nodes: 5, Seeds: []uint64{seed}}
	// The reference Python clients, as a checkout runs them; Run installs
	// them and runs them from there.
	for _, c := range python.Clients() {
		if slices.ContainsFunc(entries, func(e Entry) bool { return e.Lock == c.Name }) {
			sc.LockClients = append(sc.LockClients, runner.LockClient{Name: c.Name, Command: []string{"python3", "clients/python/" + c.File}, Release: c.Release})
		}
	}
	for _, e := range entries {
		if !slices.Contains(sc.Locks, e.Lock) {
			sc.Locks = append(sc.Locks, e.Lock)
		}
		if !slices.Contains(sc.Faults, e.Fault) {
			sc.Faults = append(sc.Faults, e.Fault)
		}
		if t := cmp.Or(e.Topology, string(cluster.TopoStandalone)); !slices.Contains(sc.Topologies, t) {
			sc.Topologies = append(sc.Topologies, t)
		}
		if !slices.ContainsFunc(sc.Workloads, func(w runner.WorkloadRef) bool { return w.Spec.Name == e.Workload.Name }) {
			sc.Workloads = append(sc.Workloads, runner.WorkloadRef{Spec: e.Workload})
		}
	}
	return sc
}

// Run runs entries, one cell each, compares every observation with its
// expectation, and writes summary.json (the cells), zoo.json and zoo.md
// (the matrix) into o.Run.Dir. The report is returned with every cell that
// ran, also when ctx ended early (the error then says so).
func Run(ctx context.Context, entries []Entry, o Options) (*Report, error) {
	if len(entries) == 0 {
		return nil, fmt.Errorf("no zoo entries to run: %w", runner.ErrBadScenario)
	}
	started := time.Now()
	sc := Scenario(entries, o.Seed)
	if len(sc.LockClients) > 0 {
		// A temp dir, not the run's: a zoo interrupted before it starts
		// writes nothing into results/.
		dir, err := os.MkdirTemp("", "lockbench-clients-")
		if err != nil {
			return nil, fmt.Errorf("install the Python clients: %w", err)
		}
		defer os.RemoveAll(dir)
		if err := installClients(&sc, dir); err != nil {
			return nil, err
		}
	}
	sum, runErr := runner.ExecuteCells(ctx, sc, Cells(entries, o.Seed), o.Run)
	if sum == nil {
		return nil, runErr
	}
	rep := &Report{RunID: o.Run.RunID, Seed: o.Seed, Quick: o.Quick, Started: started, Provider: sum.Provider}
	for i, res := range sum.Cells {
		rep.Rows = append(rep.Rows, zooRow(entries[i], &res, o.Run.Dir))
	}
	rep.count()
	rep.ElapsedMs = float64(time.Since(started).Microseconds()) / 1000
	if err := rep.write(o.Run.Dir); err != nil {
		return rep, errors.Join(runErr, err)
	}
	return rep, runErr
}

// installClients writes the reference Python clients into dir and points
// the scenario's lock clients at them, so that the zoo runs them from
// wherever it is started.
func installClients(sc *runner.Scenario, dir string) error {
	if len(sc.LockClients) == 0 {
		return nil
	}
	commands, err := python.Install(dir)
	if err != nil {
		return err
	}
	for i := range sc.LockClients {
		sc.LockClients[i].Command = commands[sc.LockClients[i].Name]
	}
	return nil
}

// zooRow compares one cell with its entry. dir is the run's directory,
// where the cell's history is.
func zooRow(e Entry, res *summary.CellResult, dir string) Row {
	row := Row{Entry: e, CellID: res.ID, Seed: res.Seed, ElapsedMs: res.ElapsedMs,
		Witnesses: res.Witnesses, Stalls: []checker.Stall{}}
	if row.Witnesses == nil {
		row.Witnesses = []checker.Witness{}
	}
	switch {
	case res.Error != "":
		row.Observed = Observation{Error: res.Error}
	case res.Check == nil:
		row.Observed = Observation{Error: "no checker result"}
	default:
		var avail *float64
		if e.Expect.Availability != "" {
			events, err := history.ReadFile(filepath.Join(dir, res.History))
			if err != nil {
				row.Observed = Observation{Error: fmt.Sprintf("read history: %v", err)}
				break
			}
			avail = FaultAvailability(events, res.Check.Availability, AvailabilityGrace)
		}
		row.Observed = observe(res.Check, avail)
		row.Observed.HarnessOverloaded = res.Overloaded()
		row.Stalls = res.Check.Stalls
	}
	row.Diffs = e.Expect.Match(row.Observed)
	row.Match = len(row.Diffs) == 0
	return row
}

// FaultAvailability is the share of the fault windows' 1 s buckets that saw
// a successful acquire, each window trimmed by grace at both ends (buckets
// from the trimmed start; a partial last one counts). Windows no longer
// than 2×grace are left out; nil when none is left. events are the cell's
// history; windows are the checker's.
func FaultAvailability(events []history.Event, windows []checker.WindowAvailability, grace time.Duration) *float64 {
	var oks []int64
	for i := range events {
		if e := &events[i]; e.Type == history.OK && e.Op == history.Acquire {
			oks = append(oks, e.Time)
		}
	}
	slices.Sort(oks)
	var buckets, hit int
	for _, w := range windows {
		from := int64(w.StartMs*1e6) + int64(grace)
		to := int64(w.EndMs*1e6) - int64(grace)
		for s := from; s < to; s += int64(time.Second) {
			e := min(s+int64(time.Second), to)
			buckets++
			i, _ := slices.BinarySearch(oks, s)
			if i < len(oks) && oks[i] < e {
				hit++
			}
		}
	}
	if buckets == 0 {
		return nil
	}
	share := float64(hit) / float64(buckets)
	return &share
}

// count sorts the rows into Matched, Differed and Errored. A row that
// differs on a cell whose harness was starved is not judged (Errored):
// its figures are the machine's, and a starved harness can make a holder
// outlive its lease by itself.
func (r *Report) count() {
	r.Matched, r.Differed, r.Errored = 0, 0, 0
	for _, row := range r.Rows {
		switch {
		case row.Observed.Error != "" || row.Observed.Safety == SafetyUnknown:
			r.Errored++
		case row.Match:
			r.Matched++
		case row.Observed.HarnessOverloaded:
			r.Errored++
		default:
			r.Differed++
		}
	}
}

// ExitCode is bench zoo's exit status: 0 every observation equals its
// expectation, 1 some observation differs, 2 none differs but a cell could
// not run or be decided.
func (r *Report) ExitCode() int {
	switch {
	case r.Differed > 0:
		return 1
	case r.Errored > 0:
		return 2
	default:
		return 0
	}
}

// WriteText writes the matrix for a terminal or a README: one row per
// entry (lock, scenario, expected, observed, ✓ or ✗, source), then the
// witness of every violation, the stalls, the differences, and a total.
func (r *Report) WriteText(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LOCK\tSCENARIO\tEXPECTED\tOBSERVED\t\tSOURCE")
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", row.Entry.Lock, row.Entry.Scenario, row.Entry.Expect, row.Observed, mark(row.Match), row.Entry.Source)
	}
	tw.Flush()
	r.writeEvidence(w, "")
	fmt.Fprintf(w, "\n%s\n", r.total())
}

// total is the closing line: how many matched, the seed and the time.
func (r *Report) total() string {
	s := fmt.Sprintf("%d of %d observations equal their expectation", r.Matched, len(r.Rows))
	if r.Differed > 0 {
		s += fmt.Sprintf(", %d differ", r.Differed)
	}
	if r.Errored > 0 {
		s += fmt.Sprintf(", %d could not be decided", r.Errored)
	}
	kind := "full"
	if r.Quick {
		kind = "quick"
	}
	return s + fmt.Sprintf(" (%s zoo, seed %d, %s)", kind, r.Seed, (time.Duration(r.ElapsedMs*1e6)).Round(time.Second))
}

// writeEvidence writes every violation's witness, the stalls and the
// differences; prefix starts each list line (markdown: "- ").
func (r *Report) writeEvidence(w io.Writer, prefix string) {
	var witnesses, stalls, diffs []string
	for _, row := range r.Rows {
		id := row.Entry.ID()
		for _, wi := range row.Witnesses {
			witnesses = append(witnesses, fmt.Sprintf("%s%s: %s", prefix, id, wi.Explanation))
		}
		for _, s := range row.Stalls {
			stalls = append(stalls, fmt.Sprintf("%s%s: nobody acquired %s from %.0f ms to %.0f ms (%.0f ms, bound %s) while clients tried, no fault was active and nobody held it",
				prefix, id, s.Key, s.StartMs, s.EndMs, s.EndMs-s.StartMs, row.Entry.stallBound()))
		}
		for _, d := range row.Diffs {
			if row.Observed.HarnessOverloaded {
				d += " (the harness was starved in this cell: not judged)"
			}
			diffs = append(diffs, fmt.Sprintf("%s%s (cell %s, seed %d): %s", prefix, id, row.CellID, row.Seed, d))
		}
	}
	for _, part := range []struct {
		title string
		lines []string
	}{
		{"witnesses (every violation):", witnesses},
		{"stalls:", stalls},
		{"differences from the expectation:", diffs},
	} {
		if len(part.lines) == 0 {
			continue
		}
		if prefix == "" {
			fmt.Fprintf(w, "\n%s\n", part.title)
			for i, l := range part.lines {
				part.lines[i] = "  " + l
			}
		} else {
			fmt.Fprintf(w, "\n**%s**\n\n", strings.TrimSuffix(part.title, ":"))
		}
		fmt.Fprintln(w, strings.Join(part.lines, "\n"))
	}
}

// stallBound names the entry's stall bound.
func (e Entry) stallBound() string {
	if e.StallBound == 0 {
		return "the checker's default"
	}
	return e.StallBound.String()
}

// mark is ✓ for a match and ✗ otherwise.
func mark(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}

// WriteMarkdown writes the matrix as a markdown table (zoo.md, the README
// section), then the evidence.
func (r *Report) WriteMarkdown(w io.Writer) {
	fmt.Fprintln(w, "| lock | scenario | expected | observed | | source |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	for _, row := range r.Rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", row.Entry.Lock, row.Entry.Scenario, cell(row.Entry.Expect.String()),
			cell(row.Observed.String()), mark(row.Match), cell(row.Entry.Source))
	}
	r.writeEvidence(w, "- ")
	fmt.Fprintf(w, "\n%s\n", r.total())
}

// WriteDoc writes the matrix as the project's docs/zoo.md (bench zoo
// --doc): a title, where the figures come from, the table and its
// evidence.
func (r *Report) WriteDoc(w io.Writer) {
	kind := "full"
	if r.Quick {
		kind = "quick"
	}
	fmt.Fprintf(w, "# The detection matrix\n\nWritten by `bench zoo --doc docs/zoo.md` from a %s run (seed %d, %s provider, %d entries, %s, run %s). "+
		"`bench zoo` writes the same table to `results/<run-id>/zoo.md` each time it runs; "+
		"[design.md §8](design.md#the-detection-matrix-bench-zoo) explains the columns.\n\n",
		kind, r.Seed, r.Provider, len(r.Rows), r.Started.UTC().Format("2006-01-02"), r.RunID)
	r.WriteMarkdown(w)
}

// write saves zoo.json and zoo.md into dir.
func (r *Report) write(dir string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode zoo report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "zoo.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write zoo report: %w", err)
	}
	var md strings.Builder
	fmt.Fprintf(&md, "# Detection matrix (bench zoo), run %s\n\n", r.RunID)
	r.WriteMarkdown(&md)
	if err := os.WriteFile(filepath.Join(dir, "zoo.md"), []byte(md.String()), 0o644); err != nil {
		return fmt.Errorf("write zoo report: %w", err)
	}
	return nil
}

// ReadReport reads a zoo.json (for the report).
func ReadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}
