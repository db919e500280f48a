package checker

import (
	"container/heap"
	"math/rand/v2"
	"strconv"

	"github.com/lockbench/lockbench/history"
)

// simConfig describes a simulated run of a correct token lock (SET NX PX,
// compare-and-delete, compare-and-pexpire; optionally fenced by a counter
// incremented at each grant) and a counter resource, with random
// latencies, lost replies (info), lost requests, crashes, extends and
// deadlines. Every lease a holder believes in is covered by the server's
// lease, so every history it makes must pass.
type simConfig struct {
	procs, keys int
	// ops is how many operations (invokes) to aim for: no acquire starts
	// once that many were invoked; cycles under way finish.
	ops int
	// ttl and maxLat are in ns; latencies are uniform in [1 µs, maxLat].
	ttl, maxLat int64
	fenced      bool
	// deadlines: acquire/extend oks carry the holder's deadline
	// (invoke + ttl) and a holder may release late, after it. Without
	// deadlines a holder always releases before its lease can expire.
	deadlines bool
	// pInfo: a reply is lost (the op ends info; its effect happened or
	// not, pLost). pCrash: the holder crashes right after acquiring.
	// pCrashInFlight: a process crashes instead of getting a reply.
	pInfo, pLost, pCrash, pCrashInFlight float64
	// pExtend, pWrite: chances the holder extends, or reads and writes the
	// resource, before releasing. pSlow (deadlines only): an acquire reply
	// comes after the deadline. pLate (deadlines only): a release is
	// invoked after the deadline.
	pExtend, pWrite, pSlow, pLate float64
	// retry: an acquire that finds the key taken retries (after up to
	// maxLat) until it gets it or has waited 5 × ttl, as the retry
	// policies do inside one acquire operation.
	retry bool
	// nolock: the server grants every acquire (the canary strategy).
	nolock bool
	seed   uint64
}

// simAction is a scheduled step of one worker.
type simAction struct {
	t      int64
	seq    int64
	worker int
}

type simQueue []simAction

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	if q[i].t != q[j].t {
		return q[i].t < q[j].t
	}
	return q[i].seq < q[j].seq
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(simAction)) }
func (q *simQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// simKey is the server's state of one key and its resource.
type simKey struct {
	token    int64 // 0 = free
	exp      int64
	counter  int64 // fencing counter
	value    int64 // resource
	highest  int64 // highest fence written to the resource
	name     string
	resource string
}

// simPhase is what a worker does next.
type simPhase uint8

const (
	phIdle simPhase = iota
	phEffect
	phReply
	phHolding
	phCrash
)

// simWorker is one client; it becomes a new process after a crash.
type simWorker struct {
	proc  int
	phase simPhase
	// The operation in flight.
	op       history.Op
	key      int
	inv      int64
	outcome  history.Type // at reply: OK, Fail or Info
	crashNow bool         // crash instead of the reply
	fence    int64
	token    int64
	deadline int64 // private: the holder's deadline
	readVal  int64
	rmw      bool // in a read-modify-write: the write follows the read
	late     bool // the next holding step releases, after the deadline
	// lostReply: the reply will be lost (info); applied: the request
	// reaches the server.
	lostReply, applied bool
}

type simulator struct {
	cfg     simConfig
	rng     *rand.Rand
	q       simQueue
	seq     int64
	keys    []simKey
	workers []simWorker
	events  []history.Event
	invokes int
	nextPID int
	tokens  int64
}

// simulate runs cfg and returns its history, sorted by time.
func simulate(cfg simConfig) []history.Event {
	s := &simulator{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.seed, cfg.seed^0x9e3779b97f4a7c15))}
	s.events = make([]history.Event, 0, cfg.ops*2+cfg.procs*8)
	for k := range cfg.keys {
		name := "lock:" + strconv.Itoa(k)
		s.keys = append(s.keys, simKey{name: name, resource: "resource:" + name})
	}
	for w := range cfg.procs {
		s.workers = append(s.workers, simWorker{proc: w})
		s.schedule(w, 1000+s.rng.Int64N(cfg.maxLat))
	}
	s.nextPID = cfg.procs
	for s.q.Len() > 0 {
		a := heap.Pop(&s.q).(simAction)
		s.step(a.worker, a.t)
	}
	return s.events
}

