package locks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/lockbench/lockbench/endpoint"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Lease is a lock held by its caller.
type Lease interface {
	// Key is the lock's name.
	Key() string
	// Token is the value that identifies this holder on the server.
	Token() string
	// Fence is the fencing token and whether the strategy issues one.
	Fence() (int64, bool)
	// Deadline is when the holder must stop relying on the lock; zero
	// when the strategy does not track validity (the naive ones).
	Deadline() time.Time
	// Release gives the lock up.
	Release(ctx context.Context) error
	// Extend asks for ttl more from now; on success Deadline moves.
	Extend(ctx context.Context, ttl time.Duration) error
}

// Locker acquires leases. It is safe for concurrent use.
type Locker interface {
	// Acquire tries to take key for ttl, retrying per the configured retry
	// policy while the lock is contended, never past ctx.
	Acquire(ctx context.Context, key string, ttl time.Duration) (Lease, error)
	// Close releases the locker's connections.
	Close() error
}

// Errors every strategy returns, wrapped, so callers can tell "certainly
// not" from "don't know" with errors.Is.
var (
	// ErrNotObtained: the acquire certainly did not take the lock
	// (contended, or the node was unreachable).
	ErrNotObtained = errors.New("lock not obtained")
	// ErrLost: a release or extend certainly did nothing because the caller
	// no longer owns the lock (it expired, or someone else holds it).
	ErrLost = errors.New("lock lost")
	// ErrUnknown: the command may or may not have taken effect (timeout,
	// connection lost mid-command).
	ErrUnknown = errors.New("outcome unknown")
	// ErrUnreachable: nothing was sent because no connection could be
	// made; the operation certainly did not happen. Acquire errors that
	// wrap it also wrap ErrNotObtained.
	ErrUnreachable = errors.New("node unreachable")
	// ErrUnknownStrategy: no strategy has the name asked for.
	ErrUnknownStrategy = errors.New("unknown lock strategy")
	// ErrBadConfig: the configuration cannot work (no nodes, bad policy).
	ErrBadConfig = errors.New("bad lock configuration")
	// ErrClientGone: the client process died or stopped answering (an
	// external lock client): the outcome is unknown and its locks are
	// abandoned. Errors wrapping it also wrap ErrUnknown.
	ErrClientGone = errors.New("client process gone")
	// ErrFatal: the locker cannot go on (an external client broke the
	// protocol, or cannot start): the cell must end with this error.
	ErrFatal = errors.New("lock client cannot go on")
)

// Hooks let fault schedules and tests act at points inside a strategy.
type Hooks struct {
	// BetweenCommands runs in setnx-expire after SETNX succeeded and before
	// EXPIRE is sent: the window in which a crash leaves a key with no TTL.
	BetweenCommands func(ctx context.Context, key string)
}

// Config is what every strategy is built from.
type Config struct {
	// Nodes are the Redis nodes, in order; Addr may be a proxy in front of
	// the node. Single-node strategies use Nodes[0]. With a Deployment,
	// Nodes may be empty; when given, Nodes[0]'s credentials, DB and TLS
	// (not its Addr) are what the deployment's data nodes are reached with.
	Nodes []endpoint.Endpoint
	// Deployment, when set, says how the single-node strategies reach a
	// replicated deployment; nil: Nodes[0] directly. The multi-node
	// strategies refuse it: they need independent primaries.
	Deployment *Deployment
	// Timeout bounds every command (dial, read, write). Default 1 s.
	Timeout time.Duration
	// NodeTimeout bounds each node's SET in a Redlock acquire; it must be
	// well below the TTL. Default: DefaultNodeTimeout, at most TTL/4.
	NodeTimeout time.Duration
	// PoolSize is the connection pool size per node (one per client that
	// shares the locker). Default 10.
	PoolSize int
	// Retry is the policy for contended acquires. Default: no retry.
	Retry Retry
	// Replicas is how many replicas token-wait's WAIT asks to
	// acknowledge an acquire. Default DefaultWaitReplicas.
	Replicas int
	// WaitTimeout bounds token-wait's WAIT. Default: the per-node bound
	// of the Redlock family (NodeTimeoutFor the TTL). It must stay below
	// Timeout, or the client gives up on WAIT's reply first.
	WaitTimeout time.Duration
	// Hooks are optional fault points.
	Hooks Hooks
}

