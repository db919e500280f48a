package chaos

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/internal/testenv"
)

// TestMeshOverEveryProvider starts five nodes with each process-controlling
// provider, reads and writes every node through both groups' proxies, and
// cuts one group off one node while the other group still reaches it.
func TestMeshOverEveryProvider(t *testing.T) {
	for _, tc := range []struct {
		name string
		prov func(t *testing.T) cluster.Provider
	}{
		{"exec", func(t *testing.T) cluster.Provider {
			testenv.NeedRedisServer(t)
			return cluster.NewExec(cluster.ExecOptions{})
		}},
		{"docker", func(t *testing.T) cluster.Provider {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := cluster.DockerHealthy(ctx, cluster.DockerOptions{}); err != nil {
				testenv.Skip(t, err.Error())
			}
			return cluster.NewDocker(cluster.DockerOptions{})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.prov(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			start := time.Now()
			c, err := p.Start(ctx, cluster.Spec{Nodes: 5})
			if err != nil {
				t.Fatalf("start 5 %s nodes: %v", tc.name, err)
			}
			t.Logf("%s: 5 nodes started in %v", tc.name, time.Since(start))
			defer c.Close()
			nodes := make([]NodeAddr, len(c.Nodes))
			for i, n := range c.Nodes {
				nodes[i] = NodeAddr{Name: n.Name(), Addr: n.Endpoint().Addr}
			}
			m := newMesh(t, []string{"A", "B"}, nodes)

			for _, g := range []string{"A", "B"} {
				for _, n := range c.Nodes {
					rc := newClient(t, m.Addr(g, n.Name()), time.Second)
					key := fmt.Sprintf("written-by-%s", g)
					if err := rc.Set(ctx, key, n.Name(), 0).Err(); err != nil {
						t.Fatalf("SET via %s→%s: %v", g, n.Name(), err)
					}
					if got, err := rc.Get(ctx, key).Result(); err != nil || got != n.Name() {
						t.Fatalf("GET via %s→%s = %q, %v", g, n.Name(), got, err)
					}
				}
			}

			cut := c.Nodes[0].Name()
			a := newClient(t, m.Addr("A", cut), 200*time.Millisecond)
			b := newClient(t, m.Addr("B", cut), 200*time.Millisecond)
			if err := m.Partition(ctx, "A", cut); err != nil {
				t.Fatal(err)
			}
			if err := a.Set(ctx, "during-cut", "A", 0).Err(); !isTimeout(err) {
				t.Errorf("A→%s during the cut: err = %v, want a timeout", cut, err)
			}
			if err := b.Set(ctx, "during-cut", "B", 0).Err(); err != nil {
				t.Errorf("B→%s during A's cut: %v", cut, err)
			}
			if got, _ := b.Get(ctx, "during-cut").Result(); got != "B" {
				t.Errorf("A's write crossed the partition: during-cut = %q", got)
			}
			if err := m.Heal(ctx, "A", cut); err != nil {
				t.Fatal(err)
			}
			if err := a.Set(ctx, "after-heal", "A", 0).Err(); err != nil {
				t.Errorf("A→%s after heal: %v", cut, err)
			}
		})
	}
}
