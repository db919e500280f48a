package checker

import (
	"cmp"
	"fmt"
	"slices"

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
// The owner is the belief, not the process, and a release (or failed
// extend, deadline, crash) that ends no belief is pruned (below). DESIGN
// §5 writes "release by p (any outcome): owner := none if owner is p" and
// keeps every release. With both, an info release invoked after p's
// belief had already ended at its deadline could take effect any time
// later — inside p's next belief on the key — and hide that belief's
// overlap with another process's: a missed violation
// (testdata/release-info-earlier-belief-illegal.jsonl). The belief
// definition ties each release to the belief it ends (the process's next
// release invoke on the key), so that is what the model does. For the
// releases that do end a belief the two readings agree: b's end must run
// before anyone (p included) can acquire again, so when it runs the owner
// is b.
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
// legality, and the search has fewer interleavings to try. They are never
// built: acquire fail/info (no belief: a timed-out acquire that secretly
// succeeded gives nobody a belief), extend ok (the deadline it brings only
// moves where the belief's end operation is), a release, failed extend,
// deadline or crash that ends no belief (there is no b whose end it could
// be, so in this model it is a no-op), and every read and write (checked
// by resource.go, not by this model).
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
//
// The verdict search (search.go) runs porcupine on these operations with
// their windows narrowed by facts every legal linearization satisfies
// (narrow), which leaves each key's verdict unchanged and makes a hot key
// fast; the visualisation draws the operations as built here.

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
// above), with DESIGN's intervals. client maps a process to the porcupine
// client id (a row of the visualisation); nil puts every operation on
// client 0.
func keyOperations(d *digest, k int32, client func(proc int) int) []porcupine.Operation {
	return beliefOperations(d, d.keyBeliefs[k], client)
}

// beliefOperations builds the model operations of the beliefs ids.
func beliefOperations(d *digest, ids []int32, client func(proc int) int) []porcupine.Operation {
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

// narrow shrinks the windows of the acquire and fence operations of ops
// (as keyOperations built them, for a key on which the scans found no
// violation) by two facts that hold in every legal linearization, so the
// key's linearizability is unchanged while the search has far fewer wrong
// guesses to undo — on a hot key with 50 retrying clients the literal
// intervals leave up to 49 acquires pending at once, and an acquire whose
// ok came after its deadline spans many grants:
//
//  1. acquires take effect in belief order (see scanFences), so belief b's
//     acquire comes after the end of the belief before it: its call
//     becomes max(invoke, that belief's end);
//  2. fences rise along the linearization, so an operation with fence f
//     comes after the earliest point of every operation with a lower fence
//     and before the latest point of every operation with a higher one;
//  3. an end may as well take effect at the belief's end (its call): ending
//     a belief earlier never makes another operation illegal, since only
//     acquires look at the owner and they need it to be none.
//
// It reports false, leaving ops alone, if a window would become empty:
// then the scans would have found a violation, so that does not happen.
func narrow(d *digest, ops []porcupine.Operation) bool {
	type win struct {
		i      int
		fence  int64
		lo, hi int64
	}
	var (
		fenced, plain []win
		prevEnd       int64 = -1
	)
	for i := range ops {
		in := ops[i].Input.(modelInput)
		switch in.kind {
		case opAcquire:
			w := win{i, in.fence, max(ops[i].Call, prevEnd), ops[i].Return}
			prevEnd = d.beliefs[in.belief].end
			if w.lo > w.hi {
				return false
			}
			if in.fence > 0 {
				fenced = append(fenced, w)
			} else {
				plain = append(plain, w)
			}
		case opFence:
			fenced = append(fenced, win{i, in.fence, ops[i].Call, ops[i].Return})
		}
	}
	var ends []int
	for i := range ops {
		if ops[i].Input.(modelInput).kind == opEnd {
			ends = append(ends, i)
		}
	}
	slices.SortFunc(fenced, func(a, b win) int { return cmp.Compare(a.fence, b.fence) })
	lo := make([]int64, len(fenced))
	for j := range fenced {
		lo[j] = fenced[j].lo
		if j > 0 && fenced[j-1].fence < fenced[j].fence {
			lo[j] = max(lo[j], lo[j-1])
		}
	}
	hi := make([]int64, len(fenced))
	for j := len(fenced) - 1; j >= 0; j-- {
		hi[j] = fenced[j].hi
		if j < len(fenced)-1 && fenced[j+1].fence > fenced[j].fence {
			hi[j] = min(hi[j], hi[j+1])
		}
	}
	for j := range fenced {
		if lo[j] > hi[j] || (j > 0 && fenced[j-1].fence == fenced[j].fence) {
			return false
		}
	}
	for j, w := range fenced {
		ops[w.i].Call, ops[w.i].Return = lo[j], hi[j]
	}
	for _, w := range plain {
		ops[w.i].Call = w.lo
	}
	for _, i := range ends {
		ops[i].Return = ops[i].Call
	}
	return true
}

// orderTies rewrites the times of ops (already narrowed) as ranks that
// keep every return-before-call relation and order the calls made at one
// instant the way a correct history needs them: ends first (ending a
// belief early never hurts), then fenced operations by fence, then the
// rest. Porcupine puts an operation before another only when its return
// precedes the other's call, so calls at one instant constrain nothing
// among themselves; every return of the instant stays after all of them.
// The key's verdict is unchanged; what changes is porcupine's first guess,
// which is otherwise a coin flip (it sorts entries with an unstable sort):
// narrowing puts many calls at the same instant, and a wrong guess there
// can cost an exponential search.
func orderTies(ops []porcupine.Operation) {
	times := make([]int64, 0, 2*len(ops))
	for _, op := range ops {
		times = append(times, op.Call, op.Return)
	}
	slices.Sort(times)
	times = slices.Compact(times)
	rank := func(t int64) int64 {
		r, _ := slices.BinarySearch(times, t)
		return int64(r)
	}
	prio := func(op *porcupine.Operation) (int, int64) {
		in := op.Input.(modelInput)
		switch {
		case in.kind == opEnd:
			return 0, 0
		case in.fence > 0:
			return 1, in.fence
		default:
			return 2, 0
		}
	}
	idx := make([]int, len(ops))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		pa, fa := prio(&ops[a])
		pb, fb := prio(&ops[b])
		return cmp.Or(cmp.Compare(ops[a].Call, ops[b].Call), cmp.Compare(pa, pb), cmp.Compare(fa, fb), cmp.Compare(a, b))
	})
	// An instant is step wide: calls take offsets 0, 1, … (at most
	// len(ops)-1 of them), returns the last offset.
	step := int64(len(ops)) + 1
	calls := make([]int64, len(ops))
	var (
		prev int64 = -1
		off  int64
	)
	for _, i := range idx {
		if c := ops[i].Call; c != prev {
			prev, off = c, 0
		} else {
			off++
		}
		calls[i] = rank(ops[i].Call)*step + off
	}
	for i := range ops {
		ops[i].Call, ops[i].Return = calls[i], rank(ops[i].Return)*step+step-1
	}
}

