package locks

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Lua scripts of the token family. Compare-and-act in one script so that
// no other client's command can come between the check and the action.
var (
	releaseScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0`)
	extendScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`)
	// fencedAcquireScript takes the lock and issues the next fence in one
	// step, so fences grow in the order the lock was granted.
	fencedAcquireScript = redis.NewScript(`
if redis.call("SET", KEYS[1], ARGV[1], "NX", "PX", ARGV[2]) then
  return redis.call("INCR", KEYS[2])
end
return 0`)
)

// FenceKey is where the fenced strategy keeps key's fencing counter. It
// is in key's Redis Cluster slot, so that one script can touch both:
// a key with a hash tag ("{user1}:lock") keeps it, "{user1}:lock:fence";
// any other key becomes the tag, "{lock}:fence" (a key without a tag
// hashes as its whole name). A key with a '}' but no hash tag ("a}b",
// "{}x") cannot be a tag; its counter is key+":fence", which a
// standalone node takes and fenced refuses on a cluster (fenceSlotted).
func FenceKey(key string) string {
	if hashTag(key) != "" || strings.Contains(key, "}") {
		return key + ":fence"
	}
	return "{" + key + "}:fence"
}

// hashTag is key's Redis Cluster hash tag: what lies between its first
// '{' and the first '}' after it, when not empty; "" when key has none.
func hashTag(key string) string {
	_, rest, ok := strings.Cut(key, "{")
	if !ok {
		return ""
	}
	tag, _, ok := strings.Cut(rest, "}")
	if !ok {
		return ""
	}
	return tag
}

// fenceSlotted reports whether key and FenceKey(key) hash to one slot.
func fenceSlotted(key string) bool { return hashTag(key) != "" || !strings.Contains(key, "}") }

// nodeClient is what the single-node strategies need of a go-redis
// client: *redis.Client (one node, or Sentinel's failover client) and
// *redis.ClusterClient both are one.
type nodeClient = redis.UniversalClient

// singleNode is the shared part of every strategy on one node.
type singleNode struct {
	cfg    Config
	client nodeClient
	// cluster is client when it is a Redis Cluster client, else nil.
	cluster *redis.ClusterClient
	// name is the node or deployment, for messages.
	name string
}

func newSingleNode(cfg Config) (*singleNode, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.Deployment == nil {
		return &singleNode{cfg: cfg, client: cfg.newClient(cfg.Nodes[0]), name: cfg.Nodes[0].Addr}, nil
	}
	s := &singleNode{cfg: cfg, client: cfg.newDeploymentClient(), name: cfg.Deployment.String()}
	s.cluster, _ = s.client.(*redis.ClusterClient)
	return s, nil
}

func (s *singleNode) Close() error { return s.client.Close() }

// lease is the lease type of the single-node strategies.
type lease struct {
	key    string
	token  string
	fence  int64
	fenced bool

	mu       sync.Mutex
	deadline time.Time

	release func(ctx context.Context, l *lease) error
	extend  func(ctx context.Context, l *lease, ttl time.Duration) error
}

func (l *lease) Key() string                       { return l.key }
func (l *lease) Token() string                     { return l.token }
func (l *lease) Fence() (int64, bool)              { return l.fence, l.fenced }
func (l *lease) Release(ctx context.Context) error { return l.release(ctx, l) }
func (l *lease) Extend(ctx context.Context, ttl time.Duration) error {
	return l.extend(ctx, l, ttl)
}
func (l *lease) Deadline() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.deadline
}
func (l *lease) setDeadline(t time.Time) {
	l.mu.Lock()
	l.deadline = t
	l.mu.Unlock()
}

// ttlSeconds rounds a TTL up to whole seconds, as EXPIRE and EX need.
func ttlSeconds(ttl time.Duration) time.Duration {
	s := (ttl + time.Second - 1) / time.Second
	return max(s, 1) * time.Second
}

// --- setnx: SETNX key 1; release DEL; no TTL at all.

type setNXLocker struct{ *singleNode }

func newSetNX(cfg Config) (Locker, error) {
	s, err := newSingleNode(cfg)
	return &setNXLocker{s}, err
}

func (s *setNXLocker) Acquire(ctx context.Context, key string, _ time.Duration) (Lease, error) {
	return retrying(ctx, s.cfg.Retry, false, func(ctx context.Context) (Lease, error) {
		if err := s.setOne(ctx, key, 0); err != nil {
			return nil, err
		}
		return &lease{key: key, token: "1", release: s.del, extend: noExtend}, nil
	})
}

// setOne is the tutorials' acquire: SET key 1 NX, with EX ttl when ttl > 0.
func (s *singleNode) setOne(ctx context.Context, key string, ttl time.Duration) error {
	ok, err := s.client.SetNX(ctx, key, "1", ttl).Result()
	if err != nil {
		return classify(err, true)
	}
	if !ok {
		return fmt.Errorf("%s is held: %w", key, ErrNotObtained)
	}
	return nil
}

// del is the tutorials' release: delete whatever is there.
func (s *singleNode) del(ctx context.Context, l *lease) error {
	return classify(s.client.Del(ctx, l.key).Err(), false)
}

// noExtend: a lock without TTL has nothing to extend.
func noExtend(context.Context, *lease, time.Duration) error { return nil }

