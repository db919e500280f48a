package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/extclient"
	"github.com/lockbench/lockbench/report"
	"github.com/lockbench/lockbench/runner"
	"github.com/lockbench/lockbench/summary"
	"github.com/lockbench/lockbench/workloads"
)

// runCmd is `bench run`: expand a scenario into cells, run them, write
// results/<run-id>/ and print the comparison table. It exits 0 when every
// cell ran (violations found are results, not failures of the run), 2 when
// it was interrupted or a cell could not run, 3 on bad input.
func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run")
	file := fs.String("s", "", "scenario file (YAML)")
	preset := fs.String("preset", "", "built-in scenario (default: default)")
	locksFlag := fs.String("locks", "", "comma-separated lock strategies (overrides the scenario)")
	faultsFlag := fs.String("faults", "", "comma-separated fault schedules (overrides the scenario)")
	workload := fs.String("workload", "", "comma-separated workload presets (overrides the scenario)")
	clients := fs.Int("clients", 0, "clients per cell (overrides the scenario)")
	duration := fs.Duration("duration", 0, "length of each cell (overrides the scenario)")
	ttl := fs.Duration("ttl", 0, "lock TTL (overrides the scenario)")
	nodeTimeout := fs.Duration("node-timeout", 0, "per-node timeout of Redlock-family acquires (default 50ms, at most TTL/4; overrides the scenario)")
	stallBound := fs.Duration("stall-bound", 0, "how long no acquire may succeed, with clients trying and no fault, before liveness is stalled (overrides the scenario)")
	seed := fs.Int64("seed", -1, "seed for schedules and faults (overrides the scenario)")
	repeat := fs.Int("repeat", 0, "independent samples per cell")
	nodes := fs.Int("nodes", 0, "lock nodes of the standalone topology (overrides the scenario)")
	topology := fs.String("topology", "", "comma-separated topologies: standalone, sentinel, cluster (bench list topologies; overrides the scenario)")
	var lockClients []runner.LockClient
	fs.Func("client", "NAME=COMMAND: an external lock client speaking docs/protocol.md, one process per client, whose release checks ownership; NAME is then a lock for --locks (repeat for more; a plain-DEL release needs a scenario's lock_clients:)", func(v string) error {
		spec, err := extclient.ParseFlag(v)
		if err != nil {
			return err
		}
		lockClients = append(lockClients, runner.LockClient{Name: spec.Name, Command: spec.Command, Release: spec.Release})
		return nil
	})
	provider := fs.String("provider", "", cluster.ProviderChoices()+" (overrides the scenario)")
	redisOpts := addRedisFlags(fs, "comma-separated external nodes (lock nodes, then one for the resource)")
	out := fs.String("out", "results", "directory that receives results/<run-id>/")
	clientProcs := fs.Int("client-procs", 0, "GOMAXPROCS while a cell's workload runs: 0 keeps a CPU free per node the cell loads if there are CPUs to spare, -1 uses every CPU")
	var ag agentOptions
	fs.StringVar(&ag.spec, "agents", "", "run the clients on agents: local:N (N processes here), k8s:NAMESPACE[:N] (an Indexed Job; default 3) or wait:N (agents applied from bench agent manifest); this process stays the controller")
	fs.StringVar(&ag.image, "agent-image", "", "the image of the agents' pods, holding the bench binary (k8s; default lockbench:latest)")
	fs.StringVar(&ag.listen, "agent-listen", "", "where the controller listens for its agents (default 127.0.0.1:0 for local agents, :7946 for k8s and wait)")
	fs.StringVar(&ag.advertise, "agent-advertise", "", "the address agents on other hosts reach this machine at, where the fault proxies then listen, so that network faults reach them (default $POD_IP for k8s and wait; without it, remote agents take no network fault)")
	alwaysProxy := fs.Bool("always-proxy", false, "send every cell through the fault proxies, also cells without a network fault (which otherwise connect directly): to measure what the proxies cost")
	if !parseFlags(fs, args, stderr) {
		return exitBadInput
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench run: unexpected argument %q (flags only; see bench help)\n", fs.Arg(0))
		return exitBadInput
	}
	if *file != "" && *preset != "" {
		fmt.Fprintln(stderr, "bench run: give -s FILE or --preset NAME, not both")
		return exitBadInput
	}
	if *file == "" && *preset == "" {
		*preset = "default"
	}
	sc, err := runner.LoadScenario(*file, *preset)
	if err != nil {
		return fail(stderr, "run", err)
	}
	if *locksFlag != "" {
		sc.Locks = splitList(*locksFlag)
	}
	if *faultsFlag != "" {
		sc.Faults = splitList(*faultsFlag)
	}
	if *workload != "" {
		sc.Workloads = nil
		for _, name := range splitList(*workload) {
			spec, err := workloads.Preset(name)
			if err != nil {
				return fail(stderr, "run", fmt.Errorf("%w: %w", err, errBadInput))
			}
			sc.Workloads = append(sc.Workloads, runner.WorkloadRef{Spec: spec})
		}
	}
	if *clients != 0 {
		sc.Clients = *clients
	}
	if *duration != 0 {
		sc.Duration = *duration
	}
	if *ttl != 0 {
		sc.TTL = *ttl
	}
	if *nodeTimeout != 0 {
		sc.NodeTimeout = *nodeTimeout
	}
	if *stallBound != 0 {
		sc.StallBound = *stallBound
	}
	if *seed >= 0 {
		sc.Seeds = []uint64{uint64(*seed)}
	}
	if *repeat != 0 {
		sc.Repeat = *repeat
	}
	if *nodes != 0 {
		sc.Nodes = *nodes
	}
	if *topology != "" {
		sc.Topologies = splitList(*topology)
	}
	sc.LockClients = append(sc.LockClients, lockClients...)
	if *clients < 0 || *duration < 0 || *ttl < 0 || *repeat < 0 || *nodes < 0 || *nodeTimeout < 0 || *stallBound < 0 {
		return fail(stderr, "run", fmt.Errorf("--clients, --duration, --ttl, --repeat, --nodes, --node-timeout and --stall-bound must not be negative: %w", errBadInput))
	}
	cells, err := sc.Expand()
	if err != nil {
		return fail(stderr, "run", err)
	}
	opts := runner.Options{Cluster: cluster.AutoOptions{Provider: *provider}, ClientProcs: *clientProcs, AlwaysProxy: *alwaysProxy}
	if opts.Agents, err = ag.agents(); err != nil {
		return fail(stderr, "run", err)
	}
	// Agents in a cluster reach nodes on other hosts, and so does this
	// controller beside them.
	opts.Cluster.External.Remote = opts.Agents != nil && opts.Agents.Remote()
	if err := redisOpts.apply(&opts.Cluster.External); err != nil {
		return fail(stderr, "run", err)
	}
	name := sc.Name
	if name == "" {
		name = "custom"
	}
	opts.RunID, opts.Dir = newRun(*out, name)
	tty := isTerminal(stderr)
	p := &progress{w: stderr, tty: tty, total: len(cells), started: time.Now()}
	opts.Progress = p.update

	sum, err := runner.Execute(ctx, sc, opts)
	p.finish()
	if sum != nil && len(sum.Cells) > 0 {
		// The answer first (which lock, under which fault), then the
		// detail of every cell.
		printMatrix(stdout, sum, isTerminal(stdout))
		fmt.Fprintln(stdout)
		printTable(stdout, sum, isTerminal(stdout))
	}
	if sum != nil {
		// Also for an interrupted run: the cells that finished deserve
		// their report.
		if rerr := report.Write(opts.Dir, sum); rerr != nil {
			fmt.Fprintf(stderr, "bench run: report: %v\n", rerr)
			if err == nil {
				err = rerr
			}
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			interrupted(stderr, sum, opts.Dir)
			return exitUndecided
		}
		return fail(stderr, "run", err)
	}
	failed := 0
	for _, c := range sum.Cells {
		if c.Error != "" {
			failed++
			fmt.Fprintf(stderr, "bench run: cell %s could not run: %s\n", c.ID, c.Error)
		}
	}
	fmt.Fprintf(stdout, "\nreport: %s\n", filepath.Join(opts.Dir, report.HTMLFile))
	if failed > 0 {
		return exitUndecided
	}
	return exitOK
}

