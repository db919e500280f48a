package cluster

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// The sentinel topology's shape and timing. The timeouts are short so
// that a failover completes in a few seconds: a bench run lasts tens of
// seconds, and a failover that takes the default minutes would never be
// seen in one.
const (
	// sentinelDataNodes is the default number of data nodes: one primary
	// and two replicas.
	sentinelDataNodes = 3
	// sentinelCount Sentinels watch the primary; sentinelQuorum of them
	// must agree it is down, and a majority must elect the leader that
	// fails over.
	sentinelCount  = 3
	sentinelQuorum = 2
	// MasterName is the name the Sentinels monitor the primary under:
	// what go-redis's FailoverOptions.MasterName must say.
	MasterName = "lockbench"
	// sentinelDownAfter: a primary silent this long is subjectively down.
	// With 1 s, a loaded two-CPU machine saw a second, spurious failover:
	// a Sentinel marked the just-promoted primary down about a second
	// after switching to it, before its new links had answered.
	sentinelDownAfter = 2 * time.Second
	// sentinelFailoverTimeout bounds one failover attempt; a failed
	// attempt is retried after twice this.
	sentinelFailoverTimeout = 3 * time.Second
	// sentinelPriorityStep is the replica-priority step between data
	// nodes: n1 has 1, n2 10, n3 20, n4 30, ... (sentinelReplicaPriority).
	// Sentinel promotes the replica with the lowest priority among those
	// it finds healthy, so a failover always picks the lowest-numbered
	// healthy replica (n2 while it is fit), and a failover away from n2
	// or n3 goes back to n1, which is what Restore relies on. The steps
	// of 10 leave room, and no node has 0, which would mean never.
	sentinelPriorityStep = 10
	// topologyReadyTimeout bounds the wait for replicas to sync and for
	// Sentinels or cluster nodes to see each other.
	topologyReadyTimeout = 30 * time.Second
)

// replicationConf are the data-node settings every replicated topology
// shares: every address a node announces is loopback, and a full sync
// starts at once (Redis 7 waits 5 s for more replicas to share a
// diskless transfer, which would slow every start and every failover).
var replicationConf = []string{
	"replica-announce-ip 127.0.0.1",
	"repl-diskless-sync yes",
	"repl-diskless-sync-delay 0",
}

