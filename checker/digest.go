package checker

import (
	"cmp"
	"slices"

	"github.com/lockbench/lockbench/history"
)

// endKind says why a belief ended (DESIGN §5).
type endKind uint8

const (
	// endHistory: the belief lasted to the end of the history.
	endHistory endKind = iota
	// endRelease: the process invoked a release on the key.
	endRelease
	// endDeadline: the deadline of the acquire ok or latest extend ok.
	endDeadline
	// endExtendFailed: an extend on the key ended fail or info.
	endExtendFailed
	// endCrash: the process crashed.
	endCrash
)

var endNames = [...]string{
	endHistory:      "end-of-history",
	endRelease:      "release",
	endDeadline:     "deadline",
	endExtendFailed: "extend-failed",
	endCrash:        "crash",
}

// String is the name used in witnesses.
func (k endKind) String() string { return endNames[k] }

// belief is one process's belief that it holds one key: from its acquire
// ok until the earliest of its next release invoke on the key, an extend
// on the key ending fail/info, its deadline, its crash, or the end of the
// history (DESIGN §5). Times are ns since the run started.
type belief struct {
	key  int32
	proc int
	// inv and ok bound the acquire: it took effect somewhere in [inv, ok].
	inv, ok int64
	// end is when the belief ended (exclusive): the belief is [ok, end).
	// A belief with end <= ok is empty: its deadline had passed when the
	// ok arrived, so its process never believed it held the key.
	end int64
	// relRet is, for endRelease, when the release completed; the history's
	// end when it ended info or never completed (it may take effect any
	// time after its invoke).
	relRet int64
	// deadline is the deadline in force while the belief lasts; 0 = none.
	deadline int64
	// fence is the acquire's fence; 0 = none.
	fence int64
	// lease is when the lease certainly still existed on the store: the
	// acquire's (or a later extend ok's) invoke plus the TTL it asked
	// for, as the store set its expiry no earlier, or the holder's
	// deadline when that is later: a strategy counts its validity from
	// before the attempt that succeeded, so the expiry is later still (an
	// acquire that retried for a second set its key a second after its
	// invoke); 0 = no TTL recorded.
	lease int64
	// ttl is the TTL the acquire (or the latest extend ok) asked for.
	ttl  int64
	kind endKind
}

// empty reports that the process never believed: end <= ok.
func (b *belief) empty() bool { return b.end <= b.ok }

// interval is [start, end] in ns.
type interval struct{ start, end int64 }

// faultWindow is one fault from its nemesis start to its stop.
type faultWindow struct {
	fault, target string
	start, end    int64
	// open: never stopped; end is the history's end.
	open bool
}

// name is "fault on target", as witnesses list it.
func (w *faultWindow) name() string { return w.fault + " on " + w.target }

// release is one release operation on a lock key that may have taken
// effect: anywhere in [inv, ret] (ret is the history's end when it ended
// info or never completed). A release that ended fail has ret < 0: it
// certainly took no effect. lease is the lease of the releasing process's
// latest acquire, if it was of this key (see belief.lease; 0 = none
// known): until
// then the release found the process's own lock, unless superseded:
// another process was granted the key after it.
type release struct {
	proc            int
	inv, ret, lease int64
	superseded      bool
}

// write is one accepted write to a resource.
type write struct {
	proc int
	// inv, ok bound the write; rmwStart is the invoke of the process's
	// read of the resource that preceded it (inv when there was none):
	// the read-modify-write cycle is [rmwStart, ok].
	inv, ok, rmwStart int64
	value, fence      int64
}

