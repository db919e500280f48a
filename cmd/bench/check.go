package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/lockbench/lockbench/checker"
	"github.com/lockbench/lockbench/history"
)

// check runs the checker on a history file (DESIGN §5): exit 0 safe, 1 a
// safety violation, 2 unknown, 3 bad input.
func check(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	timeout := fs.Duration("timeout", checker.DefaultTimeout, "bound on the linearizability search")
	visualize := fs.String("visualize", "", "directory for porcupine HTML of each violating key")
	releases := fs.String("releases", "unknown", "what a release of the lock does: owner (compare-and-delete), plain (DEL) or unknown; decides whether an overlap can be blamed on a stale release")
	if !parseFlags(fs, args, stderr) {
		return exitBadInput
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "bench check: give exactly one history file: bench check HISTORY.jsonl [--json] [--timeout D]")
		return exitBadInput
	}
	if *timeout <= 0 {
		fmt.Fprintln(stderr, "bench check: --timeout must be positive")
		return exitBadInput
	}
	kinds := map[string]checker.Releases{"unknown": checker.ReleasesUnknown, "owner": checker.ReleasesCheckOwner, "plain": checker.ReleasesPlainDelete}
	releaseKind, ok := kinds[*releases]
	if !ok {
		fmt.Fprintf(stderr, "bench check: --releases %q: use unknown, owner (compare-and-delete) or plain (DEL)\n", *releases)
		return exitBadInput
	}
	path := fs.Arg(0)
	events, stats, err := history.ReadFileStats(path)
	if err != nil {
		var ie *history.InputError
		if errors.As(err, &ie) || errors.Is(err, history.ErrMalformed) {
			fmt.Fprintf(stderr, "bench check: %s: %v (fix or truncate the history there)\n", path, err)
		} else {
			fmt.Fprintf(stderr, "bench check: %v\n", err)
		}
		return exitBadInput
	}
	if stats.Truncated {
		fmt.Fprintf(stderr, "bench check: %s: last line is incomplete (the recorder was killed); checking the %d complete events\n", path, len(events))
	}
	// A history its recorder never closed is checked up to its last
	// checkpoint; the result says so first thing.
	res, err := checker.Check(ctx, events, checker.Options{Timeout: *timeout, VisualizeDir: *visualize, Releases: releaseKind, Stats: &stats})
	if err != nil {
		var ie *history.InputError
		if errors.As(err, &ie) || errors.Is(err, history.ErrMalformed) {
			fmt.Fprintf(stderr, "bench check: %s: %v\n", path, err)
			return exitBadInput
		}
		fmt.Fprintf(stderr, "bench check: %v\n", err)
		return exitUndecided
	}
	if *asJSON {
		if err := checker.WriteJSON(stdout, res); err != nil {
			fmt.Fprintf(stderr, "bench check: %v\n", err)
			return exitUndecided
		}
	} else {
		checker.WriteText(stdout, res)
	}
	return res.ExitCode()
}