// interrupted says what an interrupted run left. sum is nil when the
// interrupt came before the run had started anything (while the provider
// was chosen): then there is nothing to remove and nothing was written.
func interrupted(stderr io.Writer, sum *summary.Summary, dir string) {
	if sum == nil {
		fmt.Fprintln(stderr, "bench run: interrupted before any node started; nothing to remove, nothing written")
		return
	}
	fmt.Fprintf(stderr, "bench run: interrupted; every fault healed and every node removed; %d cells kept in %s\n", len(sum.Cells), dir)
}

// splitList splits a comma-separated flag value.
func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// isTerminal reports whether w is a terminal (progress and colour then).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress draws one overall bar with an ETA on a terminal and stays
// quiet otherwise, except for notes (provider, nodes started).
type progress struct {
	w       io.Writer
	tty     bool
	total   int
	done    int
	current string
	started time.Time
}

func (p *progress) update(ev runner.Progress) {
	if ev.Note != "" {
		if p.tty {
			fmt.Fprint(p.w, "\r\033[K")
		}
		fmt.Fprintln(p.w, "· "+ev.Note)
		return
	}
	if ev.Done {
		p.done++
	} else {
		p.current = ev.ID
	}
	if !p.tty {
		return
	}
	const width = 30
	filled := width * p.done / max(p.total, 1)
	eta := "…"
	if p.done > 0 {
		per := time.Since(p.started) / time.Duration(p.done)
		eta = (per * time.Duration(p.total-p.done)).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r\033[K[%s%s] %d/%d cells · ETA %s · %s", strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.done, p.total, eta, p.current)
}

func (p *progress) finish() {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// isBadScenario reports scenario errors (exit 3).
func isBadScenario(err error) bool { return errors.Is(err, runner.ErrBadScenario) }
