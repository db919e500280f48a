package locks_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/endpoint"
	"github.com/lockbench/lockbench/internal/testenv"
	"github.com/lockbench/lockbench/locks"
)

// deployment is a replicated topology started for the tests and how
// lockers reach it.
type deployment struct {
	c   *cluster.Cluster
	dep locks.Deployment
	// raw reads server state the way an application would: through
	// go-redis's failover or cluster client.
	raw redis.UniversalClient
	// killed is set once a test killed a data node.
	killed bool
}

// singleNodeStrategies are the strategies a Deployment is for.
func singleNodeStrategies() []string {
	return strategies(func(s locks.Strategy) bool { return !s.MultiNode && !s.Canary })
}

// topoProvider returns the cluster provider the replicated-topology tests
// run on, skipping when it cannot run here: exec needs redis-server 7 or
// later (cluster-port, Sentinel's announce settings), docker a healthy
// daemon.
func topoProvider(t *testing.T, name string) cluster.Provider {
	t.Helper()
	if name == cluster.ProviderDocker {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := cluster.DockerHealthy(ctx, cluster.DockerOptions{}); err != nil {
			testenv.Skip(t, err.Error())
		}
		return cluster.NewDocker(cluster.DockerOptions{})
	}
	testenv.NeedRedisServerMajor(t, 7)
	return cluster.NewExec(cluster.ExecOptions{})
}

// startDeployment starts topo on p and returns it with a raw client.
func startDeployment(t *testing.T, p cluster.Provider, topo cluster.Topology) *deployment {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	c, err := p.Start(ctx, cluster.Spec{Topology: topo})
	if err != nil && ctx.Err() == nil {
		// Once more: a docker cluster on a loaded machine was seen to
		// miss one CLUSTER MEET within the cluster package's 30 s.
		t.Logf("start %s topology: %v; trying once more", topo, err)
		c, err = p.Start(ctx, cluster.Spec{Topology: topo})
	}
	if err != nil {
		t.Fatalf("start %s topology: %v", topo, err)
	}
	d := &deployment{c: c}
	// Runs last: a pool whose every dial to a killed node failed probes
	// in the background, waking once a second to see whether it was
	// closed; give the closed ones that second so the leak check finds
	// them gone.
	t.Cleanup(func() {
		if d.killed {
			time.Sleep(1500 * time.Millisecond)
		}
	})
	t.Cleanup(func() { c.Close() })
	t.Logf("%s topology on %s ready in %v", topo, c.Provider, time.Since(start))
	if topo == cluster.TopoSentinel {
		d.dep = locks.Deployment{MasterName: c.MasterName, SentinelAddrs: c.SentinelAddrs()}
		d.raw = redis.NewFailoverClient(&redis.FailoverOptions{MasterName: c.MasterName, SentinelAddrs: c.SentinelAddrs(), Protocol: 2})
	} else {
		d.dep = locks.Deployment{ClusterAddrs: c.Addrs()}
		d.raw = redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), Protocol: 2})
	}
	t.Cleanup(func() { d.raw.Close() })
	return d
}

