// Command bench is lockbench's command line: a thin layer over the runner
// that parses flags, shows progress and maps outcomes to exit codes
// (DESIGN §9): 0 good, 1 the thing checked is bad, 2 could not decide,
// 3 bad input or environment.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"
	tclog "github.com/testcontainers/testcontainers-go/log"
)

// Exit codes shared by every command.
const (
	exitOK         = 0
	exitBad        = 1
	exitUndecided  = 2
	exitBadInput   = 3
	usageFirstLine = "usage: bench <command> [flags]; commands: run, check, plot, compare, zoo, list, calibrate, help"
)

func main() {
	// The libraries log on their own; the harness reports what matters
	// itself, once, in one line.
	redis.SetLogger(quietLogger{})
	// testcontainers announces every Docker connection on stderr.
	tclog.SetDefault(tclog.NewNoopLogger())
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// quietLogger drops go-redis's internal log lines.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// run executes one command and returns its exit code. Everything that must
// be cleaned up is deferred inside the commands, so it runs before main
// calls os.Exit, also after SIGINT/SIGTERM, which only cancel the context.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) == 0 {
		fmt.Fprintln(stderr, "bench: "+usageFirstLine)
		return exitBadInput
	}
	switch args[0] {
	case "calibrate":
		return calibrate(ctx, args[1:], stdout, stderr)
	case "list":
		return list(args[1:], stdout, stderr)
	case "run":
		return runCmd(ctx, args[1:], stdout, stderr)
	case "check":
		return check(ctx, args[1:], stdout, stderr)
	case "plot":
		return plot(args[1:], stdout, stderr)
	case "compare":
		return compare(args[1:], stdout, stderr)
	case "zoo":
		return zoo(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usageFirstLine)
		fmt.Fprintln(stdout, "  run         run a scenario (-s FILE | --preset NAME) and write results/<run-id>/")
		fmt.Fprintln(stdout, "  check       check a history file for mutual exclusion: bench check HISTORY [--json] [--timeout D]")
		fmt.Fprintln(stdout, "  plot        rebuild plots, report.html and bench.txt of a run: bench plot RUN_DIR")
		fmt.Fprintln(stdout, "  compare     the CI gate: bench compare BASE NEW [--thresholds ..] [--markdown FILE] [--strict]")
		fmt.Fprintln(stdout, "  calibrate   the harness against the physical limit: redis-benchmark, a bare go-redis loop, proxy cost")
		fmt.Fprintln(stdout, "  list locks  the lock strategies, what they do and their known hazards")
		return exitOK
	default:
		fmt.Fprintf(stderr, "bench: unknown command %q (%s)\n", args[0], usageFirstLine)
		return exitBadInput
	}
}

// newFlags returns a flag set whose errors the caller reports as one line.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the caller prints the parse error as one line
	fs.Usage = func() {}
	return fs
}

// parseFlags parses args and reports a parse error as one line.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) bool {
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "bench %s: %v (see bench help)\n", fs.Name(), err)
		return false
	}
	return true
}

// fail prints err as one line and returns its exit code.
func fail(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "bench %s: %v\n", cmd, err)
	return exitCode(err)
}

// exitCode maps an error to DESIGN §9's exit codes.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errBadInput), isEnvError(err), isBadScenario(err):
		return exitBadInput
	default:
		return exitUndecided
	}
}

// errBadInput marks errors in what the user typed.
var errBadInput = errors.New("bad input")
