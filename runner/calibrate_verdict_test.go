package runner

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/internal/testenv"
)

func TestJudgeTarget(t *testing.T) {
	quiet := []float64{0, 0, 0, 0, 0}
	for _, tc := range []struct {
		name   string
		ratios []float64
		others []float64
		want   string
		judged int
	}{
		{"every round above", []float64{0.93, 0.98, 1.0, 0.97, 0.99}, quiet, TargetMet, 5},
		// The figures a fresh machine printed in the issue: missed.
		{"every round below", []float64{0.81, 0.86, 0.84, 0.83, 0.85}, quiet, TargetNotMet, 5},
		{"median below, one round above", []float64{0.95, 0.86, 0.84, 0.88, 0.85}, quiet, TargetNotMet, 5},
		{"median above, one round below", []float64{0.80, 0.95, 0.94, 0.91, 0.92}, quiet, TargetMet, 5},
		// The busy rounds are the low ones: without them the target is met.
		{"busy rounds left out", []float64{0.70, 0.72, 0.95, 0.94, 0.96}, []float64{0.6, 0.4, 0, 0.05, 0}, TargetMet, 3},
		{"too few quiet rounds", []float64{0.95, 0.96, 0.97, 0.94, 0.99}, []float64{0.6, 0.4, 0.2, 0, 0}, TargetNotJudged, 2},
		{"machine use unknown counts as quiet", []float64{0.95, 0.96, 0.97}, []float64{-1, -1, -1}, TargetMet, 3},
		// One round is one noisy ratio: not enough to call a target met.
		{"one round of one, quiet", []float64{0.95}, []float64{0}, TargetNotJudged, 1},
		{"no rounds", nil, nil, TargetNotJudged, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := judgeTarget("x", TargetVsBare, tc.ratios, tc.others)
			if v.Verdict != tc.want || v.Judged != tc.judged {
				t.Errorf("verdict %q on %d rounds (%s), want %q on %d", v.Verdict, v.Judged, v.Why, tc.want, tc.judged)
			}
			if v.Verdict == TargetNotJudged && v.Why == "" {
				t.Error("not judged without a reason")
			}
		})
	}
}

func TestCalibrateVerdictIsTheWorstTarget(t *testing.T) {
	for _, tc := range []struct {
		targets []string
		want    string
	}{
		{[]string{TargetMet, TargetMet}, TargetMet},
		{[]string{TargetMet, TargetNotJudged}, TargetNotJudged},
		{[]string{TargetNotJudged, TargetNotMet}, TargetNotMet},
		{nil, TargetNotJudged},
	} {
		var r CalibrateResult
		for _, v := range tc.targets {
			r.Targets = append(r.Targets, TargetVerdict{Verdict: v})
		}
		if got := r.Verdict(); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.targets, got, tc.want)
		}
	}
}

// TestPhaseLoadSeesOtherProcesses runs a process that spins while a phase
// is measured: its CPU must show as other processes' use, enough to leave
// the round out, while the node's own work must not.
func TestPhaseLoadSeesOtherProcesses(t *testing.T) {
	testenv.NeedRedisServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := cluster.NewExec(cluster.ExecOptions{}).Start(ctx, cluster.Spec{Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	node := redis.NewClient(c.Nodes[0].Endpoint().ClientOptions(""))
	defer node.Close()

	before, err := nodeCPU(ctx, node)
	if err != nil {
		t.Fatal(err)
	}
	for range 5000 {
		if err := node.Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	after, err := nodeCPU(ctx, node)
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Errorf("node CPU did not grow over 5000 PINGs: %v then %v", before, after)
	}

	// Bounded: ctx kills the spinner after 30 s at the latest.
	spin := exec.CommandContext(ctx, "sh", "-c", "while :; do :; done")
	if err := spin.Start(); err != nil {
		t.Fatal(err)
	}
	load, err := startPhaseLoad(ctx, node)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	others, err := load.othersCores(ctx)
	// Read before the spinner is reaped: a waited-for child's CPU counts
	// as the measurement's own (redis-benchmark's does).
	spin.Process.Kill()
	spin.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if others >= 0 && others <= busyOthersCores {
		t.Errorf("a spinning process used %.2f CPUs by this measure, want more than %.2f", others, busyOthersCores)
	}
}
