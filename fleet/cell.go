package fleet

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/lockbench/lockbench/fleet/wire"
	"github.com/lockbench/lockbench/history"
	"github.com/lockbench/lockbench/workloads"
)

// Timeouts of a cell's exchanges with its agents.
const (
	// readyTimeout bounds an agent's preparation: building its lockers
	// and proving their connections.
	readyTimeout = time.Minute
	// pongTimeout bounds one clock probe.
	pongTimeout = 5 * time.Second
	// resultGrace is how long after the workload's duration an agent's
	// result may take: operations in flight complete (each bounded by the
	// command timeout) and the share is encoded.
	resultGrace = 30 * time.Second
	// cancelGrace is how long an agent has to answer a cancel with its
	// result.
	cancelGrace = 10 * time.Second
	// probes is how many ping-pongs measure an agent's clock; the one with
	// the shortest round trip is kept (its bound is the tightest).
	probes = 16
)

// Clock is one measurement of an agent's clock against the controller's:
// the agent reads Offset ns more than the controller at the same instant,
// give or take Uncertainty (half the probe's round trip, RTT).
type Clock struct {
	Offset, Uncertainty, RTT int64
}

// measure probes the agent's clock; now is the controller's clock.
func (a *Agent) measure(ctx context.Context, now func() int64) (Clock, error) {
	best := Clock{RTT: math.MaxInt64}
	for seq := 1; seq <= probes; seq++ {
		t0 := now()
		if err := a.conn.Send(&wire.Message{Type: wire.TypePing, Seq: seq}); err != nil {
			return Clock{}, fmt.Errorf("%w: agent %s: %w", ErrAgent, a.Name, err)
		}
		m, err := a.next(ctx, pongTimeout, wire.TypePong)
		if err != nil {
			return Clock{}, err
		}
		t1 := now()
		if m.Seq != seq {
			return Clock{}, fmt.Errorf("%w: agent %s answered probe %d to probe %d", wire.ErrProtocol, a.Name, m.Seq, seq)
		}
		// The agent read its clock somewhere in [t0, t1]: its offset is
		// in [AgentNs−t1, AgentNs−t0]; the midpoint is off by at most
		// half the round trip.
		if rtt := t1 - t0; rtt < best.RTT {
			best = Clock{Offset: m.AgentNs - t0 - rtt/2, Uncertainty: (rtt + 1) / 2, RTT: rtt}
		}
	}
	return best, nil
}

// CellSpec is one cell to run on the agents.
type CellSpec struct {
	// Assign is the cell's assignment; RunCell fills in each agent's
	// Workers and its share of Spec.Ops.
	Assign wire.Assign
	// History is the cell's history: each agent worker gets a stream of
	// its own, events mapped onto Clock.
	History *history.Writer
	// Clock is the controller's clock, the history's.
	Clock history.Clock
}

// AgentShare is what one agent did in a cell.
type AgentShare struct {
	// Name and Index identify the agent.
	Name  string
	Index int
	// Workers are the workers it ran.
	Workers []int
	// Share is its measurements (nil if it sent none).
	Share *workloads.Share
	// Start is its clock measured before the cell, End after it.
	// Uncertainty is the bound recorded for its processes' times:
	// Start's, or End's plus the drift between the two when that is more
	// (the mapping used Start's offset throughout).
	Start, End  Clock
	Uncertainty int64
	// Processes is how many history processes its workers ran as
	// (crashes start new ones).
	Processes int
}

// Cell is a cell prepared on every agent, waiting for Start.
type Cell struct {
	c      *Controller
	spec   CellSpec
	sinks  []*sink
	shares []AgentShare
	start  time.Time
}

// Prepare hands every agent its share of the cell, waits until all are
// ready (their lockers connected), measures their clocks, and opens a
// history stream for each of their workers. Start releases them.
func (c *Controller) Prepare(ctx context.Context, spec CellSpec) (*Cell, error) {
	n := len(c.agents)
	if n == 0 {
		return nil, fmt.Errorf("%w: no agents registered", ErrAgent)
	}
	s := spec.Assign.Spec
	workers := split(s.Clients, n)
	cell := &Cell{c: c, spec: spec, sinks: make([]*sink, n), shares: make([]AgentShare, n)}
	for j, a := range c.agents {
		as := spec.Assign
		as.Workers = workers[j]
		as.Spec.Ops = shareOps(s.Ops, s.Clients, workers, j)
		cell.shares[j] = AgentShare{Name: a.Name, Index: a.Index, Workers: workers[j]}
		if len(as.Workers) == 0 {
			continue // more agents than clients: this one sits the cell out
		}
		if err := a.conn.Send(&wire.Message{Type: wire.TypeAssign, Assign: &as}); err != nil {
			return nil, fmt.Errorf("%w: agent %s: %w", ErrAgent, a.Name, err)
		}
	}
	for j, a := range c.agents {
		if len(workers[j]) == 0 {
			continue
		}
		if _, err := a.next(ctx, readyTimeout, wire.TypeReady); err != nil {
			return nil, err
		}
	}
	for j, a := range c.agents {
		if len(workers[j]) == 0 {
			continue
		}
		clk, err := a.measure(ctx, spec.Clock.Now)
		if err != nil {
			return nil, err
		}
		cell.shares[j].Start = clk
		sk := &sink{agent: a.Name, offset: clk.Offset, uncertainty: clk.Uncertainty, seen: map[int]bool{}, crashed: map[int]bool{}}
		for range workers[j] {
			sk.streams = append(sk.streams, spec.History.Stream())
		}
		cell.sinks[j] = sk
		a.mu.Lock()
		a.sink = sk
		a.mu.Unlock()
	}
	return cell, nil
}

