package zoo

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/internal/testenv"
	"github.com/lockbench/lockbench/runner"
	"github.com/lockbench/lockbench/summary"
)

// TestZooQuickEntries runs three entries through the real runner on exec
// nodes: the canary is caught, the token lock is safe without faults, and
// setnx stalls after its holder crashed. Every observation must equal its
// expectation, and the run leaves zoo.json, zoo.md and summary.json.
func TestZooQuickEntries(t *testing.T) {
	testenv.NeedRedisServer(t)
	entries, err := Select(Entries(), []string{"nolock/no-fault", "token/no-fault", "setnx/holder-crash"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	rep, err := Run(ctx, entries, Options{Seed: 1, Run: runner.Options{Cluster: cluster.AutoOptions{Provider: "exec"}, Dir: dir, RunID: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != len(entries) {
		t.Fatalf("%d rows for %d entries", len(rep.Rows), len(entries))
	}
	for _, r := range rep.Rows {
		if !r.Match {
			t.Errorf("%s: observed %v, expected %v: %q", r.Entry.ID(), r.Observed, r.Entry.Expect, r.Diffs)
		}
	}
	for _, r := range rep.Rows {
		switch r.Entry.ID() {
		case "nolock/no-fault":
			if len(r.Witnesses) == 0 {
				t.Error("the canary's violation has no witness")
			}
		case "setnx/holder-crash":
			if len(r.Stalls) == 0 {
				t.Error("setnx's stall is not reported")
			}
		}
	}
	if rep.ExitCode() != 0 {
		t.Errorf("exit code %d", rep.ExitCode())
	}
	for _, f := range []string{"zoo.json", "zoo.md", "summary.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	// The canary's visualisation is named from the run directory.
	sum, err := summary.Read(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	drawn := 0
	for _, c := range sum.Cells {
		if c.Check == nil {
			continue
		}
		for _, v := range c.Check.Visualizations {
			drawn++
			if filepath.IsAbs(v.Path) {
				t.Errorf("%s: visualisation path %s is not relative to the run directory", c.ID, v.Path)
			} else if _, err := os.Stat(filepath.Join(dir, v.Path)); err != nil {
				t.Errorf("%s: %v", c.ID, err)
			}
		}
	}
	if drawn == 0 {
		t.Error("the canary's violation was not drawn")
	}
	back, err := ReadReport(filepath.Join(dir, "zoo.json"))
	if err != nil || len(back.Rows) != len(entries) || back.Matched != len(entries) {
		t.Errorf("zoo.json read back: %+v, %v", back, err)
	}
}
