// Package locks holds every lock strategy lockbench compares, behind one
// contract (DESIGN §3): a [Locker] acquires a named lock with a TTL under a
// context and returns a [Lease] that knows its token, its optional fencing
// token and its validity deadline, and can be released and extended.
//
// Strategies are registered by name ([Builtin], [Lookup]; `bench list
// locks`): setnx, setnx-expire, set-nx-ex, token, fenced, token-wait
// (token, then WAIT for a replica's acknowledgement; it needs replicas of its
// node), redlock, redsync
// (go-redsync/redsync v4 over the same nodes), redislock (bsm/redislock on
// one node) and nolock, the canary that grants every request. The
// seed-faithful strategies (setnx, setnx-expire, set-nx-ex) keep the bugs
// of the tutorials they come from on purpose: the harness exists to show
// those bugs. Redlock is written out step by step next to redsync because
// the harness needs each step exactly as redis.io states it, and each
// node's outcome to tell a failed acquire that is certain from one that is
// not.
//
// Errors are typed so a caller can tell "certainly not" from "don't know":
// [ErrNotObtained] (contended, or nothing could be sent), [ErrLost] (not
// the owner any more), [ErrUnknown] (a timeout or a connection lost
// mid-command) and [ErrUnreachable] (no connection, nothing sent). The
// workload records them as fail and info events of the history.
//
// Every strategy's go-redis clients run with explicit timeouts, one dial
// attempt and no command retries ([Config.ClientOptions]), because the
// library's defaults would hide the faults the harness injects. Contended
// acquires retry per a shared, bounded [Retry] policy. A [Warmer] opens
// and proves every connection before a cell's clock starts, so dialling is
// never counted as the lock's work. The per-node timeout of the Redlock
// family is [DefaultNodeTimeout], at most TTL/4 ([Config.NodeTimeoutFor]).
// [Hooks] let a fault act inside a strategy: setnx-expire's cut between
// SETNX and EXPIRE.
//
// The single-node strategies also run against the replicated deployments
// people run ([Config.Deployment], [Deployment]): a Sentinel-managed
// primary through go-redis's failover client, or Redis Cluster through its
// cluster client, each dialling through [Deployment.Route] (a node's real
// address to its fault proxy). The cluster client follows MOVED and ASK
// but never sends a command again after a timeout or a lost connection,
// and reloads its slot map on such errors, so a promoted replica takes the
// locks over within the failover. fenced's counter shares its key's slot
// ([FenceKey]); token-wait sends SET and WAIT down one connection to the
// key's primary. redlock and redsync refuse a deployment: they need
// independent primaries.
package locks
