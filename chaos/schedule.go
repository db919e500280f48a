package chaos

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lockbench/lockbench/cluster"
)

// ErrBadSchedule: a schedule cannot run as written (a negative time, a
// target that does not exist, a parameter the fault does not take).
var ErrBadSchedule = errors.New("bad fault schedule")

// The phases of a nemesis event (DESIGN §4) and of an Action.
const (
	PhaseStart = "start"
	PhaseStop  = "stop"
)

// UntilEnd as a Step.Duration makes a fault last until the end of the cell
// (any negative duration does).
const UntilEnd time.Duration = -1

// SharedNodes, as a Step target, names the nodes both sides of the default
// asymmetric partition reach: n3 of five nodes, where Kleppmann's clock jump
// happens.
const SharedNodes = "shared"

// Bounds that keep every timeline finite whatever a schedule says.
const (
	// MaxOccurrences caps how often one step repeats.
	MaxOccurrences = 1000
	// MaxActions caps a whole timeline.
	MaxActions = 20000
	// MaxSpan caps how late an action may be when the cell has no duration.
	MaxSpan = 24 * time.Hour
)

// Step is one fault in a schedule: what, when, how often, on which targets.
// Zero values mean the fault's defaults (see Catalogue), most of them
// relative to the lease TTL of the cell.
type Step struct {
	// Fault is a catalogue name.
	Fault string `yaml:"fault" json:"fault"`
	// At is when the first occurrence starts, from the start of the cell.
	At time.Duration `yaml:"at,omitempty" json:"at_ns,omitempty"`
	// After, instead of At, starts the step this long after the previous
	// step's last occurrence ended (after the start of the cell for the
	// first step).
	After time.Duration `yaml:"after,omitempty" json:"after_ns,omitempty"`
	// Duration is how long each occurrence lasts; 0 = the fault's default,
	// negative (UntilEnd) = until the end of the cell. For client-pause it
	// is the length of the pause; kill-restart and client-crash take none.
	Duration time.Duration `yaml:"duration,omitempty" json:"duration_ns,omitempty"`
	// Every is the period between occurrences when Repeat asks for more
	// than one; default Duration + 2×TTL (flapping: 2×Duration).
	Every time.Duration `yaml:"every,omitempty" json:"every_ns,omitempty"`
	// Repeat is how many occurrences: 0 or 1 = once, n = n times, negative
	// = until the end of the cell. Capped at MaxOccurrences and at the end
	// of the cell.
	Repeat int `yaml:"repeat,omitempty" json:"repeat,omitempty"`
	// Random draws each occurrence's start uniformly in [start, start +
	// Window) from the run's seed, and, unless Targets are given, its
	// nodes too.
	Random bool `yaml:"random,omitempty" json:"random,omitempty"`
	// Window is the range Random draws from; default Every − Duration when
	// repeated, else the rest of the cell.
	Window time.Duration `yaml:"window,omitempty" json:"window_ns,omitempty"`
	// Nodes is how many nodes the fault hits: the first ones (n1, n2, …),
	// or drawn with the seed when Random. Default per fault.
	Nodes int `yaml:"nodes,omitempty" json:"nodes,omitempty"`
	// Targets names the nodes explicitly ("n2", or SharedNodes); it
	// excludes Nodes.
	Targets []string `yaml:"targets,omitempty" json:"targets,omitempty"`
	// Groups are the client groups a network or resource fault hits
	// (names from GroupNames); default all.
	Groups []string `yaml:"groups,omitempty" json:"groups,omitempty"`
	// Cuts, for partition-asymmetric only, says explicitly which group is
	// cut from which nodes.
	Cuts map[string][]string `yaml:"cuts,omitempty" json:"cuts,omitempty"`
	// Latency is the added delay of latency, jitter, slow-replies and
	// delayed-write.
	Latency time.Duration `yaml:"latency,omitempty" json:"latency_ns,omitempty"`
	// Jitter is the ± spread around Latency (latency, jitter).
	Jitter time.Duration `yaml:"jitter,omitempty" json:"jitter_ns,omitempty"`
	// Offset is how far clock-jump moves the clock forward.
	Offset time.Duration `yaml:"offset,omitempty" json:"offset_ns,omitempty"`
	// Rate is clock-fast's clock speed (2 = twice as fast).
	Rate float64 `yaml:"rate,omitempty" json:"rate,omitempty"`
	// Worker is the client a client fault hits; −1 draws it with the seed.
	Worker int `yaml:"worker,omitempty" json:"worker,omitempty"`
}

