package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"

	"github.com/lockbench/lockbench/report"
)

// plot is `bench plot RUN_DIR`: rebuild the plots, report.html and
// bench.txt of a run from its summary.json and histories.
func plot(args []string, stdout, stderr io.Writer) int {
	flags := newFlags("plot")
	if !parseFlags(flags, args, stderr) {
		return exitBadInput
	}
	if flags.NArg() != 1 {
		fmt.Fprintln(stderr, "bench plot: give exactly one run directory: bench plot results/<run-id>")
		return exitBadInput
	}
	dir := flags.Arg(0)
	if err := report.Rebuild(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(stderr, "bench plot: %s has no summary.json (give a directory that bench run wrote): %v\n", dir, err)
			return exitBadInput
		}
		fmt.Fprintf(stderr, "bench plot: %v\n", err)
		return exitUndecided
	}
	fmt.Fprintf(stdout, "report: %s\n", filepath.Join(dir, report.HTMLFile))
	return exitOK
}
