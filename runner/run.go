package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockbench/lockbench/chaos"
	"github.com/lockbench/lockbench/checker"
	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/endpoint"
	"github.com/lockbench/lockbench/extclient"
	"github.com/lockbench/lockbench/fleet"
	"github.com/lockbench/lockbench/history"
	"github.com/lockbench/lockbench/internal/health"
	"github.com/lockbench/lockbench/locks"
	"github.com/lockbench/lockbench/summary"
	"github.com/lockbench/lockbench/workloads"
)

// Options configure a run of a scenario.
type Options struct {
	// Cluster chooses the provider; the scenario's provider applies when
	// Cluster.Provider is empty.
	Cluster cluster.AutoOptions
	// Dir is where the run writes (results/<run-id>); created if missing.
	Dir string
	// RunID names the run in the summary.
	RunID string
	// CheckTimeout bounds the checker per cell (default 30 s).
	CheckTimeout time.Duration
	// Progress, when set, hears about every cell as it starts and ends.
	Progress func(Progress)
	// ClientProcs is GOMAXPROCS while a cell's workload runs: 0 keeps one
	// CPU free per node the cell loads when there are enough CPUs (see
	// clientProcs), < 0 uses every CPU, > 0 is used as given.
	ClientProcs int
	// AlwaysProxy sends every cell's clients through the proxy mesh, also
	// when no fault needs it (as every cell went before the path depended
	// on the faults): to measure what the proxies cost a real cell. Each
	// cell's Network says which way it went.
	AlwaysProxy bool
	// Agents, when set, runs every cell's clients on agents (bench run
	// --agents); this process stays the controller.
	Agents *Agents

	// session is the run's registered agents, while the run lasts.
	session *fleet.Session
}

// networkPath decides a cell's path from its schedule's requirements.
func networkPath(req chaos.Requirements, o Options) string {
	if req.LockMesh || o.AlwaysProxy {
		return summary.NetworkProxied
	}
	return summary.NetworkDirect
}

// Progress is one step of a run, for a progress display.
type Progress struct {
	// Cell is the cell index (0-based) of Cells cells.
	Cell, Cells int
	ID          string
	// Done is false when the cell starts and true when it has a result.
	Done   bool
	Result *summary.CellResult
	// Note is a line worth showing (provider chosen, nodes started).
	Note string
}

// Execute runs every cell of s and writes summary.json into o.Dir. It stops
// early, healing every fault and removing every node, when ctx ends; the
// summary then holds the cells that finished and says it was interrupted.
func Execute(ctx context.Context, s *Scenario, o Options) (*summary.Summary, error) {
	cells, err := s.Expand()
	if err != nil {
		return nil, err
	}
	return ExecuteCells(ctx, s.withDefaults(), cells, o)
}

