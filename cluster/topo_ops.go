package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The operations fault schedules and the runner apply to a replicated
// topology: cut and heal replication, find and move primaries, and put
// everything back as provisioned.

// replUserPrefix starts the name of the ACL user a data node replicates
// as: lockbench-repl-n2 is the user n2 authenticates with to whichever
// node is its primary.
//
// The replication cut is an ACL cut at the primary's door rather than a
// proxy in the replication path: Sentinel rewrites any replica that
// follows an address other than the primary it knows (+fix-slave-config),
// so a replica cannot be pointed at a proxy for long. Disabling a
// replica's user on every node, and closing its connections, stops it
// from (re)syncing whichever node is primary, and touches nothing else:
// Sentinels and clients use the default user.
const replUserPrefix = "lockbench-repl-"

// failoverTimeout bounds the wait for one promotion (Failover, and each
// step of Restore): a Sentinel failover takes a few seconds (failover
// timeout 3 s for the replicas it cannot reconfigure), a cluster one about
// a second; a loaded two-CPU machine may take several times that.
const failoverTimeout = 20 * time.Second

// replUser is the ACL user data node name replicates as.
func replUser(name string) string { return replUserPrefix + name }

// newReplPassword draws the replication users' password.
func newReplPassword() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("draw the replication password: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// replAuthConf are the config lines that let data node self replicate as
// its own user: one user per data node (nData of them, n1...), allowed
// only what a replica sends its primary (Redis 7 ACL docs: PSYNC, REPLCONF
// and PING; cluster mode needs nothing more, its bus is not ACL-checked),
// and masteruser/masterauth naming self's. Every node has every user
// because any of them may be primary after a failover.
func replAuthConf(self string, nData int, pass string) []string {
	lines := make([]string, 0, nData+2)
	for i := range nData {
		lines = append(lines, fmt.Sprintf("user %s on >%s +psync +replconf +ping", replUser(nodeName(i)), pass))
	}
	return append(lines, "masteruser "+replUser(self), "masterauth "+pass)
}

// replicated reports whether c's data nodes replicate.
func (c *Cluster) replicated() bool {
	return c.Topology == TopoSentinel || c.Topology == TopoCluster
}

// dataNode returns the data node called name.
func (c *Cluster) dataNode(name string) (Node, error) {
	for _, n := range c.Nodes {
		if n.Name() == name {
			return n, nil
		}
	}
	return nil, fmt.Errorf("no data node %q (have %s): %w", name, strings.Join(c.names(), ", "), ErrBadSpec)
}

// nodeAt returns the data node listening on addr.
func (c *Cluster) nodeAt(addr string) (Node, error) {
	for _, n := range c.Nodes {
		if n.Endpoint().Addr == addr {
			return n, nil
		}
	}
	return nil, fmt.Errorf("%s is none of the data nodes (%s)", addr, strings.Join(c.Addrs(), ", "))
}

// names are the data nodes' names in order.
func (c *Cluster) names() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Name()
	}
	return out
}

// CutReplication stops the named data nodes (e.g. "n2") from replicating:
// on every data node that answers, their replication user is disabled
// (ACL SETUSER lockbench-repl-<name> off) and their connections closed
// (CLIENT KILL USER). They cannot (re)sync from whichever node is primary,
// now or after a failover, until HealReplication; the primary goes on
// accepting writes. A node that does not answer (killed, paused) is
// skipped: one started again later has its users on as configured, so
// a schedule that restarts a node during a cut cuts again after. Only
// replicated topologies can be cut (ErrUnsupported otherwise).
func (c *Cluster) CutReplication(ctx context.Context, replicas []string) error {
	if !c.replicated() {
		return fmt.Errorf("replication cut on a %s cluster: %w", c.topologyName(), ErrUnsupported)
	}
	return c.setReplUsers(ctx, replicas, false)
}

// HealReplication enables the named data nodes' replication users again
// on every data node that answers (nil: every data node's), so their
// replicas resync. It is a no-op on a standalone cluster.
func (c *Cluster) HealReplication(ctx context.Context, replicas []string) error {
	if !c.replicated() {
		return nil
	}
	if replicas == nil {
		replicas = c.names()
	}
	return c.setReplUsers(ctx, replicas, true)
}

