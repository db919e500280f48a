package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/internal/leakcheck"
	"github.com/lockbench/lockbench/internal/testenv"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// startNodes starts n real redis-server nodes with the exec provider and
// removes them when tb ends. Tests skip, saying why, when redis-server is
// missing: they are about real Redis traffic and a fake would prove nothing.
func startNodes(tb testing.TB, n int) []NodeAddr {
	tb.Helper()
	testenv.NeedRedisServer(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := cluster.NewExec(cluster.ExecOptions{}).Start(ctx, cluster.Spec{Nodes: n})
	if err != nil {
		tb.Fatalf("start %d redis nodes: %v", n, err)
	}
	tb.Cleanup(func() {
		if err := c.Close(); err != nil {
			tb.Errorf("close cluster: %v", err)
		}
	})
	out := make([]NodeAddr, len(c.Nodes))
	for i, node := range c.Nodes {
		out[i] = NodeAddr{Name: node.Name(), Addr: node.Endpoint().Addr}
	}
	return out
}

// newMesh builds a mesh of groups over nodes, closed when tb ends.
func newMesh(tb testing.TB, groups []string, nodes []NodeAddr) *Mesh {
	tb.Helper()
	m, err := NewMesh(context.Background(), groups, nodes)
	if err != nil {
		tb.Fatalf("NewMesh: %v", err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

// newClient is a go-redis client with one connection, no retries and the
// given read/write timeout, so every error a fault causes is seen as it
// happens. Identity and maintenance-notification handshakes are off: they
// add round trips on connect that would blur the timings.
func newClient(tb testing.TB, addr string, timeout time.Duration) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:                     addr,
		DialTimeout:              time.Second,
		DialerRetries:            1,
		ReadTimeout:              timeout,
		WriteTimeout:             timeout,
		PoolSize:                 1,
		MaxRetries:               -1,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	tb.Cleanup(func() { c.Close() })
	return c
}

// isTimeout reports whether err is a network timeout, the only thing a
// client of a partitioned node may see.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// rtt times one PING.
func rtt(tb testing.TB, c *redis.Client) time.Duration {
	tb.Helper()
	start := time.Now()
	if err := c.Ping(context.Background()).Err(); err != nil {
		tb.Fatalf("PING through %s: %v", c.Options().Addr, err)
	}
	return time.Since(start)
}

// minRTT is the smallest of a few PINGs: a floor that scheduler noise cannot
// raise, so "at least the latency" and "back to fast" are both robust.
func minRTT(tb testing.TB, c *redis.Client, n int) time.Duration {
	tb.Helper()
	best := time.Duration(1<<63 - 1)
	for range n {
		best = min(best, rtt(tb, c))
	}
	return best
}

func clientID(tb testing.TB, c *redis.Client) int64 {
	tb.Helper()
	id, err := c.ClientID(context.Background()).Result()
	if err != nil {
		tb.Fatalf("CLIENT ID through %s: %v", c.Options().Addr, err)
	}
	return id
}

func TestMeshProxiesSetGetOnLoopback(t *testing.T) {
	nodes := startNodes(t, 2)
	m := newMesh(t, []string{"A", "B"}, nodes)
	ctx := context.Background()

	for _, g := range m.Groups() {
		addrs, err := m.Addrs(g)
		if err != nil {
			t.Fatalf("Addrs(%s): %v", g, err)
		}
		for i, n := range nodes {
			addr := m.Addr(g, n.Name)
			if addrs[i] != addr {
				t.Errorf("Addrs(%s)[%d] = %s, Addr = %s", g, i, addrs[i], addr)
			}
			host, _, err := net.SplitHostPort(addr)
			if err != nil || host != "127.0.0.1" {
				t.Errorf("proxy %s->%s listens on %q, want 127.0.0.1:port", g, n.Name, addr)
			}
			if addr == n.Addr {
				t.Errorf("proxy %s->%s address is the node's own address %s", g, n.Name, addr)
			}

			key, val := "k-"+g+"-"+n.Name, "v-"+g
			c := newClient(t, addr, time.Second)
			if err := c.Set(ctx, key, val, 0).Err(); err != nil {
				t.Fatalf("SET via %s->%s: %v", g, n.Name, err)
			}
			if got, err := c.Get(ctx, key).Result(); err != nil || got != val {
				t.Fatalf("GET via %s->%s = %q, %v; want %q", g, n.Name, got, err, val)
			}
			// The write reached that node and no other.
			direct := newClient(t, n.Addr, time.Second)
			if got, err := direct.Get(ctx, key).Result(); err != nil || got != val {
				t.Fatalf("GET direct on %s = %q, %v; want %q", n.Name, got, err, val)
			}
		}
	}
	if got := m.Addr("A", m.Nodes()[0]); got == m.Addr("B", m.Nodes()[0]) {
		t.Errorf("groups A and B share proxy %s for one node", got)
	}
}

func TestMeshRejectsUnknownNamesAndBadArguments(t *testing.T) {
	nodes := startNodes(t, 2)
	m := newMesh(t, []string{"A", "B"}, nodes)
	ctx := context.Background()

	if got := m.Addr("nope", "n1"); got != "" {
		t.Errorf(`Addr("nope", "n1") = %q, want ""`, got)
	}
	if _, err := m.Addrs("nope"); !errors.Is(err, ErrUnknownGroup) {
		t.Errorf("Addrs(unknown) error = %v, want ErrUnknownGroup", err)
	}

	for _, tc := range []struct {
		name string
		call func() error
		want error
	}{
		{"partition unknown group", func() error { return m.Partition(ctx, "C", "n1") }, ErrUnknownGroup},
		{"partition unknown node", func() error { return m.Partition(ctx, "A", "n9") }, ErrUnknownNode},
		{"latency unknown node", func() error { return m.AddLatency(ctx, "A", "n9", time.Millisecond, 0, Both) }, ErrUnknownNode},
		{"heal unknown group", func() error { return m.Heal(ctx, "C", "n1") }, ErrUnknownGroup},
		{"reset unknown node", func() error { return m.ResetConnections(ctx, "A", "n9") }, ErrUnknownNode},
		{"partition node unknown", func() error { return m.PartitionNode(ctx, "n9") }, ErrUnknownNode},
		{"partition group with one unknown node", func() error { return m.PartitionGroup(ctx, "A", []string{"n1", "n9"}) }, ErrUnknownNode},
		{"negative latency", func() error { return m.AddLatency(ctx, "A", "n1", -time.Millisecond, 0, Both) }, ErrInvalid},
		{"jitter above latency", func() error { return m.AddLatency(ctx, "A", "n1", time.Millisecond, 2*time.Millisecond, Both) }, ErrInvalid},
		{"bad direction", func() error { return m.AddLatency(ctx, "A", "n1", time.Millisecond, 0, Direction(0)) }, ErrInvalid},
		{"zero slow replies", func() error { return m.SlowReplies(ctx, "A", "n1", 0) }, ErrInvalid},
		{"cancelled context", func() error {
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			return m.Partition(cctx, "A", "n1")
		}, context.Canceled},
		{"duplicate group", func() error { _, err := NewMesh(ctx, []string{"A", "A"}, nodes); return err }, ErrInvalid},
		{"duplicate node", func() error { _, err := NewMesh(ctx, []string{"A"}, []NodeAddr{nodes[0], nodes[0]}); return err }, ErrInvalid},
		{"no groups", func() error { _, err := NewMesh(ctx, nil, nodes); return err }, ErrInvalid},
		{"node without address", func() error { _, err := NewMesh(ctx, []string{"A"}, []NodeAddr{{Name: "n1"}}); return err }, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, tc.want) {
				t.Fatalf("error = %v, want errors.Is %v", err, tc.want)
			}
		})
	}

	// The failed PartitionGroup checked every name first and cut nothing.
	c := newClient(t, m.Addr("A", "n1"), 200*time.Millisecond)
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("A->n1 after a rejected PartitionGroup: %v", err)
	}
}