// ExecuteCells runs cells that were built by hand (the zoo) or by Expand,
// with sc's provider and node count.
func ExecuteCells(ctx context.Context, sc Scenario, cells []Cell, o Options) (sum *summary.Summary, err error) {
	sc = sc.withDefaults()
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = 30 * time.Second
	}
	if o.Cluster.Provider == "" {
		o.Cluster.Provider = sc.Provider
	}
	sc.Redis.applyTo(&o.Cluster.External)
	say := func(format string, args ...any) {
		if o.Progress != nil {
			o.Progress(Progress{Cells: len(cells), Note: fmt.Sprintf(format, args...)})
		}
	}
	prov, why, err := cluster.Auto(ctx, o.Cluster)
	if err != nil {
		return nil, err
	}
	plans, err := planCells(sc, cells)
	if err != nil {
		return nil, err
	}
	// First, and before saying anything: a run too big for the machine
	// is refused in one line, and expanding its fault timelines could
	// itself take long.
	if err := checkCapacity(sc, plans, prov.Name(), ReadCapacity()); err != nil {
		return nil, err
	}
	say("provider %s", why)
	// Every fault the cells ask for must be possible here, before
	// anything starts.
	for _, p := range plans {
		if err := p.expand(sc, prov); err != nil {
			return nil, err
		}
	}
	if err := checkAgents(o.Agents, sc, plans, prov.Name()); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("results dir: %w", err)
	}
	host, _ := os.Hostname()
	sum = &summary.Summary{
		SchemaVersion: summary.SchemaVersion, RunID: o.RunID, Started: time.Now(),
		Machine:  summary.Machine{Hostname: host, OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), CPUModel: cpuModel(), GoVersion: runtime.Version()},
		Provider: prov.Name(), ProviderWhy: why, Scenario: recordScenario(sc),
	}
	if o.Agents != nil {
		sum.Agents = o.Agents.Spec.String()
		start := time.Now()
		if o.session, err = openAgents(ctx, o.Agents, o.RunID, o.Dir); err != nil {
			return nil, err
		}
		defer func() {
			if cerr := o.session.Close(context.WithoutCancel(ctx)); cerr != nil && err == nil {
				err = cerr
			}
		}()
		say("%d agents (%s) registered in %v", o.Agents.Spec.Count, o.Agents.Spec, time.Since(start).Round(time.Millisecond))
	}
	defer func() {
		judgeProgress(sum.Cells)
		sum.ElapsedMs = float64(time.Since(sum.Started).Microseconds()) / 1000
		sum.Interrupted = ctx.Err() != nil
		if werr := summary.Write(filepath.Join(o.Dir, "summary.json"), sum); werr != nil && err == nil {
			err = werr
		}
	}()

	var nodes *nodeSet
	defer func() {
		if cerr := nodes.close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	for i, plan := range plans {
		if ctx.Err() != nil {
			break
		}
		want := nodeNeeds{persistence: plan.req.Persistence, fakeTime: plan.req.FakeTime, topology: plan.topology}
		if want.persistence == "" {
			want.persistence = cluster.PersistNone
		}
		if nodes == nil || nodes.needs != want {
			if cerr := nodes.close(); cerr != nil {
				return sum, cerr
			}
			nodes = nil
			start := time.Now()
			if nodes, err = startNodes(ctx, prov, plan.nodes(sc), want); err != nil {
				return sum, err
			}
			say("started %s and a resource node (%s, persistence %s) in %v", nodes.describe(), prov.Name(), want.persistence, time.Since(start).Round(time.Millisecond))
			if sum.Machine.Redis == "" {
				sum.Machine.Redis = nodes.redisVersion(ctx)
			}
			// On a Redis Cluster a plain client of n1 would be MOVED
			// away from most keys: the cost is measured on the first
			// other topology the run starts.
			if sum.ProxyCost == nil && nodes.locks.Topology != cluster.TopoCluster {
				sum.ProxyCost = runProxyCost(ctx, nodes, o)
				if pc := sum.ProxyCost; pc.Error == "" {
					say("an idle proxy costs the harness %.0f %% of its throughput here (%.0f lock cycles/s direct, %.0f proxied)", 100*pc.Fraction, pc.Direct, pc.Proxied)
				} else {
					say("proxy cost not measured: %s", pc.Error)
				}
			}
		}
		if o.Progress != nil {
			o.Progress(Progress{Cell: i, Cells: len(cells), ID: plan.cell.ID})
		}
		res := runCell(ctx, plan, nodes, o)
		sum.Cells = append(sum.Cells, *res)
		// The summary holds the timeline now; the plan is done with.
		plans[i] = nil
		if o.Progress != nil {
			o.Progress(Progress{Cell: i, Cells: len(cells), ID: plan.cell.ID, Done: true, Result: res})
		}
	}
	if ctx.Err() != nil {
		return sum, fmt.Errorf("interrupted after %d of %d cells: %w", len(sum.Cells), len(cells), ctx.Err())
	}
	return sum, nil
}

// nodeNeeds is what decides whether nodes can be reused for a cell.
type nodeNeeds struct {
	persistence cluster.Persistence
	fakeTime    bool
	topology    cluster.Topology
}

