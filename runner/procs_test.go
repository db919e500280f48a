package runner

import (
	"context"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/internal/cpuset"
	"github.com/lockbench/lockbench/internal/testenv"
)

func TestClientProcs(t *testing.T) {
	cpus := runtime.NumCPU()
	for _, tc := range []struct {
		name         string
		want, loaded int
		expect       int
	}{
		{"given", 3, 1, 3},
		{"every CPU", -1, 1, cpus},
		{"a CPU kept per node", 0, cpus - 1, 1},
		{"nodes need every CPU", 0, cpus, cpus},
		{"nodes oversubscribe", 0, cpus + 4, cpus},
		{"nothing loaded", 0, 0, cpus},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := clientProcs(tc.want, tc.loaded); got != tc.expect {
				t.Errorf("clientProcs(%d, %d) on %d CPUs = %d, want %d", tc.want, tc.loaded, cpus, got, tc.expect)
			}
		})
	}
}

func TestLimitProcsRestoresTheDefault(t *testing.T) {
	if os.Getenv("GOMAXPROCS") != "" {
		t.Skip("GOMAXPROCS is set in the environment: limitProcs leaves it alone")
	}
	before := runtime.GOMAXPROCS(0)
	got, restore := limitProcs(1)
	if got != 1 || runtime.GOMAXPROCS(0) != 1 {
		t.Fatalf("limitProcs(1) reported %d, runtime has %d; want 1", got, runtime.GOMAXPROCS(0))
	}
	restore()
	if after := runtime.GOMAXPROCS(0); after != before {
		t.Errorf("GOMAXPROCS %d after restore, %d before", after, before)
	}
}

// unpinnable is a node whose provider cannot pin it (as an external one).
type unpinnable struct{ cluster.Node }

func (unpinnable) Name() string { return "x1" }

func TestPinApart(t *testing.T) {
	all, err := cpuset.Allowed(0)
	if err != nil {
		t.Fatal(err)
	}
	if client, said := pinApart(context.Background(), unpinnable{}); client != nil || !strings.Contains(said, "cannot pin node x1") {
		t.Errorf("unpinnable node: client CPUs %v, %q", client, said)
	}
	testenv.NeedRedisServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := cluster.NewExec(cluster.ExecOptions{}).Start(ctx, cluster.Spec{Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	client, said := pinApart(ctx, c.Nodes[0])
	if len(all) < 2 {
		if client != nil {
			t.Errorf("one CPU: pinned anyway (%q)", said)
		}
		return
	}
	if want := all[:len(all)-1]; !slices.Equal(client, want) {
		t.Errorf("client CPUs %v, want %v (%q)", client, want, said)
	}
	if !strings.Contains(said, "node n1 on CPU "+cpuset.Format(all[len(all)-1:])) {
		t.Errorf("said %q", said)
	}
}

func TestConfinePinsAndRestores(t *testing.T) {
	if os.Getenv("GOMAXPROCS") != "" {
		t.Skip("GOMAXPROCS is set in the environment: limitProcs leaves it alone")
	}
	all, err := cpuset.Allowed(0)
	if err != nil {
		t.Fatal(err)
	}
	procs := runtime.GOMAXPROCS(0)
	got, err := confine(1, all[:1], func() error {
		if cpus, _ := cpuset.Allowed(0); !slices.Equal(cpus, all[:1]) {
			t.Errorf("inside: CPUs %v, want %v", cpus, all[:1])
		}
		return nil
	})
	if err != nil || got != 1 {
		t.Fatalf("confine = %d, %v; want 1, nil", got, err)
	}
	if cpus, _ := cpuset.Allowed(0); !slices.Equal(cpus, all) {
		t.Errorf("after: CPUs %v, want %v", cpus, all)
	}
	if after := runtime.GOMAXPROCS(0); after != procs {
		t.Errorf("after: GOMAXPROCS %d, want %d", after, procs)
	}
}