// locker builds strategy name on the deployment (cfg's Deployment filled
// in when nil) and warms it, as the runner does.
func (d *deployment) locker(t *testing.T, name string, cfg locks.Config) locks.Locker {
	t.Helper()
	if cfg.Deployment == nil {
		dep := d.dep
		cfg.Deployment = &dep
	}
	s, err := locks.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	if s.Replicated && cfg.WaitTimeout == 0 {
		cfg.WaitTimeout = 500 * time.Millisecond // as the fixture: not about WAIT's timing
	}
	l, err := s.New(cfg)
	if err != nil {
		t.Fatalf("new %s: %v", name, err)
	}
	t.Cleanup(func() { l.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.(locks.Warmer).Warm(ctx); err != nil {
		t.Fatalf("warm %s on %s: %v", name, d.c.Topology, err)
	}
	return l
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestDeployments runs the single-node strategies' contract through
// go-redis's failover client (Sentinel) and cluster client (Redis
// Cluster), one topology of each per provider, shared by the subtests.
func TestDeployments(t *testing.T) {
	for _, provider := range []string{cluster.ProviderExec, cluster.ProviderDocker} {
		t.Run(provider, func(t *testing.T) {
			p := topoProvider(t, provider)
			for _, topo := range []cluster.Topology{cluster.TopoSentinel, cluster.TopoCluster} {
				t.Run(string(topo), func(t *testing.T) {
					d := startDeployment(t, p, topo)
					t.Run("contract", func(t *testing.T) { deploymentContract(t, d) })
					t.Run("route", func(t *testing.T) { routeIsUsed(t, d) })
					if topo == cluster.TopoCluster {
						t.Run("fenced", func(t *testing.T) { fencedOnCluster(t, d) })
					}
					t.Run("frozen", func(t *testing.T) { frozenPrimaryIsUnknownOnce(t, d) })
					// Last: it kills a primary.
					t.Run("failover", func(t *testing.T) { followsFailover(t, d) })
				})
			}
		})
	}
}

// deploymentContract: for every single-node strategy, mutual exclusion
// across concurrent clients, a held lock certainly not obtained by
// another, and (token family) extend, release and ErrLost.
func deploymentContract(t *testing.T, d *deployment) {
	ctx := context.Background()
	for _, name := range singleNodeStrategies() {
		t.Run(name, func(t *testing.T) {
			s, _ := locks.Lookup(name)
			key := uniqueKey(t)
			retry := locks.Config{Retry: locks.Retry{Policy: "exponential", Base: time.Millisecond, Cap: 20 * time.Millisecond, Attempts: 1000}}
			a, b := d.locker(t, name, retry), d.locker(t, name, retry)

			// Mutual exclusion without faults: two lockers, three workers each.
			const each = 8
			actx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			held, overlaps := hammer(t, actx, []locks.Locker{a, b}, key, 6, each)
			if overlaps != 0 {
				t.Errorf("%d overlapping critical sections without any fault", overlaps)
			}
			if n := held; n != 6*each {
				t.Errorf("%d critical sections, want %d", n, 6*each)
			}

			// Held: another client certainly does not get it.
			a1, b1 := d.locker(t, name, locks.Config{}), d.locker(t, name, locks.Config{})
			la, err := a1.Acquire(ctx, key, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			_, err = b1.Acquire(ctx, key, 5*time.Second)
			if !errors.Is(err, locks.ErrNotObtained) || errors.Is(err, locks.ErrUnknown) {
				t.Fatalf("acquire while held: %v, want ErrNotObtained only", err)
			}
			if err := la.Release(ctx); err != nil {
				t.Fatalf("release: %v", err)
			}
			if n, err := d.raw.Exists(ctx, key).Result(); err != nil || n != 0 {
				t.Errorf("key exists (%d, %v) after release", n, err)
			}
			if s.SeedFaithful {
				return
			}

			// Extend moves the deadline and the server's TTL; a second
			// release and an extend after it are ErrLost.
			lease, err := a1.Acquire(ctx, key, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			first := lease.Deadline()
			time.Sleep(200 * time.Millisecond)
			if err := lease.Extend(ctx, time.Second); err != nil {
				t.Fatalf("extend: %v", err)
			}
			if moved := lease.Deadline().Sub(first); moved < 150*time.Millisecond {
				t.Errorf("extend moved the deadline by %v, want ≈200ms", moved)
			}
			if pttl := d.raw.PTTL(ctx, key).Val(); pttl < 850*time.Millisecond {
				t.Errorf("PTTL after extend = %v, want ≈1s", pttl)
			}
			if err := lease.Release(ctx); err != nil {
				t.Fatalf("release: %v", err)
			}
			if err := lease.Release(ctx); !errors.Is(err, locks.ErrLost) {
				t.Errorf("second release: %v, want ErrLost", err)
			}
			if err := lease.Extend(ctx, time.Second); !errors.Is(err, locks.ErrLost) {
				t.Errorf("extend after release: %v, want ErrLost", err)
			}

			// After expiry and a takeover, the old holder's release and
			// extend are ErrLost and leave the new holder's lock alone.
			old, err := a1.Acquire(ctx, key, 200*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond)
			cur, err := b1.Acquire(ctx, key, 5*time.Second)
			if err != nil {
				t.Fatalf("acquire after the old lease expired: %v", err)
			}
			if err := old.Release(ctx); !errors.Is(err, locks.ErrLost) {
				t.Errorf("stale release: %v, want ErrLost", err)
			}
			if err := old.Extend(ctx, time.Second); !errors.Is(err, locks.ErrLost) {
				t.Errorf("stale extend: %v, want ErrLost", err)
			}
			if v := d.raw.Get(ctx, key).Val(); v != cur.Token() {
				t.Errorf("after the stale release the key holds %q, want the holder's token %q", v, cur.Token())
			}
			cur.Release(ctx)
		})
	}
}

// routeIsUsed: with a data node's real address routed to a closed port,
// an acquire of a key that node holds fails fast and certainly, as
// unreachable: the dial went where Route said.
func routeIsUsed(t *testing.T, d *deployment) {
	ctx := context.Background()
	key := uniqueKey(t)
	var routed string
	if d.c.Topology == cluster.TopoSentinel {
		addr, err := d.c.SentinelPrimary(ctx)
		if err != nil {
			t.Fatal(err)
		}
		routed = addr
	} else {
		n, err := d.raw.(*redis.ClusterClient).MasterForKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		routed = n.Options().Addr
	}
	dep := d.dep
	dep.Route = map[string]string{routed: closedAddr(t)}
	// A pool whose dials all failed probes in the background, waking once
	// a second to see whether it was closed: give the closed ones that
	// second so the leak check finds them gone.
	defer time.Sleep(1500 * time.Millisecond)
	for _, name := range []string{"token", "fenced", "redislock"} {
		t.Run(name, func(t *testing.T) {
			s, _ := locks.Lookup(name)
			l, err := s.New(locks.Config{Deployment: &dep, Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			start := time.Now()
			_, err = l.Acquire(ctx, key, time.Second)
			if !errors.Is(err, locks.ErrUnreachable) || !errors.Is(err, locks.ErrNotObtained) || errors.Is(err, locks.ErrUnknown) {
				t.Fatalf("acquire with %s routed to a closed port: %v, want ErrNotObtained and ErrUnreachable", routed, err)
			}
			if el := time.Since(start); el > 3*time.Second {
				t.Errorf("a refused dial took %v", el)
			}
		})
	}
	if d.c.Topology != cluster.TopoCluster {
		return
	}
	// Keys of the other primaries, dialled as they are, still work.
	s, _ := locks.Lookup("token")
	l, err := s.New(locks.Config{Deployment: &dep, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	others := 0
	for i := 0; i < 30 && others < 5; i++ {
		k := fmt.Sprintf("route-%d", i)
		n, err := d.raw.(*redis.ClusterClient).MasterForKey(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if n.Options().Addr == routed {
			continue
		}
		others++
		lease, err := l.Acquire(ctx, k, time.Second)
		if err != nil {
			t.Fatalf("acquire of %s on %s, not routed: %v", k, n.Options().Addr, err)
		}
		lease.Release(ctx)
	}
	if others == 0 {
		t.Error("no key of another primary among 30")
	}
}

// primaryOf returns the data node that is key's primary now.
func (d *deployment) primaryOf(t *testing.T, key string) cluster.Node {
	t.Helper()
	ctx := context.Background()
	var addr string
	if d.c.Topology == cluster.TopoSentinel {
		a, err := d.c.SentinelPrimary(ctx)
		if err != nil {
			t.Fatal(err)
		}
		addr = a
	} else {
		// A client of its own: d.raw's slot map is as old as its last
		// MOVED.
		cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: d.c.Addrs(), Protocol: 2, DialerRetries: 1})
		defer cc.Close()
		n, err := cc.MasterForKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		addr = n.Options().Addr
	}
	for _, n := range d.c.Nodes {
		if n.Endpoint().Addr == addr {
			return n
		}
	}
	t.Fatalf("the primary of %s, %s, is none of the data nodes", key, addr)
	return nil
}

// frozenPrimaryIsUnknownOnce: an acquire whose primary is frozen is
// ErrUnknown after one command timeout. go-redis's cluster client would
// send the SET again after the timeout (MaxRedirects+1 times in all), and
// a SET that ran but whose reply was lost would run twice; the locker's
// clients send it once. The freeze is shorter than the Sentinels' and
// the cluster's failure detection (2 s).
func frozenPrimaryIsUnknownOnce(t *testing.T, d *deployment) {
	ctx := context.Background()
	key := uniqueKey(t)
	const timeout = 250 * time.Millisecond
	l := d.locker(t, "token", locks.Config{Timeout: timeout})
	p := d.primaryOf(t, key)
	if err := p.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := l.Acquire(ctx, key, time.Second)
	el := time.Since(start)
	if rerr := p.Resume(ctx); rerr != nil {
		t.Fatal(rerr)
	}
	if !errors.Is(err, locks.ErrUnknown) {
		t.Errorf("acquire from a frozen primary: %v, want ErrUnknown", err)
	}
	if el > 3*timeout {
		t.Errorf("acquire from a frozen primary took %v: sent more than once with a %v timeout", el, timeout)
	}
	// Thawed, the lock is the frozen SET's (it ran when the node woke) or
	// free; either way the locker works again once it expires.
	eventuallyAcquire(t, l, key, 10*time.Second)
}

// eventuallyAcquire acquires and releases key, retrying for up to limit;
// it returns the errors seen before the success.
func eventuallyAcquire(t *testing.T, l locks.Locker, key string, limit time.Duration) []error {
	t.Helper()
	ctx := context.Background()
	var seen []error
	deadline := time.Now().Add(limit)
	for {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		lease, err := l.Acquire(actx, key, time.Second)
		cancel()
		if err == nil {
			if err := lease.Release(ctx); err != nil {
				t.Errorf("release after a successful acquire: %v", err)
			}
			return seen
		}
		seen = append(seen, err)
		if time.Now().After(deadline) {
			t.Fatalf("no acquire of %s within %v; last error %v", key, limit, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// followsFailover: SIGKILL the key's primary; the deployment promotes a
// replica, and the same locker's acquires succeed on it — the failover
// client asks the Sentinels again, the cluster client reloads its slot
// map on the errors (go-redis alone waits for a MOVED or its one-minute
// reload). No acquire succeeds before, and none fails other than
// certainly or unknown.
func followsFailover(t *testing.T, d *deployment) {
	ctx := context.Background()
	key := uniqueKey(t)
	l := d.locker(t, "token", locks.Config{Timeout: 500 * time.Millisecond})
	eventuallyAcquire(t, l, key, 5*time.Second)
	old := d.primaryOf(t, key)
	d.killed = true
	if err := old.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	seen := eventuallyAcquire(t, l, key, 30*time.Second)
	t.Logf("acquires resumed %v after the kill, %d failed before", time.Since(killed), len(seen))
	for _, err := range seen {
		if !errors.Is(err, locks.ErrNotObtained) && !errors.Is(err, locks.ErrUnknown) {
			t.Errorf("acquire during the failover: %v, want ErrNotObtained or ErrUnknown", err)
		}
	}
	if len(seen) == 0 {
		t.Error("an acquire succeeded at once after the primary was killed")
	}
	if now := d.primaryOf(t, key); now.Name() == old.Name() {
		t.Errorf("the acquire succeeded and %s is still named the primary", old.Name())
	}
}

// fencedOnCluster: a key and its fence counter share a slot whatever
// the key looks like; fences strictly increase across acquires of one
// key; keys in every primary's slots work; a key whose counter cannot
// share its slot is refused.
func fencedOnCluster(t *testing.T, d *deployment) {
	ctx := context.Background()
	cc := d.raw.(*redis.ClusterClient)
	for _, key := range []string{"lock", "{user1}:lock", "a{b}c", "open{brace", "{", "lock:with:colons"} {
		ks, err1 := cc.ClusterKeySlot(ctx, key).Result()
		fs, err2 := cc.ClusterKeySlot(ctx, locks.FenceKey(key)).Result()
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if ks != fs {
			t.Errorf("%q is in slot %d, its fence key %q in %d", key, ks, locks.FenceKey(key), fs)
		}
	}
	l := d.locker(t, "fenced", locks.Config{})
	nodes := map[string]bool{}
	for i := range 12 {
		key := fmt.Sprintf("fence-%d", i)
		if i%3 == 0 {
			key = fmt.Sprintf("{tag%d}:fence-%d", i, i)
		}
		n, err := cc.MasterForKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		nodes[n.Options().Addr] = true
		var last int64
		for j := range 4 {
			lease, err := l.Acquire(ctx, key, time.Second)
			if err != nil {
				t.Fatalf("acquire %d of %s: %v", j, key, err)
			}
			fence, ok := lease.Fence()
			if !ok || fence <= last {
				t.Fatalf("acquire %d of %s: fence %d (ok=%v), want > %d", j, key, fence, ok, last)
			}
			last = fence
			if err := lease.Release(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(nodes) < 3 {
		t.Errorf("the keys reached %d primaries, want all 3", len(nodes))
	}
	if _, err := l.Acquire(ctx, "x}y", time.Second); !errors.Is(err, locks.ErrBadConfig) {
		t.Errorf("fenced acquire of a key with a stray '}': %v, want ErrBadConfig", err)
	}
}

// TestDeploymentConfig: a deployment names exactly one of Sentinel and
// Redis Cluster, completely; the multi-node strategies refuse it; the
// single-node ones build without Nodes.
func TestDeploymentConfig(t *testing.T) {
	sentinel := &locks.Deployment{MasterName: "m", SentinelAddrs: []string{"127.0.0.1:1"}}
	for _, tc := range []struct {
		name     string
		strategy string
		dep      *locks.Deployment
		ok       bool
	}{
		{"sentinel", "token", sentinel, true},
		{"cluster", "fenced", &locks.Deployment{ClusterAddrs: []string{"127.0.0.1:1"}}, true},
		{"nolock ignores it", "nolock", &locks.Deployment{}, true},
		{"both", "token", &locks.Deployment{MasterName: "m", SentinelAddrs: []string{"127.0.0.1:1"}, ClusterAddrs: []string{"127.0.0.1:2"}}, false},
		{"neither", "token", &locks.Deployment{Route: map[string]string{"a:1": "b:2"}}, false},
		{"no master name", "token-wait", &locks.Deployment{SentinelAddrs: []string{"127.0.0.1:1"}}, false},
		{"no sentinels", "setnx", &locks.Deployment{MasterName: "m"}, false},
		{"redlock", "redlock", sentinel, false},
		{"redsync", "redsync", sentinel, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := locks.Lookup(tc.strategy)
			if err != nil {
				t.Fatal(err)
			}
			cfg := locks.Config{Deployment: tc.dep}
			if s.MultiNode {
				cfg.Nodes = make([]endpoint.Endpoint, 3) // would do without the deployment
			}
			l, err := s.New(cfg)
			if tc.ok {
				if err != nil {
					t.Fatalf("new: %v", err)
				}
				l.Close()
				return
			}
			if err == nil {
				l.Close()
			}
			if !errors.Is(err, locks.ErrBadConfig) {
				t.Fatalf("new: %v, want ErrBadConfig", err)
			}
			if s.MultiNode && !strings.Contains(err.Error(), "independent primaries") {
				t.Errorf("%v does not say it needs independent primaries", err)
			}
		})
	}
}

// TestFenceKey: the fence counter shares the key's hash tag, or makes
// the whole key its tag.
func TestFenceKey(t *testing.T) {
	for key, want := range map[string]string{
		"lock":         "{lock}:fence",
		"{user1}:lock": "{user1}:lock:fence",
		"open{brace":   "{open{brace}:fence",
		"x{}":          "x{}:fence",
	} {
		if got := locks.FenceKey(key); got != want {
			t.Errorf("FenceKey(%q) = %q, want %q", key, got, want)
		}
	}
}

// TestRouteDialer: a routed address is dialled at its route and the
// connection names the node's real address as its remote end (the
// failover client drops a demoted primary's connections by it); others
// are dialled as they are; a refused dial is a *net.OpError "dial",
// which classify reads as unreachable.
func TestRouteDialer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for range 2 {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	const real = "127.0.0.2:6379" // nothing listens there: only the route is dialled
	closed := closedAddr(t)
	dial := locks.DeploymentDialer(&locks.Deployment{ClusterAddrs: []string{real}, Route: map[string]string{real: ln.Addr().String(), "127.0.0.3:6379": closed}}, time.Second)
	ctx := context.Background()
	c, err := dial(ctx, "tcp", real)
	if err != nil {
		t.Fatalf("routed dial: %v", err)
	}
	defer c.Close()
	if got := c.RemoteAddr().String(); got != real {
		t.Errorf("routed connection's remote address %s, want the node's %s", got, real)
	}
	if nc, ok := c.(interface{ NetConn() net.Conn }); !ok || nc.NetConn().RemoteAddr().String() != ln.Addr().String() {
		t.Errorf("routed connection does not expose the dialled one (to %s)", ln.Addr())
	}
	d, err := dial(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("unrouted dial: %v", err)
	}
	defer d.Close()
	if got := d.RemoteAddr().String(); got != ln.Addr().String() {
		t.Errorf("unrouted connection's remote address %s, want %s", got, ln.Addr())
	}
	_, err = dial(ctx, "tcp", "127.0.0.3:6379")
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" || !strings.Contains(err.Error(), closed) {
		t.Errorf("dial routed to a closed port: %v, want a *net.OpError dial naming %s", err, closed)
	}
}
