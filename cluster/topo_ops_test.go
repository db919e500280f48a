package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockbench/lockbench/internal/leakcheck"
)

func TestKeySlot(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want int
	}{
		{"foo", 12182},
		{"123456789", 0x31C3}, // the CRC-16/XMODEM check value
		{"", 0},
	} {
		if got := KeySlot(tc.key); got != tc.want {
			t.Errorf("KeySlot(%q) = %d, want %d", tc.key, got, tc.want)
		}
	}
	for _, tc := range []struct{ a, b string }{
		{"{user1000}.following", "{user1000}.followers"},
		{"{user1000}.following", "user1000"},
		{"foo{}{bar}", "foo{}{bar}"}, // empty tag: the whole key
		{"foo{{bar}}zap", "{bar"},    // the tag ends at the first "}"
		{"foo{bar}{zap}", "bar"},
	} {
		if KeySlot(tc.a) != KeySlot(tc.b) {
			t.Errorf("KeySlot(%q) = %d, KeySlot(%q) = %d; want equal", tc.a, KeySlot(tc.a), tc.b, KeySlot(tc.b))
		}
	}
	if KeySlot("foo{}{bar}") == KeySlot("bar") {
		t.Error("an empty hash tag was read as the next one")
	}
}

func TestRedact(t *testing.T) {
	base := fmt.Errorf("node n1 did not start: %w (log: >s3cret bad line)", ErrUnavailable)
	err := redact(base, "s3cret")
	if strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("redacted text %q", err)
	}
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("redact lost the wrapped error: %v", err)
	}
	if redact(base, "absent") != base || redact(nil, "s3cret") != nil {
		t.Error("redact changed an error without the secret")
	}
}

func TestSentinelReplicaPriority(t *testing.T) {
	for i, want := range []int{1, 10, 20, 30} {
		if got := sentinelReplicaPriority(i); got != want {
			t.Errorf("priority of %s = %d, want %d", nodeName(i), got, want)
		}
	}
}

// noLeakAfter checks, after the test's clusters are closed, that nothing
// they started is left: it must be called before they are started, so
// that its cleanup runs after theirs.
func noLeakAfter(t *testing.T) {
	before := leakcheck.Take()
	t.Cleanup(func() {
		if left := before.New(leakcheck.Take()); len(left) != 0 {
			t.Errorf("left behind: %v", left)
		}
	})
}

// noSecret fails the test when err's text holds c's replication password.
func noSecret(t *testing.T, c *Cluster, err error) {
	t.Helper()
	if c.replPass == "" {
		t.Fatal("cluster has no replication password")
	}
	if err != nil && strings.Contains(err.Error(), c.replPass) {
		t.Errorf("error shows the replication password: %v", err)
	}
}

// restoreQuickly calls Restore on an unchanged topology: it must be
// cheap, as the runner calls it between runs.
func restoreQuickly(t *testing.T, ctx context.Context, c *Cluster) {
	t.Helper()
	start := time.Now()
	err := c.Restore(ctx)
	noSecret(t, c, err)
	if err != nil {
		t.Fatalf("Restore on an unchanged topology: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Restore on an unchanged topology took %v", took)
	}
	t.Logf("Restore with nothing to do: %v", time.Since(start))
}

// linkDown waits until replica says its link to the primary is down.
func linkDown(t *testing.T, ctx context.Context, replica Node) {
	t.Helper()
	eventually(t, 10*time.Second, replica.Name()+" link down", func() error {
		info, err := ReplicationInfo(ctx, replica.Endpoint())
		if err != nil {
			return err
		}
		if info.LinkUp {
			return fmt.Errorf("%s: link up to %s", replica.Name(), info.PrimaryAddr)
		}
		return nil
	})
}

// flushedEverywhere runs FlushPrimaries after some writes and checks
// every data node is empty at once after it.
func flushedEverywhere(t *testing.T, ctx context.Context, c *Cluster, write func() error) {
	t.Helper()
	if err := write(); err != nil {
		t.Fatal(err)
	}
	if err := c.FlushPrimaries(ctx); err != nil {
		t.Fatalf("FlushPrimaries: %v", err)
	}
	for _, n := range c.Nodes {
		if k, err := client(t, n).DBSize(ctx).Result(); err != nil || k != 0 {
			t.Errorf("after FlushPrimaries %s holds %d keys (%v)", n.Name(), k, err)
		}
	}
}

