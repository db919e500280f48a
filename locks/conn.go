package locks

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Connections are made ready outside the lock's time budget.
//
// redis.io's Redlock page asks for a per-node timeout "small compared to
// the total lock auto-release time" so that a client does not stay blocked
// on a node that is down. It speaks of talking to a node, and real clients
// talk over pooled connections made long before. go-redis, though, throws
// a connection away after a timeout and dials a new one inside the next
// command's deadline: through the fault proxies and docker-proxy that set-
// up took longer than a 10 ms node timeout, so every later attempt timed
// out again and Redlock never made progress — the harness's doing, not the
// lock's. So every strategy's pool is kept full in the background
// (MinIdleConns = PoolSize: a lost connection is replaced by go-redis
// outside any command, and by the time it is used its proxies have
// connected upstream), and [Warmer.Warm] fills the pools, each connection
// proven by a PING, before a cell's clock starts. The per-node budget then
// counts from a ready connection whenever one is idle; Redlock's validity
// still counts every nanosecond from its first step, so safety is
// unchanged. (Proving each background connection with a PING as well was
// tried and dropped: through a partition every such dial blocked for the
// command timeout, held a pool slot and tripped go-redis's dial-error
// breaker, so Redlock and redsync stalled where they should keep racing.)

// Warmer is a Locker that can open its connections ahead of the load.
type Warmer interface {
	// Warm makes every connection of the locker's pools and proves each
	// with a round trip; it returns the first node that failed.
	Warm(ctx context.Context) error
}

// warmClients fills each client's pool with n proven connections: n
// concurrent PINGs hold n distinct connections at once. A round that
// fails (a dial or a PING timed out on a busy machine) is tried again
// until timeout per node; then the node that failed is named.
func warmClients(ctx context.Context, n int, timeout time.Duration, clients ...*redis.Client) error {
	errs := make([]error, len(clients))
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			for {
				err := pingAll(ctx, c, n)
				if err == nil {
					return
				}
				select {
				case <-ctx.Done():
					errs[i] = fmt.Errorf("warm-up of %s: %w", c.Options().Addr, err)
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// pingAll takes n connections of c's pool at once, each held until all
// have answered a PING, so that n distinct connections are open when it
// returns. (n PINGs sent at once through the client would not do: one
// that finishes early hands its connection to the next, and fewer than
// n are dialled.)
func pingAll(ctx context.Context, c *redis.Client, n int) error {
	conns := make([]*redis.Conn, n)
	pings := make([]error, n)
	var wg sync.WaitGroup
	for j := range n {
		conns[j] = c.Conn()
		wg.Go(func() { pings[j] = conns[j].Ping(ctx).Err() })
	}
	wg.Wait()
	for _, cn := range conns {
		pings = append(pings, cn.Close())
	}
	return errors.Join(pings...)
}

// warmTimeout bounds a warm-up per node: generous, since no lock is timed
// yet, but bounded so an unreachable node fails the cell quickly.
func (c Config) warmTimeout() time.Duration { return max(5*c.Timeout, 5*time.Second) }

// Warm fills the pool of every node.
func (r *redlockLocker) Warm(ctx context.Context) error {
	return warmClients(ctx, r.cfg.PoolSize, r.cfg.warmTimeout(), r.clients...)
}

// Warm fills the pool of every node.
func (l *redsyncLocker) Warm(ctx context.Context) error {
	return warmClients(ctx, l.cfg.PoolSize, l.cfg.warmTimeout(), l.clients...)
}

// Warm fills the node's pool; on Redis Cluster, every primary's.
func (s *singleNode) Warm(ctx context.Context) error {
	if s.cluster != nil {
		return s.cfg.warmCluster(ctx, s.cluster)
	}
	err := warmClients(ctx, s.cfg.PoolSize, s.cfg.warmTimeout(), s.client.(*redis.Client))
	if err != nil && s.cfg.Deployment != nil {
		// go-redis names the failover client's address "FailoverClient".
		return fmt.Errorf("%s: %w", s.name, err)
	}
	return err
}
