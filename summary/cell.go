package summary

import (
	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/lockbench/lockbench/checker"
)

// A cell's network path (CellResult.Network): how its clients reached the
// lock nodes.
const (
	// NetworkDirect: straight to the nodes; no fault of the cell acts
	// in the network.
	NetworkDirect = "direct"
	// NetworkProxied: through the fault mesh's proxies, which a network
	// fault (or cut-between-commands) needs, or bench run --always-proxy.
	NetworkProxied = "proxied"
)

// FlagHarnessOverloaded marks a cell whose harness was starved
// (CellResult.Flags).
const FlagHarnessOverloaded = "harness-overloaded"

// Histogram names: the keys of CellResult.Latency and Histograms.
const (
	HistAcquireOK      = "acquire_ok"      // intended start → lease in hand
	HistAcquireFail    = "acquire_fail"    // intended start → not obtained or unknown
	HistAcquireService = "acquire_service" // actual start → outcome (no waiting for the schedule)
	HistRelease        = "release"         // release round trip, any outcome
	HistHandoff        = "handoff"         // a release completing → the next acquire of that key by another client
)

// TopologyStandalone is the topology of independent primaries, the one a
// CellResult's empty Topology stands for.
const TopologyStandalone = "standalone"

// CellResult is one cell's entry in summary.json.
type CellResult struct {
	ID       string `json:"id"`
	Lock     string `json:"lock"`
	Workload string `json:"workload"`
	Fault    string `json:"fault"`
	Seed     uint64 `json:"seed"`
	Sample   int    `json:"sample"`
	// Topology is how the lock nodes replicated: TopologyStandalone
	// (written as "", as every summary before topologies were a
	// dimension), "sentinel" or "cluster". It is part of the cell's
	// identity: a lock on a replicated deployment is another lock.
	Topology string `json:"topology,omitempty"`
	// Network is how the cell's clients reached the lock nodes,
	// NetworkDirect or NetworkProxied. It is part of the cell's identity:
	// a proxied cell's throughput and latency carry the proxies' cost
	// (Summary.ProxyCost) and do not compare with the same cell direct.
	// Summaries written before it was recorded lack it; every cell then
	// went through the proxies: read it with NetworkPath.
	Network string `json:"network"`
	// Error is set when the cell could not run; the rest is then partial.
	Error    string   `json:"error,omitempty"`
	Verdicts Verdicts `json:"verdicts"`
	Notes    Notes    `json:"notes"`
	// Flags mark what makes the cell's numbers not the lock's:
	// FlagHarnessOverloaded.
	Flags     []string          `json:"flags,omitempty"`
	Witnesses []checker.Witness `json:"witnesses"`
	// Check is the checker's full result.
	Check      *checker.Result        `json:"check,omitempty"`
	Throughput float64                `json:"throughput"`
	Latency    map[string]Percentiles `json:"latency"`
	// Histograms are the HDR histograms (µs), base64 V2 compressed.
	Histograms   map[string]string `json:"histograms"`
	Counts       Counts            `json:"counts"`
	LostUpdates  int64             `json:"lost_updates"`
	Saturated    bool              `json:"saturated,omitempty"`
	AchievedRate float64           `json:"achieved_rate"`
	Seconds      []Second          `json:"seconds"`
	Timeline     []Action          `json:"timeline,omitempty"`
	History      string            `json:"history"`
	ElapsedMs    float64           `json:"elapsed_ms"`
	Spec         Spec              `json:"spec"`
	// ClientProcs is the GOMAXPROCS the workload ran with.
	ClientProcs int `json:"client_procs,omitempty"`
	// Harness is how well the harness itself ran during the load.
	Harness *Harness `json:"harness,omitempty"`
	// Agents are the agents that ran the cell's clients (bench run
	// --agents), by index; empty when the controller ran them itself.
	Agents []Agent `json:"agents,omitempty"`
	// hists are the decoded Histograms: those SetHistograms was given, or
	// those Read decoded.
	hists map[string]*hdrhistogram.Histogram
}

// NetworkPath is the cell's Network, NetworkProxied for a summary written
// before it was recorded (every cell then went through the proxies).
func (c *CellResult) NetworkPath() string {
	if c.Network == "" {
		return NetworkProxied
	}
	return c.Network
}

// TopologyName is the cell's topology, TopologyStandalone when none was
// recorded.
func (c *CellResult) TopologyName() string {
	if c.Topology == "" {
		return TopologyStandalone
	}
	return c.Topology
}

// Strategy names what the cell measured as the tables' rows do: the lock
// alone on standalone nodes, "token @ sentinel" on a replicated topology,
// since the same lock is safe on one and not on the other.
func (c *CellResult) Strategy() string {
	if c.Topology == "" || c.Topology == TopologyStandalone {
		return c.Lock
	}
	return c.Lock + " @ " + c.Topology
}

// Hists returns the cell's decoded histograms (for plots); nil for a cell
// built by hand with only the encoded ones.
func (c *CellResult) Hists() map[string]*hdrhistogram.Histogram { return c.hists }

// SetHistograms records the cell's histograms (µs): their percentiles in
// Latency, their encoding in Histograms, and the histograms themselves
// for Hists. A histogram that cannot be encoded keeps its percentiles.
func (c *CellResult) SetHistograms(hists map[string]*hdrhistogram.Histogram) {
	c.hists = hists
	c.Latency = map[string]Percentiles{}
	c.Histograms = map[string]string{}
	for name, h := range hists {
		c.Latency[name] = Percentiles{
			Count: h.TotalCount(), P50: h.ValueAtQuantile(50), P90: h.ValueAtQuantile(90),
			P99: h.ValueAtQuantile(99), P999: h.ValueAtQuantile(99.9), Max: h.Max(),
		}
		if b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase); err == nil {
			c.Histograms[name] = string(b)
		}
	}
}