// setReplUsers turns the replicas' users on or off on every data node that
// answers PING, the nodes in parallel.
func (c *Cluster) setReplUsers(ctx context.Context, replicas []string, on bool) error {
	for _, r := range replicas {
		if _, err := c.dataNode(r); err != nil {
			return err
		}
	}
	state, verb := "off", "cut"
	if on {
		state, verb = "on", "heal"
	}
	return eachParallel(ctx, len(c.Nodes), func(i int) error {
		n := c.Nodes[i]
		rc := redis.NewClient(n.Endpoint().ClientOptions(""))
		defer rc.Close()
		if rc.Ping(ctx).Err() != nil {
			return nil // down or paused: nothing to change there now
		}
		for _, r := range replicas {
			u := replUser(r)
			if err := rc.Do(ctx, "ACL", "SETUSER", u, state).Err(); err != nil {
				return fmt.Errorf("%s replication of %s: ACL SETUSER %s %s on %s: %w", verb, r, u, state, n.Name(), err)
			}
			if on {
				continue
			}
			err := rc.Do(ctx, "CLIENT", "KILL", "USER", u).Err()
			if err != nil && !strings.Contains(strings.ToLower(err.Error()), "no such client") {
				return fmt.Errorf("cut replication of %s: CLIENT KILL USER %s on %s: %w", r, u, n.Name(), err)
			}
		}
		return nil
	})
}

// topologyName is c's topology, "" read as standalone.
func (c *Cluster) topologyName() Topology {
	if c.Topology == "" {
		return TopoStandalone
	}
	return c.Topology
}

// Primary returns the data node that is primary for key now: on
// standalone the first node (the one a single-node client uses); on
// sentinel the node the Sentinels name (SentinelPrimary); on cluster the
// primary that owns key's slot as the first data node answering CLUSTER
// NODES sees it.
func (c *Cluster) Primary(ctx context.Context, key string) (Node, error) {
	switch c.Topology {
	case TopoSentinel:
		addr, err := c.SentinelPrimary(ctx)
		if err != nil {
			return nil, err
		}
		return c.nodeAt(addr)
	case TopoCluster:
		n, _, _, err := c.slotOwner(ctx, KeySlot(key))
		return n, err
	default:
		if len(c.Nodes) == 0 {
			return nil, fmt.Errorf("cluster has no nodes: %w", ErrBadSpec)
		}
		return c.Nodes[0], nil
	}
}

// slotOwner asks the data nodes in order for CLUSTER NODES and returns,
// from the first that answers, the primary owning slot, its id and the
// whole view.
func (c *Cluster) slotOwner(ctx context.Context, slot int) (Node, string, []ClusterNode, error) {
	var last error
	for _, n := range c.Nodes {
		rc := redis.NewClient(n.Endpoint().ClientOptions(""))
		view, err := ClusterNodes(ctx, rc)
		rc.Close()
		if err != nil {
			last = err
			continue
		}
		owner, ok := ownerIn(view, slot)
		if !ok {
			return nil, "", nil, fmt.Errorf("%s sees no primary owning slot %d", n.Name(), slot)
		}
		node, err := c.nodeAt(owner.Addr)
		return node, owner.ID, view, err
	}
	return nil, "", nil, fmt.Errorf("no data node answers CLUSTER NODES: %w", last)
}

// ownerIn finds the primary owning slot in a CLUSTER NODES view.
func ownerIn(view []ClusterNode, slot int) (ClusterNode, bool) {
	for _, n := range view {
		if n.Has("master") && !n.Has("fail") && slotIn(n.Slots, slot) {
			return n, true
		}
	}
	return ClusterNode{}, false
}

// slotIn reports whether slot is in the ranges of a CLUSTER NODES line
// ("0-5460", "10923"); migrating and importing entries ("[5461->-id]")
// are not ownership and are skipped.
func slotIn(ranges []string, slot int) bool {
	for _, r := range ranges {
		if strings.HasPrefix(r, "[") {
			continue
		}
		lo, hi, isRange := strings.Cut(r, "-")
		if !isRange {
			hi = lo
		}
		l, err1 := strconv.Atoi(lo)
		h, err2 := strconv.Atoi(hi)
		if err1 == nil && err2 == nil && l <= slot && slot <= h {
			return true
		}
	}
	return false
}

