package cluster

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The cluster topology's shape and timing.
const (
	// clusterDataNodes is the default number of data nodes: three
	// primaries, one replica each (Redis Cluster wants at least three
	// primaries to keep a majority when one fails).
	clusterDataNodes = 6
	// clusterSlots is the size of Redis Cluster's key space.
	clusterSlots = 16384
	// clusterNodeTimeout: a node unreachable this long is failing, and
	// its replica may take over. Short, as for Sentinel, so a failover
	// fits in a run.
	clusterNodeTimeout = 2 * time.Second
)

// ClusterNode is one line of CLUSTER NODES.
type ClusterNode struct {
	// ID is the node's cluster id.
	ID string
	// Addr is the announced "ip:port".
	Addr string
	// Flags are the node's flags: myself, master, slave, fail?, fail, ...
	Flags []string
	// PrimaryID is the id of the primary a replica follows ("" on a
	// primary).
	PrimaryID string
	// Connected: the link to the node is up.
	Connected bool
	// Slots are the node's slot ranges as listed ("0-5460").
	Slots []string
}

// Has reports whether the node carries flag.
func (n ClusterNode) Has(flag string) bool {
	for _, f := range n.Flags {
		if f == flag {
			return true
		}
	}
	return false
}

// ClusterNodes asks c for CLUSTER NODES and parses the answer.
func ClusterNodes(ctx context.Context, c *redis.Client) ([]ClusterNode, error) {
	txt, err := c.ClusterNodes(ctx).Result()
	if err != nil {
		return nil, fmt.Errorf("CLUSTER NODES on %s: %w", c.Options().Addr, err)
	}
	return parseClusterNodes(txt)
}

// parseClusterNodes reads the text of CLUSTER NODES:
// <id> <ip:port@cport> <flags> <primary> <ping> <pong> <epoch> <link> <slot>...
func parseClusterNodes(txt string) ([]ClusterNode, error) {
	var out []ClusterNode
	for _, line := range strings.Split(strings.TrimSpace(txt), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			return nil, fmt.Errorf("CLUSTER NODES line %q: too few fields", line)
		}
		addr, _, _ := strings.Cut(f[1], "@")
		n := ClusterNode{
			ID:        f[0],
			Addr:      addr,
			Flags:     strings.Split(f[2], ","),
			Connected: f[7] == "connected",
			Slots:     f[8:],
		}
		if f[3] != "-" {
			n.PrimaryID = f[3]
		}
		out = append(out, n)
	}
	return out, nil
}

