package summary

import (
	"testing"
	"time"
)

// TestWorkloadLabels: workloads of one name are told apart by what differs
// among them (and only that); a name no other workload shares stays bare;
// the seed never counts, since one workload runs under every seed.
func TestWorkloadLabels(t *testing.T) {
	unc := Spec{Name: "uncontended", Clients: 8, Groups: 1, Keys: Keys{Kind: "per-client"}, TTL: time.Second, Duration: 2 * time.Second}
	at := func(s Spec, rate float64) Spec { s.Rate = rate; return s }
	withClients := func(s Spec, n int) Spec { s.Clients = n; return s }
	seeded := func(s Spec, seed uint64) Spec { s.Seed = seed; return s }
	hot := Spec{Name: "hot-key", Clients: 8, Groups: 1, Keys: Keys{Kind: "single"}, TTL: time.Second, Duration: 2 * time.Second}
	for _, tc := range []struct {
		name  string
		specs []Spec
		want  []string
	}{
		{"two open-loop rates", []Spec{at(unc, 2000), at(unc, 200000)},
			[]string{"uncontended @2000/s", "uncontended @200000/s"}},
		{"open and closed loop, two names", []Spec{hot, at(unc, 2000), unc},
			[]string{"hot-key", "uncontended @2000/s", "uncontended closed-loop"}},
		{"rate and clients differ", []Spec{at(unc, 2000), withClients(at(unc, 2000), 16), at(unc, 500)},
			[]string{"uncontended @2000/s 8 clients", "uncontended @2000/s 16 clients", "uncontended @500/s 8 clients"}},
		{"distinct names stay bare", []Spec{hot, withClients(unc, 4)}, []string{"hot-key", "uncontended"}},
		{"seeds are one workload", []Spec{seeded(at(unc, 2000), 1), seeded(at(unc, 2000), 2)},
			[]string{"uncontended", "uncontended"}},
		{"retry differs", []Spec{unc, func() Spec {
			s := unc
			s.Retry = Retry{Policy: "fixed", Base: time.Millisecond, Cap: time.Millisecond, Attempts: 10}
			return s
		}()},
			[]string{"uncontended retry  0s–0s ×0", "uncontended retry fixed 1ms–1ms ×10"}},
		// Groups 0 reads as 1: specs that print alike are numbered.
		{"print alike", []Spec{func() Spec { s := unc; s.Groups = 0; return s }(), unc},
			[]string{"uncontended #1", "uncontended #2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cells := make([]CellResult, len(tc.specs))
			for i, s := range tc.specs {
				cells[i] = CellResult{ID: s.Name, Workload: s.Name, Spec: s}
			}
			l := NewWorkloadLabels(cells)
			for i := range cells {
				if got := l.Of(&cells[i]); got != tc.want[i] {
					t.Errorf("cell %d: label %q, want %q", i, got, tc.want[i])
				}
			}
		})
	}
	// A cell the labels were not made from reads by its bare name.
	l := NewWorkloadLabels([]CellResult{{Workload: "uncontended", Spec: at(unc, 2000)}, {Workload: "uncontended", Spec: unc}})
	if got := l.Of(&CellResult{Workload: "zipf"}); got != "zipf" {
		t.Errorf("unknown workload labelled %q", got)
	}
}
