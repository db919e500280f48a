package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// command is one of bench's commands.
type command struct {
	name string
	// synopsis follows "bench NAME" in the usage line, summary is the
	// command's line in bench help, about says more in bench help NAME.
	synopsis, summary, about string
	run                      func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands are bench's commands in the order bench help lists them; help
// itself is run's.
func commands() []command {
	noCtx := func(f func([]string, io.Writer, io.Writer) int) func(context.Context, []string, io.Writer, io.Writer) int {
		return func(_ context.Context, args []string, stdout, stderr io.Writer) int { return f(args, stdout, stderr) }
	}
	return []command{
		{"run", "[-s FILE | --preset NAME] [flags]",
			"run a scenario and write results/<run-id>/",
			"Expands a scenario into cells (lock × topology × workload × fault × seed), runs them, prints a strategy × fault matrix (the worst verdict of each lock under each fault) and a table per cell, and writes results/<run-id>/: summary.json, report.html, plots and every cell's history. A scenario larger than this machine can hold (file descriptors, memory, ports, processes, more than a day of load) is refused before anything starts. Exit 0 when every cell ran (violations found are results), 2 when interrupted or a cell could not run, 3 on bad input.",
			runCmd},
		{"check", "HISTORY.jsonl [flags]",
			"check a history file for mutual exclusion",
			"Checks a recorded history for mutual exclusion, the protected resource and liveness. Exit 0 safe, 1 a safety violation, 2 unknown (the search timed out), 3 bad input (with the line number).",
			check},
		{"plot", "RUN_DIR",
			"rebuild the plots, report.html and bench.txt of a run",
			"Rebuilds the plots, report.html and bench.txt of a run from its summary.json and histories.",
			noCtx(plot)},
		{"compare", "BASE NEW [flags]",
			"the CI gate: compare two runs",
			"Compares two runs (summary.json files, run directories or directories of runs) metric by metric. Exit 0 pass, 1 a regression or a lost safety verdict, 2 undecided (--strict), 3 bad input.",
			noCtx(compareCmd)},
		{"zoo", "[flags]",
			"the detection matrix: every known lock failure, expected against observed",
			"Runs every (strategy, literature scenario) pair with its expected verdict, prints expected against observed with the witness of each violation and writes results/<run-id>/. Exit 0 when every observation is as expected, 1 when one differs, 2 when undecided or interrupted, 3 on bad input.",
			zooCmd},
		{"list", "[locks | faults | workloads | presets | topologies]",
			"list the lock strategies, faults, workloads, presets or topologies",
			"Prints a registry: the lock strategies with their known hazards (the default), the faults with the providers that can inject them, the workload presets, the fault schedules and scenarios, or the Redis topologies with the providers that start them.",
			noCtx(list)},
		{"calibrate", "[flags]",
			"the harness against the physical limit",
			"Measures on the same nodes: node start time, the SET round trip direct and through an idle proxy, and lock cycles/s of redis-benchmark, a bare go-redis loop and the harness itself, in rounds; judges the harness against its targets (≥ 0.90 × the bare loop, ≥ 0.85 × the redis-benchmark limit) on the paired ratios of the rounds in which other processes left the machine alone; writes results/<run-id>/calibrate.json. Exit 0 targets met, 1 a target missed, 2 not judged (too few quiet rounds) or interrupted, 3 bad input.",
			calibrate},
		{"agent", "[--controller HOST:PORT --index N] | manifest [flags]",
			"worker mode: run a share of a controller's clients (bench run --agents)",
			"Dials the controller of a `bench run --agents` run, registers under its index, and runs its share of every cell's clients with its own clock, streaming their history events and measurements back; the controller owns the nodes, the faults, the history and the checker. The token comes from LOCKBENCH_AGENT_TOKEN, which the controller's engine sets. `bench agent manifest` prints the Kubernetes Secret, Service and Indexed Job of a run for users who apply manifests themselves. Exit 0 when the controller said bye, 2 when interrupted or the controller went away, 3 on bad input or a refused registration.",
			agentCmd},
	}
}

// lookup finds a command by name.
func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// usageLine is bench's usage in one line, for error messages.
func usageLine() string {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	return "usage: bench <command> [flags]; commands: " + strings.Join(names, ", ") + ", help"
}

// help is `bench help [COMMAND]`: the commands, or one command's usage.
func help(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0 || len(args) == 1 && (args[0] == "help" || wantsHelp(args)):
		fmt.Fprintln(stdout, "usage: bench <command> [flags]")
		fmt.Fprintln(stdout, "\nCommands:")
		for _, c := range commands() {
			fmt.Fprintf(stdout, "  %-10s %s\n", c.name, c.summary)
		}
		fmt.Fprintf(stdout, "  %-10s %s\n", "help", "this list, or a command's usage and flags: bench help COMMAND, or bench COMMAND -h")
		fmt.Fprintln(stdout, "\nExit codes: 0 good, 1 the thing checked is bad, 2 could not decide or interrupted, 3 bad input or environment.")
		return exitOK
	case len(args) == 1:
		c, ok := lookup(args[0])
		if !ok {
			fmt.Fprintf(stderr, "bench help: unknown command %q (%s)\n", args[0], usageLine())
			return exitBadInput
		}
		return commandHelp(context.Background(), c, stdout)
	default:
		fmt.Fprintln(stderr, "bench help: give one command: bench help COMMAND")
		return exitBadInput
	}
}

// wantsHelp reports whether args ask for help (-h, --help) before a "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "--h", "-help", "--help":
			return true
		}
	}
	return false
}

// commandHelp prints c's usage and flags to stdout and exits 0. The command
// itself parses "-h", so the flags listed are those of the flag set it
// really uses; its parseFlags prints the usage to the writer it reports
// to, stdout here.
func commandHelp(ctx context.Context, c command, stdout io.Writer) int {
	c.run(ctx, []string{"-h"}, stdout, stdout)
	return exitOK
}

// printUsage prints a command's usage line, what it does and its flags,
// as flag.PrintDefaults would but with the -- the documentation uses.
func printUsage(w io.Writer, fs *flag.FlagSet) {
	c, _ := lookup(fs.Name())
	fmt.Fprintf(w, "usage: bench %s %s\n\n%s\n", c.name, c.synopsis, wrap(c.about, 78))
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprintln(w, "\nFlags:")
	fs.VisitAll(func(f *flag.Flag) {
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		line := "  " + dash + f.Name
		arg, usage := flag.UnquoteUsage(f)
		if arg != "" {
			line += " " + arg
		}
		switch f.DefValue {
		case "", "0", "false", "0s":
		default:
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "%s\n      %s\n", line, strings.ReplaceAll(wrap(usage, 72), "\n", "\n      "))
	})
}

// wrap breaks s at spaces into lines of at most width runes.
func wrap(s string, width int) string {
	var b strings.Builder
	n := 0
	for i, word := range strings.Fields(s) {
		l := utf8.RuneCountInString(word)
		switch {
		case i == 0:
		case n+1+l > width:
			b.WriteByte('\n')
			n = 0
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(word)
		n += l
	}
	return b.String()
}
