// Package agent is `bench agent`: the bench binary in worker mode. An
// agent dials its controller, registers under its index, and then, cell
// after cell, builds the lockers of its share of the clients, waits for
// the start barrier, runs them with its own monotonic clock and streams
// every history event and, at the end, its measurements back. The
// controller owns everything else: the schedule, the faults, the history,
// the clock mapping and the checker.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockbench/lockbench/endpoint"
	"github.com/lockbench/lockbench/fleet/wire"
	"github.com/lockbench/lockbench/history"
	"github.com/lockbench/lockbench/locks"
	"github.com/lockbench/lockbench/workloads"
)

// Config is one agent.
type Config struct {
	// Controller is the controller's host:port.
	Controller string
	// Token is the run's token (LOCKBENCH_AGENT_TOKEN).
	Token string
	// Name names the agent in the history (clock events) and the summary;
	// Index is its place among the run's agents (0-based, unique).
	Name  string
	Index int
	// DialTimeout is how long the agent keeps trying to reach the
	// controller (a pod may start before the controller's Service has an
	// endpoint); zero means a minute.
	DialTimeout time.Duration
	// ClockOffset is added to every reading of the agent's clock: a
	// skewed clock, for tests of the clock mapping. PongDelay delays every
	// answer to a clock probe, which widens the measured uncertainty. Both
	// are test-only.
	ClockOffset, PongDelay time.Duration
	// Log hears what the agent does, a line at a time; nil discards.
	Log io.Writer
}

// ErrRefused: the controller refused the agent (token, version, index).
var ErrRefused = errors.New("controller refused the agent")

// Run is the agent's life: it returns nil when the controller says bye,
// an error when the controller cannot be reached, refuses it, or goes
// away, and ctx's error when ctx ends (its work in flight is cancelled).
func Run(ctx context.Context, cfg Config) error {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = time.Minute
	}
	nc, err := dial(ctx, cfg.Controller, cfg.DialTimeout)
	if err != nil {
		return err
	}
	conn := wire.NewConn(nc)
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() }) // unblock Recv
	defer stop()

	if err := conn.Send(&wire.Message{Type: wire.TypeHello, Version: wire.Version, Agent: cfg.Name, Index: cfg.Index, Token: cfg.Token}); err != nil {
		return err
	}
	m, err := conn.Recv()
	if err != nil {
		return orCtx(ctx, fmt.Errorf("controller %s: %w", cfg.Controller, err))
	}
	if m.Type != wire.TypeWelcome {
		return fmt.Errorf("%w: %s", ErrRefused, m.Error)
	}
	fmt.Fprintf(cfg.Log, "agent %s (index %d): registered with %s\n", cfg.Name, cfg.Index, cfg.Controller)

	var cur *cell
	defer func() {
		if cur != nil {
			cur.stop()
		}
	}()
	for {
		m, err := conn.Recv()
		if err != nil {
			return orCtx(ctx, fmt.Errorf("controller %s: %w", cfg.Controller, err))
		}
		switch m.Type {
		case wire.TypeBye:
			fmt.Fprintf(cfg.Log, "agent %s: done\n", cfg.Name)
			return nil
		case wire.TypeAssign:
			if cur != nil {
				cur.stop()
			}
			cur = nil
			c, err := prepare(ctx, cfg, conn, m.Assign)
			if err != nil {
				if serr := conn.Send(&wire.Message{Type: wire.TypeError, Error: err.Error()}); serr != nil {
					return serr
				}
				continue
			}
			cur = c
			if err := conn.Send(&wire.Message{Type: wire.TypeReady}); err != nil {
				return err
			}
		case wire.TypePing:
			if cfg.PongDelay > 0 {
				time.Sleep(cfg.PongDelay)
			}
			var now int64
			if cur != nil {
				now = cur.clock.Now()
			}
			if err := conn.Send(&wire.Message{Type: wire.TypePong, Seq: m.Seq, AgentNs: now}); err != nil {
				return err
			}
		case wire.TypeStart:
			if cur == nil {
				return fmt.Errorf("%w: start before any assignment", wire.ErrProtocol)
			}
			cur.start(ctx)
		case wire.TypeCancel:
			if cur != nil {
				cur.cancel()
			}
		default:
			return fmt.Errorf("%w: unexpected %q from the controller", wire.ErrProtocol, m.Type)
		}
	}
}

