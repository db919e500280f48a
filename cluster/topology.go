package cluster

import (
	"bufio"
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/lockbench/lockbench/endpoint"
)

// Topology is how a cluster's data nodes replicate.
type Topology string

// The topologies a Spec may ask for.
const (
	// TopoStandalone is N independent primaries: no replication.
	TopoStandalone Topology = "standalone"
	// TopoSentinel is one primary with replicas, watched by three
	// Sentinels that promote a replica when the primary fails.
	TopoSentinel Topology = "sentinel"
	// TopoCluster is Redis Cluster: the key space in slots shared by
	// primaries, each with a replica that takes over when it fails.
	TopoCluster Topology = "cluster"
)

// TopologyInfo describes a topology for the command line.
type TopologyInfo struct {
	// Name is what Spec.Topology says.
	Name Topology
	// Description says in one line what the topology starts.
	Description string
}

// Topologies lists every topology, standalone first.
func Topologies() []TopologyInfo {
	return []TopologyInfo{
		{TopoStandalone, "N independent primaries, no replication (the default)"},
		{TopoSentinel, fmt.Sprintf("one primary and %d replicas, %d Sentinels (quorum %d) that fail over in seconds", sentinelDataNodes-1, sentinelCount, sentinelQuorum)},
		{TopoCluster, fmt.Sprintf("Redis Cluster: %d primaries sharing the slots, one replica each", clusterDataNodes/2)},
	}
}

// Providers names the providers that start t, in Providers order.
func (t Topology) Providers() []string {
	if t == TopoStandalone || t == "" {
		return []string{ProviderExec, ProviderDocker, ProviderExternal}
	}
	return []string{ProviderExec, ProviderDocker}
}

// ParseTopology turns a name into a Topology; "" means standalone.
func ParseTopology(s string) (Topology, error) {
	if s == "" {
		return TopoStandalone, nil
	}
	for _, t := range Topologies() {
		if string(t.Name) == s {
			return t.Name, nil
		}
	}
	return "", fmt.Errorf("unknown topology %q (want standalone, sentinel or cluster): %w", s, ErrBadSpec)
}

// topology is the spec's topology with "" read as standalone.
func (s Spec) topology() Topology {
	if s.Topology == "" {
		return TopoStandalone
	}
	return s.Topology
}

// Role is a data node's part in replication.
type Role string

// The roles a data node has.
const (
	RolePrimary Role = "primary"
	RoleReplica Role = "replica"
)

// Replication is what a node's INFO replication says about it.
type Replication struct {
	// Role is the node's current role.
	Role Role
	// PrimaryAddr is the primary a replica follows ("" on a primary).
	PrimaryAddr string
	// LinkUp: a replica's link to its primary is up (master_link_status).
	LinkUp bool
	// Offset is the node's replication offset (master_repl_offset).
	Offset int64
	// Replicas are a primary's connected replicas, by "ip:port".
	Replicas map[string]ReplicaState
}

// ReplicaState is one connected replica as its primary sees it.
type ReplicaState struct {
	// State is the replica's sync state, "online" once in sync.
	State string
	// Offset is the replication offset the replica last acknowledged.
	Offset int64
}

// ReplicationInfo asks the node at e for INFO replication.
func ReplicationInfo(ctx context.Context, e endpoint.Endpoint) (Replication, error) {
	c := redis.NewClient(e.ClientOptions(""))
	defer c.Close()
	txt, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return Replication{}, fmt.Errorf("INFO replication on %s: %w", e.Addr, err)
	}
	return parseReplication(txt)
}

// parseReplication reads the text of INFO replication.
func parseReplication(txt string) (Replication, error) {
	var r Replication
	var host, port string
	sc := bufio.NewScanner(strings.NewReader(txt))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		switch {
		case k == "role" && v == "master":
			r.Role = RolePrimary
		case k == "role" && v == "slave":
			r.Role = RoleReplica
		case k == "master_host":
			host = v
		case k == "master_port":
			port = v
		case k == "master_link_status":
			r.LinkUp = v == "up"
		case k == "master_repl_offset":
			fmt.Sscan(v, &r.Offset)
		case strings.HasPrefix(k, "slave"):
			// slave0:ip=127.0.0.1,port=6380,state=online,offset=42,lag=0;
			// the replica's own slave_* lines have no ip and are skipped.
			f := map[string]string{}
			for _, kv := range strings.Split(v, ",") {
				if a, b, ok := strings.Cut(kv, "="); ok {
					f[a] = b
				}
			}
			if f["ip"] == "" {
				continue
			}
			var rs ReplicaState
			rs.State = f["state"]
			fmt.Sscan(f["offset"], &rs.Offset)
			if r.Replicas == nil {
				r.Replicas = map[string]ReplicaState{}
			}
			r.Replicas[f["ip"]+":"+f["port"]] = rs
		}
	}
	if r.Role == "" {
		return r, fmt.Errorf("INFO replication has no role line")
	}
	if host != "" {
		r.PrimaryAddr = host + ":" + port
	}
	return r, nil
}

// topoNode says how to start one process of a replicated topology.
type topoNode struct {
	// name is the node's name: n1, n2, ... for data nodes, s1, ... for
	// Sentinels.
	name string
	// conf returns the lines of the node's config file. It is called again
	// when a port was taken and the node is started on new ones, so that
	// ports it names (the cluster bus port) can be picked afresh.
	conf func() ([]string, error)
	// sentinel runs the process as a Sentinel: --sentinel, no data, no
	// clock shim.
	sentinel bool
}

// topoRun is what a provider gives the topology builders: a way to start
// one configured process, and to remove everything it started.
type topoRun interface {
	// start starts the node and waits until it answers PING; it is safe
	// to call from several goroutines.
	start(ctx context.Context, n topoNode) (Node, error)
	close() error
}

// validateTopologySize checks the node count against the topology's shape.
func (s Spec) validateTopologySize() error {
	switch s.topology() {
	case TopoSentinel:
		if s.Nodes == 1 {
			return fmt.Errorf("sentinel topology needs a primary and at least one replica, got 1 node: %w", ErrBadSpec)
		}
	case TopoCluster:
		if s.Nodes != 0 && (s.Nodes < clusterDataNodes || s.Nodes%2 != 0) {
			return fmt.Errorf("cluster topology needs an even number of at least %d nodes (primaries with one replica each), got %d: %w", clusterDataNodes, s.Nodes, ErrBadSpec)
		}
	}
	return nil
}

// startTopology builds spec's replicated topology with r's processes and
// hands r's removal to the Cluster; on error it removes them itself.
func startTopology(ctx context.Context, spec Spec, r topoRun, provider string, caps []Capability) (_ *Cluster, err error) {
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	pass, err := newReplPassword()
	if err != nil {
		return nil, err
	}
	var c *Cluster
	switch spec.topology() {
	case TopoSentinel:
		c, err = startSentinel(ctx, r, spec, pass)
	case TopoCluster:
		c, err = startRedisCluster(ctx, r, spec, pass)
	default:
		err = fmt.Errorf("topology %q is not a replicated one: %w", spec.Topology, ErrBadSpec)
	}
	if err != nil {
		// A node that refused its config logs the line, and the start
		// error quotes the log's tail.
		return nil, redact(err, pass)
	}
	c.Provider, c.Caps, c.close, c.replPass = provider, caps, r.close, pass
	return c, nil
}

// redactedError is an error whose text had a secret replaced; errors.Is
// and As still see the original.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact returns err with every occurrence of secret in its text replaced.
func redact(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), secret, "[redacted]"), err: err}
}
