package runner

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockbench/lockbench/internal/health"
)

// The calibration's targets: the recorded harness must drive the lock at
// least this close to a bare go-redis loop and to the limit
// redis-benchmark measures on the same node.
const (
	TargetVsBare           = 0.90
	TargetVsRedisBenchmark = 0.85
)

// busyOthersCores is how much CPU other processes may use during a round
// before the round is left out of the verdict. On two CPUs, where the
// harness and the node each keep one busy, a tenth of a CPU taken from
// one phase and not from another moves the paired ratio by about as much
// as the margin between a met and a missed target.
const busyOthersCores = 0.10

// minJudgedRounds is how many quiet rounds a verdict needs.
const minJudgedRounds = 3

// Target verdicts.
const (
	TargetMet       = "met"
	TargetNotMet    = "not met"
	TargetNotJudged = "not judged"
)

// TargetVerdict is one calibration target judged on the quiet rounds'
// paired ratios.
type TargetVerdict struct {
	Name   string  `json:"name"`
	Target float64 `json:"target"`
	// Verdict is met, not met or not judged.
	Verdict string `json:"verdict"`
	// Median, Min and Max are over the judged rounds' paired ratios.
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	// Judged is how many rounds the verdict rests on, of Rounds.
	Judged int `json:"judged_rounds"`
	Rounds int `json:"rounds"`
	// Why says what left rounds out, or why nothing was judged.
	Why string `json:"why,omitempty"`
}

// judgeTarget judges one target on the per-round ratios, leaving out the
// rounds in which other processes used more than busyOthersCores.
func judgeTarget(name string, target float64, ratios, othersCores []float64) TargetVerdict {
	v := TargetVerdict{Name: name, Target: target, Rounds: len(ratios)}
	var quiet []float64
	busiest := 0.0
	for i, r := range ratios {
		if i < len(othersCores) && othersCores[i] > busyOthersCores {
			busiest = max(busiest, othersCores[i])
			continue
		}
		quiet = append(quiet, r)
	}
	v.Judged = len(quiet)
	if left := len(ratios) - len(quiet); left > 0 {
		v.Why = fmt.Sprintf("%d of %d rounds left out: other processes used up to %.2f CPUs (more than %.2f)", left, len(ratios), busiest, busyOthersCores)
	}
	if len(quiet) < minJudgedRounds {
		v.Verdict = TargetNotJudged
		if v.Why == "" {
			v.Why = fmt.Sprintf("%d quiet round(s)", len(quiet))
		}
		v.Why += fmt.Sprintf("; a verdict needs %d quiet rounds: run on a quiet machine or with more --rounds", minJudgedRounds)
		return v
	}
	v.Median, v.Min, v.Max = median(quiet), slices.Min(quiet), slices.Max(quiet)
	v.Verdict = TargetNotMet
	if v.Median >= target {
		v.Verdict = TargetMet
	}
	return v
}

// phaseLoad measures what else the machine did while one phase ran: the
// CPU the machine used beyond this process, its children and the lock node.
type phaseLoad struct {
	node  *redis.Client
	start time.Time
	cpu   health.CPUUse
	nodeT time.Duration
}

// startPhaseLoad snapshots the machine and the node before a phase.
func startPhaseLoad(ctx context.Context, node *redis.Client) (*phaseLoad, error) {
	t, err := nodeCPU(ctx, node)
	if err != nil {
		return nil, err
	}
	return &phaseLoad{node: node, start: time.Now(), cpu: health.ReadCPUUse(), nodeT: t}, nil
}

// othersCores is the CPUs (per second of wall time) that processes other
// than the measurement used since startPhaseLoad; -1 where the machine's
// use cannot be read.
func (p *phaseLoad) othersCores(ctx context.Context) (float64, error) {
	used := health.ReadCPUUse().Since(p.cpu)
	wall := time.Since(p.start)
	t, err := nodeCPU(ctx, p.node)
	if err != nil {
		return 0, err
	}
	if !used.MachineOK || wall <= 0 {
		return -1, nil
	}
	others := used.Machine - used.Process - used.Children - (t - p.nodeT)
	return max(0, others.Seconds()/wall.Seconds()), nil
}

// nodeCPU is the CPU time the node's server process has used, from INFO
// cpu (used_cpu_sys + used_cpu_user): it works for every provider, the
// node's process being wherever it is.
func nodeCPU(ctx context.Context, c *redis.Client) (time.Duration, error) {
	info, err := c.Info(ctx, "cpu").Result()
	if err != nil {
		return 0, fmt.Errorf("INFO cpu: %w", err)
	}
	var total float64
	found := 0
	for line := range strings.SplitSeq(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || (k != "used_cpu_sys" && k != "used_cpu_user") {
			continue
		}
		s, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("INFO cpu: %s: %w", k, err)
		}
		total += s
		found++
	}
	if found != 2 {
		return 0, fmt.Errorf("INFO cpu: no used_cpu_sys and used_cpu_user in %q", info)
	}
	return time.Duration(total * float64(time.Second)), nil
}

// Verdict is the calibration's overall verdict: not met when a target was
// missed, else not judged when one could not be judged, else met.
func (r *CalibrateResult) Verdict() string {
	v := TargetMet
	for _, t := range r.Targets {
		switch {
		case t.Verdict == TargetNotMet:
			return TargetNotMet
		case t.Verdict == TargetNotJudged:
			v = TargetNotJudged
		}
	}
	if len(r.Targets) == 0 {
		return TargetNotJudged
	}
	return v
}