// Schedule is a declarative fault schedule: a named list of steps. It is
// data: Timeline expands it, with a seed, into timed actions and Run
// carries those out.
type Schedule struct {
	// Name is what --faults and --preset use.
	Name string `yaml:"name" json:"name"`
	// Description is a short explanation of the scenario.
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Source is where the scenario comes from in the literature.
	Source string `yaml:"source,omitempty" json:"source,omitempty"`
	// Persistence is the node persistence mode the scenario is about
	// ("" = whatever the run uses).
	Persistence cluster.Persistence `yaml:"persistence,omitempty" json:"persistence,omitempty"`
	// Steps are the faults.
	Steps []Step `yaml:"steps" json:"steps"`
}

// Topology is what a timeline is expanded against.
type Topology struct {
	// Nodes are the node names in order (NodeNames).
	Nodes []string
	// Groups are the client group names in order (GroupNames).
	Groups []string
	// Clients is the number of workers.
	Clients int
	// TTL is the lease length; fault defaults are relative to it.
	TTL time.Duration
	// Duration is the cell's length; no action falls after it and faults
	// still in force are stopped at it. 0 = the cell has no time bound
	// (an op budget): faults then end when Run's context does.
	Duration time.Duration
}

// NodeNames are the names the cluster gives n nodes: n1 … nN.
func NodeNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "n" + strconv.Itoa(i+1)
	}
	return out
}

// GroupNames are the names of n client groups: A, B, … Z, then G27, G28, ….
// Worker i belongs to group i mod n (workloads.Run); schedules name groups
// so, and the Mesh must be built with the same names.
func GroupNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		if i < 26 {
			out[i] = string(rune('A' + i))
		} else {
			out[i] = "G" + strconv.Itoa(i+1)
		}
	}
	return out
}

// Cut is one client group's share of a network or resource fault: the
// nodes it loses (partitions) or reaches slowly (latency).
type Cut struct {
	// Group is the client group.
	Group string `json:"group"`
	// Nodes are the nodes it is cut from or slowed down to; empty for a
	// resource fault.
	Nodes []string `json:"nodes,omitempty"`
}

// Action is one timed change of a timeline: a fault starts or stops.
type Action struct {
	// At is when, from the start of Run.
	At time.Duration `json:"at_ns"`
	// Step is the index of the schedule step, Occurrence the repetition.
	Step       int `json:"step"`
	Occurrence int `json:"occurrence"`
	// Fault is the catalogue name; Phase is PhaseStart or PhaseStop.
	Fault string `json:"fault"`
	Phase string `json:"phase"`
	// Target is what the nemesis event records: "n2", "n1,n2",
	// "A→n4,n5; B→n1,n2", "resource", "worker 3".
	Target string `json:"target"`
	// Nodes are the nodes of a node fault.
	Nodes []string `json:"nodes,omitempty"`
	// Cuts are the (group, nodes) pairs of a network fault, and the
	// groups of a resource fault (their Nodes are empty: the resource node
	// is Target.ResourceNode).
	Cuts []Cut `json:"cuts,omitempty"`
	// Worker is the client of a client fault, −1 otherwise.
	Worker int `json:"worker"`
	// Duration is how long the occurrence lasts (client-pause: the pause);
	// negative = until the end of the cell.
	Duration time.Duration `json:"duration_ns,omitempty"`
	// Latency, Jitter, Offset and Rate are the resolved parameters.
	Latency time.Duration `json:"latency_ns,omitempty"`
	Jitter  time.Duration `json:"jitter_ns,omitempty"`
	Offset  time.Duration `json:"offset_ns,omitempty"`
	Rate    float64       `json:"rate,omitempty"`
}

