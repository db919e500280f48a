package locks_test

import (
	"context"
	"fmt"
	"github.com/lockbench/lockbench/endpoint"
	"github.com/lockbench/lockbench/locks"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/lockbench/lockbench/chaos"
	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/internal/leakcheck"
	"github.com/lockbench/lockbench/internal/testenv"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) {
	redis.SetLogger(quietLogger{}) // dial failures are what the tests cause
	leakcheck.Main(m)
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// fixture is real Redis nodes with two client groups, A and B, each
// reaching every node through its own proxy.
type fixture struct {
	c    *cluster.Cluster
	mesh *chaos.Mesh
	// replica is a replica of node 0, outside c (see replicate).
	replica cluster.Node
}

func newFixture(tb testing.TB, nodes int) *fixture {
	tb.Helper()
	testenv.NeedRedisServer(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := cluster.NewExec(cluster.ExecOptions{}).Start(ctx, cluster.Spec{Nodes: nodes})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	addrs := make([]chaos.NodeAddr, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = chaos.NodeAddr{Name: n.Name(), Addr: n.Endpoint().Addr}
	}
	m, err := chaos.NewMesh(ctx, []string{"A", "B"}, addrs)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	replica := replicate(tb, ctx, c.Nodes[0].Endpoint())
	return &fixture{c: c, mesh: m, replica: replica}
}

// acknowledges reports whether primary counts a replica for WAIT: the
// replica's link can be up before the primary has it online (its first
// acknowledgement after the sync), and until then WAIT 1 returns 0.
func acknowledges(ctx context.Context, primary *redis.Client) bool {
	if err := primary.Set(ctx, "lockbench:fixture:replica-ready", "1", 0).Err(); err != nil {
		return false
	}
	n, err := primary.Do(ctx, "WAIT", 1, 100).Int()
	return err == nil && n >= 1
}

// replicate starts a replica of primary outside the fixture's nodes, so
// that token-wait's WAIT on node 0 has a replica to wait for while every
// other strategy sees the same nodes as before. It returns once the
// replica's link is up.
func replicate(tb testing.TB, ctx context.Context, primary endpoint.Endpoint) cluster.Node {
	tb.Helper()
	rc, err := cluster.NewExec(cluster.ExecOptions{}).Start(ctx, cluster.Spec{Nodes: 1})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { rc.Close() })
	host, port, err := net.SplitHostPort(primary.Addr)
	if err != nil {
		tb.Fatal(err)
	}
	// Redis waits 5 s by default before a diskless full sync, for more
	// replicas to join; this one is the only one.
	p := redis.NewClient(primary.ClientOptions(""))
	defer p.Close()
	if err := p.ConfigSet(ctx, "repl-diskless-sync-delay", "0").Err(); err != nil {
		tb.Fatal(err)
	}
	r := redis.NewClient(rc.Nodes[0].Endpoint().ClientOptions(""))
	defer r.Close()
	if err := r.Do(ctx, "REPLICAOF", host, port).Err(); err != nil {
		tb.Fatal(err)
	}
	for {
		info, err := r.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") && acknowledges(ctx, p) {
			return rc.Nodes[0]
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("the replica of %s did not come up: %v", primary.Addr, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// via returns the endpoints group g uses: the proxies in front of the nodes.
func (f *fixture) via(g string) []endpoint.Endpoint {
	out := make([]endpoint.Endpoint, len(f.c.Nodes))
	for i, n := range f.c.Nodes {
		out[i] = endpoint.Endpoint{Addr: f.mesh.Addr(g, n.Name())}
	}
	return out
}

// direct returns the nodes' own endpoints.
func (f *fixture) direct() []endpoint.Endpoint {
	out := make([]endpoint.Endpoint, len(f.c.Nodes))
	for i, n := range f.c.Nodes {
		out[i] = n.Endpoint()
	}
	return out
}

// locker builds strategy name for group g with cfg (Nodes filled in) and
// warms its connections, as the runner does before a cell's clock starts:
// a test then measures the lock, not the dialling. Build lockers before
// cutting the nodes they use.
func (f *fixture) locker(tb testing.TB, name, g string, cfg locks.Config) locks.Locker {
	tb.Helper()
	l := f.coldLocker(tb, name, g, cfg)
	if w, ok := l.(locks.Warmer); ok {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := w.Warm(ctx); err != nil {
			tb.Fatalf("warm %s: %v", name, err)
		}
	}
	return l
}

// coldLocker is locker without the warm-up: for nodes that are down.
func (f *fixture) coldLocker(tb testing.TB, name, g string, cfg locks.Config) locks.Locker {
	tb.Helper()
	s, err := locks.Lookup(name)
	if err != nil {
		tb.Fatal(err)
	}
	if cfg.Nodes == nil {
		cfg.Nodes = f.via(g)
	}
	if s.Replicated && cfg.WaitTimeout == 0 {
		// The replica's acknowledgement comes through a loaded machine
		// too; the contract tests are not about WAIT's timing (the
		// token-wait tests that are set their own).
		cfg.WaitTimeout = 500 * time.Millisecond
	}
	if cfg.NodeTimeout == 0 {
		// Generous for a loaded 2-core test machine; the tests about
		// timeouts set their own.
		cfg.NodeTimeout = 100 * time.Millisecond
	}
	l, err := s.New(cfg)
	if err != nil {
		tb.Fatalf("new %s: %v", name, err)
	}
	tb.Cleanup(func() { l.Close() })
	return l
}

// raw is a plain client straight to node i, for looking at server state.
func (f *fixture) raw(tb testing.TB, i int) *redis.Client {
	tb.Helper()
	c := redis.NewClient(f.c.Nodes[i].Endpoint().ClientOptions(""))
	tb.Cleanup(func() { c.Close() })
	return c
}

// strategies returns the registered names, filtered.
func strategies(keep func(locks.Strategy) bool) []string {
	var out []string
	for _, s := range locks.Builtin() {
		if keep(s) {
			out = append(out, s.Name)
		}
	}
	return out
}

func all(locks.Strategy) bool           { return true }
func notCanary(s locks.Strategy) bool   { return !s.Canary }
func tokenFamily(s locks.Strategy) bool { return !s.Canary && !s.SeedFaithful }

// uniqueKey keeps tests that share nodes apart.
func uniqueKey(t testing.TB) string { return fmt.Sprintf("lock:%s", t.Name()) }