// TestLatencyActsOnOpenConnection proves that a toxic reaches a connection
// opened before it was added: the client keeps one connection, and CLIENT ID
// shows the node saw the same connection before, during and after.
func TestLatencyActsOnOpenConnection(t *testing.T) {
	nodes := startNodes(t, 1)
	m := newMesh(t, []string{"A"}, nodes)
	ctx := context.Background()
	const latency = 100 * time.Millisecond

	for _, tc := range []struct {
		dir  Direction
		want time.Duration // least round trip with the toxic
	}{
		{Upstream, latency},
		{Downstream, latency},
		{Both, 2 * latency},
	} {
		t.Run(tc.dir.String(), func(t *testing.T) {
			c := newClient(t, m.Addr("A", "n1"), 2*time.Second)
			id := clientID(t, c) // opens the one connection
			base := minRTT(t, c, 5)

			if err := m.AddLatency(ctx, "A", "n1", latency, 0, tc.dir); err != nil {
				t.Fatalf("AddLatency: %v", err)
			}
			slow := minRTT(t, c, 3)
			if slow < tc.want {
				t.Errorf("PING with %v %s latency took %v, want >= %v", latency, tc.dir, slow, tc.want)
			}
			if got := clientID(t, c); got != id {
				t.Fatalf("client reconnected (CLIENT ID %d -> %d): the test needs the old connection", id, got)
			}

			if err := m.Clear(ctx, "A", "n1"); err != nil {
				t.Fatalf("Clear: %v", err)
			}
			fast := minRTT(t, c, 5)
			if fast > latency/4 {
				t.Errorf("PING after Clear took %v, want well under %v", fast, latency)
			}
			if got := clientID(t, c); got != id {
				t.Errorf("Clear of latency dropped the connection (CLIENT ID %d -> %d)", id, got)
			}
			t.Logf("%s: base %v, with latency %v, after clear %v", tc.dir, base, slow, fast)
		})
	}

	t.Run("again replaces", func(t *testing.T) {
		c := newClient(t, m.Addr("A", "n1"), 2*time.Second)
		for _, l := range []time.Duration{150 * time.Millisecond, 50 * time.Millisecond} {
			if err := m.AddLatency(ctx, "A", "n1", l, 0, Upstream); err != nil {
				t.Fatalf("AddLatency(%v): %v", l, err)
			}
		}
		if got := minRTT(t, c, 3); got < 50*time.Millisecond || got >= 150*time.Millisecond {
			t.Errorf("PING after latency 150ms then 50ms took %v, want the 50ms alone", got)
		}
		if err := m.RemoveLatency(ctx, "A", "n1"); err != nil {
			t.Fatalf("RemoveLatency: %v", err)
		}
		if got := minRTT(t, c, 3); got > 25*time.Millisecond {
			t.Errorf("PING after RemoveLatency took %v", got)
		}
	})
}