// Requirements are what a schedule needs from the run that carries it out.
type Requirements struct {
	// Caps is the process control the faults need from the provider.
	Caps []cluster.Capability
	// FakeTime: start the nodes with the clock shim (clock faults).
	FakeTime bool
	// Persistence is the mode the scenario is about ("" = any).
	Persistence cluster.Persistence
	// LockMesh: reach the lock nodes through a Mesh and pass it as
	// Target.Mesh (a fault that FaultKind.UsesMesh). Without it the
	// clients connect to the nodes directly: an idle proxy costs a large
	// share of a fast lock's throughput, and more for a strategy that
	// talks to every node.
	LockMesh bool
	// ResourceProxy: reach the protected resource through a Mesh
	// (delayed-write) and pass it as Target.ResourceMesh.
	ResourceProxy bool
	// ClientFaults: pass a workloads.ClientFaults to both the workload
	// and Target.Faults.
	ClientFaults bool
	// Replicated: the steps act on replication (failover,
	// replication-cut) and need the sentinel or cluster topology.
	Replicated bool
	// MinNodes, MinGroups and MinClients are the smallest topology the
	// steps make sense on.
	MinNodes, MinGroups, MinClients int
}

// Requirements says what the schedule needs; it assumes Validate passed.
func (s Schedule) Requirements() Requirements {
	r := Requirements{Persistence: s.Persistence}
	for _, st := range s.Steps {
		f, err := lookupFault(st.Fault)
		if err != nil {
			continue
		}
		k := f.Kind()
		for _, c := range k.Needs {
			if !slices.Contains(r.Caps, c) {
				r.Caps = append(r.Caps, c)
			}
		}
		if k.UsesMesh() {
			r.LockMesh = true
		}
		r.MinNodes = max(r.MinNodes, st.minNodes(), 1)
		r.MinGroups = max(r.MinGroups, st.minGroups(), 1)
		f.Require(st, &r)
	}
	return r
}

// minNodes is the smallest node count the step makes sense on.
func (st Step) minNodes() int {
	n := st.Nodes
	for _, t := range st.Targets {
		if t == SharedNodes {
			n = max(n, 3)
		} else if i, ok := nodeIndex(t); ok {
			n = max(n, i+1)
		}
	}
	for _, nodes := range st.Cuts {
		for _, t := range nodes {
			if i, ok := nodeIndex(t); ok {
				n = max(n, i+1)
			}
		}
	}
	return n
}

// minGroups is the smallest group count the step makes sense on.
func (st Step) minGroups() int {
	n := 1
	names := slices.Clone(st.Groups)
	for g := range st.Cuts {
		names = append(names, g)
	}
	for _, g := range names {
		if i, ok := groupIndex(g); ok {
			n = max(n, i+1)
		}
	}
	return n
}

// nodeIndex parses "nK" into K−1.
func nodeIndex(name string) (int, bool) {
	if !strings.HasPrefix(name, "n") {
		return 0, false
	}
	k, err := strconv.Atoi(name[1:])
	if err != nil || k < 1 || "n"+strconv.Itoa(k) != name {
		return 0, false
	}
	return k - 1, true
}

// groupIndex inverts GroupNames.
func groupIndex(name string) (int, bool) {
	if len(name) == 1 && name[0] >= 'A' && name[0] <= 'Z' {
		return int(name[0] - 'A'), true
	}
	if strings.HasPrefix(name, "G") {
		k, err := strconv.Atoi(name[1:])
		if err == nil && k > 26 && "G"+strconv.Itoa(k) == name {
			return k - 1, true
		}
	}
	return 0, false
}

