package summary

import (
	"fmt"
	"strconv"
	"strings"
)

// WorkloadLabels names a run's workloads so that two workloads of the same
// name read apart: "uncontended @2000/s" and "uncontended @200000/s". A
// workload whose name no other workload of the run shares keeps its bare
// name; workloads sharing one get the parts of their spec that differ
// among them (open-loop rate, clients, groups, keys, …), and nothing that
// does not. The terminal table and the report label workloads with it;
// bench.txt keeps the bare names, which are benchstat's keys.
type WorkloadLabels struct {
	byKey map[Spec]string
}

// workloadKey is what makes a cell's workload one workload of its run:
// its spec as run, less the seed (one workload runs under every seed of
// the scenario), named as the cell names it.
func workloadKey(c *CellResult) Spec {
	k := c.Spec
	k.Seed = 0
	k.Name = c.Workload
	return k
}

// NewWorkloadLabels labels the workloads the cells ran.
func NewWorkloadLabels(cells []CellResult) WorkloadLabels {
	l := WorkloadLabels{byKey: map[Spec]string{}}
	byName := map[string][]Spec{}
	var names []string
	for i := range cells {
		k := workloadKey(&cells[i])
		if _, ok := l.byKey[k]; ok {
			continue
		}
		l.byKey[k] = k.Name
		if byName[k.Name] == nil {
			names = append(names, k.Name)
		}
		byName[k.Name] = append(byName[k.Name], k)
	}
	for _, name := range names {
		specs := byName[name]
		if len(specs) < 2 {
			continue
		}
		labels := make([]string, len(specs))
		for i := range specs {
			labels[i] = name
		}
		for _, part := range specParts() {
			vals := make([]string, len(specs))
			differ := false
			for i, s := range specs {
				vals[i] = part(s)
				differ = differ || vals[i] != vals[0]
			}
			if differ {
				for i := range labels {
					labels[i] += " " + vals[i]
				}
			}
		}
		// Specs that differ only where no part looks (or print alike)
		// are numbered in the order the run met them.
		seen := map[string]int{}
		for _, lb := range labels {
			seen[lb]++
		}
		for i, s := range specs {
			if seen[labels[i]] > 1 {
				labels[i] += fmt.Sprintf(" #%d", i+1)
			}
			l.byKey[s] = labels[i]
		}
	}
	return l
}

// Of is the label of c's workload; its bare name for a cell the labels
// were not made from.
func (l WorkloadLabels) Of(c *CellResult) string {
	if lb, ok := l.byKey[workloadKey(c)]; ok {
		return lb
	}
	return c.Workload
}

// specParts are the parts of a spec a label may name, most telling first.
func specParts() []func(Spec) string {
	return []func(Spec) string{
		func(s Spec) string {
			if s.Rate > 0 {
				return "@" + strconv.FormatFloat(s.Rate, 'f', -1, 64) + "/s"
			}
			return "closed-loop"
		},
		func(s Spec) string { return fmt.Sprintf("%d clients", s.Clients) },
		func(s Spec) string { return fmt.Sprintf("%d groups", max(s.Groups, 1)) },
		func(s Spec) string {
			k := "keys " + s.Keys.Kind
			if s.Keys.Count > 0 {
				k += "×" + strconv.Itoa(s.Keys.Count)
			}
			if s.Keys.S > 0 {
				k += " s=" + strconv.FormatFloat(s.Keys.S, 'g', -1, 64)
			}
			return k
		},
		func(s Spec) string { return "cs " + s.CriticalSection.label() },
		func(s Spec) string { return "think " + s.Think.label() },
		func(s Spec) string { return "ttl " + s.TTL.String() },
		func(s Spec) string {
			r := s.Retry
			return fmt.Sprintf("retry %s %v–%v ×%d", r.Policy, r.Base, r.Cap, r.Attempts)
		},
		func(s Spec) string {
			if s.Ops > 0 {
				return fmt.Sprintf("%v or %d ops", s.Duration, s.Ops)
			}
			return s.Duration.String()
		},
		func(s Spec) string {
			if s.HonourDeadline {
				return "deadline checked"
			}
			return "deadline ignored"
		},
		func(s Spec) string {
			if s.SkipResource {
				return "no resource"
			}
			return "resource"
		},
	}
}

// label is the distribution in a few characters: "1ms", "exponential
// 1ms", "lognormal 100ms σ=0.5".
func (d Dist) label() string {
	parts := []string{d.Mean.String()}
	if d.Kind != "" && d.Kind != "fixed" {
		parts = append([]string{d.Kind}, parts...)
	}
	if d.Sigma > 0 {
		parts = append(parts, "σ="+strconv.FormatFloat(d.Sigma, 'g', -1, 64))
	}
	return strings.Join(parts, " ")
}
