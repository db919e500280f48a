package chaos

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/lockbench/lockbench/cluster"
)

// Fault is one kind of fault lockbench can inject. Each is a type of its
// own (or one type for a small family, such as the delays on a link), in
// its own file fault_*.go, and carries everything about the fault: its
// catalogue entry, its parameters' defaults, what it needs from the run,
// what one occurrence of it acts on, and how it is applied and undone.
// Catalogue, Schedule (validation, Requirements, Timeline) and Run only
// iterate over the registry (Faults); none of them knows a fault by name.
// The shape follows etcd's robustness failpoints (Name, Inject, Available),
// split where a fault schedule needs more steps than a failpoint.
//
// To add a fault: a file with its type and its test, and one line in
// Faults.
type Fault interface {
	// Kind is the fault's catalogue entry: name, description, parameters
	// and their defaults, the process control it needs from the provider,
	// and how an occurrence is timed.
	Kind() FaultKind
	// Defaults returns st with the parameters it left at zero set to the
	// fault's defaults for topo, most of them relative to topo.TTL:
	// Duration, the fault's own parameters (Latency, Offset, …), Repeat
	// and Every where the fault has its own, and Nodes, how many nodes an
	// occurrence hits when st names none (left at zero: one).
	Defaults(st Step, topo Topology) Step
	// Check refuses, with the reason, a step the fault cannot carry out on
	// topo (its Nodes, Groups and Clients; the TTL may be zero), beyond
	// what every step is checked for (fields the fault does not take,
	// names that do not exist, negative times). It wraps ErrBadSchedule.
	Check(st Step, topo Topology) error
	// Require adds to r what the step needs from the run beyond the
	// provider capabilities of Kind().Needs, which Requirements adds
	// itself.
	Require(st Step, r *Requirements)
	// Aim fills in what one occurrence acts on: a.Nodes, a.Cuts or
	// a.Worker, and a.Target, the name its nemesis events carry.
	Aim(a *Action, o Occurrence)
	// Ready refuses, before anything is applied, an action t lacks the
	// means for (a proxy, a node, the client faults). It wraps ErrInvalid.
	Ready(t *Target, a Action) error
	// Apply starts the fault of a on t and Undo ends it; for an armed
	// fault (Kind().Armed) Apply arms the worker and Undo disarms it.
	// Both are called with t's lock held.
	Apply(ctx context.Context, t *Target, a Action) error
	Undo(ctx context.Context, t *Target, a Action) error
}

// Faults returns the registry: every fault lockbench can inject, in
// documentation order. Each call returns a fresh slice.
func Faults() []Fault {
	regs := slices.Clone(registry)
	slices.SortStableFunc(regs, func(a, b registration) int { return cmp.Compare(a.order, b.order) })
	out := make([]Fault, len(regs))
	for i, r := range regs {
		out[i] = r.fault
	}
	return out
}

// registration is one fault of the registry and its place in
// documentation order.
type registration struct {
	order int
	fault Fault
}

// registry is filled by the fault files' init functions (register) and
// only read afterwards: adding a fault is its own file and its test.
var registry []registration

// register adds faults to the registry at place order of the
// documentation, in the order given. Each fault file calls it from init.
func register(order int, faults ...Fault) {
	for i, f := range faults {
		registry = append(registry, registration{order: order*100 + i, fault: f})
	}
}

// ErrUnknownFault: a schedule names a fault that is not in the catalogue.
var ErrUnknownFault = errors.New("unknown fault")

// The sides a fault acts on (FaultKind.Side).
const (
	// SideNetwork faults act in the proxies between client groups and nodes.
	SideNetwork = "network"
	// SideNode faults act on a node's process (kill, pause, clock).
	SideNode = "node"
	// SideClient faults act in a worker (pause, crash) or in its lock
	// strategy (a cut between two commands).
	SideClient = "client"
	// SideResource faults act in the proxies in front of the protected
	// resource.
	SideResource = "resource"
)

