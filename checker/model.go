package checker

import (
	"fmt"

	"github.com/anishathalye/porcupine"
)

// The owner model of DESIGN §5 as porcupine operations.
//
// Encoding. Every belief b of process p on key k (see belief) becomes at
// most two operations on partition k:
//
//   - acquire(b, fence) with interval [acquire invoke, acquire ok]: the lock
//     was taken somewhere in there. Legal only if the owner is none and,
//     when it carries a fence, the fence is above the last one; then
//     owner := b, last fence := fence.
//   - end(b), which ends the belief: owner := none if the owner is b,
//     otherwise nothing; always legal. For a release its interval is
//     [release invoke, release completion] — the release may take effect
//     from its invoke on — and an info release (or one that never
//     completed) runs to the end of the history: any time after. A
//     deadline, a failed (fail/info) extend or a crash ends the belief at
//     one instant t: interval [t, t]. A belief held to the end of the
//     history has no end operation.
//
// The owner is the belief, not the process. DESIGN §5 writes "owner := none
// if owner is p"; with the process as owner an info release of an earlier
// belief could take effect late, inside a later belief of the same
// process, and hide an overlap of that later belief with another
// process's — a missed violation. The belief definition ties each release
// to the belief it ends (the process's next release invoke on the key), so
// that is what the model does.
//
// With that encoding, and ignoring fences, the key's history is
// linearizable exactly when no two beliefs [ok, end) overlap: given
// disjoint beliefs, putting each acquire at its ok and each end at the
// belief's end (a release at its invoke) is a legal linearization; and in
// any legal linearization the owner interval of b, [acquire point, end
// point], contains [ok, end) and owner intervals are disjoint. The overlap
// scan (overlap.go) decides that part in O(n log n) and gives witnesses;
// porcupine is the formal check, and adds the fences.
//
// Pruning. Operations that can never change the state are legal in every
// state and leave it unchanged, so they commute with every other
// operation: removing them from the history changes no linearization's
// legality. They are never built: acquire fail/info (no belief: a timed-out
// acquire that secretly succeeded gives nobody a belief), extend ok (the
// deadline it brings only moves where the belief's end operation is), a
// release, failed extend, deadline or crash that ends no belief (the
// process held nothing on the key then: its end(b) would find owner ≠ b
// in every linearization, since b's own end came earlier), and every read
// and write (checked by resource.go, not by this model).
//
// An empty belief — the acquire's ok came at or after its own deadline, so
// the process never believed it held the key — gets no owner operation
// either: it cannot break exclusion, just as a timed-out acquire cannot.
// Modelling it as acquire-then-expire would let porcupine order the
// instant deadline before the acquire and keep the key held for ever, a
// false violation for a correct lock whose reply was slow. If it carries a
// fence it keeps a fence(f) operation over [invoke, ok]: the fence was
// handed out in there, so it must fit the order of the others (legal if f
// is above the last fence; last fence := f).

// opKind is the kind of a model operation.
type opKind uint8

const (
	opAcquire opKind = iota + 1
	opEnd
	opFence
)

// noOwner is the owner of a free key.
const noOwner int32 = -1

// modelInput is a model operation; its output is always nil.
type modelInput struct {
	kind   opKind
	why    endKind // opEnd: what ended the belief
	belief int32
	proc   int
	fence  int64
}

// modelState is the state of one key: its owner (a belief id, or noOwner)
// and the last fence granted (0 = none yet).
type modelState struct {
	owner int32
	fence int64
}

// step is the model's transition function.
func step(s modelState, in modelInput) (bool, modelState) {
	switch in.kind {
	case opAcquire:
		if s.owner != noOwner || (in.fence > 0 && in.fence <= s.fence) {
			return false, s
		}
		s.owner = in.belief
		if in.fence > 0 {
			s.fence = in.fence
		}
		return true, s
	case opEnd:
		if s.owner == in.belief {
			s.owner = noOwner
		}
		return true, s
	case opFence:
		if in.fence <= s.fence {
			return false, s
		}
		s.fence = in.fence
		return true, s
	}
	return false, s
}