// TestPartitionDropsSilentlyAndHeals cuts group A off n1 and checks that A
// times out while B still reaches n1 and A still reaches n2; that what A
// sent never executed; and that A works again after Heal.
func TestPartitionDropsSilentlyAndHeals(t *testing.T) {
	nodes := startNodes(t, 2)
	m := newMesh(t, []string{"A", "B"}, nodes)
	ctx := context.Background()
	const timeout = 200 * time.Millisecond

	a1 := newClient(t, m.Addr("A", "n1"), timeout)
	a2 := newClient(t, m.Addr("A", "n2"), timeout)
	b1 := newClient(t, m.Addr("B", "n1"), timeout)
	direct1 := newClient(t, nodes[0].Addr, time.Second)
	for _, c := range []*redis.Client{a1, a2, b1} {
		rtt(t, c) // every client has an open connection when the cut comes
	}

	if err := m.Partition(ctx, "A", "n1"); err != nil {
		t.Fatalf("Partition: %v", err)
	}
	if err := m.Partition(ctx, "A", "n1"); err != nil {
		t.Fatalf("second Partition of the same pair: %v (want idempotent)", err)
	}

	start := time.Now()
	err := a1.Set(ctx, "cut", "A", 0).Err()
	took := time.Since(start)
	if !isTimeout(err) {
		t.Fatalf("SET from A to partitioned n1: err = %v after %v, want a timeout", err, took)
	}
	if took < timeout || took > timeout+time.Second {
		t.Errorf("SET from A timed out after %v, want about %v", took, timeout)
	}
	if n, err := direct1.Exists(ctx, "cut").Result(); err != nil || n != 0 {
		t.Errorf("n1 has key written across the partition (exists=%d, %v): requests must be dropped", n, err)
	}

	// A brand-new connection fares no better: the proxy accepts it, then
	// the handshake hears nothing.
	fresh := newClient(t, m.Addr("A", "n1"), timeout)
	if err := fresh.Ping(ctx).Err(); err == nil {
		t.Errorf("new connection from A to partitioned n1 worked")
	} else {
		t.Logf("new connection during partition: %v", err)
	}

	for name, c := range map[string]*redis.Client{"B->n1": b1, "A->n2": a2} {
		if err := c.Set(ctx, "ok-"+name, "1", 0).Err(); err != nil {
			t.Errorf("%s during A/n1 partition: %v", name, err)
		}
	}

	if err := m.Heal(ctx, "A", "n1"); err != nil {
		t.Fatalf("Heal: %v", err)
	}
	if err := m.Heal(ctx, "A", "n1"); err != nil {
		t.Fatalf("second Heal: %v (want idempotent)", err)
	}
	// go-redis dropped the timed-out connection; the first command after
	// Heal dials a fresh one and must simply work.
	start = time.Now()
	if err := a1.Set(ctx, "healed", "A", 0).Err(); err != nil {
		t.Fatalf("first SET from A after Heal: %v", err)
	}
	t.Logf("first command after heal took %v", time.Since(start))
	if err := fresh.Ping(ctx).Err(); err != nil {
		t.Errorf("client whose handshake timed out, after Heal: %v", err)
	}
}

