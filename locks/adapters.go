package locks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/bsm/redislock"
	"github.com/go-redsync/redsync/v4"
	redsyncredis "github.com/go-redsync/redsync/v4/redis"
	"github.com/go-redsync/redsync/v4/redis/goredis/v9"
	"github.com/redis/go-redis/v9"
)

// --- redsync: go-redsync/redsync v4 over the same nodes as redlock.

type redsyncLocker struct {
	cfg     Config
	clients []*redis.Client
	rs      *redsync.Redsync
}

func newRedsync(cfg Config) (Locker, error) {
	if err := refuseDeployment("redsync", cfg); err != nil {
		return nil, err
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	l := &redsyncLocker{cfg: cfg}
	pools := make([]redsyncredis.Pool, len(cfg.Nodes))
	for i, ep := range cfg.Nodes {
		c := cfg.newClient(ep)
		l.clients = append(l.clients, c)
		pools[i] = goredis.NewPool(c)
	}
	l.rs = redsync.New(pools...)
	return l, nil
}

func (l *redsyncLocker) Close() error {
	var errs []error
	for _, c := range l.clients {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

func (l *redsyncLocker) Acquire(ctx context.Context, key string, ttl time.Duration) (Lease, error) {
	return retrying(ctx, l.cfg.Retry, true, func(ctx context.Context) (Lease, error) {
		token := newToken()
		// One try per call: our retry policy governs retries, so every
		// strategy retries alike; the per-node timeout is redlock's, so the
		// two are compared under the same bound. The library's drift
		// (0.01) stands.
		m := l.rs.NewMutex(key, redsync.WithExpiry(ttl), redsync.WithTries(1),
			redsync.WithTimeoutFactor(float64(l.cfg.NodeTimeoutFor(ttl))/float64(ttl)),
			redsync.WithGenValueFunc(func() (string, error) { return token, nil }))
		if err := m.LockContext(ctx); err != nil {
			return nil, classifyRedsync(err)
		}
		return &redsyncLease{m: m, key: key, token: token, ttl: ttl}, nil
	})
}

// classifyRedsync maps redsync's errors: a taken lock is certain; a node
// that timed out or lost its connection makes the outcome unknown.
func classifyRedsync(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrUnknown, err)
	}
	return fmt.Errorf("%w: %w", ErrNotObtained, err)
}

type redsyncLease struct {
	key, token string
	ttl        time.Duration // redsync extends by the acquire's TTL only

	mu sync.Mutex // redsync's Mutex is not safe for concurrent Extend/Unlock
	m  *redsync.Mutex
}

func (l *redsyncLease) Key() string          { return l.key }
func (l *redsyncLease) Token() string        { return l.token }
func (l *redsyncLease) Fence() (int64, bool) { return 0, false }
func (l *redsyncLease) Deadline() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m.Until()
}

func (l *redsyncLease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	ok, err := l.m.UnlockContext(ctx)
	if ok {
		return nil
	}
	if err == nil || errors.Is(err, redsync.ErrLockAlreadyExpired) {
		return fmt.Errorf("redsync unlock of %s: %w", l.key, ErrLost)
	}
	return classifyRedsyncOp(err)
}

func (l *redsyncLease) Extend(ctx context.Context, ttl time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ttl != l.ttl {
		return fmt.Errorf("redsync extends by the TTL it was acquired with (%v), not %v: %w", l.ttl, ttl, ErrBadConfig)
	}
	ok, err := l.m.ExtendContext(ctx)
	if ok {
		return nil
	}
	if err == nil || errors.Is(err, redsync.ErrExtendFailed) {
		return fmt.Errorf("redsync extend of %s: %w", l.key, ErrLost)
	}
	return classifyRedsyncOp(err)
}

// classifyRedsyncOp: a failed unlock/extend with node errors is unknown
// unless every error is a refused connection.
func classifyRedsyncOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	var taken *redsync.ErrTaken
	if errors.As(err, &taken) {
		return fmt.Errorf("%w: %w", ErrLost, err)
	}
	return fmt.Errorf("%w: %w", ErrUnknown, err)
}

// --- redislock: bsm/redislock on one node.

type redislockLocker struct {
	*singleNode
	rl *redislock.Client
}

func newRedislock(cfg Config) (Locker, error) {
	s, err := newSingleNode(cfg)
	if err != nil {
		return nil, err
	}
	return &redislockLocker{singleNode: s, rl: redislock.New(s.client)}, nil
}

func (l *redislockLocker) Acquire(ctx context.Context, key string, ttl time.Duration) (Lease, error) {
	return retrying(ctx, l.cfg.Retry, false, func(ctx context.Context) (Lease, error) {
		start := time.Now()
		lk, err := l.rl.Obtain(ctx, key, ttl, &redislock.Options{RetryStrategy: redislock.NoRetry()})
		if errors.Is(err, redislock.ErrNotObtained) {
			return nil, fmt.Errorf("%s is held: %w: %w", key, ErrNotObtained, err)
		}
		if err != nil {
			return nil, classify(err, true)
		}
		le := &redislockLease{lk: lk}
		le.deadline = start.Add(ttl - drift(ttl))
		return le, nil
	})
}

type redislockLease struct {
	lk *redislock.Lock

	mu       sync.Mutex
	deadline time.Time
}

func (l *redislockLease) Key() string          { return l.lk.Key() }
func (l *redislockLease) Token() string        { return l.lk.Token() }
func (l *redislockLease) Fence() (int64, bool) { return 0, false }
func (l *redislockLease) Deadline() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.deadline
}

func (l *redislockLease) Release(ctx context.Context) error {
	err := l.lk.Release(ctx)
	if errors.Is(err, redislock.ErrLockNotHeld) {
		return fmt.Errorf("%s: %w: %w", l.lk.Key(), ErrLost, err)
	}
	return classify(err, false)
}

func (l *redislockLease) Extend(ctx context.Context, ttl time.Duration) error {
	start := time.Now()
	err := l.lk.Refresh(ctx, ttl, nil)
	if errors.Is(err, redislock.ErrNotObtained) {
		return fmt.Errorf("%s: %w: %w", l.lk.Key(), ErrLost, err)
	}
	if err != nil {
		return classify(err, false)
	}
	l.mu.Lock()
	l.deadline = start.Add(ttl - drift(ttl))
	l.mu.Unlock()
	return nil
}