// KeySlot is the Redis Cluster hash slot of key: CRC16 (XMODEM) of the
// key, or of its hash tag (the text between the first "{" and the next
// "}" when not empty), modulo 16384.
func KeySlot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return int(crc16(key)) % clusterSlots
}

// crc16 is CRC-16/XMODEM (polynomial 0x1021, initial 0), the one Redis
// Cluster hashes keys with.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// Promotion is what one Failover did, by node name.
type Promotion struct {
	// Old is the primary before, New the one promoted.
	Old, New string
	// Took is from the request to the moment the new primary was agreed.
	Took time.Duration
}

// Failover promotes a replica to primary for key and returns once the
// topology agrees on it.
//
// Sentinel: SENTINEL FAILOVER on the first Sentinel that accepts it; the
// replica with the lowest replica-priority among those the Sentinel finds
// fit is promoted (sentinelPriorityStep: n2 while it is fit, n1 when
// failing over away from n2 or n3). Sentinel refuses a replica whose link
// has been down longer than ten times down-after (20 s), so a replica cut
// for longer than that is not promoted. It returns once every Sentinel
// that answers names the new primary and that node says it is a primary.
//
// Cluster: CLUSTER FAILOVER FORCE on the first answering replica of the
// shard owning key's slot. FORCE skips the handshake with the primary,
// so it works while that replica's replication is cut (and then the
// writes it missed are lost). It returns once that node is a primary and
// every data node that answers sees it own the slot.
//
// Errors wrap ErrFailover and say what was awaited; standalone clusters
// have nothing to fail over to (ErrUnsupported as well).
func (c *Cluster) Failover(ctx context.Context, key string) (Promotion, error) {
	start := time.Now()
	var p Promotion
	var err error
	switch c.Topology {
	case TopoSentinel:
		p, err = c.sentinelFailover(ctx, "")
	case TopoCluster:
		p, err = c.clusterFailover(ctx, KeySlot(key), true)
	default:
		return Promotion{}, fmt.Errorf("%w: a %s cluster has no replica: %w", ErrFailover, c.topologyName(), ErrUnsupported)
	}
	p.Took = time.Since(start)
	return p, err
}

// sentinelFailover asks the Sentinels to fail over and waits until they
// name a new primary (want, when not "") that says it is one.
func (c *Cluster) sentinelFailover(ctx context.Context, want string) (Promotion, error) {
	oldAddr, err := c.SentinelPrimary(ctx)
	if err != nil {
		return Promotion{}, fmt.Errorf("%w: %w", ErrFailover, err)
	}
	old, err := c.nodeAt(oldAddr)
	if err != nil {
		return Promotion{}, fmt.Errorf("%w: the Sentinels name %w", ErrFailover, err)
	}
	// A Sentinel still finishing the previous failover answers INPROG,
	// one that has not yet seen a replica fit answers NOGOODSLAVE: both
	// pass, so the request is retried until one accepts.
	// A request whose answer was lost (a timeout on a loaded machine)
	// may have started a failover: asking another Sentinel then would
	// start a second one, so once that happened a failover in progress,
	// or done, counts as accepted.
	uncertain := false
	err = waitFor(ctx, "a Sentinel accepts SENTINEL FAILOVER "+c.MasterName, failoverTimeout, func(ctx context.Context) (bool, string) {
		if uncertain && c.failoverStarted(ctx, oldAddr) {
			return true, ""
		}
		var why []string
		for _, s := range c.Sentinels {
			sc := redis.NewSentinelClient(s.Endpoint().ClientOptions(""))
			err := sc.Failover(ctx, c.MasterName).Err()
			sc.Close()
			if err == nil {
				return true, ""
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				uncertain = true
				if c.failoverStarted(ctx, oldAddr) {
					return true, ""
				}
			}
			why = append(why, s.Name()+": "+err.Error())
		}
		return false, strings.Join(why, "; ")
	})
	if err != nil {
		return Promotion{}, fmt.Errorf("%w: %w", ErrFailover, err)
	}
	var promoted Node
	what := "the Sentinels name a primary other than " + old.Name() + " and it says it is one"
	err = waitFor(ctx, what, failoverTimeout, func(ctx context.Context) (bool, string) {
		addr, why := c.sentinelsAgree(ctx)
		if addr == "" {
			return false, why
		}
		if addr == oldAddr {
			return false, "the Sentinels still name " + old.Name()
		}
		n, err := c.nodeAt(addr)
		if err != nil {
			return false, err.Error()
		}
		info, err := ReplicationInfo(ctx, n.Endpoint())
		if err != nil {
			return false, err.Error()
		}
		if info.Role != RolePrimary {
			return false, fmt.Sprintf("the Sentinels name %s, which is a %s", n.Name(), info.Role)
		}
		promoted = n
		return true, ""
	})
	if err != nil {
		return Promotion{}, fmt.Errorf("%w: %w", ErrFailover, err)
	}
	p := Promotion{Old: old.Name(), New: promoted.Name()}
	if want != "" && p.New != want {
		return p, fmt.Errorf("%w: the Sentinels promoted %s, not %s", ErrFailover, p.New, want)
	}
	return p, nil
}