// --- setnx-expire: SETNX, then EXPIRE as a second command.

type setNXExpireLocker struct{ *singleNode }

func newSetNXExpire(cfg Config) (Locker, error) {
	s, err := newSingleNode(cfg)
	return &setNXExpireLocker{s}, err
}

func (s *setNXExpireLocker) Acquire(ctx context.Context, key string, ttl time.Duration) (Lease, error) {
	return retrying(ctx, s.cfg.Retry, false, func(ctx context.Context) (Lease, error) {
		if err := s.setOne(ctx, key, 0); err != nil {
			return nil, err
		}
		if h := s.cfg.Hooks.BetweenCommands; h != nil {
			h(ctx, key)
		}
		// The tutorial ignores EXPIRE's outcome: the lock is "held" either
		// way, and a failed EXPIRE leaves a key that never expires.
		s.client.Expire(ctx, key, ttlSeconds(ttl))
		return &lease{key: key, token: "1", release: s.del, extend: s.expire}, nil
	})
}

// expire is the tutorials' extend: EXPIRE whatever is there.
func (s *singleNode) expire(ctx context.Context, l *lease, ttl time.Duration) error {
	ok, err := s.client.Expire(ctx, l.key, ttlSeconds(ttl)).Result()
	if err != nil {
		return classify(err, false)
	}
	if !ok {
		return fmt.Errorf("%s no longer exists: %w", l.key, ErrLost)
	}
	return nil
}

// --- set-nx-ex: SET key 1 NX EX ttl; release DEL.

type setNXEXLocker struct{ *singleNode }

func newSetNXEX(cfg Config) (Locker, error) {
	s, err := newSingleNode(cfg)
	return &setNXEXLocker{s}, err
}

func (s *setNXEXLocker) Acquire(ctx context.Context, key string, ttl time.Duration) (Lease, error) {
	return retrying(ctx, s.cfg.Retry, false, func(ctx context.Context) (Lease, error) {
		if err := s.setOne(ctx, key, ttlSeconds(ttl)); err != nil {
			return nil, err
		}
		return &lease{key: key, token: "1", release: s.del, extend: s.expire}, nil
	})
}

// --- token: SET key random NX PX ttl; compare-and-delete / -pexpire.

type tokenLocker struct {
	*singleNode
	fenced bool
}

func newTokenLocker(cfg Config) (Locker, error) {
	s, err := newSingleNode(cfg)
	return &tokenLocker{singleNode: s}, err
}

func newFenced(cfg Config) (Locker, error) {
	s, err := newSingleNode(cfg)
	return &tokenLocker{singleNode: s, fenced: true}, err
}

func (s *tokenLocker) Acquire(ctx context.Context, key string, ttl time.Duration) (Lease, error) {
	return retrying(ctx, s.cfg.Retry, false, func(ctx context.Context) (Lease, error) {
		token := newToken()
		start := time.Now()
		l := &lease{key: key, token: token, release: s.compareAndDelete, extend: s.compareAndExpire}
		if s.fenced {
			if s.cluster != nil && !fenceSlotted(key) {
				return nil, fmt.Errorf("fenced on Redis Cluster: %q has a '}' but no hash tag, so its fence counter cannot share its slot; give the key a hash tag: %w", key, ErrBadConfig)
			}
			fence, err := fencedAcquireScript.Run(ctx, s.client, []string{key, FenceKey(key)}, token, ttl.Milliseconds()).Int64()
			if err != nil {
				return nil, classify(err, true)
			}
			if fence == 0 {
				return nil, fmt.Errorf("%s is held: %w", key, ErrNotObtained)
			}
			l.fence, l.fenced = fence, true
		} else {
			ok, err := s.client.SetNX(ctx, key, token, ttl).Result()
			if err != nil {
				return nil, classify(err, true)
			}
			if !ok {
				return nil, fmt.Errorf("%s is held: %w", key, ErrNotObtained)
			}
		}
		l.deadline = start.Add(ttl - drift(ttl))
		return l, nil
	})
}

func (s *singleNode) compareAndDelete(ctx context.Context, l *lease) error {
	n, err := releaseScript.Run(ctx, s.client, []string{l.key}, l.token).Int64()
	if err != nil {
		return classify(err, false)
	}
	if n == 0 {
		return fmt.Errorf("%s is not held by this token: %w", l.key, ErrLost)
	}
	return nil
}

func (s *singleNode) compareAndExpire(ctx context.Context, l *lease, ttl time.Duration) error {
	start := time.Now()
	n, err := extendScript.Run(ctx, s.client, []string{l.key}, l.token, ttl.Milliseconds()).Int64()
	if err != nil {
		return classify(err, false)
	}
	if n == 0 {
		return fmt.Errorf("%s is not held by this token: %w", l.key, ErrLost)
	}
	l.setDeadline(start.Add(ttl - drift(ttl)))
	return nil
}

// --- nolock: grants everything.

type noLocker struct{}

func newNoLock(Config) (Locker, error) { return noLocker{}, nil }

func (noLocker) Acquire(ctx context.Context, key string, ttl time.Duration) (Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotObtained, err)
	}
	nop := func(context.Context, *lease) error { return nil }
	return &lease{key: key, token: newToken(), release: nop, extend: noExtend}, nil
}

func (noLocker) Close() error { return nil }
