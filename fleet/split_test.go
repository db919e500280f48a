package fleet

import (
	"slices"
	"testing"
)

func TestSplitAndShareOps(t *testing.T) {
	for _, tc := range []struct {
		clients, agents, ops int
		want                 [][]int
	}{
		{8, 3, 100, [][]int{{0, 3, 6}, {1, 4, 7}, {2, 5}}},
		{2, 3, 10, [][]int{{0}, {1}, nil}},
		{5, 1, 7, [][]int{{0, 1, 2, 3, 4}}},
	} {
		got := split(tc.clients, tc.agents)
		if len(got) != len(tc.want) {
			t.Fatalf("split(%d, %d) = %v, want %v", tc.clients, tc.agents, got, tc.want)
		}
		total := 0
		for j := range got {
			if !slices.Equal(got[j], tc.want[j]) {
				t.Errorf("split(%d, %d)[%d] = %v, want %v", tc.clients, tc.agents, j, got[j], tc.want[j])
			}
			share := shareOps(tc.ops, tc.clients, got, j)
			if len(got[j]) == 0 && share != 0 {
				t.Errorf("an agent without workers gets %d ops", share)
			}
			total += share
			if zero := shareOps(0, tc.clients, got, j); zero != 0 {
				t.Errorf("no budget became %d ops", zero)
			}
		}
		if total != tc.ops {
			t.Errorf("shares of %d ops over %v add up to %d", tc.ops, got, total)
		}
	}
}

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Spec
		ok   bool
	}{
		{"local:3", Spec{Engine: "local", Count: 3}, true},
		{"k8s:bench", Spec{Engine: "k8s", Namespace: "bench", Count: DefaultK8sAgents}, true},
		{"k8s:bench:12", Spec{Engine: "k8s", Namespace: "bench", Count: 12}, true},
		{"wait:2", Spec{Engine: "wait", Count: 2}, true},
		{"local:0", Spec{}, false},
		{"local:x", Spec{}, false},
		{"local:100000", Spec{}, false},
		{"k8s:", Spec{}, false},
		{"k8s:bench:-1", Spec{}, false},
		{"nomad:3", Spec{}, false},
		{"", Spec{}, false},
	} {
		got, err := ParseSpec(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if tc.ok {
			if back, err := ParseSpec(got.String()); err != nil || back != got {
				t.Errorf("ParseSpec(%q.String() = %q) = %+v, %v", tc.in, got.String(), back, err)
			}
		}
	}
}