// TestSentinelCutFailoverRestore (exec and docker), on one sentinel
// topology in turn: a replication cut is seen in the offsets and healed;
// Failover promotes n2 and a failover client follows; a write made while
// every replica is cut is gone after a failover; Restore puts n1 back
// each time; FlushPrimaries empties every node.
func TestSentinelCutFailoverRestore(t *testing.T) {
	eachTopoProvider(t, func(t *testing.T, provider string) {
		noLeakAfter(t)
		c := startTopo(t, provider, Spec{Topology: TopoSentinel})
		logsOnFailure(t, c)
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		n1, n2, n3 := c.Nodes[0], c.Nodes[1], c.Nodes[2]

		err := c.CutReplication(ctx, []string{"n9"})
		noSecret(t, c, err)
		if !errors.Is(err, ErrBadSpec) {
			t.Errorf("CutReplication(n9) = %v, want ErrBadSpec", err)
		}
		restoreQuickly(t, ctx, c)
		restored := func(t *testing.T) {
			t.Helper()
			start := time.Now()
			err := c.Restore(ctx)
			t.Logf("Restore took %v", time.Since(start))
			noSecret(t, c, err)
			if err != nil {
				t.Fatalf("Restore: %v", err)
			}
			if p, err := c.Primary(ctx, "k"); err != nil || p != n1 {
				t.Fatalf("after Restore the primary is %v (%v), want n1", p, err)
			}
			for i, n := range c.Nodes {
				info, err := ReplicationInfo(ctx, n.Endpoint())
				if err != nil || info.Role != c.Roles[i] {
					t.Errorf("after Restore %s is %+v (%v), provisioned as %s", n.Name(), info, err, c.Roles[i])
				}
			}
		}

		ok := t.Run("cut is observable", func(t *testing.T) {
			pc := client(t, n1)
			if err := c.CutReplication(ctx, []string{n2.Name()}); err != nil {
				t.Fatal(err)
			}
			linkDown(t, ctx, n2)
			start, err := ReplicationInfo(ctx, n1.Endpoint())
			if err != nil {
				t.Fatal(err)
			}
			for i := range 100 {
				if err := pc.Set(ctx, fmt.Sprintf("cut%d", i), i, 0).Err(); err != nil {
					t.Fatalf("write %d on the primary during the cut: %v", i, err)
				}
			}
			eventually(t, 10*time.Second, "n3 acknowledges, n2 does not", func() error {
				info, err := ReplicationInfo(ctx, n1.Endpoint())
				if err != nil {
					return err
				}
				if info.Offset <= start.Offset {
					return fmt.Errorf("primary offset %d did not grow from %d", info.Offset, start.Offset)
				}
				if k := info.Replicas[n3.Endpoint().Addr]; k.Offset != info.Offset {
					return fmt.Errorf("offset %d, n3 acknowledged %d", info.Offset, k.Offset)
				}
				if u, listed := info.Replicas[n2.Endpoint().Addr]; listed && u.Offset >= info.Offset {
					return fmt.Errorf("offset %d, cut n2 acknowledged %d", info.Offset, u.Offset)
				}
				return nil
			})
			// Longer than a replica's one-second reconnect: the cut holds.
			time.Sleep(2500 * time.Millisecond)
			if info, err := ReplicationInfo(ctx, n2.Endpoint()); err != nil || info.LinkUp {
				t.Fatalf("n2 during the cut: %+v, %v; want link down", info, err)
			}
			if n, err := client(t, n2).Exists(ctx, "cut99").Result(); err != nil || n != 0 {
				t.Errorf("cut n2 has the write made during the cut (%d, %v)", n, err)
			}
			if err := c.HealReplication(ctx, []string{n2.Name()}); err != nil {
				t.Fatal(err)
			}
			if err := waitInSync(ctx, n1, n2); err != nil {
				t.Fatal(err)
			}
			if got, err := client(t, n2).Get(ctx, "cut99").Int(); err != nil || got != 99 {
				t.Errorf("healed n2: cut99 = %d, %v", got, err)
			}
			restored(t)
		})
		if !ok {
			return
		}

		ok = t.Run("failover seen by a failover client", func(t *testing.T) {
			fc := failoverClient(t, c)
			if err := fc.Set(ctx, "before", "1", 0).Err(); err != nil {
				t.Fatalf("write before the failover: %v", err)
			}
			p, err := c.Failover(ctx, "k")
			noSecret(t, c, err)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("failover %+v", p)
			if p.Old != n1.Name() || p.New != n2.Name() || p.Took <= 0 {
				t.Fatalf("promotion %+v, want n1 to n2 (priority)", p)
			}
			if got, err := c.Primary(ctx, "k"); err != nil || got.Name() != p.New {
				t.Fatalf("Primary says %v (%v), want %s", got, err, p.New)
			}
			// writesLand waits until a write through the failover
			// client lands on node n.
			i := 0
			writesLand := func(what string, n Node) {
				eventually(t, 20*time.Second, what, func() error {
					i++
					if err := fc.Set(ctx, "after", i, 0).Err(); err != nil {
						return err
					}
					if got, err := client(t, n).Get(ctx, "after").Int(); err != nil || got != i {
						return fmt.Errorf("%s has after = %d (%v), want %d", n.Name(), got, err, i)
					}
					return nil
				})
			}
			start := time.Now()
			writesLand("failover client writes on n2", n2)
			t.Logf("failover client writing on n2 %v after Failover returned", time.Since(start))
			restored(t)
			writesLand("failover client writes on n1 again", n1)
		})
		if !ok {
			return
		}

		ok = t.Run("cut then failover loses the write", func(t *testing.T) {
			if err := c.CutReplication(ctx, []string{n2.Name(), n3.Name()}); err != nil {
				t.Fatal(err)
			}
			linkDown(t, ctx, n2)
			linkDown(t, ctx, n3)
			if err := client(t, n1).Set(ctx, "lost", "1", 0).Err(); err != nil {
				t.Fatalf("write on the primary during the cut: %v", err)
			}
			p, err := c.Failover(ctx, "lost")
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("failover during the cut %+v", p)
			if p.Old != n1.Name() || p.New != n2.Name() {
				t.Fatalf("promotion %+v, want n1 to n2", p)
			}
			if n, err := client(t, n2).Exists(ctx, "lost").Result(); err != nil || n != 0 {
				t.Errorf("new primary n2 has the key written during the cut (%d, %v)", n, err)
			}
			restored(t)
			// n1 followed n2 and resynced from it: the write is gone
			// for good.
			if n, err := client(t, n1).Exists(ctx, "lost").Result(); err != nil || n != 0 {
				t.Errorf("restored n1 still has the lost key (%d, %v)", n, err)
			}
		})
		if !ok {
			return
		}

		flushedEverywhere(t, ctx, c, func() error {
			for i := range 20 {
				if err := client(t, n1).Set(ctx, fmt.Sprintf("f%d", i), i, 0).Err(); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// TestClusterCutFailoverRestore (exec and docker): with the replication of
// a key's shard replica cut, Failover (CLUSTER FAILOVER FORCE) promotes
// that replica without the write made during the cut, Primary follows and
// a cluster client's writes resume; Restore puts the original primary
// back; FlushPrimaries empties every node.
func TestClusterCutFailoverRestore(t *testing.T) {
	eachTopoProvider(t, func(t *testing.T, provider string) {
		noLeakAfter(t)
		c := startTopo(t, provider, Spec{Topology: TopoCluster})
		logsOnFailure(t, c)
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		restoreQuickly(t, ctx, c)

		const key = "{user1}:lock"
		owner, err := c.Primary(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		oi := -1
		for i, n := range c.Nodes {
			if n == owner {
				oi = i
			}
		}
		if oi < 0 || oi >= len(c.Nodes)/2 {
			t.Fatalf("%s owns %s, want a provisioned primary", owner.Name(), key)
		}
		replica := c.Nodes[oi+len(c.Nodes)/2]
		cc := redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: c.Addrs(), DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second, Protocol: 2,
		})
		t.Cleanup(func() { cc.Close() })
		if err := cc.Set(ctx, key, "before", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := waitInSync(ctx, owner, replica); err != nil {
			t.Fatal(err)
		}

		if err := c.CutReplication(ctx, []string{replica.Name()}); err != nil {
			t.Fatal(err)
		}
		linkDown(t, ctx, replica)
		if err := client(t, owner).Set(ctx, "{user1}:lost", "1", 0).Err(); err != nil {
			t.Fatalf("write on %s during the cut: %v", owner.Name(), err)
		}
		p, err := c.Failover(ctx, key)
		noSecret(t, c, err)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("failover %+v", p)
		if p.Old != owner.Name() || p.New != replica.Name() || p.Took <= 0 {
			t.Fatalf("promotion %+v, want %s to %s", p, owner.Name(), replica.Name())
		}
		if got, err := c.Primary(ctx, key); err != nil || got != replica {
			t.Fatalf("Primary(%s) = %v (%v), want %s", key, got, err, replica.Name())
		}
		rc := client(t, replica)
		if got, err := rc.Get(ctx, key).Result(); err != nil || got != "before" {
			t.Errorf("promoted %s: %s = %q, %v; want the write made before the cut", replica.Name(), key, got, err)
		}
		if n, err := rc.Exists(ctx, "{user1}:lost").Result(); err != nil || n != 0 {
			t.Errorf("promoted %s has the write made during the cut (%d, %v)", replica.Name(), n, err)
		}
		eventually(t, 20*time.Second, "cluster client writes on the promoted replica", func() error {
			if err := cc.Set(ctx, key, "after", 0).Err(); err != nil {
				return err
			}
			if got, err := rc.Get(ctx, key).Result(); err != nil || got != "after" {
				return fmt.Errorf("%s: %s = %q, %v", replica.Name(), key, got, err)
			}
			return nil
		})

		start := time.Now()
		err = c.Restore(ctx)
		t.Logf("Restore took %v", time.Since(start))
		noSecret(t, c, err)
		if err != nil {
			t.Fatalf("Restore: %v", err)
		}
		if got, err := c.Primary(ctx, key); err != nil || got != owner {
			t.Fatalf("after Restore Primary(%s) = %v (%v), want %s", key, got, err, owner.Name())
		}
		for i, n := range c.Nodes {
			info, err := ReplicationInfo(ctx, n.Endpoint())
			if err != nil || info.Role != c.Roles[i] || (info.Role == RoleReplica && !info.LinkUp) {
				t.Errorf("after Restore %s is %+v (%v), provisioned as %s", n.Name(), info, err, c.Roles[i])
			}
		}
		flushedEverywhere(t, ctx, c, func() error {
			for i := range 30 {
				if err := cc.Set(ctx, fmt.Sprintf("{user%d}:f", i), i, 0).Err(); err != nil {
					return err
				}
			}
			return nil
		})
	})
}