// FaultKind describes one fault of the catalogue (DESIGN §6): what bench
// list faults prints and what Schedule.Validate checks a step against.
type FaultKind struct {
	// Name is what schedules and --faults use.
	Name string
	// Description is one line on what the fault does.
	Description string
	// Params lists the step fields the fault honours and their defaults.
	Params string
	// Needs are the kinds of process control the fault needs from the
	// cluster provider; none for network, resource and client faults.
	Needs []cluster.Capability
	// Side is where the fault acts: SideNetwork, SideNode, SideClient or
	// SideResource.
	Side string
	// Source is where the fault is discussed in the literature: what the
	// preset of the fault's own name cites.
	Source string

	// takes are the step fields the fault honours; Check refuses the
	// others, so that a typo in a schedule does not silently do nothing.
	takes fields
	// timing is how an occurrence is timed.
	timing timing
	// family groups faults that change the same thing (a link's delay
	// toxics, a node's process, its clock), for the overlap check; ""
	// = no check.
	family string
	// mesh: the fault acts through the proxies between the client
	// groups and the lock nodes (UsesMesh).
	mesh bool
	// replicated: the fault acts on replication, which only the
	// providers that start a replicated topology have.
	replicated bool
}

// UsesMesh reports whether the fault acts through the proxies between the
// client groups and the lock nodes (Target.Mesh): every network fault, and
// cut-between-commands, whose hook partitions a client group through them.
// A cell none of whose faults does reaches the lock nodes directly and pays
// nothing for proxies it would never use.
func (k FaultKind) UsesMesh() bool { return k.mesh }

// Armed reports whether the fault is armed in a worker, which carries it
// out at the right moment of its next critical section, rather than
// applied by the nemesis: it has no stop of its own and its nemesis events
// are recorded by the worker or by its Apply (client-pause, client-crash).
func (k FaultKind) Armed() bool { return k.timing == timingArmed }

// Providers names the providers that can inject the fault, in the order
// exec, docker, external.
func (k FaultKind) Providers() []string {
	var out []string
	for _, p := range cluster.Providers() {
		if k.replicated && !slices.Contains(cluster.TopoSentinel.Providers(), p.Name) {
			continue
		}
		if hasAll(p.Caps, k.Needs) {
			out = append(out, p.Name)
		}
	}
	return out
}

// timing is how an occurrence of a fault is timed.
type timing uint8

const (
	// timingLasting faults are applied at their start, stay in force
	// for Duration (or until the end of the cell) and are undone at
	// their stop.
	timingLasting timing = iota
	// timingInstant faults stop as they start (kill-restart): they take
	// no duration, and their stop follows their own start.
	timingInstant
	// timingArmed faults are armed in a worker and have no stop of their
	// own (Armed).
	timingArmed
)

// fields are the step fields a fault takes (FaultKind.takes).
type fields uint16

const (
	fNodes fields = 1 << iota // Nodes, Targets
	fGroups
	fCuts
	fLatency
	fJitter
	fOffset
	fRate
	fWorker
	fDuration
)

// Occurrence is one occurrence of a step, as Fault.Aim aims it.
type Occurrence struct {
	// Step is the step with its defaults filled in (Fault.Defaults).
	Step Step
	// Topology is what the timeline is expanded against.
	Topology Topology
	// Nodes are the nodes the occurrence hits, in cluster order: the
	// step's targets, else its first Nodes nodes, else (random) Nodes
	// drawn with the seed.
	Nodes []string
	// Rand is the step's generator, for what the fault draws itself.
	Rand *rand.Rand
}

// Groups is the step's client groups, default all, in topology order.
func (o Occurrence) Groups() []string {
	if len(o.Step.Groups) == 0 {
		return slices.Clone(o.Topology.Groups)
	}
	return inOrder(o.Topology.Groups, o.Step.Groups)
}

// Render names a network or resource fault's target: the nodes alone when
// every group is cut from the same ones, else "A→n4,n5; B→n1,n2". node
// stands in for empty node lists (the resource).
func (o Occurrence) Render(cuts []Cut, node string) string {
	list := func(c Cut) string {
		if len(c.Nodes) == 0 {
			return node
		}
		return strings.Join(c.Nodes, ",")
	}
	if len(cuts) == 0 {
		return ""
	}
	same := len(cuts) == len(o.Topology.Groups)
	for _, c := range cuts[1:] {
		if !slices.Equal(c.Nodes, cuts[0].Nodes) {
			same = false
		}
	}
	if same {
		return list(cuts[0])
	}
	parts := make([]string, len(cuts))
	for i, c := range cuts {
		parts[i] = c.Group + "→" + list(c)
	}
	return strings.Join(parts, "; ")
}