// failoverStarted reports whether a Sentinel is failing over or names a
// primary other than oldAddr.
func (c *Cluster) failoverStarted(ctx context.Context, oldAddr string) bool {
	for _, s := range c.Sentinels {
		sc := redis.NewSentinelClient(s.Endpoint().ClientOptions(""))
		m, err := sc.Master(ctx, c.MasterName).Result()
		sc.Close()
		if err == nil && (strings.Contains(m["flags"], "failover_in_progress") || m["ip"]+":"+m["port"] != oldAddr) {
			return true
		}
	}
	return false
}

// sentinelsAgree returns the primary address every Sentinel that answers
// names, or "" and why not.
func (c *Cluster) sentinelsAgree(ctx context.Context) (string, string) {
	agreed := ""
	var why []string
	for _, s := range c.Sentinels {
		sc := redis.NewSentinelClient(s.Endpoint().ClientOptions(""))
		a, err := sc.GetMasterAddrByName(ctx, c.MasterName).Result()
		sc.Close()
		switch {
		case err != nil || len(a) != 2:
			why = append(why, fmt.Sprintf("%s: %v %v", s.Name(), a, err))
		case agreed == "":
			agreed = a[0] + ":" + a[1]
		case agreed != a[0]+":"+a[1]:
			return "", fmt.Sprintf("Sentinels disagree: %s and %s:%s", agreed, a[0], a[1])
		}
	}
	if agreed == "" {
		return "", "no Sentinel answers: " + strings.Join(why, "; ")
	}
	return agreed, ""
}

// clusterFailover promotes a replica of slot's primary with CLUSTER
// FAILOVER (FORCE when force) and waits until the data nodes agree.
func (c *Cluster) clusterFailover(ctx context.Context, slot int, force bool) (Promotion, error) {
	old, oldID, view, err := c.slotOwner(ctx, slot)
	if err != nil {
		return Promotion{}, fmt.Errorf("%w: %w", ErrFailover, err)
	}
	var replica Node
	for _, n := range c.Nodes {
		for _, v := range view {
			if v.Addr == n.Endpoint().Addr && v.PrimaryID == oldID && v.Has("slave") && replica == nil && answers(ctx, n) {
				replica = n
			}
		}
	}
	if replica == nil {
		return Promotion{}, fmt.Errorf("%w: %s (slot %d) has no replica that answers", ErrFailover, old.Name(), slot)
	}
	if err := c.promoteInCluster(ctx, replica, slot, force); err != nil {
		return Promotion{}, err
	}
	return Promotion{Old: old.Name(), New: replica.Name()}, nil
}

// manualFailoverRetry is how long a CLUSTER FAILOVER is given before it
// is issued again: a graceful one that has not completed in 5 s is
// abandoned by the replica (its manual-failover timeout).
const manualFailoverRetry = 6 * time.Second