// Validate refuses, up front and in one line, a schedule that cannot run on
// provider (whose capabilities are caps) with the given numbers of nodes,
// client groups and clients. A fault the provider cannot inject is an error
// wrapping cluster.ErrUnsupported that names the providers that can. The
// checks that need the TTL and the cell's duration are Timeline's.
func (s Schedule) Validate(caps []cluster.Capability, provider string, nodes, groups, clients int) error {
	if _, err := cluster.ParsePersistence(string(s.Persistence)); err != nil {
		return fmt.Errorf("schedule %q: %w", s.Name, err)
	}
	if provider == cluster.ProviderExternal && s.Persistence != "" && s.Persistence != cluster.PersistNone {
		return fmt.Errorf("schedule %q needs persistence %s, which the external provider cannot set: %w; use --provider exec or docker",
			s.Name, s.Persistence, cluster.ErrUnsupported)
	}
	for i, st := range s.Steps {
		k, err := LookupFault(st.Fault)
		if err != nil {
			return &StepError{Schedule: s.Name, Step: i, Fault: st.Fault, Err: err}
		}
		for _, c := range k.Needs {
			if !slices.Contains(caps, c) {
				return &StepError{Schedule: s.Name, Step: i, Fault: st.Fault, Err: fmt.Errorf("fault %s needs %s on the %s provider: %w; use --provider %s",
					k.Name, c, provider, cluster.ErrUnsupported, cluster.ProvidersWith(c))}
			}
		}
	}
	return s.check(Topology{Nodes: NodeNames(nodes), Groups: GroupNames(groups), Clients: clients})
}

// Check is Validate without the provider: every step against a cluster of
// nodes nodes, groups client groups and clients clients. A scenario file's
// schedules are checked so before the provider is known.
func (s Schedule) Check(nodes, groups, clients int) error {
	return s.check(Topology{Nodes: NodeNames(nodes), Groups: GroupNames(groups), Clients: clients})
}

// check is what Validate and Timeline share: every step against the
// topology's names, without the TTL.
func (s Schedule) check(topo Topology) error {
	for i, st := range s.Steps {
		if err := st.check(topo); err != nil {
			return &StepError{Schedule: s.Name, Step: i, Fault: st.Fault, Err: err}
		}
	}
	return nil
}

// StepError is a schedule step that cannot run: Err says why. Its message
// names the schedule and the step; Step lets a caller that read the
// schedule from a file name the line instead.
type StepError struct {
	// Schedule is the schedule's name.
	Schedule string
	// Step is the index of the step in Schedule.Steps (0 = the first).
	Step int
	// Fault is the step's fault.
	Fault string
	// Err is what is wrong; it wraps ErrBadSchedule or ErrUnknownFault.
	Err error
}

// Error names the schedule and the step (counted from 1) and says why.
func (e *StepError) Error() string {
	return fmt.Sprintf("schedule %q step %d (%s): %v", e.Schedule, e.Step+1, e.Fault, e.Err)
}

// Unwrap returns Err.
func (e *StepError) Unwrap() error { return e.Err }