// orCtx is ctx's error when ctx ended (the cause of a broken connection),
// else err.
func orCtx(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// dial tries to reach addr until timeout, every half second.
func dial(ctx context.Context, addr string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("cannot reach the controller at %s within %v: %w", addr, timeout, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// clockOrigin is how long before a cell's assignment the agent's clock
// for the cell reads zero. Any origin would do, as another host's clock
// has its own and the controller measures the offset; this one keeps
// readings positive (the history format's times are) under a test skew
// of up to that much behind.
const clockOrigin = 10 * time.Second

// skewedClock is the agent's clock for one cell: a monotonic clock from
// clockOrigin before the cell was assigned, plus the test-only offset.
type skewedClock struct {
	c      history.Clock
	offset int64
}

func (k skewedClock) Now() int64           { return k.c.Now() + k.offset }
func (k skewedClock) At(t time.Time) int64 { return k.c.At(t) + k.offset }

// cell is the agent's share of one cell, from assignment to result.
type cell struct {
	a       *wire.Assign
	conn    *wire.Conn
	clock   skewedClock
	env     workloads.Env
	closers []io.Closer
	log     io.Writer

	mu      sync.Mutex
	cancelF context.CancelFunc
	done    chan struct{}
}

// prepare builds the lockers and resources of an assignment and proves
// their connections, before the barrier: dialling is not the lock's work.
func prepare(ctx context.Context, cfg Config, conn *wire.Conn, a *wire.Assign) (*cell, error) {
	if a == nil || len(a.Groups) == 0 {
		return nil, fmt.Errorf("%w: an assignment without groups", wire.ErrProtocol)
	}
	strategy, err := locks.Lookup(a.Strategy)
	if err != nil {
		return nil, err
	}
	c := &cell{a: a, conn: conn, clock: skewedClock{c: history.NewClock(), offset: int64(clockOrigin + cfg.ClockOffset)}, log: cfg.Log}
	spec := a.Spec
	groups := max(spec.Groups, 1)
	perGroup := (spec.Clients + groups - 1) / groups
	for _, g := range a.Groups {
		eps := make([]endpoint.Endpoint, len(g.Nodes))
		for i, n := range g.Nodes {
			eps[i] = endpointOf(n)
		}
		l, err := strategy.New(locks.Config{Nodes: eps, Timeout: a.Timeout, NodeTimeout: a.NodeTimeout, PoolSize: perGroup + 1,
			Retry: spec.Retry, Deployment: g.Deployment})
		if err != nil {
			c.stop()
			return nil, err
		}
		c.closers = append(c.closers, l)
		c.env.Lockers = append(c.env.Lockers, l)
		opts := endpointOf(g.Resource).ClientOptions("")
		opts.PoolSize = perGroup + 1
		opts.ReadTimeout, opts.WriteTimeout = time.Minute, time.Minute // a delayed write must arrive, late
		rc := redis.NewClient(opts)
		c.closers = append(c.closers, rc)
		res := workloads.NewResource(rc)
		if g.ResourceWrites != "" {
			wopts := *opts
			wopts.Addr = g.ResourceWrites
			wc := redis.NewClient(&wopts)
			c.closers = append(c.closers, wc)
			res = workloads.NewResourceDelayedWrites(rc, wc)
		}
		c.env.Resources = append(c.env.Resources, res)
	}
	for _, l := range c.env.Lockers {
		if w, ok := l.(locks.Warmer); ok {
			if err := w.Warm(ctx); err != nil {
				c.stop()
				return nil, fmt.Errorf("agent %s: %w", cfg.Name, err)
			}
		}
	}
	c.env.Clock = c.clock
	c.env.KeyPrefix = a.KeyPrefix
	var next atomic.Int32
	c.env.NewRecorder = func() workloads.Recorder {
		return &recorder{id: int(next.Add(1) - 1), conn: conn}
	}
	fmt.Fprintf(cfg.Log, "agent %s: cell %s, %d workers of %d\n", cfg.Name, a.Cell, len(a.Workers), spec.Clients)
	return c, nil
}

func endpointOf(n wire.Node) endpoint.Endpoint {
	return endpoint.Endpoint{Addr: n.Addr, Username: n.Username, Password: n.Password, DB: n.DB}
}

// start runs the share in the background; the result goes to the
// controller when it ends.
func (c *cell) start(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	c.mu.Lock()
	c.cancelF, c.done = cancel, make(chan struct{})
	c.mu.Unlock()
	go func() {
		defer close(c.done)
		defer cancel()
		share, err := workloads.RunShare(ctx, c.a.Spec, c.env, c.a.Workers)
		m := &wire.Message{Type: wire.TypeResult, Result: share}
		if share == nil {
			share = &workloads.Share{}
			m.Result = share
		}
		if err != nil {
			m.Error = err.Error()
		}
		if serr := c.conn.Send(m); serr != nil {
			fmt.Fprintf(c.log, "agent: result not sent: %v\n", serr)
		}
	}()
}

// cancel stops the running share; it still sends its result.
func (c *cell) cancel() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancelF != nil {
		c.cancelF()
	}
}

// stop cancels the share, waits for it and closes the cell's clients.
func (c *cell) stop() {
	c.cancel()
	c.mu.Lock()
	done := c.done
	c.mu.Unlock()
	if done != nil {
		<-done
	}
	for _, cl := range c.closers {
		_ = cl.Close()
	}
	c.closers = nil
}

// recorder streams one worker's events to the controller. Events are
// queued (written within a few ms); idle and closed go at once, as the
// controller's checkpoints wait for them.
type recorder struct {
	id   int
	conn *wire.Conn
}

func (r *recorder) Append(e *history.Event) {
	ev := *e
	_ = r.conn.Queue(&wire.Message{Type: wire.TypeEvent, Recorder: r.id, Event: &ev}) // a broken connection ends the agent through Recv
}

// Idle tells the controller the worker waits: every later event is at
// now or after.
func (r *recorder) Idle(now int64) error {
	return r.conn.Send(&wire.Message{Type: wire.TypeIdle, Recorder: r.id, AgentNs: now})
}

// Close tells the controller the worker is done.
func (r *recorder) Close() error {
	return r.conn.Send(&wire.Message{Type: wire.TypeClosed, Recorder: r.id})
}
