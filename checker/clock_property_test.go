package checker

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/lockbench/lockbench/history"
)

// clockedHistory is a messy history whose processes run on agents: agent
// 0 is the recorder's own clock (no clock event), agents 1 and 2 are
// uncertain by eps[agent].
type clockedHistory struct {
	events []history.Event // with times moved 10 later, and a last event of the recorder's
	agent  map[int]int     // process → agent
	eps    [3]int64
}

// drawClocked draws a messy history (see drawMessy), puts each process on
// an agent, and ends the history with an event on the recorder's clock,
// as a recorder's end marker does: the history's end is the recorder's.
func drawClocked(t *rapid.T) clockedHistory {
	events := drawMessy(t)
	h := clockedHistory{agent: map[int]int{}}
	h.eps[1] = rapid.Int64Range(1, 6).Draw(t, "eps1")
	h.eps[2] = rapid.Int64Range(0, 6).Draw(t, "eps2")
	var last int64
	for _, e := range events {
		e.Time += 10
		if e.Deadline != 0 {
			e.Deadline += 10
		}
		if _, ok := h.agent[e.Process]; !ok {
			h.agent[e.Process] = rapid.IntRange(0, 2).Draw(t, fmt.Sprintf("agent of %d", e.Process))
		}
		h.events = append(h.events, e)
		last = e.Time
	}
	h.events = append(h.events, history.Event{Time: last + 20, Process: 1000, Type: history.Crash})
	h.agent[1000] = 0
	return h
}

// withClockEvents is h's events with a clock event at time 0 for every
// process on agent 1 or 2.
func (h *clockedHistory) withClockEvents() []history.Event {
	var clocks []history.Event
	for p, a := range h.agent {
		if a != 0 {
			clocks = append(clocks, history.Event{Time: 0, Process: p, Type: history.ClockSample,
				Target: fmt.Sprintf("agent-%d", a), Offset: int64(a) * 1000, Uncertainty: h.eps[a]})
		}
	}
	slices.SortFunc(clocks, func(x, y history.Event) int { return x.Process - y.Process })
	return append(clocks, h.events...)
}

// shifted is h's events (no clock events) with every time of agent a's
// processes moved by delta[a]: one possible truth behind the recorded
// times.
func (h *clockedHistory) shifted(delta [3]int64) []history.Event {
	out := slices.Clone(h.events)
	for i := range out {
		e := &out[i]
		dt := delta[h.agent[e.Process]]
		e.Time += dt
		if e.Deadline != 0 {
			e.Deadline += dt
		}
	}
	history.Sort(out)
	return out
}

// TestPropertyClockCertainIsSound: the certain check never says violated
// when some consistent shift of each agent's times within its
// uncertainty gives a history that is ok with exact times; it never says
// ok when the recorded times are violated; and a key it calls too close
// to call is violated on the recorded times.
func TestPropertyClockCertainIsSound(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := drawClocked(t)
		events := h.withClockEvents()
		if err := history.Validate(events); err != nil {
			t.Fatalf("generator made an invalid history: %v", err)
		}
		r, err := Check(context.Background(), events, Options{Timeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		exact, err := Check(context.Background(), h.events, Options{Timeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if exact.Mutex == MutexViolated && r.Mutex == MutexOK {
			t.Fatalf("violated on the recorded times, ok with clocks\n%s", dump(events))
		}
		for _, k := range r.TooCloseKeys {
			if !slices.ContainsFunc(exact.Witnesses, func(w Witness) bool { return w.Key == k }) {
				t.Fatalf("key %s too close to call but not violated on the recorded times: %+v\n%s", k, exact.Witnesses, dump(events))
			}
		}
		// The corners of the shifts (each agent −ε, 0 or +ε) and one
		// drawn at random.
		shifts := [][3]int64{{0, rapid.Int64Range(-h.eps[1], h.eps[1]).Draw(t, "delta1"), rapid.Int64Range(-h.eps[2], h.eps[2]).Draw(t, "delta2")}}
		for _, s1 := range []int64{-1, 0, 1} {
			for _, s2 := range []int64{-1, 0, 1} {
				shifts = append(shifts, [3]int64{0, s1 * h.eps[1], s2 * h.eps[2]})
			}
		}
		for _, delta := range shifts {
			truth := h.shifted(delta)
			if err := history.Validate(truth); err != nil {
				t.Fatalf("shifted history invalid: %v", err)
			}
			rt, err := Check(context.Background(), truth, Options{Timeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			if rt.Mutex == MutexOK && r.Mutex == MutexViolated {
				t.Fatalf("certain check violated %+v, but shifted by %v the history is ok\n%s\nshifted:\n%s", r.Witnesses, delta, dump(events), dump(truth))
			}
		}
	})
}

// TestPropertyClockZeroChangesNothing: clock events with uncertainty 0
// change no verdict, witness or unknown key; with uncertainty, an ok
// history stays ok.
func TestPropertyClockZeroChangesNothing(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := drawClocked(t)
		plain, err := Check(context.Background(), h.events, Options{Timeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		eps := h.eps
		h.eps = [3]int64{}
		zero, err := Check(context.Background(), h.withClockEvents(), Options{Timeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if zero.Mutex != plain.Mutex || zero.Resource != plain.Resource || !slices.EqualFunc(zero.Witnesses, plain.Witnesses, sameWitness) ||
			!slices.Equal(zero.UnknownKeys, plain.UnknownKeys) || zero.ClockUncertaintyMs != 0 || zero.TooCloseKeys != nil {
			t.Fatalf("ε = 0 changed the result:\n%+v\n%+v\n%s", zero, plain, dump(h.withClockEvents()))
		}
		h.eps = eps
		with, err := Check(context.Background(), h.withClockEvents(), Options{Timeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if plain.Mutex == MutexOK && with.Mutex != MutexOK {
			t.Fatalf("ok without clocks, %s with them: %+v %+v\n%s", with.Mutex, with.Witnesses, with.Uncertain, dump(h.withClockEvents()))
		}
	})
}

// sameWitness compares witnesses field by field.
func sameWitness(a, b Witness) bool {
	return fmt.Sprintf("%+v", a) == fmt.Sprintf("%+v", b)
}
