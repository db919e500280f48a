package report

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/perf/benchfmt"

	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/internal/testenv"
	"github.com/lockbench/lockbench/runner"
	"github.com/lockbench/lockbench/summary"
)

// TestRebuildSynthetic rebuilds the report of a made-up run: every plot,
// report.html and bench.txt, from summary.json and the histories alone,
// including a cell that could not run and one whose history is missing.
func TestRebuildSynthetic(t *testing.T) {
	dir, sum := syntheticRun(t)
	if err := Rebuild(dir); err != nil {
		t.Fatal(err)
	}
	checkReportDir(t, dir, sum)
	page, _ := os.ReadFile(filepath.Join(dir, HTMLFile))
	for _, want := range []string{
		// The visualisation is found under the cell, whatever path the
		// checker recorded.
		`href="cells/001-token-hot-key-crash-s1/visualizations/mutex-001-token-hot-key-crash-s1_lock_0.html"`,
		`href="cells/001-token-hot-key-crash-s1/history.jsonl"`,
		"The cell could not run: start nodes: no redis-server",
		"004-token-hot-key-crash-s1-r1: history:", // the missing history is explained
		"availability during client-crash on process 2",
		"shows 20000 of 25000 acquires",
		"<th>sample</th>", // repeats: the table tells samples apart
		// The network path, in the table and the cell, and what the
		// proxies cost in the header.
		`<td class="net-direct" title="direct: the clients connected straight to the lock nodes`,
		`<td class="net-proxied" title="proxied: the clients reached the lock nodes through the fault proxies`,
		"token under crash, hot-key, direct",
		"network: proxied: the clients reached the lock nodes through the fault proxies; its throughput and latencies carry their cost and compare only with proxied cells (idle, they took 55 % of the harness&#39;s throughput in this run)",
		"<dt>proxy cost</dt><dd>an idle fault proxy took 55 % of the harness&#39;s throughput (token, uncontended: 18720 lock cycles/s direct, 8466 proxied; median of 3 paired rounds of 100 ms)",
	} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	// The same input gives the same report.
	first, _ := os.ReadFile(filepath.Join(dir, "cells", sum.Cells[0].ID, PlotsDir, TimelinePlot+".png"))
	if err := Rebuild(dir); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(filepath.Join(dir, HTMLFile))
	if !bytes.Equal(page, again) {
		t.Error("report.html differs between two rebuilds of the same run")
	}
	second, _ := os.ReadFile(filepath.Join(dir, "cells", sum.Cells[0].ID, PlotsDir, TimelinePlot+".png"))
	if !bytes.Equal(first, second) {
		t.Error("a plot differs between two rebuilds of the same run")
	}
}

func TestRebuildNeedsASummary(t *testing.T) {
	err := Rebuild(t.TempDir())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Rebuild of an empty directory: %v, want a not-exist error", err)
	}
}

func TestWriteEmptyRun(t *testing.T) {
	dir := t.TempDir()
	sum := &summary.Summary{SchemaVersion: summary.SchemaVersion, RunID: "empty", Interrupted: true}
	if err := Write(dir, sum); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "interrupted") {
		t.Error("the report of an interrupted run with no cell does not say so")
	}
}

// TestWriteAfterRealRun runs the quick scenario with the real runner and
// writes its report, then rebuilds it from the run directory as `bench
// plot` does.
func TestWriteAfterRealRun(t *testing.T) {
	testenv.NeedRedisServer(t)
	sc, err := runner.LoadScenario("", "quick")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, err := runner.Execute(ctx, sc, runner.Options{Cluster: cluster.AutoOptions{Provider: "exec"}, Dir: dir, RunID: "test-quick"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := Write(dir, sum); err != nil {
		t.Fatal(err)
	}
	t.Logf("report of %d cells in %v", len(sum.Cells), time.Since(start))
	checkReportDir(t, dir, sum)
	checkBenchfmt(t, filepath.Join(dir, BenchFile), sum)
	unsafeCells := 0
	for i := range sum.Cells {
		if sum.Cells[i].Verdicts.Unsafe() {
			unsafeCells++
		}
	}
	if unsafeCells == 0 {
		t.Error("the quick scenario's canary was not caught: the report has no violation to show")
	}
	if err := Rebuild(dir); err != nil {
		t.Fatal(err)
	}
	again, err := summary.Read(filepath.Join(dir, SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	checkReportDir(t, dir, again)
}

// checkBenchfmt reads path with the benchfmt reader: one result per cell
// that ran, every unit declared with its direction.
func checkBenchfmt(t *testing.T, path string, sum *summary.Summary) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := benchfmt.NewReader(f, path)
	results := 0
	var units benchfmt.UnitMetadataMap
	for r.Scan() {
		switch rec := r.Result(); rec := rec.(type) {
		case *benchfmt.SyntaxError:
			t.Errorf("bench.txt: %v", rec)
		case *benchfmt.Result:
			results++
			if rec.GetConfig("pkg") != "lockbench" || rec.GetConfig("goos") != sum.Machine.OS || rec.GetConfig("cpu") != sum.Machine.CPUModel {
				t.Errorf("result %s: config %v", rec.Name, rec.Config)
			}
			base, parts := rec.Name.Parts()
			if string(base) != "Lock" || len(parts) != 5 { // lock, workload, fault, network, gomaxprocs
				t.Errorf("result name %q: base %q, parts %q", rec.Name, base, parts)
			}
			for _, unit := range []string{UnitThroughput, UnitP50, UnitP99, UnitP999, UnitViolations} {
				if _, ok := rec.Value(unit); !ok {
					t.Errorf("result %s has no %s", rec.Name, unit)
				}
			}
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	units = r.Units()
	ran := 0
	for _, c := range sum.Cells {
		if c.Error == "" {
			ran++
		}
	}
	if results != ran {
		t.Errorf("bench.txt has %d results, want %d (one per cell that ran)", results, ran)
	}
	for unit, better := range map[string]int{UnitThroughput: 1, UnitP50: -1, UnitP99: -1, UnitP999: -1, UnitHandoffP50: -1, UnitViolations: -1} {
		if got := units.GetBetter(unit); got != better {
			t.Errorf("unit %s: better %d, want %d", unit, got, better)
		}
	}
}

func TestBenchfmtSynthetic(t *testing.T) {
	dir, sum := syntheticRun(t)
	var b bytes.Buffer
	if err := WriteBenchfmt(&b, sum); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, BenchFile)
	os.WriteFile(path, b.Bytes(), 0o644)
	checkBenchfmt(t, path, sum)
	// Samples of one cell share one name, so benchstat sees them as
	// samples of one benchmark.
	want := "BenchmarkLock/lock=token/workload=hot-key/fault=crash/network=direct-2 45 27.3 acq/s 200 p50-µs 900 p99-µs 1200 p99.9-µs 100 handoff-p50-µs 3 violations\n"
	if strings.Count(b.String(), "BenchmarkLock/lock=token/workload=hot-key/fault=crash/network=direct-2 ") != 2 || !strings.Contains(b.String(), want) {
		t.Errorf("bench.txt:\n%s\nwant twice the token line, once as\n%s", b.String(), want)
	}
}
