package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockbench/lockbench/internal/leakcheck"
	"github.com/lockbench/lockbench/internal/testenv"
)

// topoProviders are the providers the replicated-topology tests run on.
var topoProviders = []string{ProviderExec, ProviderDocker}

// startTopo starts a replicated topology on provider, skipping when the
// provider cannot run here or (exec) redis-server is older than 7.0
// (cluster-port, CLUSTER ADDSLOTSRANGE and Sentinel's announce settings
// need it).
func startTopo(t *testing.T, provider string, spec Spec) *Cluster {
	t.Helper()
	var p Provider
	switch provider {
	case ProviderDocker:
		needDocker(t)
		p = NewDocker(DockerOptions{})
	default:
		testenv.NeedRedisServerMajor(t, 7)
		p = NewExec(ExecOptions{})
	}
	start := time.Now()
	c := startWith(t, p, spec)
	t.Logf("%s topology on %s ready in %v", spec.Topology, provider, time.Since(start))
	if c.Provider != provider {
		t.Fatalf("started by %q, want %q", c.Provider, provider)
	}
	return c
}

// eachTopoProvider runs f as a subtest per provider in topoProviders.
func eachTopoProvider(t *testing.T, f func(t *testing.T, provider string)) {
	for _, p := range topoProviders {
		t.Run(p, func(t *testing.T) { f(t, p) })
	}
}

// logsOnFailure logs every exec process's log when the test fails: what
// Sentinel or a cluster node decided, and when, is only written there.
func logsOnFailure(t *testing.T, c *Cluster) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, n := range append(append([]Node{}, c.Nodes...), c.Sentinels...) {
			if e, ok := n.(*execNode); ok {
				b, _ := os.ReadFile(e.logFile())
				t.Logf("log of %s (%s):\n%s", e.name, e.Endpoint().Addr, b)
			}
		}
	})
}