func (c Config) withDefaults() (Config, error) {
	if c.Deployment != nil {
		if err := c.Deployment.validate(); err != nil {
			return c, err
		}
	} else if len(c.Nodes) == 0 {
		return c, fmt.Errorf("no Redis nodes given: %w", ErrBadConfig)
	}
	if c.Timeout <= 0 {
		c.Timeout = time.Second
	}
	if c.PoolSize <= 0 {
		c.PoolSize = 10
	}
	if err := c.Retry.validate(); err != nil {
		return c, err
	}
	return c, nil
}

// newClient builds the go-redis client of one node.
func (c Config) newClient(ep endpoint.Endpoint) *redis.Client {
	return redis.NewClient(c.clientOptions(ep))
}

// ClientOptions are the go-redis options every strategy's client of node
// ep is built with (defaults applied), for a caller that wants the same
// client without a strategy around it: bench calibrate's bare loop.
func (c Config) ClientOptions(ep endpoint.Endpoint) (*redis.Options, error) {
	c.Nodes = []endpoint.Endpoint{ep}
	c, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	return c.clientOptions(ep), nil
}

// clientOptions sets every option explicitly: go-redis's defaults
// (retries, multi-second timeouts, several dial attempts) would hide the
// faults the harness injects.
func (c Config) clientOptions(ep endpoint.Endpoint) *redis.Options {
	return &redis.Options{
		Addr:                  ep.Addr,
		Username:              ep.Username,
		Password:              ep.Password,
		DB:                    ep.DB,
		TLSConfig:             ep.TLS,
		DialTimeout:           c.Timeout,
		ReadTimeout:           c.Timeout,
		WriteTimeout:          c.Timeout,
		ContextTimeoutEnabled: true, // a context deadline bounds a command
		MaxRetries:            -1,
		DialerRetries:         1,
		PoolSize:              c.PoolSize,
		// Keep the pool full (see conn.go): a connection lost to a
		// timeout is replaced outside the budget of the command that
		// lost it.
		MinIdleConns:    c.PoolSize,
		PoolTimeout:     c.Timeout,
		DisableIdentity: true,
		// RESP2: with RESP3 go-redis peeks every connection for push
		// notifications before each command, one more syscall per command
		// (13 % of the harness's CPU profile); locks need no pushes.
		Protocol: 2,
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
		// Pipelines (token-wait's SET+WAIT) use the main pool, which
		// warm-up fills: go-redis's dedicated pipeline pool never
		// pre-dials, so each of its connections would be dialled inside
		// a timed acquire.
		PipelinePoolSize: -1,
	}
}

// DefaultNodeTimeout is the per-node timeout of Redlock-family acquires
// when none is set: the top of redis.io's range ("if the auto-release time
// is 10 seconds, the timeout could be in the ~ 5-50 milliseconds range"),
// which a loaded 2-CPU machine and the docker provider's extra hop meet.
// The old default, TTL/50 (10 ms at a 500 ms TTL), was below the
// scheduling delay of a busy machine: every acquire timed out.
const DefaultNodeTimeout = 50 * time.Millisecond

// NodeTimeoutFor is the per-node bound of a Redlock-family acquire of ttl:
// Config.NodeTimeout when set, else DefaultNodeTimeout but at most TTL/4,
// so that a short lease keeps most of its validity.
func (c Config) NodeTimeoutFor(ttl time.Duration) time.Duration {
	if c.NodeTimeout > 0 {
		return c.NodeTimeout
	}
	return min(DefaultNodeTimeout, ttl/4)
}

// drift is the clock-drift allowance of the Redlock paper, applied by every
// strategy that tracks validity: TTL·1 % + 2 ms.
func drift(ttl time.Duration) time.Duration { return ttl/100 + 2*time.Millisecond }

// newToken returns 16 random bytes, hex encoded.
func newToken() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}

