package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/lockbench/lockbench/compare"
)

// compareCmd is `bench compare BASE NEW`: the CI gate. Exit 0 pass, 1 a
// regression or a lost safety verdict, 2 could not decide (--strict only),
// 3 bad input.
func compareCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("compare")
	thresholds := fs.String("thresholds", "", `per-metric thresholds, e.g. "throughput=5%,p99=10%,p999=off"`)
	markdown := fs.String("markdown", "", "also write the comparison as Markdown (a pull-request comment) to this file")
	strict := fs.Bool("strict", false, "exit 2 when samples are insufficient or cells are missing")
	alpha := fs.Float64("alpha", 0.05, "significance level after the Benjamini-Hochberg correction")
	ignoreLiveness := fs.Bool("ignore-liveness", false, "do not fail when a liveness verdict went from ok to stalled, or progress from ok")
	paired := fs.Bool("paired", false, "BASE and NEW were measured in alternating passes on this machine: test each metric on the within-pass changes")
	allowMissing := fs.Bool("allow-missing", false, "cells of BASE absent from NEW were removed on purpose: do not fail on them")
	power := fs.String("power", "", "measure the gate instead: false alarms and power by resampling DIR's passes of unchanged code (bench compare --power results/baseline)")
	trials := fs.Int("trials", 200, "with --power: resamplings per figure")
	seed := fs.Uint64("seed", 1, "with --power: the resampling's seed")
	// Flags may follow the two paths: parse, take the paths, parse the rest.
	var paths []string
	for {
		if !parseFlags(fs, args, stderr) {
			return exitBadInput
		}
		if fs.NArg() == 0 {
			break
		}
		paths = append(paths, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if *power != "" {
		return comparePower(*power, *trials, *seed, *alpha, stdout, stderr)
	}
	if len(paths) != 2 {
		fmt.Fprintln(stderr, "bench compare: give BASE and NEW (summary.json files, run directories or directories of runs)")
		return exitBadInput
	}
	opts := compare.Options{Alpha: *alpha, Strict: *strict, IgnoreLiveness: *ignoreLiveness, Paired: *paired, AllowMissing: *allowMissing}
	if *thresholds != "" {
		t, err := compare.ParseThresholds(*thresholds)
		if err != nil {
			fmt.Fprintf(stderr, "bench compare: %v\n", err)
			return exitBadInput
		}
		opts.Thresholds = t
	}
	c, err := compare.Files(paths[0], paths[1], opts)
	if err != nil {
		fmt.Fprintf(stderr, "bench compare: %v\n", err)
		if errors.Is(err, compare.ErrBadInput) {
			return exitBadInput
		}
		return exitUndecided
	}
	if err := c.WriteText(stdout); err != nil {
		fmt.Fprintf(stderr, "bench compare: %v\n", err)
		return exitUndecided
	}
	if *markdown != "" {
		f, err := os.Create(*markdown)
		if err != nil {
			fmt.Fprintf(stderr, "bench compare: %v\n", err)
			return exitBadInput
		}
		werr := c.WriteMarkdown(f)
		if err := errors.Join(werr, f.Close()); err != nil {
			fmt.Fprintf(stderr, "bench compare: %v\n", err)
			return exitUndecided
		}
	}
	return c.ExitCode()
}

// comparePower is bench compare --power DIR: the gate's false-alarm rate
// and power, measured by resampling DIR's passes, as a Markdown table.
func comparePower(dir string, trials int, seed uint64, alpha float64, stdout, stderr io.Writer) int {
	passes, err := compare.ReadPasses(dir)
	if err == nil {
		var rows []compare.PowerRow
		rows, err = compare.Power(passes, compare.PowerOptions{Trials: trials, Seed: seed, Compare: compare.Options{Alpha: alpha}})
		if err == nil {
			err = compare.WritePowerMarkdown(stdout, rows)
		}
		if err == nil {
			fmt.Fprintln(stdout)
			err = compare.WriteMetricMarkdown(stdout, rows, compare.DefaultThresholds())
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench compare: %v\n", err)
		if errors.Is(err, compare.ErrBadInput) {
			return exitBadInput
		}
		return exitUndecided
	}
	return exitOK
}
