package fleet_test

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lockbench/lockbench/agent"
	"github.com/lockbench/lockbench/fleet"
	"github.com/lockbench/lockbench/fleet/wire"
	"github.com/lockbench/lockbench/history"
	"github.com/lockbench/lockbench/internal/testenv"
	"github.com/lockbench/lockbench/locks"
	"github.com/lockbench/lockbench/workloads"
)

// agents runs in-process agents against c until the test ends.
type agents struct {
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs map[string]error
}

func (a *agents) start(ctx context.Context, cfg agent.Config) {
	a.wg.Go(func() {
		err := agent.Run(ctx, cfg)
		a.mu.Lock()
		a.errs[cfg.Name] = err
		a.mu.Unlock()
	})
}

func (a *agents) err(name string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.errs[name]
}

// TestRegistration: agents with the run's token and free indexes
// register; one with the wrong token, or with an index out of range, is
// refused and told why, and the controller goes on waiting for the rest.
func TestRegistration(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := fleet.Listen("127.0.0.1:0", "tok")
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + itoa(c.Port())
	accepted := make(chan error, 1)
	go func() { accepted <- c.Accept(ctx, 2) }()
	ag := &agents{errs: map[string]error{}}
	ag.start(ctx, agent.Config{Controller: addr, Token: "wrong", Name: "intruder", Index: 0})
	ag.start(ctx, agent.Config{Controller: addr, Token: "tok", Name: "far", Index: 7})
	// The refused ones are turned away while the controller waits.
	deadline := time.Now().Add(10 * time.Second)
	for ag.err("intruder") == nil || ag.err("far") == nil {
		if time.Now().After(deadline) {
			t.Fatal("the refused agents were not refused")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, name := range []string{"intruder", "far"} {
		if !errors.Is(ag.err(name), agent.ErrRefused) {
			t.Errorf("agent %s: %v, want ErrRefused", name, ag.err(name))
		}
	}
	ag.start(ctx, agent.Config{Controller: addr, Token: "tok", Name: "a", Index: 0})
	ag.start(ctx, agent.Config{Controller: addr, Token: "tok", Name: "b", Index: 1})
	if err := <-accepted; err != nil {
		t.Fatal(err)
	}
	if got := c.Agents(); len(got) != 2 || got[0].Name != "a" || got[1].Name != "b" {
		t.Fatalf("registered %v", got)
	}
	c.Close()
	ag.wg.Wait()
	for _, name := range []string{"a", "b"} {
		if err := ag.err(name); err != nil {
			t.Errorf("agent %s after bye: %v", name, err)
		}
	}
}

// TestAcceptTimesOut: too few agents is an error wrapping ErrAgent that
// counts who came.
func TestAcceptTimesOut(t *testing.T) {
	c, err := fleet.Listen("127.0.0.1:0", "tok")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = c.Accept(ctx, 2)
	if !errors.Is(err, fleet.ErrAgent) {
		t.Fatalf("Accept with no agents: %v", err)
	}
}

// TestCellOnSkewedAgents runs a token lock on a real Redis from two
// in-process agents whose clocks are 50 ms ahead and 50 ms behind. The
// controller measures offsets 100 ms apart, maps every event onto its
// own timeline (no event lands outside the cell), records a clock event
// for every process before its first event and again after the cell,
// and the shares add up to what the history shows.
func TestCellOnSkewedAgents(t *testing.T) {
	addr := testenv.StartRedis(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := fleet.Listen("127.0.0.1:0", "tok")
	if err != nil {
		t.Fatal(err)
	}
	ag := &agents{errs: map[string]error{}}
	defer ag.wg.Wait()
	defer c.Close()
	ctrl := "127.0.0.1:" + itoa(c.Port())
	ag.start(ctx, agent.Config{Controller: ctrl, Token: "tok", Name: "ahead", Index: 0, ClockOffset: 50 * time.Millisecond})
	ag.start(ctx, agent.Config{Controller: ctrl, Token: "tok", Name: "behind", Index: 1, ClockOffset: -50 * time.Millisecond})
	if err := c.Accept(ctx, 2); err != nil {
		t.Fatal(err)
	}

	cs, path := tokenCell(t, addr, 4, time.Second)
	w, clock := cs.History, cs.Clock
	cell, err := c.Prepare(ctx, cs)
	if err != nil {
		t.Fatal(err)
	}
	if err := cell.Start(); err != nil {
		t.Fatal(err)
	}
	shares, err := cell.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	end := clock.Now()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	if len(shares) != 2 || len(shares[0].Workers) != 2 || len(shares[1].Workers) != 2 {
		t.Fatalf("shares %+v", shares)
	}
	gap := time.Duration(shares[0].Start.Offset - shares[1].Start.Offset)
	for _, sh := range shares {
		if sh.Start.Uncertainty <= 0 || sh.Start.Uncertainty > int64(20*time.Millisecond) || sh.Uncertainty < sh.Start.Uncertainty {
			t.Errorf("agent %s: uncertainty %v at the start, %v recorded", sh.Name, time.Duration(sh.Start.Uncertainty), time.Duration(sh.Uncertainty))
		}
		if sh.Share == nil || sh.Share.Counts.AcquireOK == 0 {
			t.Errorf("agent %s made no progress: %+v", sh.Name, sh.Share)
		}
	}
	// The cells' clocks start when their assignment arrives, moments
	// apart: the offsets differ by the skews' 100 ms, give or take that.
	if gap < 90*time.Millisecond || gap > 110*time.Millisecond {
		t.Errorf("offsets %v and %v are %v apart, want about 100 ms", time.Duration(shares[0].Start.Offset), time.Duration(shares[1].Start.Offset), gap)
	}

	events, err := history.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	clockEvents := map[int][]history.Event{}
	first := map[int]history.Type{}
	var oks int64
	for _, e := range events {
		if e.Time < 0 || e.Time > end {
			t.Errorf("event outside the cell [0, %d]: %v", end, e)
		}
		if e.Type == history.ClockSample {
			clockEvents[e.Process] = append(clockEvents[e.Process], e)
		}
		if _, ok := first[e.Process]; !ok {
			first[e.Process] = e.Type
		}
		if e.Type == history.OK && e.Op == history.Acquire {
			oks++
		}
	}
	for p := range 4 {
		evs := clockEvents[p]
		want := "ahead"
		if p%2 == 1 {
			want = "behind"
		}
		if len(evs) != 2 || evs[0].Target != want || first[p] != history.ClockSample {
			t.Errorf("process %d: clock events %v (first event %v), want 2 on %s, the first before anything else", p, evs, first[p], want)
		}
	}
	if got := shares[0].Share.Counts.AcquireOK + shares[1].Share.Counts.AcquireOK; got != oks {
		t.Errorf("the shares count %d acquires, the history %d", got, oks)
	}
	if _, err := locks.Lookup("token"); err != nil {
		t.Fatal(err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// tokenCell is a token-lock cell of clients on hot-key for d against the
// Redis at addr, recorded into a new history: its writer, path and the
// controller's clock.
func tokenCell(t *testing.T, addr string, clients int, d time.Duration) (fleet.CellSpec, string) {
	t.Helper()
	spec, err := workloads.Preset("hot-key")
	if err != nil {
		t.Fatal(err)
	}
	spec.Clients, spec.Duration, spec.TTL = clients, d, 500*time.Millisecond
	node := wire.Node{Addr: addr}
	a := wire.Assign{Cell: "c1", Spec: spec, KeyPrefix: "c1:", Strategy: "token", Timeout: 250 * time.Millisecond,
		Groups: []wire.Group{{Nodes: []wire.Node{node}, Resource: node}}}
	path := filepath.Join(t.TempDir(), "history.jsonl")
	w, err := history.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return fleet.CellSpec{Assign: a, History: w, Clock: history.NewClock()}, path
}

// TestAgentLostMidCell: an agent that goes away while its clients run
// ends the cell with an error naming it; the other agent's share arrives,
// and the history holds what both streamed before.
func TestAgentLostMidCell(t *testing.T) {
	addr := testenv.StartRedis(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := fleet.Listen("127.0.0.1:0", "tok")
	if err != nil {
		t.Fatal(err)
	}
	ag := &agents{errs: map[string]error{}}
	defer ag.wg.Wait()
	defer c.Close()
	ctrl := "127.0.0.1:" + itoa(c.Port())
	doomedCtx, kill := context.WithCancel(ctx)
	ag.start(ctx, agent.Config{Controller: ctrl, Token: "tok", Name: "stays", Index: 0})
	ag.start(doomedCtx, agent.Config{Controller: ctrl, Token: "tok", Name: "goes", Index: 1})
	if err := c.Accept(ctx, 2); err != nil {
		t.Fatal(err)
	}
	cs, path := tokenCell(t, addr, 2, 2*time.Second)
	w := cs.History
	cell, err := c.Prepare(ctx, cs)
	if err != nil {
		t.Fatal(err)
	}
	if err := cell.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	kill()
	shares, err := cell.Wait(ctx)
	if !errors.Is(err, fleet.ErrAgent) || !strings.Contains(err.Error(), "goes") {
		t.Errorf("Wait after an agent left: %v, want ErrAgent naming it", err)
	}
	if shares[0].Share == nil || shares[0].Share.Counts.AcquireOK == 0 {
		t.Errorf("the agent that stayed sent %+v", shares[0].Share)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	events, err := history.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	procs := map[int]bool{}
	for _, e := range events {
		if e.Type == history.Invoke {
			procs[e.Process] = true
		}
	}
	if !procs[0] || !procs[1] {
		t.Errorf("the history has operations of processes %v, want both agents' (0 and 1)", procs)
	}
}
