package summary

import "time"

// Spec is a workload as run: the workload spec's persisted fields.
type Spec struct {
	// Name is the preset's name or the user's.
	Name string `json:"name"`
	// Clients is the number of concurrent logical clients, dealt round
	// robin into Groups client groups.
	Clients int `json:"clients"`
	Groups  int `json:"groups"`
	// Keys is the key distribution.
	Keys Keys `json:"keys"`
	// CriticalSection is how long a holder works between its read and
	// write of the protected resource; Think the pause between one
	// release and the next acquire.
	CriticalSection Dist `json:"critical_section"`
	Think           Dist `json:"think"`
	// TTL is the lease length asked for.
	TTL time.Duration `json:"ttl_ns"`
	// Retry is the acquire retry policy.
	Retry Retry `json:"retry"`
	// Duration and Ops bound the run (Ops 0: only Duration).
	Duration time.Duration `json:"duration_ns"`
	Ops      int           `json:"ops,omitempty"`
	// Rate is the open-loop target in acquires per second over all
	// clients; 0 is closed loop.
	Rate float64 `json:"rate,omitempty"`
	// Seed made the schedule of keys and durations.
	Seed uint64 `json:"seed"`
	// HonourDeadline: clients checked their lease's validity before
	// touching the resource.
	HonourDeadline bool `json:"honour_deadline"`
	// SkipResource: the protected resource was left alone.
	SkipResource bool `json:"skip_resource,omitempty"`
}

// Dist is a distribution of durations.
type Dist struct {
	// Kind is fixed, exponential or lognormal ("" = fixed).
	Kind  string        `json:"kind"`
	Mean  time.Duration `json:"mean_ns"`
	Sigma float64       `json:"sigma,omitempty"`
}

// Keys says which lock each operation used.
type Keys struct {
	// Kind is single, per-client, uniform or zipf (over Count keys, with
	// exponent S).
	Kind  string  `json:"kind"`
	Count int     `json:"count,omitempty"`
	S     float64 `json:"s,omitempty"`
}

// Retry is the acquire retry policy. Its fields are named as summaries
// have always spelled them.
type Retry struct {
	// Policy is none, fixed, linear or exponential.
	Policy string `json:"Policy"`
	// Base is the first delay, Cap bounds every delay.
	Base time.Duration `json:"Base"`
	Cap  time.Duration `json:"Cap"`
	// Attempts bounds the tries, the first included.
	Attempts int `json:"Attempts"`
}

// Fault phases (Action.Phase).
const (
	PhaseStart = "start"
	PhaseStop  = "stop"
)

// Action is one timed change of a cell's fault timeline, as carried out:
// a fault starts or stops.
type Action struct {
	// At is when, from the start of the cell's load.
	At time.Duration `json:"at_ns"`
	// Step is the index of the schedule step, Occurrence the repetition.
	Step       int `json:"step"`
	Occurrence int `json:"occurrence"`
	// Fault is the catalogue name; Phase is PhaseStart or PhaseStop.
	Fault string `json:"fault"`
	Phase string `json:"phase"`
	// Target is what the fault acted on: "n2", "n1,n2",
	// "A→n4,n5; B→n1,n2", "resource", "worker 3".
	Target string `json:"target"`
	// Nodes are the nodes of a node fault.
	Nodes []string `json:"nodes,omitempty"`
	// Cuts are the (group, nodes) pairs of a network fault, and the
	// groups of a resource fault.
	Cuts []Cut `json:"cuts,omitempty"`
	// Worker is the client of a client fault, −1 otherwise.
	Worker int `json:"worker"`
	// Duration is how long the occurrence lasted; negative = until the
	// end of the cell.
	Duration time.Duration `json:"duration_ns,omitempty"`
	// Latency, Jitter, Offset and Rate are the resolved parameters.
	Latency time.Duration `json:"latency_ns,omitempty"`
	Jitter  time.Duration `json:"jitter_ns,omitempty"`
	Offset  time.Duration `json:"offset_ns,omitempty"`
	Rate    float64       `json:"rate,omitempty"`
}

// Cut is one client group's share of a network or resource fault.
type Cut struct {
	Group string   `json:"group"`
	Nodes []string `json:"nodes,omitempty"`
}
