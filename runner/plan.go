package runner

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lockbench/lockbench/chaos"
	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/extclient"
	"github.com/lockbench/lockbench/locks"
	"github.com/lockbench/lockbench/workloads"
)

// cellPlan is what one cell will run, decided before any cell starts: its
// fault schedule and what the schedule needs, its strategy, its workload as
// the schedule widens it, and its fault timeline. The capacity check, the
// validation and the cell itself read the same plan, so they cannot
// disagree about what the cell is.
type cellPlan struct {
	cell     Cell
	sched    chaos.Schedule
	req      chaos.Requirements
	strategy locks.Strategy
	// spec is the cell's workload with at least the client groups and
	// clients its schedule needs.
	spec workloads.Spec
	// topo is what the timeline is expanded on: the lock nodes, the
	// client groups, the clients and the cell's TTL and duration; and
	// timeline the fault timeline. Both are set by expand, which the
	// capacity check does not wait for: naming a hundred thousand nodes
	// for every cell would take longer than refusing them.
	topo     chaos.Topology
	timeline []chaos.Action
	// topology is how the cell's lock nodes replicate.
	topology cluster.Topology
	// client is the external lock client the cell runs, one process per
	// worker; nil for a built-in strategy.
	client *extclient.Spec
}

// nodes is how many data nodes the cell runs on.
func (p *cellPlan) nodes(sc Scenario) int { return sc.nodesOn(p.topology) }

// planCell plans c, whose fault schedule is one of sc's hand-written
// schedules or a preset. An unknown fault schedule or lock is an error
// wrapping ErrBadScenario.
func planCell(sc Scenario, c Cell) (*cellPlan, error) {
	sched, err := sc.Schedule(c.Fault)
	if err != nil {
		return nil, fmt.Errorf("cell %s: %w: %w", c.ID, err, ErrBadScenario)
	}
	strategy, client, err := sc.strategy(c.Lock)
	if err != nil {
		return nil, fmt.Errorf("cell %s: %w: %w", c.ID, err, ErrBadScenario)
	}
	topology, err := cluster.ParseTopology(c.Topology)
	if err != nil {
		return nil, fmt.Errorf("cell %s: %w: %w", c.ID, err, ErrBadScenario)
	}
	req := sched.Requirements()
	spec := c.Workload
	spec.Groups = max(spec.Groups, req.MinGroups, 1)
	spec.Clients = max(spec.Clients, req.MinClients)
	return &cellPlan{cell: c, sched: sched, req: req, strategy: strategy, client: client, spec: spec, topology: topology}, nil
}

// planCells plans every cell of sc.
func planCells(sc Scenario, cells []Cell) ([]*cellPlan, error) {
	plans := make([]*cellPlan, len(cells))
	for i, c := range cells {
		p, err := planCell(sc, c)
		if err != nil {
			return nil, err
		}
		plans[i] = p
	}
	return plans, nil
}

// expand refuses a schedule the provider cannot carry out on sc's lock
// nodes, and expands the fault timeline: it is a pure function of the
// schedule, seed and topology, so a schedule longer than the cell is
// refused before anything runs, and the cell then runs this timeline.
func (p *cellPlan) expand(sc Scenario, prov cluster.Provider) error {
	bad := func(err error) error {
		return fmt.Errorf("scenario %q, faults %q, workload %q: %w: %w", sc.Name, p.cell.Fault, p.cell.Workload.Name, err, ErrBadScenario)
	}
	if !slices.Contains(p.topology.Providers(), prov.Name()) {
		return bad(fmt.Errorf("the %s topology needs a provider that starts it (%s), not %s: %w", p.topology, strings.Join(p.topology.Providers(), " or "), prov.Name(), cluster.ErrUnsupported))
	}
	if p.req.Replicated && !p.topology.Replicated() {
		return bad(fmt.Errorf("it fails over or cuts replication, which the %s topology does not have: run it on --topology sentinel or cluster", p.topology))
	}
	if p.strategy.Replicated && !p.topology.Replicated() && prov.Name() != cluster.ProviderExternal {
		return bad(fmt.Errorf("%s waits for replicas, which the %s topology does not have: run it on --topology sentinel or cluster", p.strategy.Name, p.topology))
	}
	nodes := p.nodes(sc)
	if err := p.sched.Validate(prov.Caps(), prov.Name(), nodes, p.spec.Groups, p.spec.Clients); err != nil {
		return bad(err)
	}
	p.topo = chaos.Topology{Nodes: chaos.NodeNames(nodes), Groups: chaos.GroupNames(p.spec.Groups), Clients: p.spec.Clients, TTL: p.spec.TTL, Duration: p.spec.Duration}
	timeline, err := p.sched.Timeline(p.cell.Seed, p.topo)
	if err != nil {
		return bad(err)
	}
	p.timeline = timeline
	return nil
}