// check validates one step: what every step is checked for, then the
// fault's own checks (Fault.Check).
func (st Step) check(topo Topology) error {
	bad := badStep
	nodes, groups := topo.Nodes, topo.Groups
	f, err := lookupFault(st.Fault)
	if err != nil {
		return err
	}
	k := f.Kind()
	if len(nodes) == 0 {
		return bad("no nodes")
	}
	// Fields the fault does not take are refused: a typo in a schedule
	// file must not silently do nothing.
	for _, f := range []struct {
		flag  fields
		name  string
		given bool
	}{
		{fNodes, "nodes/targets", st.Nodes != 0 || len(st.Targets) > 0},
		{fGroups, "groups", len(st.Groups) > 0},
		{fCuts, "cuts", len(st.Cuts) > 0},
		{fLatency, "latency", st.Latency != 0},
		{fJitter, "jitter", st.Jitter != 0},
		{fOffset, "offset", st.Offset != 0},
		{fRate, "rate", st.Rate != 0},
		{fWorker, "worker", st.Worker != 0},
		{fDuration, "duration", st.Duration != 0},
	} {
		if f.given && k.takes&f.flag == 0 {
			return bad("%s takes no %s", k.Name, f.name)
		}
	}
	switch {
	case st.At < 0 || st.After < 0 || st.Every < 0 || st.Window < 0 || st.Latency < 0 || st.Jitter < 0 || st.Offset < 0:
		return bad("times must not be negative")
	case st.At > 0 && st.After > 0:
		return bad("give at or after, not both")
	case st.Window > 0 && !st.Random:
		return bad("window needs random: true")
	case st.Nodes < 0:
		return bad("nodes must not be negative")
	case st.Nodes > 0 && len(st.Targets) > 0:
		return bad("give nodes or targets, not both")
	case st.Nodes > len(nodes):
		return bad("%d nodes asked for but the cluster has %d", st.Nodes, len(nodes))
	case st.Rate < 0 || st.Rate > 1000 || st.Rate != st.Rate:
		return bad("rate %v must be between 0 and 1000", st.Rate)
	case st.Latency > 0 && st.Jitter > st.Latency:
		return bad("jitter %v exceeds latency %v", st.Jitter, st.Latency)
	case st.Repeat > MaxOccurrences:
		return bad("repeat %d exceeds the cap of %d", st.Repeat, MaxOccurrences)
	}
	for _, t := range st.Targets {
		if t == SharedNodes {
			if len(nodes) < 3 {
				return bad("target %q needs at least 3 nodes, the cluster has %d", t, len(nodes))
			}
			continue
		}
		if !slices.Contains(nodes, t) {
			return bad("target %q is not a node (nodes: %s)", t, strings.Join(nodes, ", "))
		}
	}
	for _, g := range st.Groups {
		if !slices.Contains(groups, g) {
			return bad("group %q is not a client group (groups: %s)", g, strings.Join(groups, ", "))
		}
	}
	for g, ns := range st.Cuts {
		if !slices.Contains(groups, g) {
			return bad("cut group %q is not a client group (groups: %s)", g, strings.Join(groups, ", "))
		}
		for _, n := range ns {
			if !slices.Contains(nodes, n) {
				return bad("cut node %q is not a node (nodes: %s)", n, strings.Join(nodes, ", "))
			}
		}
	}
	if len(st.Cuts) > 0 && len(st.Groups) > 0 {
		return bad("give cuts or groups, not both")
	}
	if len(st.Cuts) > 0 {
		empty := true
		for _, ns := range st.Cuts {
			empty = empty && len(ns) == 0
		}
		if empty {
			return bad("cuts cut nothing")
		}
	}
	return f.Check(st, topo)
}

// resolved is a step with its defaults filled in for one topology.
type resolved struct {
	Step
	fault Fault
	kind  FaultKind
}

// resolve fills in the fault's defaults, relative to the TTL
// (Fault.Defaults), then the period of a repeated step where the fault
// has none of its own: the duration plus 2×TTL.
func (st Step) resolve(topo Topology) (resolved, error) {
	f, err := lookupFault(st.Fault)
	if err != nil {
		return resolved{}, err
	}
	r := resolved{Step: f.Defaults(st, topo), fault: f, kind: f.Kind()}
	if r.Jitter > r.Latency {
		return r, fmt.Errorf("jitter %v exceeds latency %v: %w", r.Jitter, r.Latency, ErrBadSchedule)
	}
	if r.Nodes == 0 {
		r.Nodes = 1
	}
	if r.Every == 0 && r.Repeat != 0 && r.Repeat != 1 {
		if r.Duration > 0 {
			r.Every = r.Duration + 2*topo.TTL
		} else {
			r.Every = 2 * topo.TTL
		}
	}
	return r, nil
}

