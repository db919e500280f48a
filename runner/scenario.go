package runner

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/lockbench/lockbench/chaos"
	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/extclient"
	"github.com/lockbench/lockbench/locks"
	"github.com/lockbench/lockbench/scenarios"
	"github.com/lockbench/lockbench/workloads"
)

// ErrBadScenario marks a scenario that cannot run; the message says what
// to change, in one line.
var ErrBadScenario = errors.New("bad scenario")

// Scenario is a scenario file (YAML) or the same built from flags. It
// expands into cells: lock × workload × fault × seed (× repeat).
type Scenario struct {
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description" json:"description,omitempty"`
	// Provider is auto, exec, docker or external.
	Provider string `yaml:"provider" json:"provider,omitempty"`
	// Redis names external nodes; --redis-addrs and --redis-tls-* win
	// over it. Never recorded: its addresses may hold passwords.
	Redis RedisNodes `yaml:"redis" json:"-"`
	// Nodes is how many lock nodes to start on the standalone topology
	// (the resource gets its own); a replicated topology has its own
	// shape (bench list topologies).
	Nodes int `yaml:"nodes" json:"nodes"`
	// Topologies are how the lock nodes replicate (bench list
	// topologies): one name or a list; every cell runs on each. Default
	// standalone.
	Topologies NameList `yaml:"topology" json:"topologies,omitempty"`
	// Locks are strategy names (bench list locks) and the names of the
	// scenario's LockClients.
	Locks []string `yaml:"locks" json:"locks"`
	// LockClients declares external lock clients (docs/protocol.md),
	// each then a lock name for Locks. Not `clients:`, which is the
	// client count.
	LockClients []LockClient `yaml:"lock_clients" json:"lock_clients,omitempty"`
	// Strategies are lock strategies a Go program adds to the built-in
	// ones (its own locks.Locker, run in process): each is then a lock
	// name for Locks. See the package example.
	Strategies []locks.Strategy `yaml:"-" json:"-"`
	// Workloads are preset names or inline specs.
	Workloads []WorkloadRef `yaml:"workloads" json:"workloads"`
	// Faults are the cells' fault schedules by name: presets (bench list
	// presets) or Schedules. A scenario file's faults: list holds names
	// and hand-written schedules (scenario_faults.go, docs/faults.md).
	Faults []string `yaml:"-" json:"faults"`
	// Schedules are the schedules the scenario file wrote out in its
	// faults: list, in its order.
	Schedules []chaos.Schedule `yaml:"-" json:"schedules,omitempty"`
	// Seeds: one cell per seed.
	Seeds []uint64 `yaml:"seeds" json:"seeds"`
	// Repeat is how many independent samples of each cell to take.
	Repeat int `yaml:"repeat" json:"repeat,omitempty"`
	// Duration, Clients and TTL override every workload when set.
	Duration time.Duration `yaml:"duration" json:"duration_ns,omitempty"`
	Clients  int           `yaml:"clients" json:"clients,omitempty"`
	TTL      time.Duration `yaml:"ttl" json:"ttl_ns,omitempty"`
	// NodeTimeout is the per-node timeout of Redlock-family acquires
	// (0 = locks.DefaultNodeTimeout, at most TTL/4).
	NodeTimeout time.Duration `yaml:"node_timeout" json:"node_timeout_ns,omitempty"`
	// StallBound is the checker's stall bound for every cell (0 = the
	// checker's default, max(3 × TTL, 5 s)); liveness is assessed only in
	// cells with a fault-free stretch longer than it.
	StallBound time.Duration `yaml:"stall_bound" json:"stall_bound_ns,omitempty"`

	// src is where the file wrote Schedules, for errors naming lines.
	src *faultSource
}

// LockClient is an external lock client as a scenario declares it: a
// name for Locks, the command that starts one client process, and what
// its release does (extclient.ReleaseOwner, or ReleasePlain for a DEL
// that frees whoever holds the lock).
type LockClient struct {
	Name    string   `yaml:"name" json:"name"`
	Command []string `yaml:"command" json:"command"`
	Release string   `yaml:"release" json:"release"`
}

