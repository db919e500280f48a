package checker

import (
	"testing"

	"github.com/anishathalye/porcupine"
	"github.com/lockbench/lockbench/history"
)

// TestStep is the model's transition table.
func TestStep(t *testing.T) {
	free := modelState{owner: noOwner}
	held := modelState{owner: 3, fence: 5}
	tests := []struct {
		name   string
		s      modelState
		in     modelInput
		ok     bool
		result modelState
	}{
		{"acquire free", free, modelInput{kind: opAcquire, belief: 1}, true, modelState{owner: 1}},
		{"acquire held", held, modelInput{kind: opAcquire, belief: 1}, false, held},
		{"acquire with a higher fence", modelState{owner: noOwner, fence: 5}, modelInput{kind: opAcquire, belief: 1, fence: 6}, true, modelState{owner: 1, fence: 6}},
		{"acquire with an equal fence", modelState{owner: noOwner, fence: 5}, modelInput{kind: opAcquire, belief: 1, fence: 5}, false, modelState{owner: noOwner, fence: 5}},
		{"acquire with a lower fence", modelState{owner: noOwner, fence: 5}, modelInput{kind: opAcquire, belief: 1, fence: 4}, false, modelState{owner: noOwner, fence: 5}},
		{"acquire without fence keeps the last", modelState{owner: noOwner, fence: 5}, modelInput{kind: opAcquire, belief: 1}, true, modelState{owner: 1, fence: 5}},
		{"end of the owner", held, modelInput{kind: opEnd, belief: 3}, true, modelState{owner: noOwner, fence: 5}},
		{"end of another belief", held, modelInput{kind: opEnd, belief: 4}, true, held},
		{"end when free", free, modelInput{kind: opEnd, belief: 4}, true, free},
		{"fence only, higher", held, modelInput{kind: opFence, fence: 7}, true, modelState{owner: 3, fence: 7}},
		{"fence only, lower", held, modelInput{kind: opFence, fence: 2}, false, held},
	}
	for _, tt := range tests {
		ok, got := step(tt.s, tt.in)
		if ok != tt.ok || (ok && got != tt.result) {
			t.Errorf("%s: step = %v, %+v; want %v, %+v", tt.name, ok, got, tt.ok, tt.result)
		}
	}
}

// TestDesignLiteralModel shows why the model's owner is the belief: DESIGN
// §5's model taken literally (owner = process, every release kept) finds a
// linearization of release-info-earlier-belief-illegal — an info release
// left over from a belief that had already expired takes effect inside
// the process's next belief — although two processes believed they held
// the key at once. Our model convicts it.
func TestDesignLiteralModel(t *testing.T) {
	events := readTestdata(t, "release-info-earlier-belief-illegal")
	type in struct {
		op   string // acquire, release, end
		proc int
	}
	literal := porcupine.Model{
		Init: func() any { return -1 },
		Step: func(state, input, _ any) (bool, any) {
			owner, i := state.(int), input.(in)
			switch i.op {
			case "acquire":
				return owner == -1, i.proc
			default: // release, deadline: owner := none if owner is p
				if owner == i.proc {
					return true, -1
				}
				return true, owner
			}
		},
	}
	end := events[len(events)-1].Time
	var ops []porcupine.Operation
	inv := map[int]history.Event{}
	for _, e := range events {
		switch {
		case e.Type == history.Invoke:
			inv[e.Process] = e
			if e.Op == history.Release {
				// Any outcome; info = any time after: keep it open.
				ops = append(ops, porcupine.Operation{Input: in{"release", e.Process}, Call: e.Time, Return: end})
			}
		case e.Op == history.Acquire && e.Type == history.OK:
			ops = append(ops, porcupine.Operation{Input: in{"acquire", e.Process}, Call: inv[e.Process].Time, Return: e.Time})
			if e.Deadline != 0 {
				ops = append(ops, porcupine.Operation{Input: in{"end", e.Process}, Call: e.Deadline, Return: e.Deadline})
			}
		}
	}
	if !porcupine.CheckOperations(literal, ops) {
		t.Fatal("the literal model convicts this history; the deviation is unnecessary")
	}
	if msg := agreement(events); msg != "" {
		t.Fatal(msg)
	}
	d := digestEvents(events, int64(MinStallBound))
	if v := searchOps(newModel(d, nil), keyOperations(d, 0, nil), farFuture()); v != searchIllegal {
		t.Fatalf("our model: %v, want illegal", v)
	}
}