// lasts reports whether an occurrence stays in force for a duration (not
// instant, not armed).
func (r resolved) lasts() bool { return r.kind.timing == timingLasting }

// occurrences is how many times the step may occur, before the end of the
// cell cuts it short.
func (r resolved) occurrences(cellEnd time.Duration) (int, error) {
	switch {
	case r.Repeat == 0 || r.Repeat == 1:
		return 1, nil
	case r.Repeat > 1:
		return min(r.Repeat, MaxOccurrences), nil
	case cellEnd == 0:
		return 0, fmt.Errorf("repeat until the end needs a cell duration: %w", ErrBadSchedule)
	default:
		return MaxOccurrences, nil
	}
}

// Timeline expands the schedule into a deterministic, sorted list of timed
// actions for topo: the same schedule, seed and topology always give the
// same timeline. Each step draws from its own generator (seeded with seed
// and the step's index), so appending a step never changes the draws of
// the steps before it. The timeline is bounded: at most MaxOccurrences per
// step and MaxActions in all, nothing at or after topo.Duration, and every
// fault still in force then is stopped at topo.Duration. Steps whose
// occurrences overlap on one node or link are refused: faults on one
// target are not stacked.
func (s Schedule) Timeline(seed uint64, topo Topology) ([]Action, error) {
	fail := func(err error) ([]Action, error) {
		return nil, fmt.Errorf("schedule %q: %w", s.Name, err)
	}
	switch {
	case len(topo.Nodes) == 0 || len(topo.Groups) == 0:
		return fail(fmt.Errorf("topology needs nodes and client groups: %w", ErrBadSchedule))
	case topo.TTL <= 0:
		return fail(fmt.Errorf("topology needs the lease TTL, got %v: %w", topo.TTL, ErrBadSchedule))
	case topo.Duration < 0:
		return fail(fmt.Errorf("cell duration %v is negative: %w", topo.Duration, ErrBadSchedule))
	}
	if err := s.check(topo); err != nil {
		return nil, err
	}
	b := builder{topo: topo, cellEnd: topo.Duration, intervals: map[conflictKey][]interval{}}
	var prevEnd time.Duration
	for i, st := range s.Steps {
		end, err := b.step(seed, i, st, prevEnd)
		if err != nil {
			return nil, &StepError{Schedule: s.Name, Step: i, Fault: st.Fault, Err: err}
		}
		prevEnd = end
	}
	if err := b.overlaps(); err != nil {
		return fail(err)
	}
	slices.SortStableFunc(b.acts, func(x, y timed) int {
		switch {
		case x.At != y.At:
			return cmp.Compare(x.At, y.At)
		case x.rank != y.rank:
			return x.rank - y.rank
		default:
			return x.seq - y.seq
		}
	})
	out := make([]Action, len(b.acts))
	for i, t := range b.acts {
		out[i] = t.Action
	}
	return out, nil
}

// timed is an action with its sort keys: at equal times a stop goes before
// a start (so back-to-back occurrences do not cut each other short), except
// the stop of an instant fault, which follows its own start.
type timed struct {
	Action
	rank int
	seq  int
}

// conflictKey is one thing a fault changes: a link's toxics or a node's
// process or clock.
type conflictKey struct{ family, group, node string }

// interval is one occurrence's hold on a conflictKey: [from, to).
type interval struct {
	from, to time.Duration
	step     int
}

// builder accumulates a timeline.
type builder struct {
	topo      Topology
	cellEnd   time.Duration
	acts      []timed
	intervals map[conflictKey][]interval
}

