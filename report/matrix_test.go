package report

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lockbench/lockbench/checker"
	"github.com/lockbench/lockbench/summary"
)

// matrixSummary is a run of two locks × two faults × two open-loop
// workloads of one name (2 000/s and 200 000/s), cells in the order bench
// run takes them: token is unsafe under partition-minority at 200 000/s,
// redlock makes no progress under it at 2 000/s, and redlock's fault-free
// cell at 2 000/s fell behind its rate. faults names the faults run.
func matrixSummary(faults ...string) *summary.Summary {
	safe := summary.Verdicts{Mutex: checker.MutexOK, Resource: checker.ResourceOK, Liveness: checker.LivenessOK, Progress: checker.ProgressOK}
	sum := &summary.Summary{SchemaVersion: summary.SchemaVersion, RunID: "matrix", Scenario: summary.Scenario{Name: "two-rates", Seeds: []uint64{1}}}
	for _, fault := range faults {
		for _, rate := range []float64{2000, 200000} {
			for _, lock := range []string{"token", "redlock"} {
				spec := summary.Spec{Name: "uncontended", Clients: 4, Groups: 1, Keys: summary.Keys{Kind: "per-client"}, TTL: time.Second, Duration: 2 * time.Second, Rate: rate, Seed: 1}
				c := summary.CellResult{
					ID:   fmt.Sprintf("%03d-%s-uncontended-%s-s1", len(sum.Cells)+1, lock, fault),
					Lock: lock, Workload: "uncontended", Fault: fault, Seed: 1, Network: summary.NetworkDirect,
					Verdicts: safe, Spec: spec, Throughput: rate / 2, AchievedRate: rate,
					Latency: map[string]summary.Percentiles{summary.HistAcquireOK: {Count: 100, P50: 100, P99: int64(rate / 100), P999: 5000}},
				}
				switch {
				case lock == "token" && fault != noFault && rate == 200000:
					c.Verdicts.Mutex = checker.MutexViolated
				case lock == "redlock" && fault != noFault && rate == 2000:
					c.Verdicts.Progress = checker.ProgressNone
				case lock == "redlock" && fault == noFault && rate == 2000:
					c.Saturated, c.AchievedRate, c.Throughput = true, 1079, 1050
				}
				sum.Cells = append(sum.Cells, c)
			}
		}
	}
	return sum
}

// TestMatrix: rows are the locks, columns the faults, both in run order;
// each entry is the worst class over the workloads with n/m when not all
// cells read so, and its first cell of that class; the figures without
// fault stand per workload, told apart by their rates, the saturated one
// marked; a run without a fault-free cell has none.
func TestMatrix(t *testing.T) {
	for _, tc := range []struct {
		name     string
		faults   []string
		entries  [][]string // [lock][fault]
		first    [][]string // the entries' first cells
		baseline [][]string // [lock][workload]: throughput, p99
	}{
		{"with none", []string{"none", "partition-minority"},
			[][]string{{"safe", "unsafe 1/2"}, {"safe", "no-progress 1/2"}},
			[][]string{{"001-token-uncontended-none-s1", "007-token-uncontended-partition-minority-s1"}, {"002-redlock-uncontended-none-s1", "006-redlock-uncontended-partition-minority-s1"}},
			[][]string{{"1000", "20µs", "100000", "2.0ms"}, {"1050 sat 1079/2000", "20µs", "100000", "2.0ms"}}},
		{"without none", []string{"partition-minority", "kill"},
			[][]string{{"unsafe 1/2", "unsafe 1/2"}, {"no-progress 1/2", "no-progress 1/2"}},
			[][]string{{"003-token-uncontended-partition-minority-s1", "007-token-uncontended-kill-s1"}, {"002-redlock-uncontended-partition-minority-s1", "006-redlock-uncontended-kill-s1"}},
			nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMatrix(matrixSummary(tc.faults...))
			if !slices.Equal(m.Locks, []string{"token", "redlock"}) || !slices.Equal(m.Faults, tc.faults) {
				t.Errorf("rows %v, columns %v", m.Locks, m.Faults)
			}
			if want := []string{"uncontended @2000/s", "uncontended @200000/s"}; !slices.Equal(m.Workloads, want) {
				t.Errorf("workloads %q, want %q", m.Workloads, want)
			}
			for i := range m.Locks {
				for j := range m.Faults {
					e := m.Entries[i][j]
					if e.String() != tc.entries[i][j] || len(e.Cells) != 2 {
						t.Errorf("%s under %s: %q of %d cells, want %q of 2", m.Locks[i], m.Faults[j], e, len(e.Cells), tc.entries[i][j])
					}
					if f := e.First(); f == nil || f.ID != tc.first[i][j] {
						t.Errorf("%s under %s: first cell %v, want %s", m.Locks[i], m.Faults[j], f, tc.first[i][j])
					}
				}
			}
			if tc.baseline == nil {
				if m.Baseline != nil {
					t.Errorf("a run without a fault-free cell has figures without fault: %v", m.Baseline)
				}
				return
			}
			for i := range m.Locks {
				var got []string
				for _, b := range m.Baseline[i] {
					got = append(got, b.ThroughputText(), b.P99Text())
				}
				if !slices.Equal(got, tc.baseline[i]) {
					t.Errorf("%s without fault: %q, want %q", m.Locks[i], got, tc.baseline[i])
				}
			}
		})
	}
}

