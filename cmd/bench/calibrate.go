package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/fleet"
	"github.com/lockbench/lockbench/runner"
)

// calibrate runs runner.Calibrate, prints what the harness achieves
// against the physical limit, and writes calibrate.json into a fresh
// results/<run-id>/.
func calibrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("calibrate")
	provider := fs.String("provider", cluster.ProviderAuto, cluster.ProviderChoices())
	redisOpts := addRedisFlags(fs, "comma-separated external nodes")
	nodes := fs.Int("nodes", 5, "nodes to start (and time)")
	samples := fs.Int("samples", 5000, "SETs to time on each path")
	clients := fs.Int("clients", 4, "concurrency of every throughput measurement")
	duration := fs.Duration("duration", 2*time.Second, "length of each throughput measurement")
	rounds := fs.Int("rounds", 5, "rounds; medians are reported")
	out := fs.String("out", "results", "directory for results/<run-id>/")
	clientProcs := fs.Int("client-procs", 0, "GOMAXPROCS of the Go loops: 0 keeps a CPU free for the node they load if there are CPUs to spare, -1 uses every CPU")
	noPin := fs.Bool("no-pin", false, "leave the harness and the lock node where the scheduler puts them (by default they get disjoint CPUs)")
	cpuProfile := fs.String("cpuprofile", "", "write a pprof CPU profile of the whole calibration to this file")
	if !parseFlags(fs, args, stderr) {
		return exitBadInput
	}
	if *nodes < 1 || *samples < 1 || *clients < 1 || *rounds < 1 || *duration <= 0 {
		return fail(stderr, "calibrate", fmt.Errorf("--nodes, --samples, --clients, --rounds and --duration must be positive: %w", errBadInput))
	}
	opts := runner.CalibrateOptions{
		Cluster: cluster.AutoOptions{Provider: *provider},
		Nodes:   *nodes, Samples: *samples, Clients: *clients, Duration: *duration, Rounds: *rounds,
		ClientProcs: *clientProcs, NoPin: *noPin,
		Progress: func(s string) { fmt.Fprintln(stderr, "· "+s) },
	}
	if err := redisOpts.apply(&opts.Cluster.External); err != nil {
		return fail(stderr, "calibrate", err)
	}
	if n := len(opts.Cluster.External.Addrs); n > 0 && !flagSet(fs, "nodes") {
		opts.Nodes = n // external: use every address given
	}

	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return fail(stderr, "calibrate", err)
		}
		defer stop()
	}
	res, err := runner.Calibrate(ctx, opts)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "bench calibrate: interrupted; every node and proxy was removed")
			return exitUndecided
		}
		return fail(stderr, "calibrate", err)
	}

	_, dir := newRun(*out, "calibrate")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(stderr, "calibrate", err)
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "calibrate.json"), append(b, '\n'), 0o644); err != nil {
		return fail(stderr, "calibrate", err)
	}
	writeCalibration(stdout, &res)
	fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(dir, "calibrate.json"))
	switch res.Verdict() {
	case runner.TargetNotMet:
		return exitBad
	case runner.TargetNotJudged:
		return exitUndecided
	}
	return exitOK
}

// writeCalibration prints the calibration as a short report.
func writeCalibration(w io.Writer, res *runner.CalibrateResult) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/1e6) }
	fmt.Fprintf(w, "provider      %s (%s)\n", res.Provider, res.Why)
	fmt.Fprintf(w, "start nodes   %d in %v\n", res.Nodes, res.StartNodes.Round(time.Millisecond))
	fmt.Fprintf(w, "%-13s %10s %10s %10s\n", "SET", "p50", "p99", "max")
	for _, row := range []struct {
		name string
		l    runner.Latency
	}{{"direct", res.Direct}, {"idle proxy", res.Proxied}} {
		fmt.Fprintf(w, "%-13s %10s %10s %10s\n", row.name, ms(row.l.P50), ms(row.l.P99), ms(row.l.Max))
	}
	fmt.Fprintf(w, "\nlock cycles/s at %d clients, Go loops at GOMAXPROCS=%d of %d CPUs, median of %d rounds:\n", res.Clients, res.ClientProcs, runtime.NumCPU(), len(res.Harness.Rounds))
	fmt.Fprintf(w, "  (%s)\n", res.CPUPinning)
	if rb := res.RedisBenchmark; rb != nil {
		fmt.Fprintf(w, "  redis-benchmark SET NX PX %10.0f req/s, EVAL compare-and-delete %.0f req/s → limit %.0f cycles/s\n", rb.SetNXPX.Median, rb.EvalDelete.Median, rb.CycleLimit)
	}
	fmt.Fprintf(w, "  bare go-redis loop        %10.0f\n", res.Bare.Median)
	fmt.Fprintf(w, "  harness (token, recorded) %10.0f   = %.2f × bare loop", res.Harness.Median, res.HarnessVsBare)
	if res.RedisBenchmark != nil {
		fmt.Fprintf(w, ", %.2f × redis-benchmark limit", res.HarnessVsRedisBenchmark)
	}
	fmt.Fprintf(w, "\n  paired within each round     %s × bare loop", spread(res.HarnessVsBarePaired))
	if r := res.HarnessVsRedisBenchmarkPaired; r != nil {
		fmt.Fprintf(w, ", %s × redis-benchmark limit", spread(*r))
	}
	fmt.Fprintf(w, "\n  harness through proxies   %10.0f   proxy cost %.1f %%\n", res.HarnessProxied.Median, 100*res.ProxyCost)
	fmt.Fprintf(w, "checker: %.0f events/s on a %d-event history\n", res.CheckerEventsPerSec, res.CheckerEvents)
	others := make([]string, len(res.OthersCores))
	for i, o := range res.OthersCores {
		others[i] = "?"
		if o >= 0 {
			others[i] = fmt.Sprintf("%.2f", o)
		}
	}
	fmt.Fprintf(w, "\ntargets, on the paired ratios of the rounds the machine left alone\n  (CPUs other processes used, per round: %s)\n", strings.Join(others, " "))
	for _, t := range res.Targets {
		fmt.Fprintf(w, "  %-34s ≥ %.2f  %-10s", t.Name, t.Target, t.Verdict)
		if t.Judged > 0 && t.Verdict != runner.TargetNotJudged {
			fmt.Fprintf(w, "  median %.2f (%.2f–%.2f) over %d of %d rounds", t.Median, t.Min, t.Max, t.Judged, t.Rounds)
		}
		fmt.Fprintln(w)
		if t.Why != "" {
			fmt.Fprintf(w, "    %s\n", t.Why)
		}
	}
	fmt.Fprintf(w, "verdict: %s\n", res.Verdict())
}

// flagSet reports whether the user gave flag name.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// isEnvError reports errors of the environment the user can fix (no
// Redis, unreachable addresses, a fault the provider cannot do, agents
// that could not be started or did not register).
func isEnvError(err error) bool {
	return errors.Is(err, cluster.ErrUnavailable) || errors.Is(err, cluster.ErrBadSpec) || errors.Is(err, cluster.ErrUnsupported) ||
		errors.Is(err, fleet.ErrAgent)
}

// startCPUProfile profiles the process into path until the returned stop
// is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// spread prints per-round ratios as "median m (min–max)".
func spread(r runner.Ratios) string {
	if len(r.Rounds) == 0 {
		return "-"
	}
	return fmt.Sprintf("median %.2f (%.2f–%.2f)", r.Median, slices.Min(r.Rounds), slices.Max(r.Rounds))
}