// Start releases every agent at once: the start barrier.
func (cl *Cell) Start() error {
	cl.start = time.Now()
	var errs []error
	for j, a := range cl.c.agents {
		if cl.sinks[j] == nil {
			continue
		}
		if err := a.conn.Send(&wire.Message{Type: wire.TypeStart}); err != nil {
			errs = append(errs, fmt.Errorf("%w: agent %s: %w", ErrAgent, a.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Wait collects every agent's result, cancelling them when ctx ends,
// measures their clocks again and records the clock events of the cell's
// end. It returns what each agent did; an agent lost or silent is an
// error wrapping ErrAgent (what arrived before is in the history).
func (cl *Cell) Wait(ctx context.Context) ([]AgentShare, error) {
	limit := cl.spec.Assign.Spec.Duration + resultGrace
	if cl.spec.Assign.Spec.Duration == 0 {
		limit = time.Hour // an op budget: bounded by the ops, and by this
	}
	var (
		wg   sync.WaitGroup
		errs = make([]error, len(cl.c.agents))
	)
	for j, a := range cl.c.agents {
		if cl.sinks[j] == nil {
			continue
		}
		wg.Go(func() {
			m, err := a.result(ctx, time.Until(cl.start.Add(limit)))
			if err == nil && m.Error != "" {
				err = fmt.Errorf("%w: agent %s: %s", ErrAgent, a.Name, m.Error)
			}
			if m != nil {
				cl.shares[j].Share = m.Result
			}
			errs[j] = err
		})
	}
	wg.Wait()
	for j, a := range cl.c.agents {
		sk := cl.sinks[j]
		if sk == nil {
			continue
		}
		a.mu.Lock()
		a.sink = nil
		a.mu.Unlock()
		live := sk.finish()
		cl.shares[j].Processes = len(sk.seen)
		if sk.broken != nil && errs[j] == nil {
			errs[j] = sk.broken
		}
		if errs[j] != nil {
			continue
		}
		end, err := a.measure(context.WithoutCancel(ctx), cl.spec.Clock.Now)
		if err != nil {
			errs[j] = err
			continue
		}
		cl.shares[j].End = end
		drift := end.Offset - cl.shares[j].Start.Offset
		u := max(cl.shares[j].Start.Uncertainty, abs(drift)+end.Uncertainty)
		cl.shares[j].Uncertainty = u
		now := cl.spec.Clock.Now()
		for _, p := range live {
			if err := cl.spec.History.Append(&history.Event{Time: now, Process: p, Type: history.ClockSample, Target: a.Name, Offset: end.Offset, Uncertainty: u}); err != nil {
				errs[j] = err
				break
			}
		}
	}
	return cl.shares, errors.Join(errs...)
}

// result waits for the agent's result: within timeout, or, once ctx
// ends, within cancelGrace of the cancel it then sends.
func (a *Agent) result(ctx context.Context, timeout time.Duration) (*wire.Message, error) {
	m, err := a.next(ctx, max(timeout, time.Second), wire.TypeResult)
	if err == nil || ctx.Err() == nil {
		return m, err
	}
	_ = a.conn.Send(&wire.Message{Type: wire.TypeCancel})
	return a.next(context.WithoutCancel(ctx), cancelGrace, wire.TypeResult)
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// sink maps one agent's stream of events onto the controller's timeline
// and into the history. Only the agent's reader goroutine calls take and
// lost; finish runs after the reader stopped handing it messages.
type sink struct {
	agent       string
	offset      int64
	uncertainty int64
	mu          sync.Mutex
	streams     []*history.Stream
	closed      []bool
	seen        map[int]bool
	crashed     map[int]bool
	broken      error
}

// take handles one event, idle or closed message.
func (s *sink) take(m *wire.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.Recorder < 0 || m.Recorder >= len(s.streams) {
		s.broken = fmt.Errorf("%w: agent %s sent recorder %d of %d", wire.ErrProtocol, s.agent, m.Recorder, len(s.streams))
		return
	}
	if s.closed == nil {
		s.closed = make([]bool, len(s.streams))
	}
	st := s.streams[m.Recorder]
	if s.closed[m.Recorder] {
		return
	}
	switch m.Type {
	case wire.TypeIdle:
		_ = st.Idle(m.AgentNs - s.offset) // a write error stays with the history
	case wire.TypeClosed:
		s.closed[m.Recorder] = true
		_ = st.Close()
	case wire.TypeEvent:
		e := m.Event
		if e == nil {
			return
		}
		e.Time -= s.offset
		if e.Deadline != 0 {
			e.Deadline -= s.offset
		}
		if e.Type != history.Nemesis && !s.seen[e.Process] {
			// Before a process's first event: how far its times can be
			// off the controller's timeline.
			s.seen[e.Process] = true
			st.Append(&history.Event{Time: e.Time, Process: e.Process, Type: history.ClockSample, Target: s.agent, Offset: s.offset, Uncertainty: s.uncertainty})
		}
		if e.Type == history.Crash {
			s.crashed[e.Process] = true
		}
		st.Append(e)
	}
}

// lost: the agent's connection ended; its streams are closed so that the
// history's checkpoints go on.
func (s *sink) lost() { s.finish() }

// finish closes the streams still open and returns the processes that
// appeared and did not crash.
func (s *sink) finish() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed == nil {
		s.closed = make([]bool, len(s.streams))
	}
	for i, st := range s.streams {
		if !s.closed[i] {
			s.closed[i] = true
			_ = st.Close()
		}
	}
	var live []int
	for _, p := range sortedKeys(s.seen) {
		if !s.crashed[p] {
			live = append(live, p)
		}
	}
	return live
}