// classify wraps a command error into one of the typed errors. what is the
// sentinel for a certain failure of this operation (ErrNotObtained for
// acquire, nil for release/extend, where only ErrUnreachable applies).
func classify(err error, acquire bool) error {
	if err == nil {
		return nil
	}
	var nr *noRetry
	if errors.As(err, &nr) {
		err = nr.err // a cluster node's error, hidden from go-redis's retries
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		if acquire {
			return fmt.Errorf("%w: %w: %w", ErrNotObtained, ErrUnreachable, err)
		}
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	if acquire && refused(err) {
		// The server turned the command away before running it.
		return fmt.Errorf("%w: %w", ErrNotObtained, err)
	}
	if errors.Is(err, redis.ErrPoolTimeout) {
		// Waited for a free connection: nothing was sent.
		if acquire {
			return fmt.Errorf("%w: %w", ErrNotObtained, err)
		}
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	return fmt.Errorf("%w: %w", ErrUnknown, err)
}

// refused reports whether err is a reply with which a server turns a
// command away before running it: a replica asked to write (a demoted
// primary), a key of another node's slot, a cluster or primary not ready.
func refused(err error) bool {
	var r redis.Error
	if !errors.As(err, &r) {
		return false
	}
	for _, p := range []string{"READONLY ", "MOVED ", "ASK ", "CLUSTERDOWN ", "TRYAGAIN ", "LOADING ", "MASTERDOWN ", "NOREPLICAS "} {
		if strings.HasPrefix(r.Error(), p) {
			return true
		}
	}
	return false
}

// Strategy is a registered lock strategy.
type Strategy struct {
	// Name is what users type (--locks).
	Name string
	// Description is one line on what it does and its known hazard.
	Description string
	// Params describes the parameters it honours.
	Params string
	// MultiNode is true when it uses every node (Redlock family).
	MultiNode bool
	// SeedFaithful is true for the tutorial locks whose bugs are kept.
	SeedFaithful bool
	// Canary is true for nolock: never in defaults, must always be caught.
	Canary bool
	// Replicated is true when it needs replicas of its node (token-wait's
	// WAIT): on standalone nodes its warm-up refuses to run.
	Replicated bool
	// PlainRelease is true when a release is a DEL that does not check
	// ownership: sent late, it frees another holder's lock.
	PlainRelease bool
	// New builds a locker.
	New func(Config) (Locker, error)
}

// Builtin returns every strategy, in documentation order.
func Builtin() []Strategy {
	single := "nodes[0]; ttl; retry policy; command timeout"
	return []Strategy{
		{Name: "setnx", SeedFaithful: true, PlainRelease: true, Params: "nodes[0]; retry policy (the TTL is ignored: no expiry)",
			Description: "SETNX key 1, release DEL; no TTL: a holder that dies deadlocks the key forever", New: newSetNX},
		{Name: "setnx-expire", SeedFaithful: true, PlainRelease: true, Params: single,
			Description: "SETNX then EXPIRE as two commands, release DEL; a crash between them leaves a key with no TTL", New: newSetNXExpire},
		{Name: "set-nx-ex", SeedFaithful: true, PlainRelease: true, Params: single + " (rounded up to whole seconds)",
			Description: "SET key 1 NX EX ttl, release DEL; a DEL after expiry deletes the next holder's lock", New: newSetNXEX},
		{Name: "token", Params: single,
			Description: "SET key random NX PX ttl, Lua compare-and-delete/-pexpire; unsafe if the holder pauses past its lease", New: newTokenLocker},
		{Name: "fenced", Params: single,
			Description: "token plus an INCR fencing counter handed to the resource, which rejects stale writes", New: newFenced},
		{Name: "token-wait", Replicated: true, Params: single + "; WAIT for Replicas (default 1) within the per-node timeout",
			Description: "token, then WAIT until a replica acknowledged, else undone (Redisson's mitigation); unsafe when a replica without the lock is promoted", New: newTokenWait},
		{Name: "redlock", MultiNode: true, Params: "all nodes; ttl; per-node timeout; retry policy with random delay",
			Description: "redis.io Redlock: majority of N nodes, validity = TTL − elapsed − drift; unsafe under restarts without fsync and clock jumps", New: newRedlock},
		{Name: "redsync", MultiNode: true, Params: "all nodes; ttl; retry policy",
			Description: "go-redsync/redsync v4 (Redlock) over the same nodes; hazards as redlock", New: newRedsync},
		{Name: "redislock", Params: single,
			Description: "bsm/redislock on one node; hazards as token", New: newRedislock},
		{Name: "nolock", Canary: true, Params: "none",
			Description: "grants every request: a canary the checker must always catch", New: newNoLock},
	}
}

// Lookup returns the strategy called name.
func Lookup(name string) (Strategy, error) {
	all := Builtin()
	names := make([]string, len(all))
	for i, s := range all {
		if s.Name == name {
			return s, nil
		}
		names[i] = s.Name
	}
	sort.Strings(names)
	return Strategy{}, fmt.Errorf("%q (known: %s): %w", name, strings.Join(names, ", "), ErrUnknownStrategy)
}