// digest is what the checker needs from a history, gathered in one pass
// over its events in time order.
type digest struct {
	// end is the history's end: the last event's time, or the checkpoint
	// a history cut short is checked up to.
	end int64
	// keys and resources name the ids used below.
	keys      []string
	resources []string
	beliefs   []belief
	// keyBeliefs are the belief ids of each key, in acquire-ok order.
	keyBeliefs [][]int32
	// waits are, per key, the intervals during which one process kept
	// trying to acquire it (see streak).
	waits [][]interval
	// acqOK are, per key, the times of its acquire oks (sorted); allAcqOK
	// those of every key.
	acqOK    [][]int64
	allAcqOK []int64
	// releasesKind is what a release does (Options.Releases).
	releasesKind Releases
	// lastGrant is, per key, the process of its latest acquire ok.
	lastGrant []int
	// releases are, per key, its releases in invoke order;
	// releaseMaxRet the running maximum of their ret, made for a key
	// when it first has an overlap (see overlapCause).
	releases      [][]release
	releaseMaxRet [][]int64
	// writes are, per resource, its accepted writes in ok order.
	writes [][]write
	// faults are the fault windows in start order.
	faults []faultWindow
	// progress tallies the acquire attempts in and out of fault windows.
	progress progressTally
	counts   Counts
	// clocks is what the history's clock events say (all zero without
	// any): see clock.go. certain marks the digest of the certain check,
	// its intervals widened by them.
	clocks  clocks
	certain bool
}

// streak is a process's run of attempts to acquire one key: from the
// invoke of its first attempt until it gets the key, crashes, or stops
// trying (the completion of its last failed attempt). A pause of more than
// the stall bound between two attempts ends the streak: the process had
// stopped trying.
type streak struct {
	key      int32
	start    int64
	lastEnd  int64
	inFlight bool
}

// readMark is the invoke of a process's last read of a resource.
type readMark struct {
	res int32
	inv int64
}

// procState is what the pass knows about one process.
type procState struct {
	// The operation in flight: op, key (lock key or resource id), invoke
	// time, and for a write its value and fence.
	op           history.Op
	key          int32
	inv          int64
	value, fence int64
	// ttl is the TTL (ns) the acquire or extend in flight asked for.
	ttl int64
	// inFault: a fault window was open when the acquire in flight was
	// invoked (see progressTally); pending: an acquire is in flight.
	inFault, pending bool
	// rel is the index of the release in flight in its key's releases.
	rel int
	// lastKey and lastLease are the key and lease of the process's latest
	// acquire ok (lastKey -1: none yet). One pair, not one per key: a map
	// written on every acquire cost the checker about 9 % on a 1000-key
	// history (BenchmarkCheck1MOps1000Keys), and a process releases the
	// key it acquired last but when it holds several, whose releases are
	// then not called stale.
	lastKey   int32
	lastLease int64
	// released are the beliefs the release in flight ended.
	released []int32
	// active are the process's beliefs that have not ended.
	active  []int32
	streaks []streak
	reads   []readMark
}

// leaseOf is the lease of the process's latest acquire if it was of key
// k, else 0 (none known).
func (ps *procState) leaseOf(k int32) int64 {
	if ps.lastKey != k {
		return 0
	}
	return ps.lastLease
}

// builder gathers a digest.
type builder struct {
	d         digest
	bound     int64 // stall bound, ns
	procs     map[int]*procState
	keyIDs    map[string]int32
	resIDs    map[string]int32
	openFault map[[2]string][]int
}

// digestEvents makes the digest of events, which must satisfy
// history.Validate (sorted by time, each process's protocol kept); the
// history ends with its last event. stallBound (ns) is needed to tell when
// a process stopped trying.
func digestEvents(events []history.Event, stallBound int64) *digest {
	var end int64
	if n := len(events); n > 0 {
		end = events[n-1].Time
	}
	return digestTo(events, stallBound, end)
}

// digestTo is digestEvents for a history that ends at end (ns), no earlier
// than its last event: a history cut short ends at the checkpoint it is
// checked up to, and what was in flight then lasts until it.
func digestTo(events []history.Event, stallBound, end int64) *digest {
	b := &builder{
		bound:     stallBound,
		procs:     make(map[int]*procState),
		keyIDs:    make(map[string]int32),
		resIDs:    make(map[string]int32),
		openFault: make(map[[2]string][]int),
	}
	b.d.end = end
	b.d.counts.Events = len(events)
	for i := range events {
		b.event(&events[i])
	}
	b.finish()
	return &b.d
}

