package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lockbench/lockbench/internal/testenv"
)

// TestNoProgressShowsNotOK runs the command: Redlock with a 1 µs
// per-node timeout grants nothing, and summary.json, the terminal table
// and report.html must all say so instead of "ok ok ok".
func TestNoProgressShowsNotOK(t *testing.T) {
	testenv.NeedRedisServer(t)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--provider", "exec", "--locks", "redlock", "--workload", "hot-key", "--faults", "none",
		"--duration", "2s", "--node-timeout", "1us", "--out", out}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	dirs, _ := filepath.Glob(filepath.Join(out, "*"))
	if len(dirs) != 1 {
		t.Fatalf("run dirs %v", dirs)
	}
	b, err := os.ReadFile(filepath.Join(dirs[0], "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Cells []struct {
			Verdicts map[string]string `json:"verdicts"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if len(sum.Cells) != 1 || sum.Cells[0].Verdicts["progress"] != "none" {
		t.Fatalf("summary verdicts %+v, want progress none", sum.Cells)
	}
	row := regexp.MustCompile(`(?m)^redlock\s+hot-key\s+none\s.*$`).FindString(stdout.String())
	if !strings.Contains(row, "none") {
		t.Errorf("table row %q does not show progress none:\n%s", row, stdout.String())
	}
	if !strings.Contains(stdout.String(), "progress none: none of") {
		t.Errorf("table has no note saying why:\n%s", stdout.String())
	}
	html, err := os.ReadFile(filepath.Join(dirs[0], "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`class="v-no-progress"`, "1 no-progress"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if strings.Contains(string(html), "1 safe") {
		t.Error("report.html counts the cell as safe")
	}
}