// nodeSet is the lock nodes and the resource node, reused across cells
// that need the same kind of nodes and reset between them.
type nodeSet struct {
	needs    nodeNeeds
	provider string
	locks    *cluster.Cluster
	resource *cluster.Cluster
}

func startNodes(ctx context.Context, prov cluster.Provider, n int, needs nodeNeeds) (*nodeSet, error) {
	spec := cluster.Spec{Nodes: n, Persistence: needs.persistence, FakeTime: needs.fakeTime, Topology: needs.topology}
	if prov.Name() == cluster.ProviderExternal {
		spec.Persistence = ""
		if needs.persistence != cluster.PersistNone {
			return nil, fmt.Errorf("persistence %s needs process control: %w; use --provider exec or docker", needs.persistence, cluster.ErrUnsupported)
		}
	}
	if prov.Name() == cluster.ProviderExternal {
		// External nodes: the last address is the resource.
		all, err := prov.Start(ctx, cluster.Spec{Nodes: n + 1})
		if err != nil {
			return nil, err
		}
		lockNodes := &cluster.Cluster{Provider: all.Provider, Nodes: all.Nodes[:n], Caps: all.Caps}
		res := &cluster.Cluster{Provider: all.Provider, Nodes: all.Nodes[n:], Caps: all.Caps}
		return &nodeSet{needs: needs, provider: prov.Name(), locks: lockNodes, resource: res}, nil
	}
	lockNodes, err := prov.Start(ctx, spec)
	if err != nil {
		return nil, err
	}
	res, err := prov.Start(ctx, cluster.Spec{Nodes: 1})
	if err != nil {
		lockNodes.Close()
		return nil, err
	}
	return &nodeSet{needs: needs, provider: prov.Name(), locks: lockNodes, resource: res}, nil
}

// describe says what the lock nodes are, for the progress line.
func (s *nodeSet) describe() string {
	c := s.locks
	switch c.Topology {
	case cluster.TopoSentinel:
		return fmt.Sprintf("a primary with %d replicas and %d Sentinels", len(c.Nodes)-1, len(c.Sentinels))
	case cluster.TopoCluster:
		return fmt.Sprintf("a Redis Cluster of %d nodes (%d primaries, one replica each)", len(c.Nodes), len(c.Nodes)/2)
	}
	return fmt.Sprintf("%d lock nodes", len(c.Nodes))
}

func (s *nodeSet) close() error {
	if s == nil {
		return nil
	}
	return errors.Join(s.locks.Close(), s.resource.Close())
}

// reset empties the nodes between cells, and first puts a replicated
// topology back as it was provisioned (the last cell may have failed it
// over). External nodes are the user's: they are never flushed; unique key
// prefixes keep cells apart there.
func (s *nodeSet) reset(ctx context.Context) error {
	if s.provider == cluster.ProviderExternal {
		return nil
	}
	nodes := s.resource.Nodes
	if s.locks.Topology.Replicated() {
		if err := s.locks.Restore(ctx); err != nil {
			return fmt.Errorf("restore the %s topology: %w", s.locks.Topology, err)
		}
		if err := s.locks.FlushPrimaries(ctx); err != nil {
			return fmt.Errorf("reset the %s topology: %w", s.locks.Topology, err)
		}
	} else {
		nodes = append(slices.Clone(s.locks.Nodes), nodes...)
	}
	for _, n := range nodes {
		c := redis.NewClient(n.Endpoint().ClientOptions(""))
		err := c.FlushAll(ctx).Err()
		c.Close()
		if err != nil {
			return fmt.Errorf("reset node %s: %w", n.Name(), err)
		}
	}
	return nil
}

// redisVersion asks the first node.
func (s *nodeSet) redisVersion(ctx context.Context) string {
	c := redis.NewClient(s.locks.Nodes[0].Endpoint().ClientOptions(""))
	defer c.Close()
	info, err := c.InfoMap(ctx, "server").Result()
	if err != nil {
		return ""
	}
	return info["Server"]["redis_version"]
}

