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
	"time"

	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/runner"
)

// calibrate runs runner.Calibrate, prints a table and writes
// calibrate.json into a fresh results/<run-id>/.
func calibrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("calibrate")
	provider := fs.String("provider", "auto", "auto, exec, docker or external")
	addrs := fs.String("redis-addrs", "", "comma-separated host:port of external nodes")
	nodes := fs.Int("nodes", 5, "nodes to start")
	samples := fs.Int("samples", 5000, "SETs to time on each path")
	out := fs.String("out", "results", "directory for results/<run-id>/")
	if !parseFlags(fs, args, stderr) {
		return exitBadInput
	}
	if *nodes < 1 || *samples < 1 {
		return fail(stderr, "calibrate", fmt.Errorf("--nodes and --samples must be at least 1: %w", errBadInput))
	}
	opts := runner.CalibrateOptions{
		Cluster:  cluster.AutoOptions{Provider: *provider},
		Nodes:    *nodes,
		Samples:  *samples,
		Progress: func(s string) { fmt.Fprintln(stderr, "· "+s) },
	}
	if *addrs != "" {
		list, err := cluster.ParseAddrs(*addrs)
		if err != nil {
			return fail(stderr, "calibrate", err)
		}
		opts.Cluster.External.Addrs = list
		if !flagSet(fs, "nodes") {
			opts.Nodes = len(list) // external: use every address given
		}
	}

	res, err := runner.Calibrate(ctx, opts)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "bench calibrate: interrupted; every node and proxy was removed")
			return exitUndecided
		}
		return fail(stderr, "calibrate", err)
	}

	dir := filepath.Join(*out, time.Now().Format("20060102-150405")+"-calibrate")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(stderr, "calibrate", err)
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "calibrate.json"), append(b, '\n'), 0o644); err != nil {
		return fail(stderr, "calibrate", err)
	}

	ms := func(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/1e6) }
	fmt.Fprintf(stdout, "provider      %s (%s)\n", res.Provider, res.Why)
	fmt.Fprintf(stdout, "start nodes   %d in %v\n", res.Nodes, res.StartNodes.Round(time.Millisecond))
	fmt.Fprintf(stdout, "%-13s %10s %10s %10s\n", "SET", "p50", "p99", "max")
	for _, row := range []struct {
		name string
		l    runner.Latency
	}{{"direct", res.Direct}, {"idle proxy", res.Proxied}} {
		fmt.Fprintf(stdout, "%-13s %10s %10s %10s\n", row.name, ms(row.l.P50), ms(row.l.P99), ms(row.l.Max))
	}
	fmt.Fprintf(stdout, "proxy cost    p50 %+.3f ms, p99 %+.3f ms\n",
		float64(res.Proxied.P50-res.Direct.P50)/1e6, float64(res.Proxied.P99-res.Direct.P99)/1e6)
	fmt.Fprintf(stdout, "lock strategies and the comparison report arrive with the next issues; wrote %s\n", filepath.Join(dir, "calibrate.json"))
	return exitOK
}

// flagSet reports whether the user gave flag name.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// isEnvError reports errors of the environment the user can fix (no
// Redis, unreachable addresses, a fault the provider cannot do).
func isEnvError(err error) bool {
	return errors.Is(err, cluster.ErrUnavailable) || errors.Is(err, cluster.ErrBadSpec) || errors.Is(err, cluster.ErrUnsupported)
}