// newModel returns the porcupine model for d's keys. done, when closed,
// makes every step illegal so that a cancelled search ends promptly (the
// caller then discards its result); a nil done never closes.
func newModel(d *digest, done <-chan struct{}) porcupine.Model {
	return porcupine.Model{
		Partition: func(ops []porcupine.Operation) [][]porcupine.Operation {
			byKey := make(map[int32]int)
			var parts [][]porcupine.Operation
			for _, op := range ops {
				k := d.beliefs[op.Input.(modelInput).belief].key
				i, ok := byKey[k]
				if !ok {
					i = len(parts)
					byKey[k] = i
					parts = append(parts, nil)
				}
				parts[i] = append(parts[i], op)
			}
			return parts
		},
		Init: func() any { return modelState{owner: noOwner} },
		Step: func(state, input, _ any) (bool, any) {
			select {
			case <-done:
				return false, state
			default:
			}
			return step(state.(modelState), input.(modelInput))
		},
		Equal: func(a, b any) bool { return a.(modelState) == b.(modelState) },
		Hash: func(state any) uint64 {
			s := state.(modelState)
			return uint64(uint32(s.owner))*0x9e3779b97f4a7c15 ^ uint64(s.fence)
		},
		DescribeOperation: func(input, _ any) string {
			in := input.(modelInput)
			switch in.kind {
			case opAcquire:
				if in.fence > 0 {
					return fmt.Sprintf("p%d acquire (fence %d)", in.proc, in.fence)
				}
				return fmt.Sprintf("p%d acquire", in.proc)
			case opEnd:
				return fmt.Sprintf("p%d %s", in.proc, in.why)
			default:
				return fmt.Sprintf("p%d acquire, expired on arrival (fence %d)", in.proc, in.fence)
			}
		},
		DescribeState: func(state any) string {
			s := state.(modelState)
			owner := "free"
			if s.owner != noOwner {
				owner = fmt.Sprintf("held by p%d", d.beliefs[s.owner].proc)
			}
			if s.fence > 0 {
				return fmt.Sprintf("%s, last fence %d", owner, s.fence)
			}
			return owner
		},
	}
}

// keyOperations builds the model operations of key k (pruned as described
// above). client maps a process to the porcupine client id (a row of the
// visualisation); nil puts every operation on client 0.
func keyOperations(d *digest, k int32, client func(proc int) int) []porcupine.Operation {
	ids := d.keyBeliefs[k]
	ops := make([]porcupine.Operation, 0, 2*len(ids))
	for _, id := range ids {
		b := &d.beliefs[id]
		c := 0
		if client != nil {
			c = client(b.proc)
		}
		if b.empty() {
			if b.fence > 0 {
				ops = append(ops, porcupine.Operation{ClientId: c, Input: modelInput{kind: opFence, belief: id, proc: b.proc, fence: b.fence}, Call: b.inv, Return: b.ok})
			}
			continue
		}
		ops = append(ops, porcupine.Operation{ClientId: c, Input: modelInput{kind: opAcquire, belief: id, proc: b.proc, fence: b.fence}, Call: b.inv, Return: b.ok})
		end := modelInput{kind: opEnd, why: b.kind, belief: id, proc: b.proc}
		switch b.kind {
		case endHistory:
		case endRelease:
			ops = append(ops, porcupine.Operation{ClientId: c, Input: end, Call: b.end, Return: b.relRet})
		default:
			ops = append(ops, porcupine.Operation{ClientId: c, Input: end, Call: b.end, Return: b.end})
		}
	}
	return ops
}

// modelOpCount is how many operations keyOperations builds for k.
func modelOpCount(d *digest, k int32) int {
	n := 0
	for _, id := range d.keyBeliefs[k] {
		b := &d.beliefs[id]
		switch {
		case b.empty():
			if b.fence > 0 {
				n++
			}
		case b.kind == endHistory:
			n++
		default:
			n += 2
		}
	}
	return n
}