// spec is the client as extclient takes it; release defaults to owner.
func (c LockClient) spec() extclient.Spec {
	return extclient.Spec{Name: c.Name, Command: c.Command, Release: cmp.Or(c.Release, extclient.ReleaseOwner)}
}

// strategy looks a lock name up among the built-in strategies and the
// scenario's lock clients; client is nil for a built-in one.
func (s Scenario) strategy(name string) (st locks.Strategy, client *extclient.Spec, err error) {
	for _, own := range s.Strategies {
		if own.Name != name {
			continue
		}
		if _, err := locks.Lookup(name); err == nil || own.New == nil {
			return own, nil, fmt.Errorf("strategy %q: a built-in strategy has that name, or it has no New: %w", name, locks.ErrBadConfig)
		}
		return own, nil, nil
	}
	for _, c := range s.LockClients {
		if c.Name != name {
			continue
		}
		spec := c.spec()
		if err := spec.Validate(); err != nil {
			return st, nil, err
		}
		return locks.Strategy{Name: name, Description: "external lock client: " + strings.Join(spec.Command, " "),
			Params: "protocol v1 (docs/protocol.md)", PlainRelease: spec.Release == extclient.ReleasePlain}, &spec, nil
	}
	st, err = locks.Lookup(name)
	if err != nil && len(s.LockClients) > 0 {
		names := make([]string, len(s.LockClients))
		for i, c := range s.LockClients {
			names[i] = c.Name
		}
		err = fmt.Errorf("%w (the scenario's lock clients: %s)", err, strings.Join(names, ", "))
	}
	return st, nil, err
}

// RedisNodes are a scenario's external nodes (provider external or auto):
// addresses as --redis-addrs takes them (host:port, redis://, rediss://),
// lock nodes first and the resource last, and the TLS files of the
// rediss:// ones.
type RedisNodes struct {
	Addrs       AddrList `yaml:"addrs"`
	TLSCA       string   `yaml:"tls_ca"`
	TLSCert     string   `yaml:"tls_cert"`
	TLSKey      string   `yaml:"tls_key"`
	TLSInsecure bool     `yaml:"tls_insecure"`
}

// AddrList is a list of addresses written as a YAML sequence or as one
// comma-separated string, as --redis-addrs takes them. Taking both also
// keeps yaml's type errors, which quote the value, from printing one.
type AddrList []string

// UnmarshalYAML accepts "a,b" or [a, b].
func (l *AddrList) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalarOrList(n, "redis addrs", "address")
	*l = v
	return err
}

// NameList is a list of names written as a YAML sequence or as one
// comma-separated string ("sentinel" or [standalone, sentinel]).
type NameList []string

// UnmarshalYAML accepts "a,b" or [a, b].
func (l *NameList) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalarOrList(n, "topology", "name")
	*l = v
	return err
}

// scalarOrList reads "a,b" or [a, b]; field and item name them in errors.
func scalarOrList(n *yaml.Node, field, item string) ([]string, error) {
	var out []string
	if n.Kind == yaml.ScalarNode {
		for _, a := range strings.Split(n.Value, ",") {
			if a = strings.TrimSpace(a); a != "" {
				out = append(out, a)
			}
		}
		return out, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("line %d: %s: want a list of %ss", n.Line, field, item)
	}
	out = make([]string, len(n.Content))
	for i, c := range n.Content {
		if c.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: %s: want a%s %s", c.Line, field, map[bool]string{true: "n", false: ""}[strings.ContainsAny(item[:1], "aeiou")], item)
		}
		out[i] = strings.TrimSpace(c.Value)
	}
	return out, nil
}

// applyTo fills what o leaves empty: addresses as a whole, each TLS
// option on its own.
func (r RedisNodes) applyTo(o *cluster.ExternalOptions) {
	if len(o.Addrs) == 0 {
		o.Addrs = r.Addrs
	}
	for _, v := range []struct {
		field *string
		from  string
	}{{&o.TLS.CA, r.TLSCA}, {&o.TLS.Cert, r.TLSCert}, {&o.TLS.Key, r.TLSKey}} {
		if *v.field == "" {
			*v.field = v.from
		}
	}
	o.TLS.Insecure = o.TLS.Insecure || r.TLSInsecure
}

