package compare

import (
	"math"
	"strings"
	"testing"

	"github.com/lockbench/lockbench/summary"
)

// TestPowerOnTheCommittedBaseline runs a few resampling trials on the
// committed passes: the figures must be shares, the gate must catch most
// −20 % throughput drops, and both tables must carry every gated metric.
func TestPowerOnTheCommittedBaseline(t *testing.T) {
	if testing.Short() {
		t.Skip("resampling takes a while")
	}
	// Three cells of each pass: a comparison's cost grows with the cells,
	// and the figures here only need to be shares that add up.
	var passes []*summary.Summary
	for _, p := range committedBaseline(t) {
		q := shell(p)
		q.Cells = p.Cells[:3]
		passes = append(passes, q)
	}
	rows, err := Power(passes, PowerOptions{Trials: 4, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Mode != "paired" || rows[1].Mode != "unpaired" {
		t.Fatalf("rows %+v, want paired then unpaired", rows)
	}
	for _, r := range rows {
		if r.FalseAlarms < 0 || r.FalseAlarms > 1 {
			t.Errorf("%s: false alarms %v", r.Mode, r.FalseAlarms)
		}
		sum := 0.0
		for _, f := range r.FalseAlarmsBy {
			sum += f
		}
		if sum < r.FalseAlarms {
			t.Errorf("%s: false alarms by metric add up to %v, less than the gate's %v", r.Mode, sum, r.FalseAlarms)
		}
		if r.Power[ThroughputDrop] < 0.5 {
			t.Errorf("%s: a −20 %% throughput drop caught in %v of trials", r.Mode, r.Power[ThroughputDrop])
		}
	}
	var b strings.Builder
	if err := WritePowerMarkdown(&b, rows); err != nil {
		t.Fatal(err)
	}
	if err := WriteMetricMarkdown(&b, rows, DefaultThresholds()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| paired | 16 |", "| throughput | gated | −5% |", "| acquire p99 | gated | +10% |", "| error rate | gated | +1pp |", "| acquire p50 | watched |", "**the gate**"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("tables lack %q:\n%s", want, b.String())
		}
	}
}

func TestMDCText(t *testing.T) {
	var tput, p99, errRate compareMetric
	for _, m := range compareMetrics() {
		switch m.name {
		case MetricThroughput:
			tput = m
		case MetricP99:
			p99 = m
		case MetricErrorRate:
			errRate = m
		}
	}
	for _, tc := range []struct {
		x    float64
		m    compareMetric
		want string
	}{
		{0.12, tput, "−12%"},
		{0.38, p99, "+38%"},
		{11.21, p99, "+1121%"},
		{5e30, p99, ">+10000%"},
		{math.Inf(1), p99, "none"},
		{0.01, errRate, "+1pp"},
	} {
		if got := mdcText(tc.x, tc.m); got != tc.want {
			t.Errorf("mdcText(%v, %s) = %q, want %q", tc.x, tc.m.name, got, tc.want)
		}
	}
}