// Overloaded reports whether the cell's harness was starved: its figures
// are then the machine's, not the lock's.
func (c *CellResult) Overloaded() bool { return c.Harness != nil && c.Harness.Overloaded }

// Verdicts are a cell's verdicts: the checker's, with progress lowered
// where the run knows more than the history.
type Verdicts struct {
	Mutex    checker.MutexVerdict    `json:"mutex"`
	Resource checker.ResourceVerdict `json:"resource"`
	Liveness checker.LivenessVerdict `json:"liveness"`
	Progress checker.ProgressVerdict `json:"progress"`
}

// Unsafe reports a safety violation: mutual exclusion or the resource
// (checker.Unsafe). A cell that could not run has no violation.
func (v Verdicts) Unsafe() bool { return checker.Unsafe(v.Mutex, v.Resource) }

// Notes say in a sentence why progress and liveness read as they do.
type Notes struct {
	Progress string `json:"progress,omitempty"`
	Liveness string `json:"liveness,omitempty"`
}

// Percentiles of one histogram, in microseconds.
type Percentiles struct {
	Count int64 `json:"count"`
	P50   int64 `json:"p50_us"`
	P90   int64 `json:"p90_us"`
	P99   int64 `json:"p99_us"`
	P999  int64 `json:"p999_us"`
	Max   int64 `json:"max_us"`
}

// Harness is how well the harness itself ran during a cell's load.
type Harness struct {
	// WallMs is how long the probe ran.
	WallMs float64 `json:"wall_ms"`
	// SchedP99Us and SchedMaxUs are the 99th percentile and the largest
	// bucket of goroutine scheduling latency (runtime/metrics), in µs.
	SchedP99Us float64 `json:"sched_p99_us"`
	SchedMaxUs float64 `json:"sched_max_us"`
	// LagP99Us and LagMaxUs are how much later than asked a short sleep
	// returned, in µs: the kernel's and the runtime's delays together.
	LagP99Us float64 `json:"timer_lag_p99_us"`
	LagMaxUs float64 `json:"timer_lag_max_us"`
	// Wakeups is how many sleeps the lag figures come from.
	Wakeups int `json:"wakeups"`
	// CPUs is the machine's CPU count; ProcessCores the CPU time the
	// harness used per second of wall time; MachineBusyCores that of the
	// whole machine; StealCores the time a hypervisor took. The machine's
	// figures are -1 where they could not be read.
	CPUs             int     `json:"cpus"`
	ProcessCores     float64 `json:"process_cores"`
	MachineBusyCores float64 `json:"machine_busy_cores"`
	StealCores       float64 `json:"steal_cores"`
	// BudgetUs is the shortest time budget the strategy works to: the
	// per-node timeout of a Redlock-family strategy, else the command
	// timeout.
	BudgetUs float64 `json:"budget_us"`
	// Overloaded: the harness's scheduling delay or timer lag (99th
	// percentile) reached a quarter of BudgetUs.
	Overloaded bool `json:"overloaded"`
	// Note says so in a sentence when Overloaded.
	Note string `json:"note,omitempty"`
	// WarmupError is why the connections could not all be made and proven
	// before the cell's clock started; empty when they were.
	WarmupError string `json:"warmup_error,omitempty"`
}

// Counts are a cell's event counts.
type Counts struct {
	Attempts       int64 `json:"attempts"`
	AcquireOK      int64 `json:"acquire_ok"`
	NotObtained    int64 `json:"not_obtained"`
	AcquireUnknown int64 `json:"acquire_unknown"`
	ReleaseOK      int64 `json:"release_ok"`
	ReleaseLost    int64 `json:"release_lost"`
	ReleaseUnknown int64 `json:"release_unknown"`
	WritesOK       int64 `json:"writes_ok"`
	WritesRejected int64 `json:"writes_rejected"` // stale fences refused by the resource
	ResourceErrors int64 `json:"resource_errors"`
	SkippedExpired int64 `json:"skipped_expired"` // lease expired before the protected write
	Crashes        int64 `json:"crashes"`
	Pauses         int64 `json:"pauses"`
}

// Second is one second of a cell's load.
type Second struct {
	AcquireOK   int64 `json:"acquire_ok"`
	NotObtained int64 `json:"not_obtained"`
	Unknown     int64 `json:"unknown"`
	// P99us is the 99th percentile acquire latency in this second (µs).
	P99us int64 `json:"p99_us"`
}

// Agent is what one agent did in a cell, and how far its clock could be
// off the controller's.
type Agent struct {
	// Name and Index are the agent's.
	Name  string `json:"name"`
	Index int    `json:"index"`
	// Clients is how many of the cell's clients it ran; Processes the
	// history processes they ran as (a crash starts a new one).
	Clients   int `json:"clients"`
	Processes int `json:"processes"`
	// Attempts and AcquireOK are its clients' acquire attempts and
	// successes.
	Attempts  int64 `json:"attempts"`
	AcquireOK int64 `json:"acquire_ok"`
	// OffsetMs is its clock minus the controller's, measured before the
	// cell: what was taken off its times. RTTMs is the round trip of the
	// probe that measured it.
	OffsetMs float64 `json:"offset_ms"`
	RTTMs    float64 `json:"rtt_ms"`
	// DriftMs is how far the offset moved over the cell (measured again
	// after it).
	DriftMs float64 `json:"drift_ms"`
	// UncertaintyMs (ε) bounds the error of its times on the history's
	// timeline: half the probe's round trip, or the drift plus the second
	// probe's half round trip when that is more. The checker widens its
	// clients' intervals by it.
	UncertaintyMs float64 `json:"uncertainty_ms"`
}