// TestHealClosesConnectionsOpenDuringPartition documents a toxiproxy
// behaviour callers must expect: removing the timeout toxic closes the
// connections it was applied to. The node itself shows it: the connection is
// listed through the partition and gone after Heal. A client that kept its
// connection idle through the partition still works after Heal because
// go-redis's pool health check notices the close and redials.
func TestHealClosesConnectionsOpenDuringPartition(t *testing.T) {
	nodes := startNodes(t, 1)
	m := newMesh(t, []string{"A"}, nodes)
	ctx := context.Background()
	direct := newClient(t, nodes[0].Addr, time.Second)

	c := newClient(t, m.Addr("A", "n1"), 500*time.Millisecond)
	id := clientID(t, c)
	if err := m.Partition(ctx, "A", "n1"); err != nil {
		t.Fatalf("Partition: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	if !connected(t, direct, id) {
		t.Fatalf("connection %d closed by Partition; want it kept open (silent drop)", id)
	}
	if err := m.Heal(ctx, "A", "n1"); err != nil {
		t.Fatalf("Heal: %v", err)
	}
	// Generous: a loaded machine can take a while to tear the link down;
	// a connection Heal does not close survives any bound.
	deadline := time.Now().Add(5 * time.Second)
	for connected(t, direct, id) {
		if time.Now().After(deadline) {
			t.Fatalf("connection %d survived Heal by 5 s: update the package doc", id)
		}
		time.Sleep(5 * time.Millisecond)
	}
	got, err := c.ClientID(ctx).Result()
	if err != nil {
		t.Fatalf("first command after Heal on an idle pooled connection: %v", err)
	}
	if got == id {
		t.Errorf("go-redis reused closed connection %d", id)
	}
}

// connected reports whether the node lists client connection id.
func connected(t *testing.T, direct *redis.Client, id int64) bool {
	t.Helper()
	list, err := direct.ClientList(context.Background()).Result()
	if err != nil {
		t.Fatalf("CLIENT LIST: %v", err)
	}
	return strings.Contains(list, fmt.Sprintf("id=%d ", id))
}

func TestPartitionNodeAndGroup(t *testing.T) {
	nodes := startNodes(t, 2)
	m := newMesh(t, []string{"A", "B"}, nodes)
	ctx := context.Background()
	const timeout = 150 * time.Millisecond

	// reachable lists, for every group->node pair, whether a PING works.
	reachable := func() map[string]bool {
		out := map[string]bool{}
		for _, g := range m.Groups() {
			for _, n := range m.Nodes() {
				c := newClient(t, m.Addr(g, n), timeout)
				out[g+"->"+n] = c.Ping(ctx).Err() == nil
				c.Close()
			}
		}
		return out
	}
	all := map[string]bool{"A->n1": true, "A->n2": true, "B->n1": true, "B->n2": true}

	for _, tc := range []struct {
		name      string
		cut, heal func() error
		whilePart map[string]bool
	}{
		{
			name:      "node n1 from every group",
			cut:       func() error { return m.PartitionNode(ctx, "n1") },
			heal:      func() error { return m.HealNode(ctx, "n1") },
			whilePart: map[string]bool{"A->n1": false, "A->n2": true, "B->n1": false, "B->n2": true},
		},
		{
			name:      "group A from every node",
			cut:       func() error { return m.PartitionGroup(ctx, "A", m.Nodes()) },
			heal:      func() error { return m.HealGroup(ctx, "A", m.Nodes()) },
			whilePart: map[string]bool{"A->n1": false, "A->n2": false, "B->n1": true, "B->n2": true},
		},
		{
			name:      "group B from n2, healed by ClearAll",
			cut:       func() error { return m.PartitionGroup(ctx, "B", []string{"n2"}) },
			heal:      func() error { return m.ClearAll(ctx) },
			whilePart: map[string]bool{"A->n1": true, "A->n2": true, "B->n1": true, "B->n2": false},
		},
		{
			name:      "empty node list cuts nothing",
			cut:       func() error { return m.PartitionGroup(ctx, "A", nil) },
			heal:      func() error { return nil },
			whilePart: all,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cut(); err != nil {
				t.Fatalf("cut: %v", err)
			}
			if got := reachable(); !mapsEqual(got, tc.whilePart) {
				t.Errorf("during partition reachable = %v, want %v", got, tc.whilePart)
			}
			if err := tc.heal(); err != nil {
				t.Fatalf("heal: %v", err)
			}
			if got := reachable(); !mapsEqual(got, all) {
				t.Errorf("after heal reachable = %v, want all", got)
			}
		})
	}
}

