// Package summary is the schema of summary.json (results/README.md): the
// persisted record of a run, which bench run and bench zoo fill in and the
// report, bench compare and the zoo's matrix read. Its types are plain
// fields copied from the packages that produce them (the workload spec,
// the fault timeline, the harness's health), so that reading a summary
// links neither the fault injection nor the node providers; the JSON names
// are the schema and do not change. It is read and written here only.
package summary

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// SchemaVersion is the version of summary.json this package reads and
// writes; readers refuse any other.
const SchemaVersion = 1

// Summary is summary.json.
type Summary struct {
	SchemaVersion int       `json:"schema_version"`
	RunID         string    `json:"run_id"`
	Started       time.Time `json:"started"`
	ElapsedMs     float64   `json:"elapsed_ms"`
	Machine       Machine   `json:"machine"`
	Provider      string    `json:"provider"`
	ProviderWhy   string    `json:"provider_why"`
	Scenario      Scenario  `json:"scenario"`
	// ProxyCost is what an idle proxy cost the harness on this machine,
	// measured before the first cell: the share of throughput a proxied
	// cell's figures lose to the proxies. Nil in runs before it was
	// measured.
	ProxyCost *ProxyCost `json:"proxy_cost,omitempty"`
	// Agents is the --agents spec the clients ran on ("local:3",
	// "k8s:bench"); empty when the controller ran them itself.
	Agents      string       `json:"agents,omitempty"`
	Interrupted bool         `json:"interrupted,omitempty"`
	Cells       []CellResult `json:"cells"`
}

// Machine describes where the run happened.
type Machine struct {
	Hostname string `json:"hostname"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
	CPUs     int    `json:"cpus"`
	// CPUModel is the processor's name, "" where it is not known.
	CPUModel  string `json:"cpu_model,omitempty"`
	GoVersion string `json:"go_version"`
	Redis     string `json:"redis_version,omitempty"`
}

// Scenario is the scenario as run: after defaults and flag overrides.
type Scenario struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Provider is auto, exec, docker or external, as asked for (the one
	// chosen is Summary.Provider).
	Provider string `json:"provider,omitempty"`
	// Nodes is how many lock nodes ran (the resource had its own).
	Nodes     int                `json:"nodes"`
	Locks     []string           `json:"locks"`
	Workloads []ScenarioWorkload `json:"workloads"`
	Faults    []string           `json:"faults"`
	Seeds     []uint64           `json:"seeds"`
	Repeat    int                `json:"repeat,omitempty"`
	// Duration, Clients and TTL overrode every workload when set.
	Duration    time.Duration `json:"duration_ns,omitempty"`
	Clients     int           `json:"clients,omitempty"`
	TTL         time.Duration `json:"ttl_ns,omitempty"`
	NodeTimeout time.Duration `json:"node_timeout_ns,omitempty"`
	StallBound  time.Duration `json:"stall_bound_ns,omitempty"`
	// Schedules are the fault schedules the scenario file wrote out
	// step by step; Faults names them like presets.
	Schedules []Schedule `json:"schedules,omitempty"`
	// Topologies are the topologies the cells ran on ("" = standalone).
	Topologies []string `json:"topologies,omitempty"`
	// LockClients are the external lock clients Locks named.
	LockClients []LockClient `json:"lock_clients,omitempty"`
}

// LockClient is an external lock client as the scenario declared it: its
// name among the locks, its command, and what its release does (owner
// or plain).
type LockClient struct {
	Name    string   `json:"name"`
	Command []string `json:"command"`
	Release string   `json:"release"`
}

// Schedule is a hand-written fault schedule as the scenario file gave it:
// a name and steps; zero fields took the fault's defaults.
type Schedule struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Source      string `json:"source,omitempty"`
	Persistence string `json:"persistence,omitempty"`
	Steps       []Step `json:"steps"`
}

// Step is one fault of a Schedule: what, when, how often, on which
// targets (docs/faults.md).
type Step struct {
	Fault    string              `json:"fault"`
	At       time.Duration       `json:"at_ns,omitempty"`
	After    time.Duration       `json:"after_ns,omitempty"`
	Duration time.Duration       `json:"duration_ns,omitempty"`
	Every    time.Duration       `json:"every_ns,omitempty"`
	Repeat   int                 `json:"repeat,omitempty"`
	Random   bool                `json:"random,omitempty"`
	Window   time.Duration       `json:"window_ns,omitempty"`
	Nodes    int                 `json:"nodes,omitempty"`
	Targets  []string            `json:"targets,omitempty"`
	Groups   []string            `json:"groups,omitempty"`
	Cuts     map[string][]string `json:"cuts,omitempty"`
	Latency  time.Duration       `json:"latency_ns,omitempty"`
	Jitter   time.Duration       `json:"jitter_ns,omitempty"`
	Offset   time.Duration       `json:"offset_ns,omitempty"`
	Rate     float64             `json:"rate,omitempty"`
	Worker   int                 `json:"worker,omitempty"`
}

// ScenarioWorkload is one workload of the scenario as its file gave it,
// before the scenario's overrides (each cell's Spec is the workload as
// run). The one field is named as summaries have always spelled it.
type ScenarioWorkload struct {
	Spec Spec `json:"Spec"`
}

// ProxyCost is what an idle proxy of the fault mesh costs the harness's
// token lock cycle (the uncontended workload, every event recorded, as in
// bench calibrate), measured straight to a lock node and through an idle
// proxy in front of it. A proxied cell's throughput carries this cost; a
// direct cell's does not.
type ProxyCost struct {
	// Fraction is 1 − proxied/direct: the share of the direct cycle rate
	// the proxy takes away, the median of the rounds' paired ratios.
	Fraction float64 `json:"fraction"`
	// Direct and Proxied are lock cycles/s, medians over the rounds.
	Direct  float64 `json:"direct_cycles_per_sec"`
	Proxied float64 `json:"proxied_cycles_per_sec"`
	// Rounds is how many (direct, proxied) pairs were measured, each
	// measurement RoundMs long at Clients clients.
	Rounds  int     `json:"rounds"`
	RoundMs float64 `json:"round_ms"`
	Clients int     `json:"clients"`
	// Error says why the cost could not be measured; the figures are
	// then zero.
	Error string `json:"error,omitempty"`
}

// Write writes sum to path as indented JSON, atomically: a reader never
// sees half a summary, and an interrupted run keeps the previous complete
// one.
func Write(path string, sum *Summary) error {
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return fmt.Errorf("encode summary: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

// Read reads a summary.json of this schema version and decodes its
// cells' histograms.
func Read(path string) (*Summary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var sum Summary
	if err := json.Unmarshal(b, &sum); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if sum.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("%s: schema version %d, this bench reads %d", path, sum.SchemaVersion, SchemaVersion)
	}
	for i := range sum.Cells {
		c := &sum.Cells[i]
		c.hists = map[string]*hdrhistogram.Histogram{}
		for name, enc := range c.Histograms {
			h, err := hdrhistogram.Decode([]byte(enc))
			if err != nil {
				return nil, fmt.Errorf("%s: cell %s histogram %s: %w", path, c.ID, name, err)
			}
			c.hists[name] = h
		}
	}
	return &sum, nil
}
