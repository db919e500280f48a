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
	"path/filepath"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	tclog "github.com/testcontainers/testcontainers-go/log"
)

// Exit codes shared by every command.
const (
	exitOK        = 0
	exitBad       = 1
	exitUndecided = 2
	exitBadInput  = 3
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
	// The first signal winds the command down, removing what it started;
	// a second one ends the process at once (exec nodes die with it, and
	// the next run sweeps leftover dirs and containers).
	context.AfterFunc(ctx, stop)
	if len(args) == 0 {
		fmt.Fprintf(stderr, "bench: give a command (%s)\n", usageLine())
		return exitBadInput
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		return help(args[1:], stdout, stderr)
	}
	c, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "bench: unknown command %q (%s)\n", args[0], usageLine())
		return exitBadInput
	}
	if wantsHelp(args[1:]) {
		return commandHelp(ctx, c, stdout)
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

// newFlags returns a flag set whose errors the caller reports as one line.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the caller prints the parse error as one line
	fs.Usage = func() {}
	return fs
}

// parseFlags parses args and reports to w: a parse error as one line, or,
// for -h, the command's usage with every flag. run sends -h only from
// commandHelp, with w = stdout.
func parseFlags(fs *flag.FlagSet, args []string, w io.Writer) bool {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return true
	case errors.Is(err, flag.ErrHelp):
		printUsage(w, fs)
	default:
		fmt.Fprintf(w, "bench %s: %v (see bench %s -h)\n", fs.Name(), err, fs.Name())
	}
	return false
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

// newRun names a run and its directory: <out>/<date>-<time>-<name>, the
// one naming bench run, bench zoo and bench calibrate share. Nothing is
// created: the runner creates the directory once the run is accepted.
func newRun(out, name string) (id, dir string) {
	id = time.Now().Format("20060102-150405") + "-" + name
	return id, filepath.Join(out, id)
}
