package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/lockbench/lockbench/report"
)

// compare is `bench compare BASE NEW`: the CI gate. Exit 0 pass, 1 a
// regression or a lost safety verdict, 2 could not decide (--strict only),
// 3 bad input.
func compare(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("compare")
	thresholds := fs.String("thresholds", "", `per-metric thresholds, e.g. "throughput=5%,p99=10%,p999=off"`)
	markdown := fs.String("markdown", "", "also write the comparison as Markdown (a pull-request comment) to this file")
	strict := fs.Bool("strict", false, "exit 2 when samples are insufficient or cells are missing")
	alpha := fs.Float64("alpha", 0.05, "significance level after the Benjamini-Hochberg correction")
	ignoreLiveness := fs.Bool("ignore-liveness", false, "do not fail when a liveness verdict went from ok to stalled")
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
	if len(paths) != 2 {
		fmt.Fprintln(stderr, "bench compare: give BASE and NEW (summary.json files, run directories or directories of runs)")
		return exitBadInput
	}
	opts := report.CompareOptions{Alpha: *alpha, Strict: *strict, IgnoreLiveness: *ignoreLiveness}
	if *thresholds != "" {
		t, err := report.ParseThresholds(*thresholds)
		if err != nil {
			fmt.Fprintf(stderr, "bench compare: %v\n", err)
			return exitBadInput
		}
		opts.Thresholds = t
	}
	c, err := report.CompareFiles(paths[0], paths[1], opts)
	if err != nil {
		fmt.Fprintf(stderr, "bench compare: %v\n", err)
		if errors.Is(err, report.ErrBadInput) {
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