// minSegment is the fewest operations a segment is cut at: short enough
// that porcupine's memory stays small (its set of operations done is about
// minSegment bits), long enough that calling it costs little.
const minSegment = 512

// segment is a run of a key's operations that all come after every
// operation of the runs before it, and the state in which it starts.
type segment struct {
	ops  []porcupine.Operation
	init modelState
}

// segments cuts ops (narrowed) at instants that no operation spans, once a
// segment has at least least operations, sorting them by call. Everything
// before a cut precedes everything after it in any linearization, and the
// state at the cut is the same in every
// legal linearization of what came before: the owner is the one belief
// acquired and not yet ended (two would be illegal), the last fence the
// highest granted (fences only rise). So the key is linearizable exactly
// when every segment is, from its state. Porcupine's memory grows with the
// square of a search's length (it keeps a set of the operations done for
// every state it caches); segments keep a long hot key's search short. It
// reports false, and no segments, if a cut's owner is not unique — an
// illegal history, which the scans would have convicted.
func segments(ops []porcupine.Operation, least int) ([]segment, bool) {
	slices.SortFunc(ops, func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
	var (
		out    []segment
		state  = modelState{owner: noOwner}
		start  int
		maxRet int64
	)
	for i := range ops {
		if i-start >= least && ops[i].Call > maxRet {
			out = append(out, segment{ops[start:i], state})
			var ok bool
			if state, ok = after(state, ops[start:i]); !ok {
				return nil, false
			}
			start = i
		}
		if i == start || ops[i].Return > maxRet {
			maxRet = ops[i].Return
		}
	}
	if len(ops) > 0 {
		out = append(out, segment{ops[start:], state})
	}
	return out, true
}

// after is the state after a legal linearization of ops from s.
func after(s modelState, ops []porcupine.Operation) (modelState, bool) {
	ended := make(map[int32]bool)
	for _, op := range ops {
		if in := op.Input.(modelInput); in.kind == opEnd {
			ended[in.belief] = true
		}
	}
	owners := 0
	if s.owner != noOwner && ended[s.owner] {
		s.owner = noOwner
	}
	if s.owner != noOwner {
		owners++
	}
	for _, op := range ops {
		in := op.Input.(modelInput)
		if in.kind != opEnd && in.fence > s.fence {
			s.fence = in.fence
		}
		if in.kind == opAcquire && !ended[in.belief] {
			s.owner = in.belief
			owners++
		}
	}
	return s, owners <= 1
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
