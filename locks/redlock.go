package locks

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// redlockLocker is the algorithm of https://redis.io/docs/latest/develop/use/patterns/distributed-locks/
// written out by hand rather than taken from a library: the harness needs
// each step exactly as the page states it (so that redsync, the library,
// can be compared against it), and the per-node outcomes to classify the
// result as certain or unknown.
//
//  1. Take the current time (monotonic clock).
//  2. SET key token NX PX ttl on all N nodes in parallel, each bounded by
//     a per-node timeout much smaller than the TTL.
//  3. The lock is acquired when a majority (N/2+1) said OK and the
//     validity, TTL − elapsed − drift (drift = TTL·1 % + 2 ms), is positive.
//  4. Otherwise unlock on all nodes, even those that seemed to fail, and
//     retry after a random delay.
//
// Release is compare-and-delete on all nodes; extend is compare-and-pexpire
// on all nodes and succeeds only with a majority within the new validity.
type redlockLocker struct {
	cfg     Config
	clients []*redis.Client
	quorum  int
}

func newRedlock(cfg Config) (Locker, error) {
	if err := refuseDeployment("redlock", cfg); err != nil {
		return nil, err
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &redlockLocker{cfg: cfg, quorum: len(cfg.Nodes)/2 + 1}
	for _, ep := range cfg.Nodes {
		r.clients = append(r.clients, cfg.newClient(ep))
	}
	return r, nil
}

func (r *redlockLocker) Close() error {
	var errs []error
	for _, c := range r.clients {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// nodeTimeout is the per-node bound of step 2.
func (r *redlockLocker) nodeTimeout(ttl time.Duration) time.Duration {
	return r.cfg.NodeTimeoutFor(ttl)
}

// nodeResult is one node's answer to one step.
type nodeResult struct {
	ok  bool  // the node did it
	err error // nil when the node answered (ok or not)
}

// onAll runs f on every node in parallel, each under its own timeout, and
// waits for all of them.
func (r *redlockLocker) onAll(ctx context.Context, timeout time.Duration, f func(ctx context.Context, c *redis.Client) (bool, error)) []nodeResult {
	res := make([]nodeResult, len(r.clients))
	var wg sync.WaitGroup
	for i, c := range r.clients {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			ok, err := f(ctx, c)
			res[i] = nodeResult{ok: ok, err: err}
		})
	}
	wg.Wait()
	return res
}

// tally counts the nodes that did it and those whose outcome is unknown.
func tally(res []nodeResult) (ok, unknown int, errs []error) {
	for _, r := range res {
		switch {
		case r.ok:
			ok++
		case r.err != nil:
			if c := classify(r.err, false); !errors.Is(c, ErrUnreachable) {
				unknown++
			}
			errs = append(errs, r.err)
		}
	}
	return ok, unknown, errs
}

func (r *redlockLocker) Acquire(ctx context.Context, key string, ttl time.Duration) (Lease, error) {
	return retrying(ctx, r.cfg.Retry, true, func(ctx context.Context) (Lease, error) {
		token := newToken()
		start := time.Now()
		res := r.onAll(ctx, r.nodeTimeout(ttl), func(ctx context.Context, c *redis.Client) (bool, error) {
			return c.SetNX(ctx, key, token, ttl).Result()
		})
		elapsed := time.Since(start)
		validity := ttl - elapsed - drift(ttl)
		ok, unknown, errs := tally(res)
		if ok >= r.quorum && validity > 0 {
			l := &redlockLease{r: r, key: key, token: token}
			l.deadline = start.Add(ttl - drift(ttl)) // = now + validity
			return l, nil
		}
		// Step 4: undo on every node, the "failed" ones too: a timed-out
		// SET may have been applied.
		r.unlockAll(context.WithoutCancel(ctx), key, token, r.nodeTimeout(ttl))
		why := fmt.Sprintf("%d of %d nodes granted %s (quorum %d), validity %v", ok, len(r.clients), key, r.quorum, validity.Round(time.Microsecond))
		if ok+unknown >= r.quorum && validity > 0 {
			return nil, fmt.Errorf("%s, %d unknown: %w: %w", why, unknown, ErrUnknown, errors.Join(errs...))
		}
		if len(errs) > 0 {
			return nil, fmt.Errorf("%s: %w: %w", why, ErrNotObtained, errors.Join(errs...))
		}
		return nil, fmt.Errorf("%s: %w", why, ErrNotObtained)
	})
}

// unlockAll runs compare-and-delete on every node, each bounded by timeout.
func (r *redlockLocker) unlockAll(ctx context.Context, key, token string, timeout time.Duration) []nodeResult {
	return r.onAll(ctx, timeout, func(ctx context.Context, c *redis.Client) (bool, error) {
		n, err := releaseScript.Run(ctx, c, []string{key}, token).Int64()
		return n == 1, err
	})
}

// redlockLease is a lock held on a majority.
type redlockLease struct {
	r     *redlockLocker
	key   string
	token string

	mu       sync.Mutex
	deadline time.Time
}

func (l *redlockLease) Key() string          { return l.key }
func (l *redlockLease) Token() string        { return l.token }
func (l *redlockLease) Fence() (int64, bool) { return 0, false }
func (l *redlockLease) Deadline() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.deadline
}

// Release deletes the key wherever it still holds our token. Any node whose
// outcome is unknown makes the release unknown; otherwise it succeeded if
// some node held our token (unreachable nodes let theirs expire) and is
// ErrLost when every node answered that it did not.
func (l *redlockLease) Release(ctx context.Context) error {
	res := l.r.unlockAll(ctx, l.key, l.token, l.r.cfg.Timeout)
	ok, unknown, errs := tally(res)
	switch {
	case unknown > 0:
		return fmt.Errorf("release of %s: %d nodes unknown: %w: %w", l.key, unknown, ErrUnknown, errors.Join(errs...))
	case ok > 0:
		return nil
	case len(errs) == 0:
		return fmt.Errorf("no node held %s with this token: %w", l.key, ErrLost)
	default:
		return fmt.Errorf("release of %s: %w: %w", l.key, ErrUnreachable, errors.Join(errs...))
	}
}

// Extend re-arms the TTL on every node that still holds our token and
// succeeds only with a majority inside the new validity.
func (l *redlockLease) Extend(ctx context.Context, ttl time.Duration) error {
	start := time.Now()
	res := l.r.onAll(ctx, l.r.nodeTimeout(ttl), func(ctx context.Context, c *redis.Client) (bool, error) {
		n, err := extendScript.Run(ctx, c, []string{l.key}, l.token, ttl.Milliseconds()).Int64()
		return n == 1, err
	})
	validity := ttl - time.Since(start) - drift(ttl)
	ok, unknown, errs := tally(res)
	if ok >= l.r.quorum && validity > 0 {
		l.mu.Lock()
		l.deadline = start.Add(ttl - drift(ttl))
		l.mu.Unlock()
		return nil
	}
	why := fmt.Sprintf("%d of %d nodes extended %s (quorum %d)", ok, len(l.r.clients), l.key, l.r.quorum)
	if ok+unknown >= l.r.quorum && validity > 0 {
		return fmt.Errorf("%s, %d unknown: %w: %w", why, unknown, ErrUnknown, errors.Join(errs...))
	}
	return fmt.Errorf("%s: %w", why, ErrLost)
}
