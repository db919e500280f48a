package locks

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultWaitReplicas is how many replicas token-wait's WAIT asks for
// unless Config.Replicas says otherwise.
const DefaultWaitReplicas = 1

// tokenWaitLocker is token with WAIT: the lock counts only once enough
// replicas acknowledged the SET, the mitigation Redisson adopted for
// failovers that promote a replica the lock never reached. It narrows
// that hazard, it does not close it: WAIT says some replica has the
// write, not that the one Sentinel promotes does.
type tokenWaitLocker struct {
	*singleNode
	replicas int
}

func newTokenWait(cfg Config) (Locker, error) {
	s, err := newSingleNode(cfg)
	if err != nil {
		return nil, err
	}
	n := cfg.Replicas
	if n <= 0 {
		n = DefaultWaitReplicas
	}
	return &tokenWaitLocker{singleNode: s, replicas: n}, nil
}

// Warm fills the pool and refuses a node with fewer replicas connected
// than WAIT asks for: every acquire would fail, and the cell would read as
// a lock that never grants instead of a deployment that cannot run it. On
// Redis Cluster every primary is asked.
func (t *tokenWaitLocker) Warm(ctx context.Context) error {
	if err := t.singleNode.Warm(ctx); err != nil {
		return err
	}
	primaries := []*redis.Client{}
	if t.cluster != nil {
		ms, err := masters(ctx, t.cluster)
		if err != nil {
			return err
		}
		primaries = ms
	} else {
		primaries = append(primaries, t.client.(*redis.Client))
	}
	for _, p := range primaries {
		name := t.name
		if t.cluster != nil {
			name = p.Options().Addr
		}
		info, err := p.Info(ctx, "replication").Result()
		if err != nil {
			return fmt.Errorf("token-wait: INFO replication on %s: %w", name, classify(err, false))
		}
		connected := infoInt(info, "connected_slaves")
		if connected < t.replicas {
			return fmt.Errorf("token-wait: the lock node %s has %d replica(s) connected and WAIT asks for %d, so no acquire could succeed; run it on a topology with replicas: %w",
				name, connected, t.replicas, ErrBadConfig)
		}
	}
	return nil
}

// infoInt reads an integer field of an INFO reply; -1 when absent.
func infoInt(info, field string) int {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			if n, err := strconv.Atoi(v); err == nil {
				return n
			}
		}
	}
	return -1
}

// waitTimeout bounds WAIT for a lease of ttl: Config.WaitTimeout, else
// the per-node bound of the Redlock family, well inside the TTL.
func (t *tokenWaitLocker) waitTimeout(ttl time.Duration) time.Duration {
	if t.cfg.WaitTimeout > 0 {
		return t.cfg.WaitTimeout
	}
	return t.cfg.NodeTimeoutFor(ttl)
}

func (t *tokenWaitLocker) Acquire(ctx context.Context, key string, ttl time.Duration) (Lease, error) {
	return retrying(ctx, t.cfg.Retry, false, func(ctx context.Context) (Lease, error) {
		token := newToken()
		start := time.Now()
		// One pipeline, so that SET and WAIT go down one connection:
		// WAIT waits for the replication offset of its own connection's
		// writes.
		var set *redis.BoolCmd
		var wait *redis.Cmd
		err := t.pipelined(ctx, key, func(pipe redis.Pipeliner) redis.Cmder {
			set = pipe.SetNX(ctx, key, token, ttl)
			wait = pipe.Do(ctx, "WAIT", t.replicas, t.waitTimeout(ttl).Milliseconds())
			return set
		})
		if err != nil {
			return nil, classify(err, true)
		}
		if err := set.Err(); err != nil {
			return nil, classify(err, true)
		}
		if !set.Val() {
			return nil, fmt.Errorf("%s is held: %w", key, ErrNotObtained)
		}
		l := &lease{key: key, token: token, release: t.compareAndDelete, extend: t.extendAndWait}
		if err := wait.Err(); err != nil {
			// The primary granted it; whether a replica has it is not
			// known. Undo it if possible, but the outcome stays unknown.
			t.undo(ctx, l)
			return nil, fmt.Errorf("%s set, WAIT got no reply: %w: %w", key, ErrUnknown, err)
		}
		if acked, _ := wait.Int(); acked < t.replicas {
			if err := t.compareAndDelete(ctx, l); err != nil {
				return nil, fmt.Errorf("%s reached %d of %d replicas and could not be undone: %w", key, acked, t.replicas, err)
			}
			return nil, fmt.Errorf("%s reached %d of %d replicas within %v; undone: %w", key, acked, t.replicas, t.waitTimeout(ttl), ErrNotObtained)
		}
		l.deadline = start.Add(ttl - drift(ttl))
		return l, nil
	})
}