// lockKey interns a lock key.
func (b *builder) lockKey(name string) int32 {
	if id, ok := b.keyIDs[name]; ok {
		return id
	}
	id := int32(len(b.d.keys))
	b.keyIDs[name] = id
	b.d.keys = append(b.d.keys, name)
	b.d.keyBeliefs = append(b.d.keyBeliefs, nil)
	b.d.waits = append(b.d.waits, nil)
	b.d.acqOK = append(b.d.acqOK, nil)
	b.d.releases = append(b.d.releases, nil)
	b.d.lastGrant = append(b.d.lastGrant, -1)
	return id
}

// resource interns a resource name.
func (b *builder) resource(name string) int32 {
	if id, ok := b.resIDs[name]; ok {
		return id
	}
	id := int32(len(b.d.resources))
	b.resIDs[name] = id
	b.d.resources = append(b.d.resources, name)
	b.d.writes = append(b.d.writes, nil)
	return id
}

func (b *builder) event(e *history.Event) {
	t := e.Time
	if e.Type == history.Nemesis {
		b.nemesis(e)
		return
	}
	if e.Type == history.ClockSample {
		b.d.clocks.sample(e)
		return
	}
	ps := b.procs[e.Process]
	if ps == nil {
		ps = &procState{lastKey: -1}
		b.procs[e.Process] = ps
	}
	b.expire(ps, t)
	switch e.Type {
	case history.Invoke:
		b.d.counts.Ops++
		ps.op, ps.inv, ps.ttl = e.Op, t, e.TTLms*1e6
		switch e.Op {
		case history.Acquire:
			ps.key = b.lockKey(e.Key)
			b.streakInvoke(ps, ps.key, t)
			ps.inFault, ps.pending = b.d.progress.invoke(), true
		case history.Release:
			ps.key = b.lockKey(e.Key)
			ps.rel = len(b.d.releases[ps.key])
			b.d.releases[ps.key] = append(b.d.releases[ps.key], release{
				proc: e.Process, inv: t, ret: b.d.end, lease: ps.leaseOf(ps.key), superseded: b.d.lastGrant[ps.key] != e.Process,
			})
			ps.released = ps.released[:0]
			ps.active = slices.DeleteFunc(ps.active, func(id int32) bool {
				bl := &b.d.beliefs[id]
				if bl.key != ps.key {
					return false
				}
				bl.end, bl.kind, bl.relRet = t, endRelease, b.d.end
				ps.released = append(ps.released, id)
				return true
			})
		case history.Extend:
			ps.key = b.lockKey(e.Key)
		case history.Read:
			ps.key = b.resource(e.Key)
		case history.Write:
			ps.key = b.resource(e.Key)
			ps.value, ps.fence = e.Value, e.Fence
		}
	case history.OK, history.Fail, history.Info:
		b.complete(ps, e)
	case history.Crash:
		if ps.pending { // an acquire cut short by the crash: unknown
			b.d.progress.outcome(ps.inFault, history.Info)
			ps.pending = false
		}
		ps.active = b.endAll(ps.active, t, endCrash)
		b.closeStreaks(ps, t)
	}
}

