package locks

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Retry is a bounded retry policy for contended acquires, shared by every
// strategy. Only ErrNotObtained is retried: after ErrUnknown the lock may be
// ours, and trying again would only hide that.
type Retry struct {
	// Policy is none, fixed, linear or exponential.
	Policy string
	// Base is the first delay (fixed: every delay). Default 10 ms.
	Base time.Duration
	// Cap bounds every delay. Default 1 s.
	Cap time.Duration
	// Attempts bounds the tries, the first included. Default: 1 for none,
	// 10 otherwise. The context bounds them too.
	Attempts int
}

// RetryPolicies lists the valid Policy values.
var RetryPolicies = []string{"none", "fixed", "linear", "exponential"}

func (r Retry) validate() error {
	switch r.Policy {
	case "", "none", "fixed", "linear", "exponential":
	default:
		return fmt.Errorf("retry policy %q (want none, fixed, linear or exponential): %w", r.Policy, ErrBadConfig)
	}
	if r.Base < 0 || r.Cap < 0 || r.Attempts < 0 {
		return fmt.Errorf("retry delays and attempts must not be negative: %w", ErrBadConfig)
	}
	return nil
}

func (r Retry) withDefaults() Retry {
	if r.Policy == "" {
		r.Policy = "none"
	}
	if r.Base == 0 {
		r.Base = 10 * time.Millisecond
	}
	if r.Cap == 0 {
		r.Cap = time.Second
	}
	if r.Attempts == 0 {
		r.Attempts = 10
		if r.Policy == "none" {
			r.Attempts = 1
		}
	}
	return r
}

// Delay is the wait before try number attempt+1 (attempt ≥ 1 tries done).
// Exponential uses full jitter (AWS architecture blog, "Exponential
// Backoff and Jitter"): uniform in [0, min(Cap, Base·2^(attempt−1))].
func (r Retry) Delay(attempt int, rnd *rand.Rand) time.Duration {
	r = r.withDefaults()
	var d time.Duration
	switch r.Policy {
	case "fixed":
		d = r.Base
	case "linear":
		d = r.Base * time.Duration(attempt)
	case "exponential":
		ceil := r.Cap
		if attempt-1 < 30 {
			ceil = min(r.Cap, r.Base<<(attempt-1))
		}
		d = time.Duration(rnd.Int64N(int64(ceil) + 1))
	}
	return min(d, r.Cap)
}

// retrying calls try until it succeeds, fails with something other than
// ErrNotObtained, the attempts run out or ctx ends. jitter, when set, adds
// a random extra delay in [0, delay] (Redlock's random retry delay, which
// keeps clients that collided from colliding again).
func retrying(ctx context.Context, r Retry, jitter bool, try func(context.Context) (Lease, error)) (Lease, error) {
	r = r.withDefaults()
	var rnd *rand.Rand
	for attempt := 1; ; attempt++ {
		l, err := try(ctx)
		if err == nil || !errors.Is(err, ErrNotObtained) || attempt >= r.Attempts {
			return l, err
		}
		if rnd == nil {
			rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
		}
		d := r.Delay(attempt, rnd)
		if jitter && d > 0 {
			d += time.Duration(rnd.Int64N(int64(d) + 1))
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w: gave up waiting: %w", ErrNotObtained, ctx.Err())
		case <-t.C:
		}
	}
}