// promoteInCluster issues CLUSTER FAILOVER [FORCE] on replica and waits
// until it is a primary that every answering data node sees own slot,
// issuing it again (while replica is still one) every
// manualFailoverRetry, within failoverTimeout.
func (c *Cluster) promoteInCluster(ctx context.Context, replica Node, slot int, force bool) error {
	args := []any{"CLUSTER", "FAILOVER"}
	if force {
		args = append(args, "FORCE")
	}
	rc := redis.NewClient(replica.Endpoint().ClientOptions(""))
	defer rc.Close()
	what := fmt.Sprintf("%s is primary and every node sees it own slot %d", replica.Name(), slot)
	deadline := time.Now().Add(failoverTimeout)
	for {
		info, err := ReplicationInfo(ctx, replica.Endpoint())
		if err != nil {
			return fmt.Errorf("%w: %w", ErrFailover, err)
		}
		if info.Role == RoleReplica {
			if err := rc.Do(ctx, args...).Err(); err != nil {
				return fmt.Errorf("%w: %v on %s: %w", ErrFailover, args, replica.Name(), err)
			}
		}
		err = waitFor(ctx, what, min(manualFailoverRetry, time.Until(deadline)), func(ctx context.Context) (bool, string) {
			return c.ownsSlot(ctx, replica, slot)
		})
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || time.Until(deadline) <= 0 {
			return fmt.Errorf("%w: %v on %s: %w", ErrFailover, args, replica.Name(), err)
		}
	}
}

// ownsSlot reports whether n says it is a primary and every data node
// that answers sees it own slot.
func (c *Cluster) ownsSlot(ctx context.Context, n Node, slot int) (bool, string) {
	info, err := ReplicationInfo(ctx, n.Endpoint())
	if err != nil {
		return false, err.Error()
	}
	if info.Role != RolePrimary {
		return false, fmt.Sprintf("%s is a %s", n.Name(), info.Role)
	}
	for _, m := range c.Nodes {
		rc := redis.NewClient(m.Endpoint().ClientOptions(""))
		view, err := ClusterNodes(ctx, rc)
		rc.Close()
		if err != nil {
			continue // down: it learns from the others when it is back
		}
		if owner, ok := ownerIn(view, slot); !ok || owner.Addr != n.Endpoint().Addr {
			return false, fmt.Sprintf("%s sees slot %d owned by %q", m.Name(), slot, owner.Addr)
		}
	}
	return true, ""
}

// answers reports whether n answers PING.
func answers(ctx context.Context, n Node) bool {
	rc := redis.NewClient(n.Endpoint().ClientOptions(""))
	defer rc.Close()
	return rc.Ping(ctx).Err() == nil
}