func (s *simulator) schedule(w int, t int64) {
	s.seq++
	heap.Push(&s.q, simAction{t: t, seq: s.seq, worker: w})
}

func (s *simulator) lat() int64       { return 1000 + s.rng.Int64N(s.cfg.maxLat-999) }
func (s *simulator) p(x float64) bool { return x > 0 && s.rng.Float64() < x }

func (s *simulator) emit(e history.Event) { s.events = append(s.events, e) }

// invoke starts op on w's key at t; its effect comes after a latency.
func (s *simulator) invoke(w int, t int64, op history.Op) {
	wk := &s.workers[w]
	k := &s.keys[wk.key]
	e := history.Event{Time: t, Process: wk.proc, Type: history.Invoke, Op: op, Key: k.name}
	switch op {
	case history.Acquire, history.Extend:
		e.TTLms = s.cfg.ttl / 1e6
	case history.Read:
		e.Key = k.resource
	case history.Write:
		e.Key = k.resource
		e.Value = wk.readVal + 1
		e.Fence = wk.fence
	}
	s.emit(e)
	s.invokes++
	wk.op, wk.inv, wk.phase = op, t, phEffect
	// Whether the reply is lost (info), and if so whether the request was
	// lost too, is drawn once per operation, not per retry.
	wk.lostReply = s.p(s.cfg.pInfo)
	wk.applied = !(wk.lostReply && s.p(s.cfg.pLost))
	s.schedule(w, t+s.lat())
}

// effect applies w's operation on the server at t and schedules its reply.
func (s *simulator) effect(w int, t int64) {
	wk := &s.workers[w]
	k := &s.keys[wk.key]
	wk.outcome = history.OK
	lostReply, applied := wk.lostReply, wk.applied
	if applied {
		switch wk.op {
		case history.Acquire:
			if k.token == 0 || k.exp <= t || s.cfg.nolock {
				s.tokens++
				k.token, k.exp = s.tokens, t+s.cfg.ttl
				k.counter++
				wk.token, wk.fence = k.token, 0
				if s.cfg.fenced {
					wk.fence = k.counter
				}
			} else {
				if s.cfg.retry && t-wk.inv < 5*s.cfg.ttl {
					s.schedule(w, t+s.lat())
					return
				}
				wk.outcome = history.Fail
			}
		case history.Extend:
			if k.token == wk.token && k.exp > t {
				k.exp = t + s.cfg.ttl
			} else {
				wk.outcome = history.Fail
			}
		case history.Release:
			if k.token == wk.token && k.exp > t {
				k.token = 0
			} else {
				wk.outcome = history.Fail
			}
		case history.Read:
			wk.readVal = k.value
		case history.Write:
			if wk.fence > 0 && wk.fence < k.highest {
				wk.outcome = history.Fail
			} else {
				k.value = wk.readVal + 1
				k.highest = max(k.highest, wk.fence)
			}
		}
	}
	if lostReply {
		wk.outcome = history.Info
	}
	wk.crashNow = s.p(s.cfg.pCrashInFlight)
	wk.phase = phReply
	reply := t + s.lat()
	if wk.op == history.Acquire && s.cfg.deadlines && s.p(s.cfg.pSlow) {
		reply = max(t, wk.inv+s.cfg.ttl) + s.lat() // after its own deadline
	}
	s.schedule(w, reply)
}

// crash ends w's process; the worker comes back as a new process.
func (s *simulator) crash(w int, t int64) {
	wk := &s.workers[w]
	s.emit(history.Event{Time: t, Process: wk.proc, Type: history.Crash})
	wk.proc = s.nextPID
	s.nextPID++
	wk.phase, wk.rmw, wk.late = phIdle, false, false
	s.schedule(w, t+s.lat())
}

func (s *simulator) step(w int, t int64) {
	wk := &s.workers[w]
	switch wk.phase {
	case phIdle:
		if s.invokes >= s.cfg.ops {
			return
		}
		wk.key = s.rng.IntN(s.cfg.keys)
		s.invoke(w, t, history.Acquire)
	case phEffect:
		s.effect(w, t)
	case phReply:
		if wk.crashNow {
			s.crash(w, t)
			return
		}
		s.reply(w, t)
	case phHolding:
		s.hold(w, t)
	case phCrash:
		s.crash(w, t)
	}
}

