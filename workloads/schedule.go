package workloads

import (
	"math"
	"math/rand/v2"
	"time"
)

// Step is one operation of a client's schedule.
type Step struct {
	// Key is the index of the lock key (0 … KeyCount−1).
	Key int
	// CriticalSection is how long the holder works.
	CriticalSection time.Duration
	// Think is how long the client waits after releasing.
	Think time.Duration
}

// Schedule is one client's deterministic stream of steps: the same spec,
// seed and client always give the same steps, whatever the timing of the
// run, because each client draws from its own generator.
type Schedule struct {
	spec   Spec
	client int
	rnd    *rand.Rand
	zipf   *rand.Zipf
}

// NewSchedule returns client's schedule under spec.
func NewSchedule(spec Spec, client int) *Schedule {
	rnd := rand.New(rand.NewPCG(spec.Seed, uint64(client)+1))
	s := &Schedule{spec: spec, client: client, rnd: rnd}
	if spec.Keys.Kind == "zipf" {
		s.zipf = rand.NewZipf(rnd, spec.Keys.S, 1, uint64(spec.Keys.Count-1))
	}
	return s
}

// Next draws the next step.
func (s *Schedule) Next() Step {
	var key int
	switch s.spec.Keys.Kind {
	case "per-client":
		key = s.client
	case "uniform":
		key = s.rnd.IntN(s.spec.Keys.Count)
	case "zipf":
		key = int(s.zipf.Uint64())
	}
	return Step{
		Key:             key,
		CriticalSection: s.draw(s.spec.CriticalSection),
		Think:           s.draw(s.spec.Think),
	}
}

// draw samples d.
func (s *Schedule) draw(d Dist) time.Duration {
	if d.Mean <= 0 {
		return 0
	}
	switch d.Kind {
	case "exponential":
		return time.Duration(s.rnd.ExpFloat64() * float64(d.Mean))
	case "lognormal":
		sigma := d.Sigma
		if sigma == 0 {
			sigma = 1
		}
		// exp(N(μ, σ²)) has mean exp(μ + σ²/2): choose μ to hit d.Mean.
		mu := math.Log(float64(d.Mean)) - sigma*sigma/2
		return time.Duration(math.Exp(mu + sigma*s.rnd.NormFloat64()))
	default:
		return d.Mean
	}
}