// scenarioFile is a scenario file as written: its faults: entries are
// names or schedules, read by parseFaults.
type scenarioFile struct {
	Scenario `yaml:",inline"`
	Faults   []yaml.Node `yaml:"faults"`
}

// WorkloadRef is a workload in a scenario: a preset name, or a mapping
// with an optional `preset:` to start from and fields to override.
type WorkloadRef struct {
	Spec workloads.Spec
}

// UnmarshalYAML accepts "hot-key" or {preset: hot-key, clients: 16, ...}.
func (w *WorkloadRef) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		spec, err := workloads.Preset(n.Value)
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		w.Spec = spec
		return nil
	}
	var base struct {
		Preset string `yaml:"preset"`
	}
	// Decode twice: first the preset to start from, then the overrides on
	// top of it (yaml leaves fields the mapping does not name alone).
	if err := n.Decode(&base); err != nil {
		return err
	}
	if base.Preset != "" {
		spec, err := workloads.Preset(base.Preset)
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		w.Spec = spec
	}
	var over struct {
		Preset         string `yaml:"preset"`
		workloads.Spec `yaml:",inline"`
	}
	over.Spec = w.Spec
	if err := n.Decode(&over); err != nil {
		return err
	}
	w.Spec = over.Spec
	if w.Spec.Name == "" {
		w.Spec.Name = fmt.Sprintf("workload-line-%d", n.Line)
	}
	return nil
}

// MarshalYAML writes the spec back out.
func (w WorkloadRef) MarshalYAML() (any, error) { return w.Spec, nil }

