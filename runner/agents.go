package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lockbench/lockbench/chaos"
	"github.com/lockbench/lockbench/fleet"
	"github.com/lockbench/lockbench/fleet/wire"
	"github.com/lockbench/lockbench/history"
	"github.com/lockbench/lockbench/locks"
	"github.com/lockbench/lockbench/summary"
	"github.com/lockbench/lockbench/workloads"
)

// defaultRegisterTimeout bounds the agents' registration: a pod's image
// may have to be pulled.
const defaultRegisterTimeout = 2 * time.Minute

// Agents run the cells' clients in agent processes (bench agent) instead
// of in this one, which stays the controller: it owns the nodes, the
// faults, the history and the checker.
type Agents struct {
	// Spec is the --agents value.
	Spec fleet.Spec
	// Engine starts the agents.
	Engine fleet.Engine
	// Listen is where the controller listens for them: 127.0.0.1:0 by
	// default, as local agents need.
	Listen string
	// Args are added to every agent's command line (test-only flags).
	Args []string
	// RegisterTimeout bounds their registration; zero means two minutes.
	RegisterTimeout time.Duration
	// Token is the agents' token; empty makes one up, which only agents
	// the engine starts can know.
	Token string
	// Advertise is the host remote agents reach this machine at (a
	// controller pod's IP). The fault proxies listen there instead of on
	// loopback, so that network faults reach the agents' traffic; without
	// it remote agents take no network fault.
	Advertise string
}

// Remote reports whether the agents run on other hosts (every engine but
// local), which reach nothing on this one's loopback interface.
func (a *Agents) Remote() bool { return a.Engine.Name() != "local" }

// meshHost is where a cell's fault proxies listen: loopback, or where
// remote agents reach this machine.
func (a *Agents) meshHost() string {
	if a != nil && a.Advertise != "" {
		return a.Advertise
	}
	return "127.0.0.1"
}

// checkAgents refuses, before anything starts, a cell that agents cannot
// run, in one line that says what to do.
func checkAgents(a *Agents, sc Scenario, plans []*cellPlan, provider string) error {
	if a == nil {
		return nil
	}
	if a.Remote() && provider != "external" {
		return fmt.Errorf("agents on %s run on other hosts, which cannot reach nodes this machine starts: use --provider external with nodes the agents can reach: %w", a.Engine.Name(), ErrBadScenario)
	}
	for _, p := range plans {
		id := p.cell.ID
		switch {
		case p.client != nil:
			return fmt.Errorf("cell %s: lock client %s runs one process per client on this host; agents run the built-in strategies: drop --agents or the lock client: %w", id, p.cell.Lock, ErrBadScenario)
		case !builtin(p.cell.Lock):
			return fmt.Errorf("cell %s: strategy %s is this program's own, and agents run the bench binary's built-in strategies: drop --agents: %w", id, p.cell.Lock, ErrBadScenario)
		case p.req.ClientFaults:
			return fmt.Errorf("cell %s: fault %s acts inside the clients, which run on the agents: run it without --agents: %w", id, p.cell.Fault, ErrBadScenario)
		case a.Remote() && len(p.req.Caps) > 0:
			return fmt.Errorf("cell %s: fault %s needs process control of nodes this machine starts, which agents on %s cannot reach: use network faults or none with remote agents: %w", id, p.cell.Fault, a.Engine.Name(), ErrBadScenario)
		case a.Remote() && a.Advertise == "" && (p.req.LockMesh || p.req.ResourceProxy):
			return fmt.Errorf("cell %s: fault %s goes through fault proxies that listen on this machine's loopback interface, which agents on %s cannot reach: give --agent-advertise (the controller pod's IP) or use --faults none: %w", id, p.cell.Fault, a.Engine.Name(), ErrBadScenario)
		}
	}
	return nil
}

// builtin reports whether the bench binary knows the strategy name.
func builtin(name string) bool {
	_, err := locks.Lookup(name)
	return err == nil
}

// openAgents starts the run's agents and waits for them to register.
func openAgents(ctx context.Context, a *Agents, runID, dir string) (*fleet.Session, error) {
	listen := a.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	timeout := a.RegisterTimeout
	if timeout <= 0 {
		timeout = defaultRegisterTimeout
	}
	return fleet.OpenWithToken(ctx, a.Engine, a.Spec, listen, a.Token, runID, dir, a.Args, timeout)
}