// undo deletes an acquire whose outcome is unknown, on a context of its
// own: the caller's may be what ended it.
func (t *tokenWaitLocker) undo(ctx context.Context, l *lease) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.cfg.Timeout)
	defer cancel()
	_ = t.compareAndDelete(ctx, l) // best effort: the acquire is reported unknown either way
}

// extendAndWait is compare-and-pexpire followed by WAIT on the same
// connection. An extension that did not reach enough replicas leaves the
// deadline where it was: a promoted replica would expire the key then.
func (t *tokenWaitLocker) extendAndWait(ctx context.Context, l *lease, ttl time.Duration) error {
	start := time.Now()
	var ext, wait *redis.Cmd
	err := t.pipelined(ctx, l.key, func(pipe redis.Pipeliner) redis.Cmder {
		ext = extendScript.Eval(ctx, pipe, []string{l.key}, l.token, ttl.Milliseconds())
		wait = pipe.Do(ctx, "WAIT", t.replicas, t.waitTimeout(ttl).Milliseconds())
		return ext
	})
	if err != nil {
		return classify(err, false)
	}
	n, err := ext.Int64()
	if err != nil {
		return classify(err, false)
	}
	if n == 0 {
		return fmt.Errorf("%s is not held by this token: %w", l.key, ErrLost)
	}
	if err := wait.Err(); err != nil {
		return fmt.Errorf("%s extended on the primary, WAIT got no reply: %w: %w", l.key, ErrUnknown, err)
	}
	if acked, _ := wait.Int(); acked < t.replicas {
		return fmt.Errorf("%s extended on the primary but reached %d of %d replicas: %w", l.key, acked, t.replicas, ErrUnknown)
	}
	l.setDeadline(start.Add(ttl - drift(ttl)))
	return nil
}

// pipelined sends the commands queue puts on a pipeline down one
// connection to the primary that owns key, and returns an error only when
// no primary could be found; each command's own error is its caller's to
// look at. queue returns the write WAIT is to cover. On Redis Cluster the
// pipeline goes to key's primary itself (WAIT has no key to route by, and
// must follow the write on its connection); a MOVED reply to the write
// (the slot's primary changed: it did not run) is followed on the fresh
// slot map, at most MaxRedirects times.
func (t *tokenWaitLocker) pipelined(ctx context.Context, key string, queue func(redis.Pipeliner) redis.Cmder) error {
	if t.cluster == nil {
		pipe := t.client.Pipeline()
		queue(pipe)
		pipe.Exec(ctx) // each command's own error is looked at by the caller
		return nil
	}
	for redirect := 0; ; redirect++ {
		node, err := t.cluster.MasterForKey(ctx, key)
		if err != nil {
			return fmt.Errorf("primary of %s: %w", key, err)
		}
		pipe := node.Pipeline()
		write := queue(pipe)
		pipe.Exec(ctx)
		if !isReply(write.Err()) || !strings.HasPrefix(write.Err().Error(), "MOVED ") || redirect >= t.cluster.Options().MaxRedirects {
			return nil
		}
		// ReloadState is asynchronous; wait for the slot map to name
		// another primary, bounded by the command timeout.
		t.cluster.ReloadState(ctx)
		deadline := time.Now().Add(t.cfg.Timeout)
		for time.Now().Before(deadline) && ctx.Err() == nil {
			if n, err := t.cluster.MasterForKey(ctx, key); err != nil || n != node {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

var _ Warmer = (*tokenWaitLocker)(nil)