// stepStream separates each step's generator from the others'.
func stepStream(i int) uint64 { return 0x6c6f636b62656e63 ^ uint64(i+1)*0x9e3779b97f4a7c15 }

// step adds one step's actions and returns when its last occurrence ends.
func (b *builder) step(seed uint64, i int, st Step, prevEnd time.Duration) (time.Duration, error) {
	r, err := st.resolve(b.topo)
	if err != nil {
		return 0, err
	}
	rnd := rand.New(rand.NewPCG(seed, stepStream(i)))
	base := st.At
	if st.After > 0 {
		if prevEnd < 0 {
			return 0, fmt.Errorf("after follows a step that lasts until the end of the cell: %w", ErrBadSchedule)
		}
		base = prevEnd + st.After
	}
	if b.cellEnd > 0 && base >= b.cellEnd {
		return 0, fmt.Errorf("starts at %v, not before the cell ends at %v (lengthen the cell): %w", base, b.cellEnd, ErrBadSchedule)
	}
	n, err := r.occurrences(b.cellEnd)
	if err != nil {
		return 0, err
	}
	if n > 1 && r.lasts() && r.Duration < 0 {
		return 0, fmt.Errorf("a repeated fault needs a duration (it would last until the end of the cell): %w", ErrBadSchedule)
	}
	if n > 1 && r.lasts() && r.Duration > r.Every {
		return 0, fmt.Errorf("duration %v is longer than the period %v: occurrences would overlap: %w", r.Duration, r.Every, ErrBadSchedule)
	}
	window := r.Window
	if r.Random && window == 0 {
		switch {
		case n > 1:
			window = r.Every - max(r.Duration, 0)
		case b.cellEnd > 0:
			window = b.cellEnd - base - max(r.Duration, 0)
		default:
			return 0, fmt.Errorf("random needs a window when the cell has no duration: %w", ErrBadSchedule)
		}
		window = max(window, time.Millisecond)
	}
	if n > 1 && r.Random && r.lasts() && window+r.Duration > r.Every {
		return 0, fmt.Errorf("window %v + duration %v exceed the period %v: occurrences could overlap: %w", window, r.Duration, r.Every, ErrBadSchedule)
	}
	if b.cellEnd > 0 && base+window > b.cellEnd {
		window = b.cellEnd - base
	}

	fixedNodes := b.nodesFor(r, nil)
	end := base
	for k := range n {
		start := base + time.Duration(k)*r.Every
		if r.Random {
			start += time.Duration(rnd.Int64N(int64(window)))
		}
		if b.cellEnd > 0 && start >= b.cellEnd {
			break
		}
		if start > MaxSpan {
			return 0, fmt.Errorf("occurrence %d starts at %v, beyond the cap of %v: %w", k+1, start, MaxSpan, ErrBadSchedule)
		}
		nodes := fixedNodes
		if r.Random && len(r.Targets) == 0 {
			nodes = b.nodesFor(r, rnd)
		}
		a := Action{At: start, Step: i, Occurrence: k, Fault: r.kind.Name, Worker: -1, Duration: r.Duration,
			Latency: r.Latency, Jitter: r.Jitter, Offset: r.Offset, Rate: r.Rate}
		r.fault.Aim(&a, Occurrence{Step: r.Step, Topology: b.topo, Nodes: nodes, Rand: rnd})

		// When the occurrence ends: an instant fault at once; an armed
		// one has no stop of its own (the worker carries it out); the
		// others after Duration or at the end of the cell.
		var stop time.Duration
		hasStop := true
		switch r.kind.timing {
		case timingArmed:
			hasStop = false
			stop = start + max(r.Duration, 0)
		case timingInstant:
			stop = start
		default:
			if r.Duration < 0 {
				stop, hasStop = b.cellEnd, b.cellEnd > 0
				break
			}
			stop = start + r.Duration
			if b.cellEnd > 0 && stop > b.cellEnd {
				stop = b.cellEnd
			}
		}
		b.add(a, PhaseStart, 1)
		if hasStop {
			s := a
			s.At = stop
			rank := 0
			if r.kind.timing == timingInstant {
				rank = 2
			}
			b.add(s, PhaseStop, rank)
		}
		if len(b.acts) > MaxActions {
			return 0, fmt.Errorf("more than %d actions: %w", MaxActions, ErrBadSchedule)
		}
		to := stop
		switch {
		case !hasStop && r.lasts():
			to = MaxSpan + 1
			end = -1
		case !r.lasts():
			to = start + 1
		}
		b.hold(r, a, start, to)
		if end >= 0 {
			end = max(end, stop)
		}
	}
	return end, nil
}