// agentCell is what the agent path of a cell needs from cellBody.
type agentCell struct {
	plan    *cellPlan
	nodes   *nodeSet
	mesh    *chaos.Mesh
	resMesh *chaos.Mesh
	groups  []string
	timeout time.Duration
}

// assign is the cell's assignment, before it is split among the agents:
// every group's addresses as this host reaches them (through the mesh
// when the cell is proxied).
func (c *agentCell) assign(prefix string) (wire.Assign, error) {
	p := c.plan
	a := wire.Assign{Cell: p.cell.ID, Spec: p.spec, KeyPrefix: prefix, Strategy: p.cell.Lock, Timeout: c.timeout, NodeTimeout: p.cell.NodeTimeout}
	res := c.nodes.resource.Nodes[0].Endpoint()
	if res.TLS != nil {
		return a, fmt.Errorf("agents cannot reach TLS nodes yet: run without --agents: %w", ErrBadScenario)
	}
	for _, g := range c.groups {
		grp := wire.Group{Deployment: deployment(c.nodes.locks, c.mesh, g),
			Resource: wire.Node{Addr: res.Addr, Username: res.Username, Password: res.Password, DB: res.DB}}
		for _, n := range c.nodes.locks.Nodes {
			ep := n.Endpoint()
			if ep.TLS != nil {
				return a, fmt.Errorf("agents cannot reach TLS nodes yet: run without --agents: %w", ErrBadScenario)
			}
			addr := ep.Addr
			if c.mesh != nil {
				addr = c.mesh.Addr(g, n.Name())
			}
			grp.Nodes = append(grp.Nodes, wire.Node{Addr: addr, Username: ep.Username, Password: ep.Password, DB: ep.DB})
		}
		if c.resMesh != nil {
			grp.ResourceWrites = c.resMesh.Addr(g, "resource")
		}
		a.Groups = append(a.Groups, grp)
	}
	return a, nil
}

// agentRun is a cell prepared on the agents.
type agentRun struct {
	cell *fleet.Cell
	spec workloads.Spec
}

// prepareOnAgents hands the cell to the agents and waits until they are
// ready, clocks measured; start releases them.
func prepareOnAgents(ctx context.Context, s *fleet.Session, c *agentCell, prefix string, w *history.Writer, clock history.Clock) (*agentRun, error) {
	a, err := c.assign(prefix)
	if err != nil {
		return nil, err
	}
	cell, err := s.Controller.Prepare(ctx, fleet.CellSpec{Assign: a, History: w, Clock: clock})
	if err != nil {
		return nil, err
	}
	return &agentRun{cell: cell, spec: c.plan.spec}, nil
}

// run releases the agents and waits for their shares: the workload's
// result, merged, and what each agent did. The lost updates are counted
// from the resource as this host sees it.
func (r *agentRun) run(ctx context.Context, env workloads.Env) (*workloads.Result, []summary.Agent, error) {
	if err := r.cell.Start(); err != nil {
		return nil, nil, err
	}
	shares, werr := r.cell.Wait(ctx)
	var parts []*workloads.Share
	agents := make([]summary.Agent, 0, len(shares))
	for _, sh := range shares {
		ag := summary.Agent{Name: sh.Name, Index: sh.Index, Clients: len(sh.Workers), Processes: sh.Processes,
			OffsetMs: nsMs(sh.Start.Offset), RTTMs: nsMs(sh.Start.RTT), UncertaintyMs: nsMs(sh.Uncertainty)}
		if sh.End.RTT > 0 {
			ag.DriftMs = nsMs(sh.End.Offset - sh.Start.Offset)
		}
		if sh.Share != nil {
			ag.Attempts, ag.AcquireOK = sh.Share.Counts.Attempts, sh.Share.Counts.AcquireOK
			parts = append(parts, sh.Share)
		}
		agents = append(agents, ag)
	}
	res := workloads.Merge(r.spec, parts...)
	if len(env.Resources) > 0 {
		if err := res.CountLostUpdates(ctx, env.Resources[0], env.KeyPrefix); err != nil {
			werr = errors.Join(werr, err)
		}
	}
	return res, agents, werr
}

// nsMs is ns in ms, to the µs.
func nsMs(ns int64) float64 { return float64(ns/1e3) / 1e3 }
