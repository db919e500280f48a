package workloads

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// draw collects n steps of client c under spec.
func draw(spec Spec, c, n int) []Step {
	s := NewSchedule(spec, c)
	out := make([]Step, n)
	for i := range out {
		out[i] = s.Next()
	}
	return out
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func stddev(xs []float64) float64 {
	m, s := mean(xs), 0.0
	for _, x := range xs {
		s += (x - m) * (x - m)
	}
	return math.Sqrt(s / float64(len(xs)-1))
}

// within reports whether got is within rel of want.
func within(got, want, rel float64) bool { return math.Abs(got-want) <= rel*math.Abs(want) }

func TestPresetsProduceTheirDistributions(t *testing.T) {
	const n = 40000
	for _, p := range Presets() {
		t.Run(p.Name, func(t *testing.T) {
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			steps := draw(p, 3, n)
			keyFreq := map[int]int{}
			var cs []float64
			for _, s := range steps {
				keyFreq[s.Key]++
				cs = append(cs, float64(s.CriticalSection))
			}
			switch p.Keys.Kind {
			case "per-client":
				if len(keyFreq) != 1 || keyFreq[3] != n {
					t.Errorf("client 3 used keys %v, want only its own key 3", keyFreq)
				}
			case "single":
				if len(keyFreq) != 1 || keyFreq[0] != n {
					t.Errorf("hot key spread over %v", keyFreq)
				}
			case "zipf":
				// rand.Zipf: P(k) ∝ (1+k)^−s, so P(0)/P(1) = 2^s and
				// P(1)/P(3) = 2^s too.
				want := math.Pow(2, p.Keys.S)
				r01 := float64(keyFreq[0]) / float64(keyFreq[1])
				r13 := float64(keyFreq[1]) / float64(keyFreq[3])
				if !within(r01, want, 0.1) || !within(r13, want, 0.15) {
					t.Errorf("zipf ratios P0/P1 = %.3f, P1/P3 = %.3f, want ≈ %.3f", r01, r13, want)
				}
				for k := range keyFreq {
					if k < 0 || k >= p.Keys.Count {
						t.Fatalf("key %d outside [0,%d)", k, p.Keys.Count)
					}
				}
			}
			m, sd := mean(cs), stddev(cs)
			want := float64(p.CriticalSection.Mean)
			switch p.CriticalSection.Kind {
			case "fixed":
				if sd != 0 || m != want {
					t.Errorf("fixed critical section: mean %v sd %v, want exactly %v", time.Duration(m), sd, p.CriticalSection.Mean)
				}
			case "exponential":
				// Mean and standard deviation are both the mean.
				if !within(m, want, 0.03) || !within(sd, want, 0.05) {
					t.Errorf("exponential: mean %v sd %v, want both ≈ %v", time.Duration(m), time.Duration(sd), p.CriticalSection.Mean)
				}
			case "lognormal":
				// The logs are normal with σ as given, and the mean is hit.
				logs := make([]float64, len(cs))
				for i, x := range cs {
					logs[i] = math.Log(x)
				}
				if !within(m, want, 0.03) || !within(stddev(logs), p.CriticalSection.Sigma, 0.03) {
					t.Errorf("lognormal: mean %v, σ(log) %.3f; want %v and %.3f", time.Duration(m), stddev(logs), p.CriticalSection.Mean, p.CriticalSection.Sigma)
				}
			}
		})
	}
}

func TestUniformKeysAreUniform(t *testing.T) {
	spec := Spec{Keys: Keys{Kind: "uniform", Count: 10}, Seed: 7}
	freq := make([]float64, 10)
	for _, s := range draw(spec, 0, 50000) {
		freq[s.Key]++
	}
	// χ² with 9 degrees of freedom: 27.9 is the 0.1 % critical value.
	var chi2 float64
	for _, f := range freq {
		chi2 += (f - 5000) * (f - 5000) / 5000
	}
	if chi2 > 27.9 {
		t.Errorf("χ² = %.1f over uniform keys %v", chi2, freq)
	}
}

func TestSameSeedSameSchedule(t *testing.T) {
	spec, _ := Preset("zipf")
	spec.Think = Dist{Kind: "lognormal", Mean: time.Millisecond, Sigma: 1}
	a, b := draw(spec, 2, 1000), draw(spec, 2, 1000)
	if !slices.Equal(a, b) {
		t.Fatal("the same seed and client gave different schedules")
	}
	if slices.Equal(a, draw(spec, 3, 1000)) {
		t.Error("two clients got the same schedule")
	}
	spec.Seed++
	if slices.Equal(a, draw(spec, 2, 1000)) {
		t.Error("another seed gave the same schedule")
	}
}

func TestValidateSaysWhatIsWrong(t *testing.T) {
	good, _ := Preset("hot-key")
	for _, tc := range []struct {
		name   string
		mutate func(*Spec)
		want   string
	}{
		{"no clients", func(s *Spec) { s.Clients = 0 }, "clients"},
		{"negative duration", func(s *Spec) { s.Duration = -time.Second }, "duration"},
		{"no budget", func(s *Spec) { s.Duration, s.Ops = 0, 0 }, "duration or op count"},
		{"zero ttl", func(s *Spec) { s.TTL = 0 }, "ttl"},
		{"bad keys", func(s *Spec) { s.Keys.Kind = "gaussian" }, "key distribution"},
		{"zipf s", func(s *Spec) { s.Keys = Keys{Kind: "zipf", Count: 10, S: 0.5} }, "s > 1"},
		{"bad dist", func(s *Spec) { s.Think.Kind = "pareto" }, "think"},
		{"negative rate", func(s *Spec) { s.Rate = -1 }, "rate"},
		{"too many groups", func(s *Spec) { s.Groups = 99 }, "groups"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			tc.mutate(&s)
			err := s.Validate()
			if !errors.Is(err, ErrBadSpec) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want ErrBadSpec mentioning %q", err, tc.want)
			}
		})
	}
	if err := good.Validate(); err != nil {
		t.Errorf("preset hot-key is invalid: %v", err)
	}
	if _, err := Preset("nope"); !errors.Is(err, ErrBadSpec) {
		t.Errorf("unknown preset: %v", err)
	}
}