// reply records the outcome of w's operation at t and decides what next.
func (s *simulator) reply(w int, t int64) {
	wk := &s.workers[w]
	k := &s.keys[wk.key]
	e := history.Event{Time: t, Process: wk.proc, Type: wk.outcome, Op: wk.op, Key: k.name}
	if wk.op == history.Read || wk.op == history.Write {
		e.Key = k.resource
	}
	next := t + s.rng.Int64N(s.cfg.maxLat)
	switch wk.op {
	case history.Acquire:
		if wk.outcome == history.OK {
			e.Fence = wk.fence
			wk.deadline = wk.inv + s.cfg.ttl
			if s.cfg.deadlines {
				e.Deadline = wk.deadline
			}
		}
		s.emit(e)
		if wk.outcome != history.OK {
			wk.phase = phIdle
			s.schedule(w, next)
			return
		}
		if s.p(s.cfg.pCrash) {
			wk.phase = phCrash
			s.schedule(w, t+1+s.rng.Int64N(s.cfg.maxLat))
			return
		}
		wk.phase = phHolding
		s.schedule(w, next)
	case history.Extend:
		if wk.outcome == history.OK {
			wk.deadline = wk.inv + s.cfg.ttl
			if s.cfg.deadlines {
				e.Deadline = wk.deadline
			}
			s.emit(e)
			wk.phase = phHolding
			s.schedule(w, next)
			return
		}
		s.emit(e)
		// The lease is lost or unknown: release to clean up.
		wk.deadline = t
		wk.phase = phHolding
		s.schedule(w, next)
	case history.Read:
		if wk.outcome == history.OK {
			e.Value = wk.readVal
		}
		s.emit(e)
		if wk.outcome != history.OK {
			wk.rmw = false
		}
		wk.phase = phHolding
		s.schedule(w, t+1)
	case history.Write:
		s.emit(e)
		wk.rmw = false
		wk.phase = phHolding
		s.schedule(w, next)
	case history.Release:
		s.emit(e)
		wk.phase = phIdle
		s.schedule(w, next)
	}
}

// hold is a holder's next move at t: write (after a read), extend, read,
// or release. Every step that needs the lease is started only when it
// ends before the holder's deadline.
func (s *simulator) hold(w int, t int64) {
	wk := &s.workers[w]
	m := s.cfg.maxLat
	switch {
	case wk.late:
		wk.late = false
		s.invoke(w, t, history.Release)
	case wk.rmw:
		s.invoke(w, t, history.Write)
	case t+3*m < wk.deadline && s.p(s.cfg.pExtend):
		s.invoke(w, t, history.Extend)
	case t+6*m < wk.deadline && s.p(s.cfg.pWrite):
		wk.rmw = true
		s.invoke(w, t, history.Read)
	case s.cfg.deadlines && wk.deadline > t && s.p(s.cfg.pLate):
		wk.late = true
		s.schedule(w, wk.deadline+s.rng.Int64N(m))
	default:
		s.invoke(w, t, history.Release)
	}
}

// beliefWindows lists, for each acquire ok in events, a window
// [ok, until) inside its process's belief: until is the earliest of the
// process's next event, its deadline and the history's end. It is derived
// from the events alone, not from the checker.
type beliefWindow struct {
	proc      int
	key       string
	ok, until int64
}

func beliefWindows(events []history.Event) []beliefWindow {
	next := make(map[int]int) // process → index of its pending window
	var out []beliefWindow
	end := events[len(events)-1].Time
	for _, e := range events {
		if e.Type == history.Nemesis {
			continue
		}
		if i, ok := next[e.Process]; ok {
			out[i].until = min(out[i].until, e.Time)
			delete(next, e.Process)
		}
		if e.Type == history.OK && e.Op == history.Acquire {
			until := end
			if e.Deadline != 0 {
				until = min(until, e.Deadline)
			}
			if until > e.Time {
				next[e.Process] = len(out)
				out = append(out, beliefWindow{proc: e.Process, key: e.Key, ok: e.Time, until: until})
			}
		}
	}
	return out
}
