package fleet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/lockbench/lockbench/fleet/wire"
)

// ErrAgent marks a run that its agents could not carry: one did not
// register in time, refused its share, or went away mid-cell.
var ErrAgent = errors.New("agent failed")

// Controller is the run's side of its agents: it listens, registers
// them, and drives them cell by cell (see RunCell).
type Controller struct {
	ln     net.Listener
	token  string
	agents []*Agent
}

// Agent is one registered agent, as the controller sees it.
type Agent struct {
	// Name and Index are what the agent registered with.
	Name  string
	Index int

	conn *wire.Conn
	// ctrl carries every message but the event stream (which the reader
	// hands to the cell's sink); its last message is the read error.
	ctrl chan *wire.Message
	mu   sync.Mutex
	sink *sink
	err  error // set once the connection is gone
}

// Listen opens the controller's port on addr (host:port; port 0 picks
// one). Agents must present token.
func Listen(addr, token string) (*Controller, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("agents: listen on %s: %w", addr, err)
	}
	return &Controller{ln: ln, token: token}, nil
}

// Port is the port agents dial.
func (c *Controller) Port() int { return c.ln.Addr().(*net.TCPAddr).Port }

// Agents are the registered agents by index.
func (c *Controller) Agents() []*Agent { return c.agents }

// Accept waits until n agents with indexes 0..n-1 have registered, or ctx
// ends. A connection with the wrong token or protocol version, or an index
// already taken or out of range, is refused and closed; the wait goes on.
func (c *Controller) Accept(ctx context.Context, n int) error {
	type result struct {
		a   *Agent
		err error
	}
	got := make(chan result)
	acceptCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		for {
			nc, err := c.ln.Accept()
			if err != nil {
				select {
				case got <- result{err: err}:
				case <-acceptCtx.Done():
				}
				return
			}
			go func() {
				a, err := c.handshake(nc, n)
				select {
				case got <- result{a, err}:
				case <-acceptCtx.Done():
					if a != nil {
						_ = a.conn.Close()
					}
				}
			}()
		}
	}()
	byIndex := make(map[int]*Agent, n)
	var refused []string
	for len(byIndex) < n {
		select {
		case <-ctx.Done():
			// Unblock the accept loop: the listener is useless now.
			_ = c.ln.Close()
			for _, a := range byIndex {
				_ = a.conn.Close()
			}
			why := ""
			if len(refused) > 0 {
				why = "; refused: " + refused[len(refused)-1]
			}
			return fmt.Errorf("%w: %d of %d agents registered (%v)%s", ErrAgent, len(byIndex), n, context.Cause(ctx), why)
		case r := <-got:
			if r.err != nil {
				refused = append(refused, r.err.Error())
				continue
			}
			if byIndex[r.a.Index] != nil {
				refused = append(refused, fmt.Sprintf("agent %s took index %d, already registered", r.a.Name, r.a.Index))
				_ = r.a.conn.Send(&wire.Message{Type: wire.TypeError, Error: "index taken"})
				_ = r.a.conn.Close()
				continue
			}
			byIndex[r.a.Index] = r.a
		}
	}
	_ = c.ln.Close() // every agent is here: nobody else may join
	c.agents = make([]*Agent, n)
	for i := range n {
		a := byIndex[i]
		c.agents[i] = a
		if err := a.conn.Send(&wire.Message{Type: wire.TypeWelcome}); err != nil {
			return fmt.Errorf("%w: agent %s: %w", ErrAgent, a.Name, err)
		}
		go a.read()
	}
	return nil
}

// handshake reads a hello and checks it.
func (c *Controller) handshake(nc net.Conn, n int) (*Agent, error) {
	conn := wire.NewConn(nc)
	refuse := func(why string) (*Agent, error) {
		_ = conn.Send(&wire.Message{Type: wire.TypeError, Error: why})
		_ = conn.Close()
		return nil, fmt.Errorf("%s: %s", conn.RemoteAddr(), why)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	m, err := conn.Recv()
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("%s: no hello: %w", conn.RemoteAddr(), err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	switch {
	case m.Type != wire.TypeHello:
		return refuse(fmt.Sprintf("said %q before hello", m.Type))
	case m.Token != c.token:
		return refuse("wrong token (LOCKBENCH_AGENT_TOKEN)")
	case m.Version != wire.Version:
		return refuse(fmt.Sprintf("speaks agent protocol %d, the controller %d: run the same bench build on both ends", m.Version, wire.Version))
	case m.Index < 0 || m.Index >= n:
		return refuse(fmt.Sprintf("index %d is outside 0..%d", m.Index, n-1))
	}
	name := m.Agent
	if name == "" {
		name = "agent-" + strconv.Itoa(m.Index)
	}
	return &Agent{Name: name, Index: m.Index, conn: conn, ctrl: make(chan *wire.Message, 256)}, nil
}

// read is the agent's reader: stream messages go to the cell's sink, the
// rest to ctrl. When the connection ends it records why and closes ctrl.
func (a *Agent) read() {
	defer close(a.ctrl)
	for {
		m, err := a.conn.Recv()
		if err != nil {
			a.mu.Lock()
			a.err = err
			s := a.sink
			a.mu.Unlock()
			if s != nil {
				s.lost()
			}
			return
		}
		switch m.Type {
		case wire.TypeEvent, wire.TypeIdle, wire.TypeClosed:
			a.mu.Lock()
			s := a.sink
			a.mu.Unlock()
			if s != nil {
				s.take(m)
			}
		default:
			a.ctrl <- m
		}
	}
}

// lostErr says why the agent's connection is gone.
func (a *Agent) lostErr() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err == nil {
		return fmt.Errorf("%w: agent %s (index %d) went away", ErrAgent, a.Name, a.Index)
	}
	return fmt.Errorf("%w: agent %s (index %d) went away: %w", ErrAgent, a.Name, a.Index, a.err)
}

// next waits for the agent's next control message until timeout or ctx.
func (a *Agent) next(ctx context.Context, timeout time.Duration, want string) (*wire.Message, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case m, ok := <-a.ctrl:
		if !ok {
			return nil, a.lostErr()
		}
		if m.Type == wire.TypeError {
			return nil, fmt.Errorf("%w: agent %s: %s", ErrAgent, a.Name, m.Error)
		}
		if m.Type != want {
			return nil, fmt.Errorf("%w: agent %s sent %q, expected %q", wire.ErrProtocol, a.Name, m.Type, want)
		}
		return m, nil
	case <-t.C:
		return nil, fmt.Errorf("%w: agent %s sent no %s within %v", ErrAgent, a.Name, want, timeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close says bye to every agent and closes the connections and the
// listener.
func (c *Controller) Close() error {
	for _, a := range c.agents {
		_ = a.conn.Send(&wire.Message{Type: wire.TypeBye})
		_ = a.conn.Close()
	}
	_ = c.ln.Close()
	return nil
}

// split deals workers 0..clients-1 to n agents round robin: worker i to
// agent i mod n, as workers are dealt to client groups.
func split(clients, n int) [][]int {
	out := make([][]int, n)
	for i := range clients {
		out[i%n] = append(out[i%n], i)
	}
	return out
}

// shareOps is agent j's part of an op budget of ops over clients workers,
// in proportion to its workers (0 stays 0: no budget).
func shareOps(ops, clients int, workers [][]int, j int) int {
	if ops == 0 {
		return 0
	}
	before := 0
	for k := range j {
		before += len(workers[k])
	}
	// Cumulative rounding: the shares add up to ops exactly.
	return ops*(before+len(workers[j]))/clients - ops*before/clients
}

// sortedKeys is m's keys in order.
func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}