// ParseScenario reads a scenario from YAML. Unknown fields are errors, with
// their line; so is whatever is wrong in a hand-written fault schedule.
func ParseScenario(b []byte) (*Scenario, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f scenarioFile
	if err := dec.Decode(&f); err != nil {
		msg := strings.ReplaceAll(oneLine(err), "in type runner.scenarioFile", "in a scenario")
		return nil, fmt.Errorf("%s: %w", msg, ErrBadScenario)
	}
	s := f.Scenario
	if err := parseFaults(f.Faults, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// LoadScenario reads a scenario file, or a built-in one when preset is set.
func LoadScenario(file, preset string) (*Scenario, error) {
	if preset != "" {
		b, ok := scenarios.Read(preset)
		if !ok {
			return nil, fmt.Errorf("unknown preset %q (known: %s): %w", preset, strings.Join(scenarios.Names(), ", "), ErrBadScenario)
		}
		return parseFile("scenarios/"+preset+".yaml", b)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %v: %w", err, ErrBadScenario)
	}
	return parseFile(file, b)
}

// parseFile is ParseScenario for a file: errors at a line say FILE:LINE,
// and so do the errors Expand finds in the file's fault schedules.
func parseFile(file string, b []byte) (*Scenario, error) {
	s, err := ParseScenario(b)
	var le *lineError
	switch {
	case errors.As(err, &le):
		return nil, fmt.Errorf("%s:%d: %s: %w", file, le.line, le.msg, ErrBadScenario)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if s.src != nil {
		s.src.file = file
	}
	return s, nil
}

// oneLine joins a multi-line error message (yaml lists one error a line).
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}

// withDefaults fills what the scenario left out.
func (s Scenario) withDefaults() Scenario {
	if s.Name == "" {
		s.Name = "custom"
	}
	if s.Provider == "" {
		s.Provider = "auto"
	}
	if s.Nodes == 0 {
		s.Nodes = 5
	}
	if len(s.Faults) == 0 {
		s.Faults = []string{"none"}
	}
	if len(s.Seeds) == 0 {
		s.Seeds = []uint64{1}
	}
	if s.Repeat == 0 {
		s.Repeat = 1
	}
	if len(s.Topologies) == 0 {
		s.Topologies = NameList{string(cluster.TopoStandalone)}
	}
	return s
}

// nodesOn is how many data nodes the scenario runs on topology t: its
// Nodes on standalone, the topology's own shape otherwise.
func (s Scenario) nodesOn(t cluster.Topology) int {
	if n := t.DataNodes(); n > 0 {
		return n
	}
	return s.Nodes
}

// Cell is one measurement: a lock under a workload and a fault schedule
// with a seed; Sample numbers the repeats.
type Cell struct {
	ID       string         `json:"id"`
	Lock     string         `json:"lock"`
	Workload workloads.Spec `json:"workload"`
	Fault    string         `json:"fault"`
	Seed     uint64         `json:"seed"`
	Sample   int            `json:"sample"`
	// Topology is how the lock nodes replicate; "" is standalone.
	Topology string `json:"topology,omitempty"`
	// StallBound is the checker's stall bound (0 = its default).
	StallBound time.Duration `json:"stall_bound_ns,omitempty"`
	// NodeTimeout is the Redlock-family per-node timeout (0 = default).
	NodeTimeout time.Duration `json:"node_timeout_ns,omitempty"`
}

// Expand validates the scenario and lists its cells, every lock's cells of
// one fault and workload side by side so a partial run still compares.
func (s Scenario) Expand() ([]Cell, error) {
	s = s.withDefaults()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("scenario %q: %s: %w", s.Name, fmt.Sprintf(format, args...), ErrBadScenario)
	}
	if s.Nodes < 1 {
		return nil, bad("nodes must be at least 1, got %d", s.Nodes)
	}
	if s.Duration < 0 || s.TTL < 0 || s.Clients < 0 || s.Repeat < 0 || s.NodeTimeout < 0 || s.StallBound < 0 {
		return nil, bad("duration, ttl, clients, repeat, node_timeout and stall_bound must not be negative")
	}
	if len(s.Locks) == 0 || len(s.Workloads) == 0 {
		return nil, bad("give at least one lock and one workload")
	}
	topologies := make([]cluster.Topology, len(s.Topologies))
	for i, name := range s.Topologies {
		t, err := cluster.ParseTopology(name)
		if err != nil {
			return nil, bad("%v (bench list topologies)", errors.Unwrap(err))
		}
		topologies[i] = t
	}
	for _, c := range s.LockClients {
		if err := c.spec().Validate(); err != nil {
			return nil, bad("%v", err)
		}
	}
	for _, l := range s.Locks {
		st, _, err := s.strategy(l)
		if err != nil {
			return nil, bad("%v", err)
		}
		for _, t := range topologies {
			if st.MultiNode && t != cluster.TopoStandalone {
				return nil, bad("%s needs independent primaries, not the %s topology: run it on topology standalone", l, t)
			}
		}
		if st.MultiNode && slices.Contains(topologies, cluster.TopoStandalone) && s.Nodes < 3 {
			return nil, bad("%s needs at least 3 nodes, the scenario has %d", l, s.Nodes)
		}
	}
	specs := make([]workloads.Spec, len(s.Workloads))
	for i, w := range s.Workloads {
		spec := w.Spec
		if s.Duration > 0 {
			spec.Duration = s.Duration
		}
		if s.Clients > 0 {
			spec.Clients = s.Clients
		}
		if s.TTL > 0 {
			spec.TTL = s.TTL
		}
		if spec.Groups == 0 {
			spec.Groups = 1
		}
		if err := spec.Validate(); err != nil {
			return nil, bad("%v", err)
		}
		if s.NodeTimeout >= spec.TTL {
			return nil, bad("node_timeout %v must be below the TTL %v of workload %q (redis.io: small compared to the auto-release time)", s.NodeTimeout, spec.TTL, spec.Name)
		}
		specs[i] = spec
	}
	for _, f := range s.Faults {
		if _, err := s.Schedule(f); err != nil {
			return nil, bad("%v", err)
		}
	}
	if err := s.checkSchedules(specs); err != nil {
		return nil, err
	}
	if err := checkCellCount(s.Name, len(s.Locks), len(specs), len(s.Faults)*len(topologies), len(s.Seeds), s.Repeat); err != nil {
		return nil, err
	}
	// Samples are the outer loop: --repeat N takes N passes over every
	// cell, so a burst of load on the machine hits one sample of many
	// cells rather than every sample of a few (the gate needs independent
	// samples).
	// Topologies come next: a topology's nodes are started once for
	// all of its cells.
	var cells []Cell
	for sample := range s.Repeat {
		for _, topo := range topologies {
			for _, fault := range s.Faults {
				for _, spec := range specs {
					for _, seed := range s.Seeds {
						for _, lock := range s.Locks {
							cells = append(cells, newCell(len(cells)+1, lock, topo, spec, fault, seed, sample, s))
						}
					}
				}
			}
		}
	}
	return cells, nil
}

// newCell is the cell numbered n. Its ID names the topology only when it
// is not standalone, so that the IDs of runs from before topologies
// existed still match.
func newCell(n int, lock string, topo cluster.Topology, spec workloads.Spec, fault string, seed uint64, sample int, s Scenario) Cell {
	c := Cell{Lock: lock, Workload: spec, Fault: fault, Seed: seed, Sample: sample, StallBound: s.StallBound, NodeTimeout: s.NodeTimeout}
	c.Workload.Seed = seed
	name := lock
	if topo != cluster.TopoStandalone {
		c.Topology = string(topo)
		name += "-" + string(topo)
	}
	c.ID = fmt.Sprintf("%03d-%s-%s-%s-s%d", n, name, spec.Name, fault, seed)
	if s.Repeat > 1 {
		c.ID += fmt.Sprintf("-r%d", sample)
	}
	return c
}

// checkCellCount refuses, before they are built, more cells than maxCells.
func checkCellCount(name string, locks, workloads, faults, seeds, repeat int) error {
	n := int64(1)
	for _, k := range []int{locks, workloads, faults, seeds, repeat} {
		if int64(k) > maxCells/n {
			return &tooBig{fmt.Sprintf("scenario %q expands into more than %d cells (%d locks × %d workloads × %d faults × %d seeds × repeat %d); run at most %d cells at a time (fewer locks, workloads, faults or seeds, or a smaller --repeat)",
				name, maxCells, locks, workloads, faults, seeds, repeat, maxCells)}
		}
		n *= int64(k)
	}
	return nil
}

// checkSchedules checks the hand-written schedules the cells use against
// what only the whole scenario tells (its nodes, each workload's TTL,
// length, groups and clients, the seeds), and names the line of the step
// at fault. The provider's part is checked when the run starts.
func (s Scenario) checkSchedules(specs []workloads.Spec) error {
	for _, name := range s.Faults {
		i := slices.IndexFunc(s.Schedules, func(sc chaos.Schedule) bool { return sc.Name == name })
		if i < 0 {
			continue
		}
		sched := s.Schedules[i]
		req := sched.Requirements()
		for _, spec := range specs {
			for _, tname := range s.Topologies {
				t, _ := cluster.ParseTopology(tname) // Expand checked it
				nodes := s.nodesOn(t)
				groups, clients := max(spec.Groups, req.MinGroups, 1), max(spec.Clients, req.MinClients)
				err := sched.Check(nodes, groups, clients)
				for _, seed := range s.Seeds {
					if err != nil {
						break
					}
					topo := chaos.Topology{Nodes: chaos.NodeNames(nodes), Groups: chaos.GroupNames(groups), Clients: clients, TTL: spec.TTL, Duration: spec.Duration}
					_, err = sched.Timeline(seed, topo)
				}
				if err == nil {
					continue
				}
				if msg, ok := s.src.stepLine(err); ok {
					return fmt.Errorf("%s (workload %q, topology %s, nodes %d, ttl %v, duration %v): %w", msg, spec.Name, t, nodes, spec.TTL, spec.Duration, ErrBadScenario)
				}
				return fmt.Errorf("scenario %q, faults %q, workload %q, topology %s: %w: %w", s.Name, name, spec.Name, t, err, ErrBadScenario)
			}
		}
	}
	return nil
}