// add appends one phase of a.
func (b *builder) add(a Action, phase string, rank int) {
	a.Phase = phase
	b.acts = append(b.acts, timed{Action: a, rank: rank, seq: len(b.acts)})
}

// hold notes what the occurrence changes, for the overlap check.
func (b *builder) hold(r resolved, a Action, from, to time.Duration) {
	if r.kind.family == "" {
		return
	}
	iv := interval{from: from, to: to, step: a.Step}
	for _, n := range a.Nodes {
		k := conflictKey{family: r.kind.family, node: n}
		b.intervals[k] = append(b.intervals[k], iv)
	}
	for _, c := range a.Cuts {
		nodes := c.Nodes
		if len(nodes) == 0 {
			nodes = []string{"resource"}
		}
		for _, n := range nodes {
			k := conflictKey{family: r.kind.family, group: c.Group, node: n}
			b.intervals[k] = append(b.intervals[k], iv)
		}
	}
}

// overlaps refuses two occurrences holding one thing at once.
func (b *builder) overlaps() error {
	keys := make([]conflictKey, 0, len(b.intervals))
	for k := range b.intervals {
		keys = append(keys, k)
	}
	// Sorted so that the error names the same conflict every time.
	slices.SortFunc(keys, func(x, y conflictKey) int {
		return strings.Compare(x.family+"\x00"+x.group+"\x00"+x.node, y.family+"\x00"+y.group+"\x00"+y.node)
	})
	for _, k := range keys {
		ivs := b.intervals[k]
		slices.SortStableFunc(ivs, func(x, y interval) int { return cmp.Compare(x.from, y.from) })
		for j := 1; j < len(ivs); j++ {
			if ivs[j].from < ivs[j-1].to {
				where := k.node
				if k.group != "" {
					where = k.group + "→" + k.node
				}
				return fmt.Errorf("steps %d and %d both act on %s (%s) at %v; faults on one target are not stacked: %w",
					ivs[j-1].step+1, ivs[j].step+1, where, k.family, ivs[j].from, ErrBadSchedule)
			}
		}
	}
	return nil
}

// sharedRange is where the default asymmetric partition's two majorities
// overlap: nodes[lo:hi].
func sharedRange(n int) (lo, hi int) {
	m := n/2 + 1
	return n - m, m
}

// nodesFor picks a node fault's or a partition's nodes: explicit targets,
// else the first r.Nodes nodes, else (rnd given) r.Nodes drawn at random.
// The result is in cluster order.
func (b *builder) nodesFor(r resolved, rnd *rand.Rand) []string {
	all := b.topo.Nodes
	if len(r.Targets) > 0 {
		var out []string
		for _, t := range r.Targets {
			if t == SharedNodes {
				lo, hi := sharedRange(len(all))
				out = append(out, all[lo:hi]...)
			} else {
				out = append(out, t)
			}
		}
		return inOrder(all, out)
	}
	if rnd == nil {
		return slices.Clone(all[:r.Nodes])
	}
	perm := rnd.Perm(len(all))[:r.Nodes]
	out := make([]string, len(perm))
	for i, p := range perm {
		out[i] = all[p]
	}
	return inOrder(all, out)
}