// startSentinel starts one primary, spec.Nodes-1 replicas of it and three
// Sentinels through r, and returns once the replicas are in sync and every
// Sentinel sees the primary, every replica and the other Sentinels. pass
// is the replication users' password (replAuthConf). It does not close r
// on error; the caller does.
func startSentinel(ctx context.Context, r topoRun, spec Spec, pass string) (*Cluster, error) {
	nData := spec.Nodes
	if nData == 0 {
		nData = sentinelDataNodes
	}
	// dataConf is node i's config: the shared settings, the replication
	// users and the priority that makes Sentinel's choice deterministic.
	dataConf := func(i int, extra ...string) []string {
		lines := append(append(extra, replicationConf...), replAuthConf(nodeName(i), nData, pass)...)
		return append(lines, fmt.Sprintf("replica-priority %d", sentinelReplicaPriority(i)))
	}
	data := make([]Node, nData)
	// The primary first: the replicas' config names its port.
	primary, err := r.start(ctx, topoNode{name: nodeName(0), conf: fixedConf(dataConf(0))})
	if err != nil {
		return nil, err
	}
	data[0] = primary
	primaryPort := portOf(primary)
	err = eachParallel(ctx, nData-1, func(i int) error {
		conf := dataConf(i+1, "replicaof 127.0.0.1 "+primaryPort)
		n, err := r.start(ctx, topoNode{name: nodeName(i + 1), conf: fixedConf(conf)})
		data[i+1] = n
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := waitReplicasInSync(ctx, primary, data[1:]); err != nil {
		return nil, err
	}

	// Sentinels are started once the replicas are attached: a Sentinel
	// learns the replicas from the primary's INFO, which it reads at once
	// on connecting and then only every 10 s.
	conf := []string{
		"sentinel resolve-hostnames no",
		"sentinel announce-ip 127.0.0.1",
		fmt.Sprintf("sentinel monitor %s 127.0.0.1 %s %d", MasterName, primaryPort, sentinelQuorum),
		fmt.Sprintf("sentinel down-after-milliseconds %s %d", MasterName, sentinelDownAfter.Milliseconds()),
		fmt.Sprintf("sentinel failover-timeout %s %d", MasterName, sentinelFailoverTimeout.Milliseconds()),
		fmt.Sprintf("sentinel parallel-syncs %s 1", MasterName),
	}
	sentinels := make([]Node, sentinelCount)
	err = eachParallel(ctx, sentinelCount, func(i int) error {
		n, err := r.start(ctx, topoNode{name: fmt.Sprintf("s%d", i+1), conf: fixedConf(conf), sentinel: true})
		sentinels[i] = n
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := waitSentinelsReady(ctx, sentinels, primary.Endpoint().Addr, nData-1); err != nil {
		return nil, err
	}

	c := &Cluster{Nodes: data, Topology: TopoSentinel, MasterName: MasterName, Sentinels: sentinels}
	c.Roles = make([]Role, nData)
	for i := range c.Roles {
		c.Roles[i] = RoleReplica
	}
	c.Roles[0] = RolePrimary
	return c, nil
}

// sentinelReplicaPriority is the replica-priority of data node i (n1 is
// 0): 1 for n1, sentinelPriorityStep*i for the others.
func sentinelReplicaPriority(i int) int {
	if i == 0 {
		return 1
	}
	return sentinelPriorityStep * i
}

// nodeName is the name of data node i (0-based): n1, n2, ...
func nodeName(i int) string { return fmt.Sprintf("n%d", i+1) }

// SentinelAddrs returns the Sentinels' addresses in order: what go-redis's
// FailoverOptions.SentinelAddrs wants.
func (c *Cluster) SentinelAddrs() []string {
	out := make([]string, len(c.Sentinels))
	for i, s := range c.Sentinels {
		out[i] = s.Endpoint().Addr
	}
	return out
}

// SentinelPrimary asks the Sentinels, in order, which address they give
// for the primary; the first that answers decides.
func (c *Cluster) SentinelPrimary(ctx context.Context) (string, error) {
	var last error
	for _, s := range c.Sentinels {
		sc := redis.NewSentinelClient(s.Endpoint().ClientOptions(""))
		addr, err := sc.GetMasterAddrByName(ctx, c.MasterName).Result()
		sc.Close()
		if err == nil && len(addr) == 2 {
			return addr[0] + ":" + addr[1], nil
		}
		last = fmt.Errorf("SENTINEL GET-MASTER-ADDR-BY-NAME on %s: %v %w", s.Endpoint().Addr, addr, err)
	}
	if last == nil {
		return "", fmt.Errorf("cluster has no Sentinels: %w", ErrBadSpec)
	}
	return "", last
}

// portOf is the node's client port, as a config file writes it.
func portOf(n Node) string {
	_, port, _ := net.SplitHostPort(n.Endpoint().Addr)
	return port
}

// fixedConf is a topoNode.conf that is the same at every attempt.
func fixedConf(lines []string) func() ([]string, error) {
	return func() ([]string, error) { return lines, nil }
}

// waitUntil polls ready every 100 ms until it says yes, topologyReadyTimeout
// passes or ctx ends; the error names what was awaited and the last reason
// it was not yet so.
func waitUntil(ctx context.Context, what string, ready func(ctx context.Context) (bool, string)) error {
	return waitFor(ctx, what, topologyReadyTimeout, ready)
}

// waitFor is waitUntil with limit for topologyReadyTimeout.
func waitFor(ctx context.Context, what string, limit time.Duration, ready func(ctx context.Context) (bool, string)) error {
	deadline := time.Now().Add(limit)
	var why string
	for {
		ok, reason := ready(ctx)
		if ok {
			return nil
		}
		why = reason
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %v: %s", what, limit, why)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (%s)", what, ctx.Err(), why)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitReplicasInSync waits until every replica's link to primary is up and
// primary lists each of them online.
func waitReplicasInSync(ctx context.Context, primary Node, replicas []Node) error {
	return waitUntil(ctx, "replicas in sync", func(ctx context.Context) (bool, string) {
		for _, r := range replicas {
			info, err := ReplicationInfo(ctx, r.Endpoint())
			if err != nil {
				return false, err.Error()
			}
			if info.Role != RoleReplica || !info.LinkUp {
				return false, fmt.Sprintf("%s: role %s, link up %v", r.Name(), info.Role, info.LinkUp)
			}
		}
		info, err := ReplicationInfo(ctx, primary.Endpoint())
		if err != nil {
			return false, err.Error()
		}
		for _, r := range replicas {
			if st := info.Replicas[r.Endpoint().Addr]; st.State != "online" {
				return false, fmt.Sprintf("primary sees %s as %q", r.Name(), st.State)
			}
		}
		return true, ""
	})
}

// waitSentinelsReady waits until every Sentinel names primaryAddr as the
// primary, sees it up, sees replicas replicas up, and knows every other
// Sentinel: without the others it could not gather a quorum or win the
// election a failover needs.
func waitSentinelsReady(ctx context.Context, sentinels []Node, primaryAddr string, replicas int) error {
	return waitUntil(ctx, "sentinels ready", func(ctx context.Context) (bool, string) {
		for _, s := range sentinels {
			ok, why := sentinelSees(ctx, s, primaryAddr, replicas, len(sentinels)-1)
			if !ok {
				return false, s.Name() + ": " + why
			}
		}
		return true, ""
	})
}

// sentinelSees reports whether one Sentinel sees the topology whole.
func sentinelSees(ctx context.Context, s Node, primaryAddr string, replicas, others int) (bool, string) {
	sc := redis.NewSentinelClient(s.Endpoint().ClientOptions(""))
	defer sc.Close()
	m, err := sc.Master(ctx, MasterName).Result()
	if err != nil {
		return false, err.Error()
	}
	if addr := m["ip"] + ":" + m["port"]; addr != primaryAddr || m["flags"] != "master" {
		return false, fmt.Sprintf("primary %s flags %q", addr, m["flags"])
	}
	if n, _ := strconv.Atoi(m["num-other-sentinels"]); n != others {
		return false, fmt.Sprintf("knows %d other sentinels, want %d", n, others)
	}
	rs, err := sc.Replicas(ctx, MasterName).Result()
	if err != nil {
		return false, err.Error()
	}
	up := 0
	for _, r := range rs {
		if r["flags"] == "slave" && r["master-link-status"] == "ok" {
			up++
		}
	}
	if up != replicas {
		return false, fmt.Sprintf("sees %d of %d replicas up", up, replicas)
	}
	return true, ""
}