// clientStartTimeout is what a new external client process's first
// request may take beyond the command timeout: an interpreter starting on
// a busy machine (a Python client takes 150 ms on an idle one).
const clientStartTimeout = 5 * time.Second

// commandTimeout bounds each Redis command of a cell's lockers: half the
// TTL, within [50 ms, 1 s]. A command slower than the lease is useless,
// and a long timeout would hide a partition.
func commandTimeout(ttl time.Duration) time.Duration {
	return min(max(ttl/2, 50*time.Millisecond), time.Second)
}

// runCell runs one cell from start to verdict. It never returns nil; a
// cell that could not run says why in Error.
func runCell(ctx context.Context, plan *cellPlan, nodes *nodeSet, o Options) *summary.CellResult {
	cell := plan.cell
	res := &summary.CellResult{ID: cell.ID, Lock: cell.Lock, Workload: cell.Workload.Name, Fault: cell.Fault, Seed: cell.Seed, Sample: cell.Sample, Spec: recordSpec(cell.Workload),
		Topology: cell.Topology, Network: networkPath(plan.req, o)}
	started := time.Now()
	defer func() { res.ElapsedMs = float64(time.Since(started).Microseconds()) / 1000 }()
	if err := cellBody(ctx, plan, nodes, o, res); err != nil {
		res.Error = oneLine(err)
	}
	return res
}

