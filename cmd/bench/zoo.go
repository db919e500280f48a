package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/runner"
	"github.com/lockbench/lockbench/zoo"
)

// zooCmd is `bench zoo`: run every (strategy, literature scenario) pair of the
// detection matrix with its expected verdict, print expected against
// observed with the witness of every violation, and write
// results/<run-id>/ (summary.json, zoo.json, zoo.md). It exits 0 when every
// observation equals its expectation, 1 when one differs, 2 when none
// differs but a cell could not run or be decided (or the run was
// interrupted), 3 on bad input.
func zooCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("zoo")
	quick := fs.Bool("quick", false, "run the subset for CI: one strategy per literature claim")
	seed := fs.Uint64("seed", 1, "seed of every cell's fault timeline and workload")
	only := fs.String("only", "", "comma-separated entries to run, as lock/scenario (see --list)")
	listOnly := fs.Bool("list", false, "list the entries with their expectation and source, and run nothing")
	provider := fs.String("provider", cluster.ProviderAuto, cluster.ProviderChoices())
	redisOpts := addRedisFlags(fs, "comma-separated external nodes (5 lock nodes, then one for the resource)")
	out := fs.String("out", "results", "directory that receives results/<run-id>/")
	doc := fs.String("doc", "", "also write the matrix, with where it comes from, to this file (make zoo-doc: docs/zoo.md)")
	if !parseFlags(fs, args, stderr) {
		return exitBadInput
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench zoo: unexpected argument %q (flags only; see bench help)\n", fs.Arg(0))
		return exitBadInput
	}
	entries := zoo.Entries()
	if *quick {
		entries = zoo.QuickEntries(entries)
	}
	if *only != "" {
		var err error
		if entries, err = zoo.Select(entries, splitList(*only)); err != nil {
			return fail(stderr, "zoo", err)
		}
	}
	if *listOnly {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ENTRY\tFAULT\tEXPECTED\tQUICK\tSETUP\tSOURCE")
		for _, e := range entries {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.ID(), e.Fault, e.Expect, yesNo(e.Quick), e.Setup, e.Source)
		}
		tw.Flush()
		return exitOK
	}

	opts := runner.Options{Cluster: cluster.AutoOptions{Provider: *provider}}
	if err := redisOpts.apply(&opts.Cluster.External); err != nil {
		return fail(stderr, "zoo", err)
	}
	name := "zoo"
	if *quick {
		name = "zoo-quick"
	}
	opts.RunID, opts.Dir = newRun(*out, name+"-s"+strconv.FormatUint(*seed, 10))
	p := &progress{w: stderr, tty: isTerminal(stderr), total: len(entries), started: time.Now()}
	opts.Progress = p.update

	rep, err := zoo.Run(ctx, entries, zoo.Options{Run: opts, Seed: *seed, Quick: *quick})
	p.finish()
	if rep != nil && len(rep.Rows) > 0 {
		rep.WriteText(stdout)
	}
	if err != nil {
		if ctx.Err() != nil {
			if rep == nil {
				fmt.Fprintln(stderr, "bench zoo: interrupted before any node started; nothing to remove, nothing written")
				return exitUndecided
			}
			fmt.Fprintf(stderr, "bench zoo: interrupted; every fault healed and every node removed; %d of %d entries kept in %s\n", len(rep.Rows), len(entries), opts.Dir)
			return exitUndecided
		}
		return fail(stderr, "zoo", err)
	}
	for _, row := range rep.Rows {
		if row.Observed.Error != "" {
			fmt.Fprintf(stderr, "bench zoo: %s (cell %s) could not run: %s\n", row.Entry.ID(), row.CellID, row.Observed.Error)
		}
	}
	fmt.Fprintf(stdout, "results: %s (zoo.md, zoo.json, summary.json, per-cell histories)\n", opts.Dir)
	if *doc != "" {
		var b strings.Builder
		rep.WriteDoc(&b)
		if err := os.WriteFile(*doc, []byte(b.String()), 0o644); err != nil {
			return fail(stderr, "zoo", fmt.Errorf("--doc: %w", err))
		}
		fmt.Fprintf(stdout, "wrote %s\n", *doc)
	}
	return rep.ExitCode()
}

// yesNo is "yes" or "".
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return ""
}