// TestMatrixEntryString: the class alone when every cell reads so, n/m
// otherwise, "-" for an entry the run did not reach.
func TestMatrixEntryString(t *testing.T) {
	cells := make([]*summary.CellResult, 3)
	for _, tc := range []struct {
		e    MatrixEntry
		want string
	}{
		{MatrixEntry{Class: summary.ClassSafe, Count: 3, Cells: cells}, "safe"},
		{MatrixEntry{Class: summary.ClassUnsafe, Count: 1, Cells: cells[:2]}, "unsafe 1/2"},
		{MatrixEntry{Class: summary.ClassOverloaded, Count: 2, Cells: cells}, "harness-overloaded 2/3"},
		{MatrixEntry{}, "-"},
	} {
		if got := tc.e.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.e, got, tc.want)
		}
	}
}

// TestReportOpensWithTheMatrix: report.html shows the matrix before the
// charts, each entry coloured by its class and linking to the cell to read
// first (the witnesses of an unsafe one), with a target that exists; the
// two workloads read apart wherever they are named; the saturated cell is
// marked in the table and named in the note under it.
func TestReportOpensWithTheMatrix(t *testing.T) {
	dir := t.TempDir()
	sum := matrixSummary("none", "partition-minority")
	if err := Write(dir, sum); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	at, comparison := strings.Index(page, `id="verdict-matrix"`), strings.Index(page, `id="comparison"`)
	if at < 0 || comparison < 0 || at > comparison {
		t.Fatalf("the matrix (at %d) does not come before the charts (at %d)", at, comparison)
	}
	matrix := page[at : strings.Index(page[at:], "</table>")+at]
	var rows [][]string
	for _, tr := range regexp.MustCompile(`(?s)<tr><th class="lock">(\w+)</th>(.*?)</tr>`).FindAllStringSubmatch(matrix, -1) {
		row := []string{tr[1]}
		for _, td := range regexp.MustCompile(`<td class="([^"]*)"[^>]*>(?:<a href="([^"]*)">)?([^<]*)`).FindAllStringSubmatch(tr[2], -1) {
			row = append(row, td[1]+"|"+td[2]+"|"+td[3])
		}
		rows = append(rows, row)
	}
	want := [][]string{
		{"token", "v-safe|#cell-001-token-uncontended-none-s1|safe", "v-unsafe|#unsafe-007-token-uncontended-partition-minority-s1|unsafe 1/2",
			"num||1000", "num||20µs", "num||100000", "num||2.0ms"},
		{"redlock", "v-safe|#cell-002-redlock-uncontended-none-s1|safe", "v-no-progress|#cell-006-redlock-uncontended-partition-minority-s1|no-progress 1/2",
			"num sat||1050 sat 1079/2000", "num sat||20µs", "num||100000", "num||2.0ms"},
	}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("matrix rows\n got %q\nwant %q", rows, want)
	}
	for _, h := range []string{"<th>none</th><th>partition-minority</th>", "without fault: uncontended @2000/s", "without fault: uncontended @200000/s"} {
		if !strings.Contains(matrix, h) {
			t.Errorf("the matrix's head lacks %q", h)
		}
	}
	for _, ref := range regexp.MustCompile(`href="#([^"]+)"`).FindAllStringSubmatch(matrix, -1) {
		if !strings.Contains(page, `id="`+ref[1]+`"`) {
			t.Errorf("the matrix links to #%s, which the page lacks", ref[1])
		}
	}
	if !regexp.MustCompile(`<tr id="row-002-redlock-uncontended-none-s1">[^\n]*<td class="num sat" title="[^"]*">1050 sat 1079/2000</td>`).MatchString(page) {
		t.Error("the verdict table does not mark the saturated cell's throughput")
	}
	for _, w := range []string{
		`<td>uncontended @2000/s</td>`, `<td>uncontended @200000/s</td>`,
		"token under partition-minority, uncontended @200000/s, direct",
		`title="002-redlock-uncontended-none-s1: open loop saturated: issued 1079 acquires/s of the 2000/s asked (54 %)`,
		`<li class="note">002-redlock-uncontended-none-s1: open loop saturated: issued 1079 acquires/s of the 2000/s asked`,
	} {
		if !strings.Contains(page, w) {
			t.Errorf("report.html lacks %q", w)
		}
	}
}