// startRedisCluster starts spec.Nodes cluster-enabled nodes (default six)
// through r, gives the first half the slots in equal ranges, makes each
// node of the second half the replica of one of the first, and returns
// once every node says cluster_state:ok and sees the same primaries and
// replicas. pass is the replication users' password (replAuthConf). It
// does not close r on error; the caller does.
func startRedisCluster(ctx context.Context, r topoRun, spec Spec, pass string) (*Cluster, error) {
	nData := spec.Nodes
	if nData == 0 {
		nData = clusterDataNodes
	}
	nPrimaries := nData / 2
	nodes := make([]Node, nData)
	bus := make([]int, nData)
	err := eachParallel(ctx, nData, func(i int) error {
		// The bus port is picked again with the client port when one of
		// them was taken between picking and binding.
		conf := func() ([]string, error) {
			p, err := freePort()
			if err != nil {
				return nil, err
			}
			bus[i] = p
			return append([]string{
				"cluster-enabled yes",
				"cluster-config-file nodes.conf", // in the node's dir, kept across restarts
				"cluster-announce-ip 127.0.0.1",
				"cluster-port " + strconv.Itoa(p),
				fmt.Sprintf("cluster-node-timeout %d", clusterNodeTimeout.Milliseconds()),
			}, append(append([]string{}, replicationConf...), replAuthConf(nodeName(i), nData, pass)...)...), nil
		}
		n, err := r.start(ctx, topoNode{name: nodeName(i), conf: conf})
		nodes[i] = n
		return err
	})
	if err != nil {
		return nil, err
	}

	clients := make([]*redis.Client, nData)
	for i, n := range nodes {
		clients[i] = redis.NewClient(n.Endpoint().ClientOptions(""))
		defer clients[i].Close()
	}
	ids := make([]string, nData)
	for i, c := range clients {
		if ids[i], err = c.ClusterMyID(ctx).Result(); err != nil {
			return nil, fmt.Errorf("CLUSTER MYID on %s: %w", nodes[i].Name(), err)
		}
	}
	for i := range nPrimaries {
		lo, hi := i*clusterSlots/nPrimaries, (i+1)*clusterSlots/nPrimaries-1
		if err = clients[i].ClusterAddSlotsRange(ctx, lo, hi).Err(); err != nil {
			return nil, fmt.Errorf("CLUSTER ADDSLOTSRANGE %d %d on %s: %w", lo, hi, nodes[i].Name(), err)
		}
	}
	// One node meets all the others; gossip tells the rest. The bus port
	// is given because it is not the default port+10000.
	for i := 1; i < nData; i++ {
		if err = clients[0].Do(ctx, "CLUSTER", "MEET", "127.0.0.1", portOf(nodes[i]), bus[i]).Err(); err != nil {
			return nil, fmt.Errorf("CLUSTER MEET %s from %s: %w", nodes[i].Name(), nodes[0].Name(), err)
		}
	}
	// A node can only follow a primary it knows.
	err = waitUntil(ctx, "cluster nodes meet", func(ctx context.Context) (bool, string) {
		for i, c := range clients {
			known, err := c.ClusterNodes(ctx).Result()
			if err != nil {
				return false, err.Error()
			}
			if k := strings.Count(strings.TrimSpace(known), "\n") + 1; k != nData {
				return false, fmt.Sprintf("%s knows %d of %d nodes", nodes[i].Name(), k, nData)
			}
		}
		return true, ""
	})
	if err != nil {
		return nil, err
	}
	for i := nPrimaries; i < nData; i++ {
		if err = clients[i].ClusterReplicate(ctx, ids[i-nPrimaries]).Err(); err != nil {
			return nil, fmt.Errorf("CLUSTER REPLICATE on %s: %w", nodes[i].Name(), err)
		}
	}
	for i := nPrimaries; i < nData; i++ {
		if err = waitReplicasInSync(ctx, nodes[i-nPrimaries], nodes[i:i+1]); err != nil {
			return nil, err
		}
	}
	if err = waitClusterAgreed(ctx, nodes, clients, nPrimaries); err != nil {
		return nil, err
	}

	c := &Cluster{Nodes: nodes, Topology: TopoCluster, Roles: make([]Role, nData)}
	for i := range c.Roles {
		c.Roles[i] = RolePrimary
		if i >= nPrimaries {
			c.Roles[i] = RoleReplica
		}
	}
	return c, nil
}

// waitClusterAgreed waits until every node says cluster_state:ok and
// lists nPrimaries primaries holding slots and as many replicas, all
// connected and none failing.
func waitClusterAgreed(ctx context.Context, nodes []Node, clients []*redis.Client, nPrimaries int) error {
	return waitUntil(ctx, "cluster state ok", func(ctx context.Context) (bool, string) {
		for i, c := range clients {
			info, err := c.ClusterInfo(ctx).Result()
			if err != nil {
				return false, err.Error()
			}
			if !strings.Contains(info, "cluster_state:ok") {
				return false, nodes[i].Name() + ": cluster_state not ok"
			}
			cn, err := ClusterNodes(ctx, c)
			if err != nil {
				return false, err.Error()
			}
			primaries, replicas := 0, 0
			for _, n := range cn {
				switch {
				case !n.Connected || n.Has("fail") || n.Has("fail?") || n.Has("handshake") || n.Has("noaddr"):
					return false, fmt.Sprintf("%s sees %s as %v", nodes[i].Name(), n.Addr, n.Flags)
				case n.Has("master") && len(n.Slots) > 0:
					primaries++
				case n.Has("slave"):
					replicas++
				}
			}
			if primaries != nPrimaries || replicas != len(nodes)-nPrimaries {
				return false, fmt.Sprintf("%s sees %d primaries and %d replicas", nodes[i].Name(), primaries, replicas)
			}
		}
		return true, ""
	})
}