func mapsEqual(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestSlowRepliesExecuteButAnswerLate shows what sets slow replies apart
// from a partition: the node executes the command at once, and only the
// client's knowledge of it is late.
func TestSlowRepliesExecuteButAnswerLate(t *testing.T) {
	nodes := startNodes(t, 1)
	m := newMesh(t, []string{"A"}, nodes)
	ctx := context.Background()
	const delay = 300 * time.Millisecond

	impatient := newClient(t, m.Addr("A", "n1"), 100*time.Millisecond)
	patient := newClient(t, m.Addr("A", "n1"), 2*time.Second)
	direct := newClient(t, nodes[0].Addr, time.Second)
	rtt(t, impatient)
	rtt(t, patient)

	if err := m.SlowReplies(ctx, "A", "n1", delay); err != nil {
		t.Fatalf("SlowReplies: %v", err)
	}
	if err := impatient.Set(ctx, "slow", "1", 0).Err(); !isTimeout(err) {
		t.Errorf("SET with 100ms timeout under %v slow replies: err = %v, want a timeout", delay, err)
	}
	if got, err := direct.Get(ctx, "slow").Result(); err != nil || got != "1" {
		t.Errorf("direct GET after the timed-out SET = %q, %v; want the SET executed", got, err)
	}
	if got := minRTT(t, patient, 2); got < delay {
		t.Errorf("PING under %v slow replies took %v", delay, got)
	}

	if err := m.RemoveSlowReplies(ctx, "A", "n1"); err != nil {
		t.Fatalf("RemoveSlowReplies: %v", err)
	}
	if got := minRTT(t, patient, 3); got > 25*time.Millisecond {
		t.Errorf("PING after RemoveSlowReplies took %v", got)
	}
}

func TestResetConnections(t *testing.T) {
	nodes := startNodes(t, 1)
	m := newMesh(t, []string{"A"}, nodes)
	ctx := context.Background()
	addr := m.Addr("A", "n1")

	t.Run("command in flight fails, next one reconnects", func(t *testing.T) {
		c := newClient(t, addr, 5*time.Second)
		id := clientID(t, c)
		done := make(chan error, 1)
		go func() { done <- c.BLPop(ctx, 3*time.Second, "empty-list").Err() }()
		waitBlocked(t, nodes[0].Addr, id)

		if err := m.ResetConnections(ctx, "A", "n1"); err != nil {
			t.Fatalf("ResetConnections: %v", err)
		}
		select {
		case err := <-done:
			if err == nil || errors.Is(err, redis.Nil) {
				t.Fatalf("BLPOP in flight across a reset returned %v, want a connection error", err)
			}
			t.Logf("in-flight command saw: %v", err)
		case <-time.After(2 * time.Second):
			t.Fatal("BLPOP in flight did not notice the reset")
		}
		if m.Addr("A", "n1") != addr {
			t.Fatalf("address changed across reset: %s -> %s", addr, m.Addr("A", "n1"))
		}
		if got := clientID(t, c); got == id {
			t.Errorf("same CLIENT ID %d after reset: the connection survived", id)
		}
	})

	t.Run("idle pooled connection", func(t *testing.T) {
		c := newClient(t, addr, time.Second)
		id := clientID(t, c)
		if err := m.ResetConnections(ctx, "A", "n1"); err != nil {
			t.Fatalf("ResetConnections: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // let the FIN arrive
		got, err := c.ClientID(ctx).Result()
		if err != nil {
			t.Fatalf("first command on an idle connection after reset: %v", err)
		}
		if got == id {
			t.Errorf("same CLIENT ID %d after reset", id)
		}
	})

	t.Run("toxics survive the reset", func(t *testing.T) {
		if err := m.AddLatency(ctx, "A", "n1", 60*time.Millisecond, 0, Upstream); err != nil {
			t.Fatalf("AddLatency: %v", err)
		}
		if err := m.ResetConnections(ctx, "A", "n1"); err != nil {
			t.Fatalf("ResetConnections: %v", err)
		}
		c := newClient(t, addr, time.Second)
		if got := minRTT(t, c, 2); got < 60*time.Millisecond {
			t.Errorf("PING on a new connection after reset took %v, want the 60ms latency", got)
		}
		if err := m.ClearAll(ctx); err != nil {
			t.Fatalf("ClearAll: %v", err)
		}
	})
}

// waitBlocked waits until the node reports connection id blocked in a
// command, so the reset surely hits a command in flight.
func waitBlocked(t *testing.T, nodeAddr string, id int64) {
	t.Helper()
	direct := newClient(t, nodeAddr, time.Second)
	want := fmt.Sprintf("id=%d ", id)
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		list, err := direct.ClientList(context.Background()).Result()
		if err != nil {
			t.Fatalf("CLIENT LIST: %v", err)
		}
		for _, line := range strings.Split(list, "\n") {
			if strings.HasPrefix(line, want) && strings.Contains(line, "cmd=blpop") && strings.Contains(line, "flags=b") {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("connection %d never blocked in BLPOP", id)
}

// TestCloseLeavesNoListener checks that Close frees everything: listeners,
// open connections (also ones held by a partition) and toxiproxy's
// goroutines.
func TestCloseLeavesNoListener(t *testing.T) {
	nodes := startNodes(t, 2)
	ctx := context.Background()
	time.Sleep(50 * time.Millisecond) // let the cluster's start-up goroutines settle
	before := runtime.NumGoroutine()

	m, err := NewMesh(ctx, []string{"A", "B"}, nodes)
	if err != nil {
		t.Fatalf("NewMesh: %v", err)
	}
	// A raw connection, not go-redis: after a failed dial go-redis keeps a
	// goroutine redialling once a second, which would blur the count below.
	raw, err := net.Dial("tcp", m.Addr("A", "n1"))
	if err != nil {
		t.Fatalf("dial proxy: %v", err)
	}
	defer raw.Close()
	if got := rawPing(raw); got != nil {
		t.Fatalf("PING on raw connection: %v", got)
	}
	cut := newClient(t, m.Addr("B", "n2"), time.Second)
	rtt(t, cut)
	if err := m.Partition(ctx, "B", "n2"); err != nil {
		t.Fatalf("Partition: %v", err)
	}
	if err := m.AddLatency(ctx, "A", "n2", 5*time.Millisecond, time.Millisecond, Both); err != nil {
		t.Fatalf("AddLatency: %v", err)
	}

	var addrs []string
	for _, g := range m.Groups() {
		a, _ := m.Addrs(g)
		addrs = append(addrs, a...)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, a := range addrs {
		if conn, err := net.DialTimeout("tcp", a, 200*time.Millisecond); err == nil {
			conn.Close()
			t.Errorf("%s still accepts connections after Close", a)
		}
	}
	if err := rawPing(raw); err == nil || isTimeout(err) {
		t.Errorf("open connection after Close: PING error = %v, want it closed", err)
	}
	if err := m.Partition(ctx, "A", "n1"); !errors.Is(err, ErrClosed) {
		t.Errorf("Partition after Close: %v, want ErrClosed", err)
	}
	if err := m.ResetConnections(ctx, "A", "n1"); !errors.Is(err, ErrClosed) {
		t.Errorf("ResetConnections after Close: %v, want ErrClosed", err)
	}

	raw.Close()
	cut.Close()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Close, %d before NewMesh:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rawPing sends PING on conn and reads the reply, failing after a second.
func rawPing(conn net.Conn) error {
	if err := conn.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 7)
	if _, err := io.ReadFull(conn, buf); err != nil {
		return err
	}
	if string(buf) != "+PONG\r\n" {
		return fmt.Errorf("reply %q", buf)
	}
	return nil
}

// setTimings runs n SETs on each client, alternating so that both see the
// same machine state, and returns each client's round trips sorted.
func setTimings(tb testing.TB, n int, clients ...*redis.Client) [][]time.Duration {
	tb.Helper()
	ctx := context.Background()
	out := make([][]time.Duration, len(clients))
	for i := range out {
		out[i] = make([]time.Duration, 0, n)
	}
	for j := range n {
		for i, c := range clients {
			start := time.Now()
			if err := c.Set(ctx, "overhead", j, 0).Err(); err != nil {
				tb.Fatalf("SET %d: %v", j, err)
			}
			out[i] = append(out[i], time.Since(start))
		}
	}
	for _, d := range out {
		slices.Sort(d)
	}
	return out
}

// quantile is the q-quantile of sorted d (nearest rank).
func quantile(d []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(d))+0.5) - 1
	return d[max(0, min(i, len(d)-1))]
}

// TestProxyOverhead measures what an idle proxy adds to a SET round trip:
// the harness's own cost, which reports must not mistake for the lock's.
// Figures under -race are inflated; read them from a plain run or the
// benchmark.
func TestProxyOverhead(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement: skipped with -short")
	}
	nodes := startNodes(t, 1)
	m := newMesh(t, []string{"A"}, nodes)
	direct := newClient(t, nodes[0].Addr, time.Second)
	proxied := newClient(t, m.Addr("A", "n1"), time.Second)
	setTimings(t, 200, direct, proxied) // warm up both paths

	const n = 5000
	d := setTimings(t, n, direct, proxied)
	t.Logf("SET round trip over %d sequential SETs each: direct median %v p99 %v; via proxy median %v p99 %v",
		n, quantile(d[0], 0.5), quantile(d[0], 0.99), quantile(d[1], 0.5), quantile(d[1], 0.99))
}

// BenchmarkSETDirectVsProxy reports the median and p99 SET round trip
// straight to a node and through an idle proxy, measured alternately in the
// same run.
func BenchmarkSETDirectVsProxy(b *testing.B) {
	nodes := startNodes(b, 1)
	m := newMesh(b, []string{"A"}, nodes)
	direct := newClient(b, nodes[0].Addr, time.Second)
	proxied := newClient(b, m.Addr("A", "n1"), time.Second)
	setTimings(b, 200, direct, proxied)

	var dd, pd []time.Duration
	for b.Loop() {
		d := setTimings(b, 1, direct, proxied)
		dd = append(dd, d[0][0])
		pd = append(pd, d[1][0])
	}
	slices.Sort(dd)
	slices.Sort(pd)
	b.ReportMetric(float64(quantile(dd, 0.5)), "direct-p50-ns")
	b.ReportMetric(float64(quantile(dd, 0.99)), "direct-p99-ns")
	b.ReportMetric(float64(quantile(pd, 0.5)), "proxy-p50-ns")
	b.ReportMetric(float64(quantile(pd, 0.99)), "proxy-p99-ns")
}