// inOrder dedupes names and sorts them in the order of all.
func inOrder(all, names []string) []string {
	var out []string
	for _, n := range all {
		if slices.Contains(names, n) {
			out = append(out, n)
		}
	}
	return out
}

// badStep is a step error wrapping ErrBadSchedule.
func badStep(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrBadSchedule)
}

// notReady is a Ready error wrapping ErrInvalid.
func notReady(a Action, format string, args ...any) error {
	return fmt.Errorf("chaos: %s on %s: %s: %w", a.Fault, a.Target, fmt.Sprintf(format, args...), ErrInvalid)
}

// The sides' shared behaviour: a fault type embeds the one it acts on and
// overrides what differs.

// noChecks is embedded by faults with nothing to check or require beyond
// what every step is checked for.
type noChecks struct{}

// Check accepts every step.
func (noChecks) Check(Step, Topology) error { return nil }

// onNodes is embedded by the faults acting on node processes.
type onNodes struct{ noChecks }

// Require adds nothing: the capabilities are Kind().Needs.
func (onNodes) Require(Step, *Requirements) {}

// Aim hits the occurrence's nodes.
func (onNodes) Aim(a *Action, o Occurrence) {
	a.Nodes = o.Nodes
	a.Target = strings.Join(o.Nodes, ",")
}

// Ready needs the cluster with every node of a in it.
func (onNodes) Ready(t *Target, a Action) error {
	if t.Cluster == nil {
		return notReady(a, "node faults need the cluster")
	}
	for _, n := range a.Nodes {
		if t.node(n) == nil {
			return notReady(a, "no node %q in the cluster", n)
		}
	}
	return nil
}

// onLinks is embedded by the faults acting in the proxies between the
// client groups and the lock nodes.
type onLinks struct{ noChecks }

// Require adds nothing: UsesMesh says the proxies are needed.
func (onLinks) Require(Step, *Requirements) {}

// Aim cuts every group of the step off the occurrence's nodes.
func (onLinks) Aim(a *Action, o Occurrence) {
	for _, g := range o.Groups() {
		a.Cuts = append(a.Cuts, Cut{Group: g, Nodes: slices.Clone(o.Nodes)})
	}
	a.Target = o.Render(a.Cuts, "")
}

// Ready needs a proxy for every (group, node) pair of a.
func (onLinks) Ready(t *Target, a Action) error {
	for _, c := range a.Cuts {
		for _, n := range c.Nodes {
			if t.Mesh.Addr(c.Group, n) == "" {
				return notReady(a, "the mesh has no proxy %s→%s (groups %v, nodes %v)", c.Group, n, t.Mesh.Groups(), t.Mesh.Nodes())
			}
		}
	}
	return nil
}

// onWorker is embedded by the faults acting in a worker.
type onWorker struct{}

// Check needs the step's worker among the clients.
func (onWorker) Check(st Step, topo Topology) error {
	if topo.Clients < 1 {
		return badStep("needs at least one client")
	}
	if st.Worker < -1 || st.Worker >= topo.Clients {
		return badStep("worker %d is not a client (0 … %d, or −1 to draw one)", st.Worker, topo.Clients-1)
	}
	return nil
}

// Require asks for client faults and enough clients for the worker.
func (onWorker) Require(st Step, r *Requirements) {
	r.ClientFaults = true
	r.MinClients = max(r.MinClients, st.Worker+1, 1)
}

// Aim hits the step's worker, drawn with the seed when it is −1.
func (onWorker) Aim(a *Action, o Occurrence) {
	a.Worker = o.Step.Worker
	if a.Worker < 0 {
		a.Worker = o.Rand.IntN(o.Topology.Clients)
	}
	a.Target = "worker " + strconv.Itoa(a.Worker)
}

// Ready needs the client faults shared with the workload.
func (onWorker) Ready(t *Target, a Action) error {
	if t.Faults == nil {
		return notReady(a, "client faults need Target.Faults, shared with the workload")
	}
	return nil
}

// lookupFault returns the registry's fault called name. An unknown name is
// an error wrapping ErrUnknownFault that lists the known ones.
func lookupFault(name string) (Fault, error) {
	for _, f := range Faults() {
		if f.Kind().Name == name {
			return f, nil
		}
	}
	return nil, fmt.Errorf("fault %q (known: %s): %w", name, strings.Join(FaultNames(), ", "), ErrUnknownFault)
}