func cellBody(ctx context.Context, plan *cellPlan, nodes *nodeSet, o Options, res *summary.CellResult) (err error) {
	cell, spec, req, strategy := plan.cell, plan.spec, plan.req, plan.strategy
	dir := filepath.Join(o.Dir, "cells", cell.ID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := nodes.reset(ctx); err != nil {
		return err
	}
	groups := plan.topo.Groups

	// Proxies in front of the lock nodes only when the cell goes through
	// them: an idle proxy would cost a fast lock much of its throughput.
	var mesh *chaos.Mesh
	if res.Network == summary.NetworkProxied {
		lockAddrs := make([]chaos.NodeAddr, len(nodes.locks.Nodes))
		for i, n := range nodes.locks.Nodes {
			lockAddrs[i] = chaos.NodeAddr{Name: n.Name(), Addr: n.Endpoint().Addr}
		}
		if mesh, err = chaos.NewMeshOn(ctx, o.Agents.meshHost(), groups, lockAddrs); err != nil {
			return err
		}
		defer mesh.Close()
	}
	resNode := nodes.resource.Nodes[0]
	var resMesh *chaos.Mesh
	if req.ResourceProxy {
		if resMesh, err = chaos.NewMeshOn(ctx, o.Agents.meshHost(), groups, []chaos.NodeAddr{{Name: "resource", Addr: resNode.Endpoint().Addr}}); err != nil {
			return err
		}
		defer resMesh.Close()
	}

	env := workloads.Env{KeyPrefix: cell.ID + ":"}
	perGroup := (spec.Clients + spec.Groups - 1) / spec.Groups
	// target is set below, before the workload starts; the hooks run only
	// inside the workload's acquires.
	var target *chaos.Target
	var budget time.Duration // the strategy's shortest time budget
	for _, g := range groups {
		eps := make([]endpoint.Endpoint, len(nodes.locks.Nodes))
		for i, n := range nodes.locks.Nodes {
			eps[i] = n.Endpoint()
			if mesh != nil {
				eps[i].Addr = mesh.Addr(g, n.Name())
			}
		}
		cfg := locks.Config{Nodes: eps, Timeout: commandTimeout(spec.TTL), NodeTimeout: cell.NodeTimeout, PoolSize: perGroup + 1, Retry: spec.Retry,
			Deployment: deployment(nodes.locks, mesh, g)}
		budget = cfg.Timeout
		if strategy.MultiNode {
			budget = cfg.NodeTimeoutFor(spec.TTL)
		}
		if req.ClientFaults {
			// cut-between-commands: the schedule arms a worker, the
			// strategy's hook between SETNX and EXPIRE makes the cut.
			cfg.Hooks.BetweenCommands = func(ctx context.Context, _ string) { target.BetweenCommands(ctx, g) }
		}
		if plan.client == nil && o.session == nil {
			l, err := strategy.New(cfg)
			if err != nil {
				return err
			}
			defer l.Close()
			env.Lockers = append(env.Lockers, l)
		}
		opts := resNode.Endpoint().ClientOptions("")
		opts.PoolSize = perGroup + 1
		opts.ReadTimeout, opts.WriteTimeout = time.Minute, time.Minute // a delayed write must arrive, late
		rc := redis.NewClient(opts)
		defer rc.Close()
		res := workloads.NewResource(rc)
		if resMesh != nil {
			// delayed-write: only the writes go through the proxy.
			wopts := *opts
			wopts.Addr = resMesh.Addr(g, "resource")
			wc := redis.NewClient(&wopts)
			defer wc.Close()
			res = workloads.NewResourceDelayedWrites(rc, wc)
		}
		env.Resources = append(env.Resources, res)
	}

	if plan.client != nil {
		// An external lock client: one process per worker, each reaching
		// the nodes as its group does; their stderr goes to clients.log.
		log, err := os.Create(filepath.Join(dir, "clients.log"))
		if err != nil {
			return err
		}
		defer log.Close()
		for i := range spec.Clients {
			g := groups[i%len(groups)]
			addrs := make([]string, len(nodes.locks.Nodes))
			for j, n := range nodes.locks.Nodes {
				addrs[j] = n.Endpoint().Addr
				if mesh != nil {
					addrs[j] = mesh.Addr(g, n.Name())
				}
			}
			l, err := extclient.New(extclient.Config{Spec: *plan.client, Nodes: addrs, Topology: string(plan.topology),
				Timeout: commandTimeout(spec.TTL), StartTimeout: clientStartTimeout, Log: log})
			if err != nil {
				return fmt.Errorf("%w: %w", err, ErrBadScenario)
			}
			defer l.Close()
			env.ClientLockers = append(env.ClientLockers, l)
		}
		budget = commandTimeout(spec.TTL)
	}

	// Every connection is made and proven before the cell's clock starts:
	// dialling is not the lock's work (see locks.Warmer). A warm-up that
	// cannot finish (a machine too busy for a round trip within the
	// command timeout) does not stop the cell: the cell then measures what
	// it can, and its harness health says the warm-up failed.
	var warmErr error
	for _, l := range env.Lockers {
		if w, ok := l.(locks.Warmer); ok {
			warmErr = errors.Join(warmErr, w.Warm(ctx))
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}

	histPath := filepath.Join(dir, "history.jsonl")
	w, err := history.Open(histPath)
	if err != nil {
		return err
	}
	res.History = filepath.Join("cells", cell.ID, "history.jsonl")
	// Close once: at the end of the workload, or on the way out of an
	// error so that what was recorded reaches the disk either way.
	closed := false
	closeHistory := func() error {
		if closed {
			return nil
		}
		closed = true
		return w.Close()
	}
	defer closeHistory()
	clock := history.NewClock()
	env.Clock = clock
	env.NewRecorder = func() workloads.Recorder { return w.Stream() }
	if req.ClientFaults {
		env.Faults = workloads.NewClientFaults(spec.Clients)
	}

	var onAgents *agentRun
	if o.session != nil {
		if err := workloads.Prepare(ctx, spec, env); err != nil {
			return err
		}
		ac := &agentCell{plan: plan, nodes: nodes, mesh: mesh, resMesh: resMesh, groups: groups, timeout: commandTimeout(spec.TTL)}
		if onAgents, err = prepareOnAgents(ctx, o.session, ac, env.KeyPrefix, w, clock); err != nil {
			return err
		}
	}

	timeline := plan.timeline
	res.Timeline = recordTimeline(timeline)
	target = &chaos.Target{Cluster: nodes.locks, Mesh: mesh, ResourceMesh: resMesh, Faults: env.Faults, Record: w.Append, Now: clock.Now,
		LockKey: workloads.KeyName(env.KeyPrefix, 0)}
	chaosCtx, stopChaos := context.WithCancel(ctx)
	chaosDone := make(chan error, 1)
	go func() { chaosDone <- chaos.Run(chaosCtx, timeline, target) }()

	loaded := 1 // the lock node; a multi-node strategy loads every node
	if strategy.MultiNode {
		loaded = len(nodes.locks.Nodes)
	}
	if !spec.SkipResource {
		loaded++
	}
	var restoreProcs func()
	res.ClientProcs, restoreProcs = limitProcs(clientProcs(o.ClientProcs, loaded))
	probe := health.Start(probeInterval)
	var (
		wres *workloads.Result
		werr error
	)
	if onAgents != nil {
		wres, res.Agents, werr = onAgents.run(ctx, env)
	} else {
		wres, werr = workloads.Run(ctx, spec, env)
	}
	harness := judgeHarness(probe.Stop(), budget, warmErr)
	res.Harness = &harness
	if harness.Overloaded {
		res.Flags = append(res.Flags, summary.FlagHarnessOverloaded)
	}
	restoreProcs()
	stopChaos()
	cerr := <-chaosDone
	// Whatever happened, leave the nodes as the next cell needs them.
	herr := chaos.HealAll(context.WithoutCancel(ctx), target)
	if werr != nil {
		return werr
	}
	recordWorkload(res, wres)
	if cerr != nil && !errors.Is(cerr, context.Canceled) {
		return fmt.Errorf("fault schedule: %w", cerr)
	}
	if herr != nil {
		return fmt.Errorf("heal: %w", herr)
	}
	if err := closeHistory(); err != nil {
		return err
	}
	events, stats, err := history.ReadFileStats(histPath)
	if err != nil {
		return err
	}
	releases := checker.ReleasesCheckOwner // nolock's release frees nothing either
	if strategy.PlainRelease {
		releases = checker.ReleasesPlainDelete
	}
	chk, err := checker.Check(ctx, events, checker.Options{
		Timeout: o.CheckTimeout, StallBound: cell.StallBound, VisualizeDir: filepath.Join(dir, "visualizations"), Releases: releases, Stats: &stats,
	})
	if err != nil {
		return err
	}
	// The checker names its files as found from the working directory;
	// the summary names them from the run directory, which can move.
	for i := range chk.Visualizations {
		if rel, err := filepath.Rel(o.Dir, chk.Visualizations[i].Path); err == nil {
			chk.Visualizations[i].Path = filepath.ToSlash(rel)
		}
	}
	res.Check = chk
	res.Verdicts = summary.Verdicts{Mutex: chk.Mutex, Resource: chk.Resource, Liveness: chk.Liveness, Progress: chk.Progress}
	res.Notes = summary.Notes{Progress: chk.ProgressNote, Liveness: chk.LivenessNote}
	res.Witnesses = chk.Witnesses
	return nil
}

// deployment says how group g's clients reach a replicated topology as
// applications do (through Sentinel, or as a cluster client), each data
// node's address routed through the group's proxy for it when the cell
// goes through the mesh; nil on standalone nodes.
func deployment(c *cluster.Cluster, mesh *chaos.Mesh, g string) *locks.Deployment {
	if !c.Topology.Replicated() {
		return nil
	}
	d := &locks.Deployment{}
	if mesh != nil {
		d.Route = make(map[string]string, len(c.Nodes))
		for _, n := range c.Nodes {
			d.Route[n.Endpoint().Addr] = mesh.Addr(g, n.Name())
		}
	}
	if c.Topology == cluster.TopoSentinel {
		d.MasterName, d.SentinelAddrs = c.MasterName, c.SentinelAddrs()
	} else {
		d.ClusterAddrs = c.Addrs()
	}
	return d
}

// cpuModel is the processor's name from /proc/cpuinfo (Linux x86 and
// most arm64 kernels), or "".
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		name, value, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return ""
}