// eventually polls f every 100 ms for up to limit; it fails the test with
// f's last error when f never succeeds.
func eventually(t *testing.T, limit time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, limit, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestSpecTopologyValidation(t *testing.T) {
	for _, tc := range []struct {
		name     string
		provider Provider
		spec     Spec
		want     error
	}{
		{"unknown topology", NewExec(ExecOptions{}), Spec{Nodes: 1, Topology: "ring"}, ErrBadSpec},
		{"sentinel on external", NewExternal(ExternalOptions{Addrs: []string{"127.0.0.1:1"}}), Spec{Topology: TopoSentinel}, ErrUnsupported},
		{"fake time on docker", NewDocker(DockerOptions{}), Spec{Topology: TopoSentinel, FakeTime: true}, ErrUnsupported},
		{"docker cluster of five", NewDocker(DockerOptions{}), Spec{Nodes: 5, Topology: TopoCluster}, ErrBadSpec},
		{"cluster on external", NewExternal(ExternalOptions{Addrs: []string{"127.0.0.1:1"}}), Spec{Topology: TopoCluster}, ErrUnsupported},
		{"sentinel without a replica", NewExec(ExecOptions{}), Spec{Nodes: 1, Topology: TopoSentinel}, ErrBadSpec},
		{"cluster of five", NewExec(ExecOptions{}), Spec{Nodes: 5, Topology: TopoCluster}, ErrBadSpec},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.provider.Start(context.Background(), tc.spec)
			if err == nil {
				c.Close()
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Start = %v, want %v", err, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		in   string
		want Topology
	}{{"", TopoStandalone}, {"standalone", TopoStandalone}, {"sentinel", TopoSentinel}, {"cluster", TopoCluster}} {
		if got, err := ParseTopology(tc.in); got != tc.want || err != nil {
			t.Errorf("ParseTopology(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestExecStandaloneIsTheDefault: a spec without a topology starts
// independent primaries, as before topologies existed.
func TestExecStandaloneIsTheDefault(t *testing.T) {
	c := startExec(t, Spec{Nodes: 2})
	if (c.Topology != "" && c.Topology != TopoStandalone) || c.Roles != nil || c.Sentinels != nil {
		t.Errorf("topology %q roles %v sentinels %v; want standalone, none, none", c.Topology, c.Roles, c.Sentinels)
	}
	for _, n := range c.Nodes {
		info, err := ReplicationInfo(context.Background(), n.Endpoint())
		if err != nil || info.Role != RolePrimary || len(info.Replicas) != 0 {
			t.Errorf("%s: %+v, %v; want a primary without replicas", n.Name(), info, err)
		}
	}
}

func TestSentinelTopology(t *testing.T) {
	eachTopoProvider(t, func(t *testing.T, provider string) {
		c := startTopo(t, provider, Spec{Topology: TopoSentinel})
		logsOnFailure(t, c)
		ctx := context.Background()
		if len(c.Nodes) != 3 || len(c.Sentinels) != 3 || c.MasterName != MasterName || c.Topology != TopoSentinel {
			t.Fatalf("%d nodes, %d sentinels, master name %q, topology %q", len(c.Nodes), len(c.Sentinels), c.MasterName, c.Topology)
		}
		for i, n := range append(append([]Node{}, c.Nodes...), c.Sentinels...) {
			if host, _, _ := net.SplitHostPort(n.Endpoint().Addr); host != "127.0.0.1" {
				t.Errorf("%s listens on %s, want loopback", n.Name(), n.Endpoint().Addr)
			}
			if i >= len(c.Nodes) {
				continue
			}
			info, err := ReplicationInfo(ctx, n.Endpoint())
			if err != nil {
				t.Fatal(err)
			}
			if info.Role != c.Roles[i] {
				t.Errorf("%s is %s, provisioned as %s", n.Name(), info.Role, c.Roles[i])
			}
			if info.Role == RoleReplica && (info.PrimaryAddr != c.Nodes[0].Endpoint().Addr || !info.LinkUp) {
				t.Errorf("%s follows %s (link up %v), want %s", n.Name(), info.PrimaryAddr, info.LinkUp, c.Nodes[0].Endpoint().Addr)
			}
		}
		if got, err := c.SentinelPrimary(ctx); err != nil || got != c.Nodes[0].Endpoint().Addr {
			t.Errorf("Sentinels name %q (%v) as primary, want %s", got, err, c.Nodes[0].Endpoint().Addr)
		}
		// A write on the primary reaches the replicas.
		if err := client(t, c.Nodes[0]).Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		for _, n := range c.Nodes[1:] {
			eventually(t, 5*time.Second, n.Name()+" has the write", func() error {
				return client(t, n).Get(ctx, "k").Err()
			})
		}
	})
}

// failoverClient is a go-redis client that finds the primary through the
// cluster's Sentinels.
func failoverClient(t *testing.T, c *Cluster) *redis.Client {
	t.Helper()
	fc := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    c.MasterName,
		SentinelAddrs: c.SentinelAddrs(),
		DialTimeout:   time.Second,
		ReadTimeout:   time.Second,
		WriteTimeout:  time.Second,
		MaxRetries:    -1,
		Protocol:      2,
	})
	t.Cleanup(func() { fc.Close() })
	return fc
}

// TestSentinelFailover (exec and docker): SIGKILL the primary; the Sentinels promote a
// replica, a failover client's writes resume on it, and the old primary,
// started again, comes back as a replica of the new one.
func TestSentinelFailover(t *testing.T) {
	eachTopoProvider(t, func(t *testing.T, provider string) {
		c := startTopo(t, provider, Spec{Topology: TopoSentinel})
		logsOnFailure(t, c)
		ctx := context.Background()
		fc := failoverClient(t, c)
		if err := fc.Set(ctx, "before", "1", 0).Err(); err != nil {
			t.Fatalf("write before the failover: %v", err)
		}
		old := c.Nodes[0]
		oldAddr := old.Endpoint().Addr
		killed := time.Now()
		if err := old.Kill(ctx); err != nil {
			t.Fatal(err)
		}
		var newAddr string
		writes := 0
		eventually(t, 20*time.Second, "failover", func() error {
			writes++
			if err := fc.Set(ctx, "after", writes, 0).Err(); err != nil {
				return fmt.Errorf("write: %w", err)
			}
			addr, err := c.SentinelPrimary(ctx)
			if err != nil {
				return err
			}
			if addr == oldAddr {
				return fmt.Errorf("Sentinels still name %s", addr)
			}
			newAddr = addr
			return nil
		})
		t.Logf("failover: writes resumed on %s %v after the kill", newAddr, time.Since(killed))
		var promoted Node
		for _, n := range c.Nodes[1:] {
			if n.Endpoint().Addr == newAddr {
				promoted = n
			}
		}
		if promoted == nil {
			t.Fatalf("new primary %s is none of the replicas", newAddr)
		}
		info, err := ReplicationInfo(ctx, promoted.Endpoint())
		if err != nil || info.Role != RolePrimary {
			t.Fatalf("%s: %+v, %v; want primary", promoted.Name(), info, err)
		}
		got, err := client(t, promoted).Get(ctx, "after").Int()
		if err != nil || got != writes {
			t.Errorf("new primary has after = %d, %v; want %d", got, err, writes)
		}

		if err := old.Start(ctx); err != nil {
			t.Fatal(err)
		}
		// The primary it follows is the one the Sentinels name now: on a
		// loaded machine they may have failed over once more since.
		eventually(t, 20*time.Second, "old primary rejoins as replica", func() error {
			cur, err := c.SentinelPrimary(ctx)
			if err != nil {
				return err
			}
			if cur == oldAddr {
				return fmt.Errorf("the Sentinels name the restarted old primary %s", cur)
			}
			info, err := ReplicationInfo(ctx, old.Endpoint())
			if err != nil {
				return err
			}
			if info.Role != RoleReplica || info.PrimaryAddr != cur || !info.LinkUp {
				return fmt.Errorf("%s: role %s of %s, link up %v; the Sentinels name %s", old.Name(), info.Role, info.PrimaryAddr, info.LinkUp, cur)
			}
			return nil
		})
	})
}

// TestSentinelReplicationCut (exec and docker): a paused replica stops acknowledging
// the replication stream, so the primary sees its offset fall behind
// while writes go on and the other replica keeps up; resumed, it catches
// up.
func TestSentinelReplicationCut(t *testing.T) {
	eachTopoProvider(t, func(t *testing.T, provider string) {
		c := startTopo(t, provider, Spec{Topology: TopoSentinel})
		logsOnFailure(t, c)
		ctx := context.Background()
		primary, cut, kept := c.Nodes[0], c.Nodes[1], c.Nodes[2]
		pc := client(t, primary)
		if err := cut.Pause(ctx); err != nil {
			t.Fatal(err)
		}
		resumed := false
		defer func() {
			if !resumed {
				cut.Resume(ctx)
			}
		}()
		for i := range 200 {
			if err := pc.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
				t.Fatalf("write %d on the primary: %v", i, err)
			}
		}
		// Replicas acknowledge once a second: wait for the kept one's ack to
		// reach the primary's offset while the cut one's stays behind.
		var lag int64
		eventually(t, 5*time.Second, "kept replica acknowledges, cut one lags", func() error {
			info, err := ReplicationInfo(ctx, primary.Endpoint())
			if err != nil {
				return err
			}
			k, u := info.Replicas[kept.Endpoint().Addr], info.Replicas[cut.Endpoint().Addr]
			lag = info.Offset - u.Offset
			if k.Offset != info.Offset || lag <= 0 {
				return fmt.Errorf("offset %d, kept replica at %d, cut replica at %d", info.Offset, k.Offset, u.Offset)
			}
			return nil
		})
		t.Logf("cut replica %d bytes behind", lag)
		if err := cut.Resume(ctx); err != nil {
			t.Fatal(err)
		}
		resumed = true
		eventually(t, 10*time.Second, "cut replica catches up", func() error {
			info, err := ReplicationInfo(ctx, primary.Endpoint())
			if err != nil {
				return err
			}
			if u := info.Replicas[cut.Endpoint().Addr]; u.Offset != info.Offset {
				return fmt.Errorf("offset %d, cut replica at %d", info.Offset, u.Offset)
			}
			return nil
		})
		if got, err := client(t, cut).Get(ctx, "k199").Int(); err != nil || got != 199 {
			t.Errorf("cut replica after resume: k199 = %d, %v", got, err)
		}
	})
}

// TestRedisCluster (exec and docker): six nodes form a cluster of three primaries with
// a replica each; a cluster client writes hash-tagged keys; CLUSTER
// FAILOVER on a replica promotes it, and the client's writes go on.
func TestRedisCluster(t *testing.T) {
	eachTopoProvider(t, func(t *testing.T, provider string) {
		c := startTopo(t, provider, Spec{Topology: TopoCluster})
		logsOnFailure(t, c)
		ctx := context.Background()
		if len(c.Nodes) != 6 || c.Topology != TopoCluster {
			t.Fatalf("%d nodes, topology %q", len(c.Nodes), c.Topology)
		}
		for i, n := range c.Nodes {
			info, err := ReplicationInfo(ctx, n.Endpoint())
			if err != nil || info.Role != c.Roles[i] {
				t.Fatalf("%s: %+v, %v; provisioned as %s", n.Name(), info, err, c.Roles[i])
			}
		}
		cc := redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:        c.Addrs(),
			DialTimeout:  time.Second,
			ReadTimeout:  time.Second,
			WriteTimeout: time.Second,
			Protocol:     2,
		})
		t.Cleanup(func() { cc.Close() })
		write := func(round int) error {
			for i := range 30 {
				if err := cc.Set(ctx, fmt.Sprintf("{user%d}:lock", i), round, 0).Err(); err != nil {
					return fmt.Errorf("write {user%d}:lock: %w", i, err)
				}
			}
			return nil
		}
		if err := write(0); err != nil {
			t.Fatal(err)
		}
		// The keys are spread: every primary holds some.
		for _, n := range c.Nodes[:3] {
			if k, err := client(t, n).DBSize(ctx).Result(); err != nil || k == 0 {
				t.Errorf("%s holds %d keys (%v); want some", n.Name(), k, err)
			}
		}

		primary, replica := c.Nodes[0], c.Nodes[3]
		rc := client(t, replica)
		nodes, err := ClusterNodes(ctx, rc)
		if err != nil {
			t.Fatal(err)
		}
		var primaryID string
		for _, n := range nodes {
			if n.Has("myself") {
				primaryID = n.PrimaryID
			}
		}
		pid, err := client(t, primary).ClusterMyID(ctx).Result()
		if err != nil || pid != primaryID {
			t.Fatalf("%s follows %q, %s is %q (%v)", replica.Name(), primaryID, primary.Name(), pid, err)
		}
		if err := rc.ClusterFailover(ctx).Err(); err != nil {
			t.Fatalf("CLUSTER FAILOVER on %s: %v", replica.Name(), err)
		}
		eventually(t, 20*time.Second, "replica promoted", func() error {
			nodes, err := ClusterNodes(ctx, rc)
			if err != nil {
				return err
			}
			for _, n := range nodes {
				if n.Has("myself") && (!n.Has("master") || len(n.Slots) == 0) {
					return fmt.Errorf("%s is %v with slots %v", replica.Name(), n.Flags, n.Slots)
				}
			}
			info, err := ReplicationInfo(ctx, primary.Endpoint())
			if err != nil {
				return err
			}
			if info.Role != RoleReplica || info.PrimaryAddr != replica.Endpoint().Addr {
				return fmt.Errorf("%s is %s of %q", primary.Name(), info.Role, info.PrimaryAddr)
			}
			return nil
		})
		round := 0
		eventually(t, 20*time.Second, "writes after the failover", func() error {
			round++
			return write(round)
		})
		if k, err := rc.DBSize(ctx).Result(); err != nil || k == 0 {
			t.Errorf("promoted %s holds %d keys (%v); want those of its slots", replica.Name(), k, err)
		}
	})
}

func TestParseReplication(t *testing.T) {
	for _, tc := range []struct {
		name string
		txt  string
		want Replication
	}{
		{"primary", "# Replication\r\nrole:master\r\nconnected_slaves:2\r\nslave0:ip=127.0.0.1,port=6380,state=online,offset=42,lag=0\r\nslave1:ip=127.0.0.1,port=6381,state=wait_bgsave,offset=0,lag=1\r\nmaster_repl_offset:56\r\n",
			Replication{Role: RolePrimary, Offset: 56, Replicas: map[string]ReplicaState{
				"127.0.0.1:6380": {State: "online", Offset: 42},
				"127.0.0.1:6381": {State: "wait_bgsave", Offset: 0},
			}}},
		{"replica", "# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:6379\r\nmaster_link_status:up\r\nslave_read_repl_offset:56\r\nslave_repl_offset:56\r\nslave_priority:100\r\nconnected_slaves:0\r\nmaster_repl_offset:56\r\n",
			Replication{Role: RoleReplica, PrimaryAddr: "127.0.0.1:6379", LinkUp: true, Offset: 56}},
		{"replica with link down", "role:slave\nmaster_host:127.0.0.1\nmaster_port:6379\nmaster_link_status:down\n",
			Replication{Role: RoleReplica, PrimaryAddr: "127.0.0.1:6379"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseReplication(tc.txt)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	if _, err := parseReplication("# Replication\r\n"); err == nil {
		t.Error("no role line: no error")
	}
}

func TestParseClusterNodes(t *testing.T) {
	txt := "e7d1 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460\n" +
		"67ed 127.0.0.1:30004@40004 slave e7d1 0 1426238317239 4 connected\n" +
		"292f 127.0.0.1:30002@40002 master,fail? - 1426238316232 1426238314232 2 disconnected 5461-10922 10923\n"
	got, err := parseClusterNodes(txt)
	if err != nil {
		t.Fatal(err)
	}
	want := []ClusterNode{
		{ID: "e7d1", Addr: "127.0.0.1:30001", Flags: []string{"myself", "master"}, Connected: true, Slots: []string{"0-5460"}},
		{ID: "67ed", Addr: "127.0.0.1:30004", Flags: []string{"slave"}, PrimaryID: "e7d1", Connected: true, Slots: []string{}},
		{ID: "292f", Addr: "127.0.0.1:30002", Flags: []string{"master", "fail?"}, Slots: []string{"5461-10922", "10923"}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if !got[2].Has("fail?") || got[2].Has("fail") {
		t.Errorf("Has: %v", got[2].Flags)
	}
	if _, err := parseClusterNodes("e7d1 127.0.0.1:30001@40001 master"); err == nil {
		t.Error("short line: no error")
	}
}

// TestTopologyStartCancelledLeavesNothing cancels the start of each
// replicated topology at several moments (before it, while data nodes
// start, while replicas sync or Sentinels and cluster nodes meet) and
// checks that Start returns context.Canceled and leaves no process,
// container or temp dir.
func TestTopologyStartCancelledLeavesNothing(t *testing.T) {
	eachTopoProvider(t, func(t *testing.T, provider string) {
		for _, topo := range []Topology{TopoSentinel, TopoCluster} {
			for _, delay := range []time.Duration{0, 300 * time.Millisecond, time.Second} {
				t.Run(fmt.Sprintf("%s/%v", topo, delay), func(t *testing.T) {
					var p Provider = NewExec(ExecOptions{})
					if provider == ProviderDocker {
						needDocker(t)
						p = NewDocker(DockerOptions{})
					} else {
						testenv.NeedRedisServer(t)
					}
					before := leakcheck.Take()
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					time.AfterFunc(delay, cancel)
					start := time.Now()
					c, err := p.Start(ctx, Spec{Topology: topo})
					took := time.Since(start)
					if err == nil {
						t.Logf("started before the cancel, in %v", took)
						if err := c.Close(); err != nil {
							t.Fatal(err)
						}
					} else if !errors.Is(err, context.Canceled) {
						t.Errorf("error %v, want one wrapping context.Canceled", err)
					}
					if took > delay+10*time.Second {
						t.Errorf("Start returned %v after the cancel", took-delay)
					}
					if left := before.New(leakcheck.Take()); len(left) != 0 {
						t.Errorf("left behind after a start cancelled after %v: %v", delay, left)
					}
				})
			}
		}
	})
}