// complete handles an ok, fail or info event: the completion of the
// operation in flight (history.Validate guarantees it matches).
func (b *builder) complete(ps *procState, e *history.Event) {
	t := e.Time
	switch ps.op {
	case history.Acquire:
		k := ps.key
		b.d.progress.outcome(ps.inFault, e.Type)
		ps.pending = false
		if e.Type != history.OK {
			b.streakFailed(ps, k, t)
			return
		}
		b.d.counts.AcquiresOK++
		b.streakDone(ps, k, t)
		b.d.acqOK[k] = append(b.d.acqOK[k], t)
		b.d.lastGrant[k] = e.Process
		b.d.allAcqOK = append(b.d.allAcqOK, t)
		id := int32(len(b.d.beliefs))
		bl := belief{key: k, proc: e.Process, inv: ps.inv, ok: t, end: b.d.end, fence: e.Fence, deadline: e.Deadline}
		if ps.ttl > 0 {
			bl.lease, bl.ttl = max(ps.inv+ps.ttl, e.Deadline), ps.ttl
		}
		ps.lastKey, ps.lastLease = k, bl.lease
		if bl.deadline != 0 && bl.deadline <= t {
			// The ok came after its own deadline: an empty belief.
			bl.end, bl.kind = bl.deadline, endDeadline
		} else {
			ps.active = append(ps.active, id)
		}
		b.d.beliefs = append(b.d.beliefs, bl)
		b.d.keyBeliefs[k] = append(b.d.keyBeliefs[k], id)
	case history.Release:
		if e.Type != history.Info {
			for _, id := range ps.released {
				b.d.beliefs[id].relRet = t
			}
		}
		ps.released = ps.released[:0]
		switch r := &b.d.releases[ps.key][ps.rel]; e.Type {
		case history.OK:
			r.ret = t
		case history.Fail:
			r.ret = -1
		}
	case history.Extend:
		k := ps.key
		if e.Type == history.OK {
			// The deadline of the latest extend ok replaces the one in
			// force (beliefs whose deadline already passed were ended by
			// expire before this event). A new deadline that has already
			// passed ends the belief now, not in the past: until this ok
			// the process believed under the old one.
			ps.active = slices.DeleteFunc(ps.active, func(id int32) bool {
				bl := &b.d.beliefs[id]
				if bl.key != k {
					return false
				}
				bl.deadline = e.Deadline
				if ps.ttl > 0 {
					bl.lease, bl.ttl = max(bl.lease, ps.inv+ps.ttl, e.Deadline), ps.ttl
					if ps.lastKey == k {
						ps.lastLease = bl.lease
					}
				}
				if bl.deadline != 0 && bl.deadline <= t {
					bl.end, bl.kind = t, endDeadline
					return true
				}
				return false
			})
			return
		}
		ps.active = slices.DeleteFunc(ps.active, func(id int32) bool {
			bl := &b.d.beliefs[id]
			if bl.key != k {
				return false
			}
			bl.end, bl.kind = t, endExtendFailed
			return true
		})
	case history.Read:
		if e.Type == history.OK {
			ps.reads = setRead(ps.reads, ps.key, ps.inv)
		}
	case history.Write:
		var start int64
		var found bool
		if ps.reads, start, found = takeRead(ps.reads, ps.key); !found {
			start = ps.inv
		}
		switch e.Type {
		case history.OK:
			b.d.writes[ps.key] = append(b.d.writes[ps.key], write{
				proc: e.Process, inv: ps.inv, ok: t, rmwStart: start, value: ps.value, fence: ps.fence,
			})
		case history.Fail:
			b.d.counts.StaleRejected++
		}
	}
}

// setRead records the invoke of the process's last read of res.
func setRead(reads []readMark, res int32, inv int64) []readMark {
	for i := range reads {
		if reads[i].res == res {
			reads[i].inv = inv
			return reads
		}
	}
	return append(reads, readMark{res, inv})
}

// takeRead removes and returns the process's last read of res: a read
// starts at most one read-modify-write cycle.
func takeRead(reads []readMark, res int32) ([]readMark, int64, bool) {
	for i := range reads {
		if reads[i].res == res {
			inv := reads[i].inv
			return slices.Delete(reads, i, i+1), inv, true
		}
	}
	return reads, 0, false
}

// expire ends the process's beliefs whose deadline is at or before t.
func (b *builder) expire(ps *procState, t int64) {
	ps.active = slices.DeleteFunc(ps.active, func(id int32) bool {
		bl := &b.d.beliefs[id]
		if bl.deadline != 0 && bl.deadline <= t {
			bl.end, bl.kind = bl.deadline, endDeadline
			return true
		}
		return false
	})
}