// Restore brings c back to its provisioned state: every replication user
// on (HealReplication), every data node answering PING (Restore starts no
// node: callers start the ones they killed first), the provisioned
// primaries primary again with their replicas in sync, and (sentinel)
// every Sentinel naming n1 and seeing its replicas. When nothing changed
// it costs a few INFO calls. A standalone cluster has nothing to restore.
func (c *Cluster) Restore(ctx context.Context) error {
	if !c.replicated() {
		return nil
	}
	err := waitUntil(ctx, "every data node answers PING", func(ctx context.Context) (bool, string) {
		for _, n := range c.Nodes {
			if !answers(ctx, n) {
				return false, n.Name() + " does not answer"
			}
		}
		return true, ""
	})
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	// Healed once every node answers: a node restarted after a CONFIG
	// REWRITE during a cut has its users stored off.
	if err := c.HealReplication(ctx, nil); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if c.Topology == TopoSentinel {
		err = c.restoreSentinel(ctx)
	} else {
		err = c.restoreCluster(ctx)
	}
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

// restoreSentinel fails over back to n1 when it is not the primary, then
// waits for the replicas and Sentinels.
func (c *Cluster) restoreSentinel(ctx context.Context) error {
	first := c.Nodes[0]
	want := first.Endpoint().Addr
	// The Sentinel picks n1 (priority 1) once it sees n1 a fit replica;
	// should it pick another all the same, the next round fails over
	// again.
	const rounds = 3
	for round := 0; ; round++ {
		cur, err := c.SentinelPrimary(ctx)
		if err != nil {
			return err
		}
		if cur == want {
			break
		}
		if round == rounds {
			return fmt.Errorf("%w: the Sentinels name %s after %d failovers toward %s", ErrFailover, cur, rounds, first.Name())
		}
		curNode, err := c.nodeAt(cur)
		if err != nil {
			return err
		}
		if err := c.followOnly(ctx, curNode); err != nil {
			return err
		}
		// n1 must be in sync and seen fit by every Sentinel, or the
		// Sentinel would pass it over for the next priority (until a
		// Sentinel's INFO shows n1 a replica it takes n1's priority for
		// the default 100; it reads a replica's INFO every 10 s).
		if err := waitInSync(ctx, curNode, first); err != nil {
			return err
		}
		if err := waitSentinelsReady(ctx, c.Sentinels, cur, len(c.Nodes)-1); err != nil {
			return err
		}
		if _, err := c.sentinelFailover(ctx, ""); err != nil {
			return err
		}
	}
	if err := c.followOnly(ctx, first); err != nil {
		return err
	}
	if err := waitReplicasInSync(ctx, first, c.Nodes[1:]); err != nil {
		return err
	}
	return waitSentinelsReady(ctx, c.Sentinels, want, len(c.Nodes)-1)
}

// followOnly makes every other data node a replica of primary, the node
// the Sentinels name, as Sentinel itself would (REPLICAOF, CONFIG
// REWRITE), but now: Sentinel turns a demoted primary into a replica only
// some 8 to 18 s after it saw it report the primary role, which would
// make each Restore after a failover that much longer.
func (c *Cluster) followOnly(ctx context.Context, primary Node) error {
	host, port, _ := strings.Cut(primary.Endpoint().Addr, ":")
	for _, n := range c.Nodes {
		if n == primary {
			continue
		}
		info, err := ReplicationInfo(ctx, n.Endpoint())
		if err != nil {
			return err
		}
		if info.Role == RoleReplica && info.PrimaryAddr == primary.Endpoint().Addr {
			continue
		}
		rc := redis.NewClient(n.Endpoint().ClientOptions(""))
		err = rc.ReplicaOf(ctx, host, port).Err()
		if err == nil {
			err = rc.ConfigRewrite(ctx).Err()
		}
		rc.Close()
		if err != nil {
			return fmt.Errorf("make %s a replica of %s: %w", n.Name(), primary.Name(), err)
		}
	}
	return nil
}

// restoreCluster makes every provisioned primary that is now a replica
// primary again with a graceful CLUSTER FAILOVER once it is in sync, then
// waits until every replica is in sync and the nodes agree.
func (c *Cluster) restoreCluster(ctx context.Context) error {
	nPrimaries := 0
	for i, n := range c.Nodes {
		if c.Roles[i] != RolePrimary {
			continue
		}
		nPrimaries++
		info, err := ReplicationInfo(ctx, n.Endpoint())
		if err != nil {
			return err
		}
		if info.Role == RolePrimary {
			continue
		}
		cur, err := c.nodeAt(info.PrimaryAddr)
		if err != nil {
			return err
		}
		if err := waitInSync(ctx, cur, n); err != nil {
			return err
		}
		// A primary ignores a manual failover request from a node its
		// cluster view does not yet list as its replica: gossip may lag
		// the replication link.
		if err := waitKnownReplica(ctx, cur, n); err != nil {
			return err
		}
		slot, err := firstSlotOf(ctx, cur)
		if err != nil {
			return err
		}
		if err := c.promoteInCluster(ctx, n, slot, false); err != nil {
			return err
		}
	}
	// Provisioned pairs: primary i, replica i+nPrimaries.
	for i := nPrimaries; i < len(c.Nodes); i++ {
		if err := waitReplicasInSync(ctx, c.Nodes[i-nPrimaries], c.Nodes[i:i+1]); err != nil {
			return err
		}
	}
	clients := make([]*redis.Client, len(c.Nodes))
	for i, n := range c.Nodes {
		clients[i] = redis.NewClient(n.Endpoint().ClientOptions(""))
		defer clients[i].Close()
	}
	return waitClusterAgreed(ctx, c.Nodes, clients, nPrimaries)
}

// waitKnownReplica waits until primary's CLUSTER NODES lists replica as
// its replica.
func waitKnownReplica(ctx context.Context, primary, replica Node) error {
	rc := redis.NewClient(primary.Endpoint().ClientOptions(""))
	defer rc.Close()
	what := fmt.Sprintf("%s lists %s as its replica", primary.Name(), replica.Name())
	return waitUntil(ctx, what, func(ctx context.Context) (bool, string) {
		view, err := ClusterNodes(ctx, rc)
		if err != nil {
			return false, err.Error()
		}
		var myID string
		for _, v := range view {
			if v.Has("myself") {
				myID = v.ID
			}
		}
		for _, v := range view {
			if v.Addr == replica.Endpoint().Addr {
				if v.Has("slave") && v.PrimaryID == myID {
					return true, ""
				}
				return false, fmt.Sprintf("%s sees %s as %v of %q", primary.Name(), replica.Name(), v.Flags, v.PrimaryID)
			}
		}
		return false, fmt.Sprintf("%s does not list %s", primary.Name(), replica.Name())
	})
}

// firstSlotOf is the first slot primary n says it owns.
func firstSlotOf(ctx context.Context, n Node) (int, error) {
	rc := redis.NewClient(n.Endpoint().ClientOptions(""))
	defer rc.Close()
	view, err := ClusterNodes(ctx, rc)
	if err != nil {
		return 0, err
	}
	for _, v := range view {
		if !v.Has("myself") {
			continue
		}
		for _, r := range v.Slots {
			if strings.HasPrefix(r, "[") {
				continue
			}
			lo, _, _ := strings.Cut(r, "-")
			if s, err := strconv.Atoi(lo); err == nil {
				return s, nil
			}
		}
	}
	return 0, fmt.Errorf("%s owns no slot", n.Name())
}

// waitInSync waits until replica follows primary with its link up and
// primary has its acknowledgement of every byte it sent.
func waitInSync(ctx context.Context, primary, replica Node) error {
	what := fmt.Sprintf("%s in sync with %s", replica.Name(), primary.Name())
	return waitUntil(ctx, what, func(ctx context.Context) (bool, string) {
		ri, err := ReplicationInfo(ctx, replica.Endpoint())
		if err != nil {
			return false, err.Error()
		}
		if ri.Role != RoleReplica || ri.PrimaryAddr != primary.Endpoint().Addr || !ri.LinkUp {
			return false, fmt.Sprintf("%s: %s of %q, link up %v", replica.Name(), ri.Role, ri.PrimaryAddr, ri.LinkUp)
		}
		pi, err := ReplicationInfo(ctx, primary.Endpoint())
		if err != nil {
			return false, err.Error()
		}
		if st := pi.Replicas[replica.Endpoint().Addr]; st.State != "online" || st.Offset != pi.Offset {
			return false, fmt.Sprintf("%s at offset %d, %s acknowledged %d (%q)", primary.Name(), pi.Offset, replica.Name(), st.Offset, st.State)
		}
		return true, ""
	})
}

// FlushPrimaries empties the data set: FLUSHALL on every data node that
// is a primary now (a replica would refuse: READONLY), then waits until
// each primary's connected replicas acknowledge its whole stream, so a
// replica promoted next holds no old keys. A cut replica is not
// connected and is not waited for. On standalone every node is flushed.
// Every data node must answer.
func (c *Cluster) FlushPrimaries(ctx context.Context) error {
	if !c.replicated() {
		return eachParallel(ctx, len(c.Nodes), func(i int) error {
			rc := redis.NewClient(c.Nodes[i].Endpoint().ClientOptions(""))
			defer rc.Close()
			if err := rc.FlushAll(ctx).Err(); err != nil {
				return fmt.Errorf("FLUSHALL on %s: %w", c.Nodes[i].Name(), err)
			}
			return nil
		})
	}
	var primaries []Node
	for _, n := range c.Nodes {
		info, err := ReplicationInfo(ctx, n.Endpoint())
		if err != nil {
			return fmt.Errorf("flush: %w", err)
		}
		if info.Role == RolePrimary {
			primaries = append(primaries, n)
		}
	}
	for _, p := range primaries {
		rc := redis.NewClient(p.Endpoint().ClientOptions(""))
		err := rc.FlushAll(ctx).Err()
		rc.Close()
		if err != nil {
			return fmt.Errorf("FLUSHALL on %s: %w", p.Name(), err)
		}
	}
	// Replicas acknowledge once a second; the wait is that long at most
	// when nothing else writes.
	return waitFor(ctx, "replicas acknowledge the FLUSHALL", failoverTimeout, func(ctx context.Context) (bool, string) {
		for _, p := range primaries {
			info, err := ReplicationInfo(ctx, p.Endpoint())
			if err != nil {
				return false, err.Error()
			}
			for addr, st := range info.Replicas {
				if st.Offset < info.Offset {
					return false, fmt.Sprintf("%s at offset %d, replica %s acknowledged %d", p.Name(), info.Offset, addr, st.Offset)
				}
			}
		}
		return true, ""
	})
}
