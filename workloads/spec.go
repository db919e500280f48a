package workloads

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/lockbench/lockbench/locks"
)

// ErrBadSpec marks a workload spec that cannot run.
var ErrBadSpec = errors.New("bad workload spec")

// Dist is a distribution of durations.
type Dist struct {
	// Kind is fixed, exponential or lognormal ("" = fixed).
	Kind string `yaml:"kind" json:"kind"`
	// Mean is the distribution's mean.
	Mean time.Duration `yaml:"mean" json:"mean_ns"`
	// Sigma is lognormal's shape (σ of the underlying normal). Default 1.
	Sigma float64 `yaml:"sigma" json:"sigma,omitempty"`
}

// Keys says which lock each operation uses.
type Keys struct {
	// Kind is single (one hot key), per-client (no contention), uniform
	// or zipf over Count keys.
	Kind string `yaml:"kind" json:"kind"`
	// Count is the number of keys for uniform and zipf.
	Count int `yaml:"count" json:"count,omitempty"`
	// S is zipf's exponent (> 1).
	S float64 `yaml:"s" json:"s,omitempty"`
}

// Spec is one workload.
type Spec struct {
	// Name is the preset's name or the user's.
	Name string `yaml:"name" json:"name"`
	// Clients is the number of concurrent logical clients.
	Clients int `yaml:"clients" json:"clients"`
	// Groups is the number of client groups (each reaches the nodes
	// through its own proxies); clients are dealt round robin. Default 1.
	Groups int `yaml:"groups" json:"groups"`
	// Keys is the key distribution.
	Keys Keys `yaml:"keys" json:"keys"`
	// CriticalSection is how long a holder works between its read and
	// write of the protected resource.
	CriticalSection Dist `yaml:"critical_section" json:"critical_section"`
	// Think is the pause between one release and the next acquire.
	Think Dist `yaml:"think" json:"think"`
	// TTL is the lease length asked for.
	TTL time.Duration `yaml:"ttl" json:"ttl_ns"`
	// Retry is the acquire retry policy.
	Retry locks.Retry `yaml:"retry" json:"retry"`
	// Duration bounds the run in time.
	Duration time.Duration `yaml:"duration" json:"duration_ns"`
	// Ops bounds the run in acquire attempts over all clients (0 = only
	// Duration bounds it).
	Ops int `yaml:"ops" json:"ops,omitempty"`
	// Rate, when > 0, is the open-loop target in acquires per second over
	// all clients; 0 is closed loop (each client goes as fast as it can).
	Rate float64 `yaml:"rate" json:"rate,omitempty"`
	// Seed makes the schedule of keys and durations reproducible.
	Seed uint64 `yaml:"seed" json:"seed"`
	// HonourDeadline makes clients check their lease's validity before
	// touching the resource and record the deadline; naive clients trust
	// their lock until they release it.
	HonourDeadline bool `yaml:"honour_deadline" json:"honour_deadline"`
	// SkipResource leaves the protected resource alone: a cycle is then
	// acquire, critical section, release — what calibration compares with
	// a bare client doing the same two commands.
	SkipResource bool `yaml:"skip_resource" json:"skip_resource,omitempty"`
}

// Presets returns the named workloads, in documentation order.
func Presets() []Spec {
	base := Spec{
		Clients:         8,
		Groups:          1,
		CriticalSection: Dist{Kind: "fixed", Mean: time.Millisecond},
		Think:           Dist{Kind: "fixed", Mean: 0},
		TTL:             time.Second,
		Retry:           locks.Retry{Policy: "exponential", Base: time.Millisecond, Cap: 50 * time.Millisecond, Attempts: 100},
		Duration:        10 * time.Second,
		Seed:            1,
		HonourDeadline:  true,
	}
	uncontended := base
	uncontended.Name = "uncontended"
	uncontended.Keys = Keys{Kind: "per-client"}
	uncontended.CriticalSection = Dist{Kind: "fixed", Mean: 0}

	hot := base
	hot.Name = "hot-key"
	hot.Keys = Keys{Kind: "single"}

	zipf := base
	zipf.Name = "zipf"
	zipf.Keys = Keys{Kind: "zipf", Count: 100, S: 1.1}
	zipf.CriticalSection = Dist{Kind: "exponential", Mean: time.Millisecond}

	long := base
	long.Name = "long-critical-section"
	long.Keys = Keys{Kind: "single"}
	long.Clients = 4
	long.CriticalSection = Dist{Kind: "lognormal", Mean: 100 * time.Millisecond, Sigma: 0.5}
	long.TTL = time.Second
	long.Retry = locks.Retry{Policy: "exponential", Base: 5 * time.Millisecond, Cap: 200 * time.Millisecond, Attempts: 1000}

	return []Spec{uncontended, hot, zipf, long}
}

// Preset returns the preset called name.
func Preset(name string) (Spec, error) {
	var names []string
	for _, p := range Presets() {
		if p.Name == name {
			return p, nil
		}
		names = append(names, p.Name)
	}
	return Spec{}, fmt.Errorf("unknown workload %q (known: %v): %w", name, names, ErrBadSpec)
}

// Validate says, in one line, what is wrong with s.
func (s Spec) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("workload %q: %s: %w", s.Name, fmt.Sprintf(format, args...), ErrBadSpec)
	}
	switch {
	case s.Clients < 1:
		return bad("clients must be at least 1, got %d", s.Clients)
	case s.Groups < 0 || s.Groups > s.Clients:
		return bad("groups must be between 1 and the client count, got %d", s.Groups)
	case s.TTL <= 0:
		return bad("ttl must be positive, got %v", s.TTL)
	case s.Duration <= 0 && s.Ops <= 0:
		return bad("give a positive duration or op count")
	case s.Duration < 0 || s.Ops < 0:
		return bad("duration and ops must not be negative")
	case s.Rate < 0 || math.IsNaN(s.Rate) || math.IsInf(s.Rate, 0):
		return bad("rate must be a non-negative number, got %v", s.Rate)
	}
	switch s.Keys.Kind {
	case "single", "per-client":
	case "uniform":
		if s.Keys.Count < 1 {
			return bad("uniform keys need count ≥ 1")
		}
	case "zipf":
		if s.Keys.Count < 1 || s.Keys.S <= 1 {
			return bad("zipf keys need count ≥ 1 and s > 1")
		}
	default:
		return bad("key distribution %q (want single, per-client, uniform or zipf)", s.Keys.Kind)
	}
	for what, d := range map[string]Dist{"critical_section": s.CriticalSection, "think": s.Think} {
		switch d.Kind {
		case "", "fixed", "exponential", "lognormal":
		default:
			return bad("%s distribution %q (want fixed, exponential or lognormal)", what, d.Kind)
		}
		if d.Mean < 0 || d.Sigma < 0 {
			return bad("%s must not be negative", what)
		}
	}
	return nil
}

// KeyCount is how many distinct keys the spec can touch.
func (s Spec) KeyCount() int {
	switch s.Keys.Kind {
	case "per-client":
		return s.Clients
	case "uniform", "zipf":
		return s.Keys.Count
	default:
		return 1
	}
}