// endAll ends every belief in active at t and returns active emptied.
func (b *builder) endAll(active []int32, t int64, kind endKind) []int32 {
	for _, id := range active {
		bl := &b.d.beliefs[id]
		bl.end, bl.kind = t, kind
	}
	return active[:0]
}

// findStreak returns the process's streak on key k, or nil.
func findStreak(ps *procState, k int32) *streak {
	for i := range ps.streaks {
		if ps.streaks[i].key == k {
			return &ps.streaks[i]
		}
	}
	return nil
}

// streakInvoke: an acquire of k invoked at t.
func (b *builder) streakInvoke(ps *procState, k int32, t int64) {
	s := findStreak(ps, k)
	if s == nil {
		ps.streaks = append(ps.streaks, streak{key: k, start: t, lastEnd: t, inFlight: true})
		return
	}
	if t-s.lastEnd > b.bound {
		b.wait(k, s.start, s.lastEnd)
		s.start = t
	}
	s.inFlight = true
}

// streakFailed: an acquire of k ended fail or info at t.
func (b *builder) streakFailed(ps *procState, k int32, t int64) {
	if s := findStreak(ps, k); s != nil {
		s.inFlight, s.lastEnd = false, t
	}
}

// streakDone: an acquire of k succeeded at t.
func (b *builder) streakDone(ps *procState, k int32, t int64) {
	for i := range ps.streaks {
		if ps.streaks[i].key == k {
			b.wait(k, ps.streaks[i].start, t)
			ps.streaks = slices.Delete(ps.streaks, i, i+1)
			return
		}
	}
}

// closeStreaks ends every streak of the process at t (its crash or the
// end of the history).
func (b *builder) closeStreaks(ps *procState, t int64) {
	for _, s := range ps.streaks {
		end := s.lastEnd
		if s.inFlight {
			end = t
		}
		b.wait(s.key, s.start, end)
	}
	ps.streaks = ps.streaks[:0]
}

// wait records that some process was trying to acquire k over [s, e].
func (b *builder) wait(k int32, s, e int64) {
	if e > s {
		b.d.waits[k] = append(b.d.waits[k], interval{s, e})
	}
}

// nemesis opens or closes a fault window. Starts and stops of the same
// fault on the same target pair first-in first-out. A stop with no start
// is a fault that began before the history: its window starts at 0, so
// that no stall is blamed on the lock while it was active.
func (b *builder) nemesis(e *history.Event) {
	id := [2]string{e.Fault, e.Target}
	if e.Phase == "start" {
		b.d.progress.openFaults++
		b.openFault[id] = append(b.openFault[id], len(b.d.faults))
		b.d.faults = append(b.d.faults, faultWindow{fault: e.Fault, target: e.Target, start: e.Time, end: b.d.end, open: true})
		return
	}
	if open := b.openFault[id]; len(open) > 0 {
		w := &b.d.faults[open[0]]
		w.end, w.open = e.Time, false
		b.openFault[id] = open[1:]
		b.d.progress.openFaults--
		return
	}
	b.d.faults = append(b.d.faults, faultWindow{fault: e.Fault, target: e.Target, start: 0, end: e.Time})
}

// finish ends what the history left open.
func (b *builder) finish() {
	end := b.d.end
	b.d.releaseMaxRet = make([][]int64, len(b.d.keys))
	for _, ps := range b.procs {
		if ps.pending {
			b.d.progress.outcome(ps.inFault, 0)
		}
		b.expire(ps, end)
		// Whatever is still believed is believed to the end (end is the
		// default end of every belief).
		ps.active = ps.active[:0]
		b.closeStreaks(ps, end)
	}
	for i := range b.d.beliefs {
		if !b.d.beliefs[i].empty() {
			b.d.counts.Beliefs++
		}
	}
	slices.SortStableFunc(b.d.faults, func(x, y faultWindow) int { return cmp.Compare(x.start, y.start) })
	b.d.counts.Keys = len(b.d.keys)
	b.d.counts.Resources = len(b.d.resources)
}
