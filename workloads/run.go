package workloads

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/lockbench/lockbench/history"
	"github.com/lockbench/lockbench/locks"
)

// Recorder takes one worker's events. A worker owns its recorder: it is
// never shared, so it needs no lock. Append must not keep the pointer.
//
// A recorder may also have the methods of a history.Stream that let the
// history's checkpoints go on while its worker waits or after it is done:
// Idle(now int64) error, called before a wait of idleWait or more (the
// worker's later events are all at now or after), and Close() error,
// called when the worker stops.
type Recorder interface {
	Append(e *history.Event)
}

// idler is a Recorder that can hand its events to the history before its
// worker waits (history.Stream.Idle).
type idler interface{ Idle(now int64) error }

// idleWait is the shortest wait before which a worker tells its recorder
// it is idle: a write of the buffered events, if any, is nothing next to
// a wait this long, and the history's checkpoints need not wait for the
// worker to wake.
const idleWait = 20 * time.Millisecond

// Clock is the run's monotonic clock.
type Clock interface {
	// Now is ns since the run started.
	Now() int64
	// At converts a time.Time (a lease deadline) to the run's ns.
	At(t time.Time) int64
}

// Env is what a run needs besides its spec.
type Env struct {
	// Lockers has one locker per client group (each through that group's
	// proxies). Worker i uses Lockers[i % len(Lockers)].
	Lockers []locks.Locker
	// ClientLockers, when set, has one locker per client (len ==
	// Spec.Clients), each reaching the nodes as its client's group does:
	// worker i uses ClientLockers[i] instead of Lockers. An external lock
	// client runs one process per client, so it cannot share a locker.
	ClientLockers []locks.Locker
	// Resources has the protected resource as each group reaches it.
	Resources []*Resource
	// Clock is the run's clock; the history uses the same one.
	Clock Clock
	// NewRecorder gives each worker its recorder; nil records nothing.
	// RunShare calls it once per worker, from one goroutine, before any
	// worker starts.
	NewRecorder func() Recorder
	// Faults are the client faults to honour; nil means none.
	Faults *ClientFaults
	// KeyPrefix starts every lock key, keeping cells and samples apart.
	KeyPrefix string
}

// Result is what a run measured.
type Result struct {
	Spec    Spec          `json:"spec"`
	Elapsed time.Duration `json:"elapsed_ns"`
	Counts  Counts        `json:"counts"`
	// Throughput is successful acquires per second.
	Throughput float64 `json:"throughput"`
	// AchievedRate is acquire attempts per second; in open loop, a run
	// under 99 % of the target rate is Saturated.
	AchievedRate float64 `json:"achieved_rate"`
	Saturated    bool    `json:"saturated"`
	// LostUpdates is successful writes minus the counters' final sum: the
	// increments lost to two holders inside at once.
	LostUpdates int64 `json:"lost_updates"`
	// Hists are the merged latency histograms (µs), by Hist* name.
	Hists map[string]*hdrhistogram.Histogram `json:"-"`
	// Seconds are per-second counters over all workers.
	Seconds []Second `json:"seconds"`
}

// ProcessLocker is a locker that runs a client process of its own (an
// external lock client, one locker per worker): the worker tells it its
// history process id and has it carry out the client faults on the
// process itself.
type ProcessLocker interface {
	// Process tells it the history process id its client process
	// announces (LOCKBENCH_CLIENT); called before the first operation and
	// after every crash. A running process with another id is replaced.
	Process(id int)
	// Kill kills the client process at once (a client crash fault); the
	// next operation starts a new one.
	Kill() error
	// Stop and Cont freeze and thaw the client process (SIGSTOP/SIGCONT):
	// a client pause.
	Stop() error
	Cont() error
}

// Run drives spec against env until its duration or op budget is spent or
// ctx ends, then returns the merged statistics. Operations in flight when
// the budget runs out complete normally; when ctx ends they are cancelled
// and recorded as unknown.
//
// A locker error wrapping locks.ErrFatal (an external client that broke
// the protocol) is recorded as unknown, stops every worker (their
// operations in flight are cancelled and recorded as unknown) and is
// returned, with the statistics of what ran before it. A locker error
// wrapping locks.ErrClientGone is recorded as unknown and followed by a
// crash of the worker's process.
//
// Run is Prepare, RunShare over every worker, Merge and CountLostUpdates:
// a run spread over agents does the same with one share per agent.
func Run(ctx context.Context, spec Spec, env Env) (*Result, error) {
	if spec.Groups == 0 {
		spec.Groups = 1
	}
	if err := Prepare(ctx, spec, env); err != nil {
		return nil, err
	}
	share, err := RunShare(ctx, spec, env, nil)
	if share == nil {
		return nil, err
	}
	res := Merge(spec, share)
	if cerr := res.CountLostUpdates(ctx, env.Resources[0], env.KeyPrefix); cerr != nil {
		return res, cerr
	}
	return res, err
}

// Prepare checks spec against env and zeroes the protected counters of
// the run's keys: once per run, before any share of it starts.
func Prepare(ctx context.Context, spec Spec, env Env) error {
	if spec.Groups == 0 {
		spec.Groups = 1
	}
	if err := spec.Validate(); err != nil {
		return err
	}
	if len(env.Resources) == 0 {
		return fmt.Errorf("workload %q needs a resource: %w", spec.Name, ErrBadSpec)
	}
	if spec.SkipResource { // the counters are never touched
		return nil
	}
	return env.Resources[0].Reset(ctx, counterKeys(spec, env.KeyPrefix)...)
}

// counterKeys are the protected counters of spec's keys.
func counterKeys(spec Spec, prefix string) []string {
	counters := make([]string, spec.KeyCount())
	for i := range counters {
		counters[i] = CounterKey(KeyName(prefix, i))
	}
	return counters
}

// RunShare runs the workers of spec whose indexes are in workers (nil:
// every worker, 0..Clients-1) until the duration or op budget is spent
// or ctx ends, and returns what they measured. It neither zeroes nor
// reads the counters (see Prepare and Result.CountLostUpdates): an agent
// runs its share of a run whose counters the controller owns. Worker i
// runs as process i (and i+Clients, i+2·Clients… after crashes), whatever
// share it is in, so processes never collide across shares. The op
// budget Spec.Ops is the share's own. A fatal locker error is returned
// with the share measured up to it.
func RunShare(ctx context.Context, spec Spec, env Env, workers []int) (*Share, error) {
	if spec.Groups == 0 {
		spec.Groups = 1
	}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if workers == nil {
		workers = make([]int, spec.Clients)
		for i := range workers {
			workers[i] = i
		}
	}
	for _, i := range workers {
		if i < 0 || i >= spec.Clients {
			return nil, fmt.Errorf("workload %q has no worker %d (clients 0..%d): %w", spec.Name, i, spec.Clients-1, ErrBadSpec)
		}
	}
	if env.ClientLockers != nil && len(env.ClientLockers) != spec.Clients {
		return nil, fmt.Errorf("workload %q has %d client lockers for %d clients: %w", spec.Name, len(env.ClientLockers), spec.Clients, ErrBadSpec)
	}
	if (env.ClientLockers == nil && len(env.Lockers) < spec.Groups) || len(env.Resources) < spec.Groups || env.Clock == nil {
		return nil, fmt.Errorf("workload %q needs a locker and a resource per group (%d) and a clock: %w", spec.Name, spec.Groups, ErrBadSpec)
	}
	keys := make([]string, spec.KeyCount())
	for i := range keys {
		keys[i] = KeyName(env.KeyPrefix, i)
	}

	shared := &sharedState{
		spec:         spec,
		keys:         keys,
		counters:     counterKeys(spec, env.KeyPrefix),
		lastRelease:  make([]atomic.Int64, len(keys)),
		lastReleaser: make([]atomic.Int64, len(keys)),
	}
	start := env.Clock.Now()
	shared.start = start
	if spec.Duration > 0 {
		shared.stopAt = start + int64(spec.Duration)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	shared.cancel = cancel
	ws := make([]*worker, 0, len(workers))
	var wg sync.WaitGroup
	for _, i := range workers {
		w := &worker{
			id:       i,
			process:  i,
			shared:   shared,
			env:      env,
			locker:   locker(env, spec, i),
			resource: env.Resources[i%spec.Groups],
			sched:    NewSchedule(spec, i),
			stats:    newWorkerStats(),
			rec:      discard{},
		}
		if env.NewRecorder != nil {
			w.rec = env.NewRecorder()
		}
		if spec.Rate > 0 {
			// Each client carries rate/clients, staggered evenly so that
			// the aggregate arrivals are evenly spaced.
			w.interval = time.Duration(float64(spec.Clients) / spec.Rate * float64(time.Second))
			w.next = start + int64(w.interval)*int64(i)/int64(spec.Clients)
		}
		ws = append(ws, w)
		w.proc, _ = w.locker.(ProcessLocker)
		wctx := WithWorker(runCtx, i)
		wg.Go(func() { w.run(wctx) })
	}
	wg.Wait()
	cancel()
	share := &Share{Elapsed: time.Duration(env.Clock.Now() - start)}
	for _, w := range ws {
		share.add(&w.stats.counts, w.stats.hists, w.stats.seconds, w.stats.secondHists)
	}
	return share, shared.fatalErr()
}

// Merge makes a run's result of its shares: counts and per-second
// counters add up, histograms merge, and the run's elapsed time is its
// longest share's. The lost updates are left for CountLostUpdates.
func Merge(spec Spec, shares ...*Share) *Result {
	total := &Share{}
	for _, s := range shares {
		total.Elapsed = max(total.Elapsed, s.Elapsed)
		total.add(&s.Counts, s.hists, s.Seconds, s.secondHists)
	}
	res := &Result{Spec: spec, Elapsed: total.Elapsed, Counts: total.Counts, Seconds: total.Seconds, Hists: total.hists}
	if res.Hists == nil { // no share: empty histograms, as a run without acquires has
		res.Hists = map[string]*hdrhistogram.Histogram{}
		for _, n := range histNames {
			res.Hists[n] = newHist()
		}
	}
	for i, h := range total.secondHists {
		res.Seconds[i].P99us = h.ValueAtQuantile(99)
	}
	if secs := res.Elapsed.Seconds(); secs > 0 {
		res.Throughput = float64(res.Counts.AcquireOK) / secs
		res.AchievedRate = float64(res.Counts.Attempts) / secs
	}
	res.Saturated = spec.Rate > 0 && res.AchievedRate < 0.99*spec.Rate
	return res
}

// CountLostUpdates reads the run's counters from the resource (as seen
// through resource) and sets LostUpdates: the successful writes the
// counters' final sum does not show. Call it once every share is done.
func (r *Result) CountLostUpdates(ctx context.Context, resource *Resource, keyPrefix string) error {
	if r.Spec.SkipResource {
		return nil
	}
	var final int64
	for _, c := range counterKeys(r.Spec, keyPrefix) {
		v, err := resource.Read(context.WithoutCancel(ctx), c)
		if err != nil {
			return fmt.Errorf("read final counter %s: %w", c, err)
		}
		final += v
	}
	r.LostUpdates = r.Counts.WritesOK - final
	return nil
}

// add accumulates a worker's (or another share's) counts, histograms
// and per-second counters into s.
func (s *Share) add(counts *Counts, hists map[string]*hdrhistogram.Histogram, seconds []Second, secondHists []*hdrhistogram.Histogram) {
	if s.hists == nil {
		s.hists = make(map[string]*hdrhistogram.Histogram, len(histNames))
		for _, n := range histNames {
			s.hists[n] = newHist()
		}
	}
	s.Counts.add(counts)
	for n, h := range hists {
		if s.hists[n] != nil {
			s.hists[n].Merge(h)
		}
	}
	for i, sec := range seconds {
		for len(s.Seconds) <= i {
			s.Seconds = append(s.Seconds, Second{})
			s.secondHists = append(s.secondHists, newSecondHist())
		}
		s.Seconds[i].AcquireOK += sec.AcquireOK
		s.Seconds[i].NotObtained += sec.NotObtained
		s.Seconds[i].Unknown += sec.Unknown
		if i < len(secondHists) && secondHists[i] != nil {
			s.secondHists[i].Merge(secondHists[i])
		}
	}
}

// locker is worker i's locker: its own when env has one per client, else
// its group's.
func locker(env Env, spec Spec, i int) locks.Locker {
	if env.ClientLockers != nil {
		return env.ClientLockers[i]
	}
	return env.Lockers[i%spec.Groups]
}

// sharedState is what workers share, all of it read-only or atomic.
type sharedState struct {
	spec     Spec
	keys     []string
	counters []string
	stopAt   int64 // run clock ns; 0 = no time bound
	// start is when the share started (run clock ns): per-second
	// counters count from it, whatever the clock's origin.
	start   int64
	started atomic.Int64
	// lastRelease/lastReleaser: when and by whom each key was last
	// released, for the handoff latency.
	lastRelease  []atomic.Int64
	lastReleaser []atomic.Int64

	// cancel stops every worker; fatal is the first error wrapping
	// locks.ErrFatal a worker met, the run's error.
	cancel  context.CancelFunc
	fatalMu sync.Mutex
	fatal   error
}

// fail ends the run with err, the first fatal error wins.
func (s *sharedState) fail(err error) {
	s.fatalMu.Lock()
	if s.fatal == nil {
		s.fatal = err
	}
	s.fatalMu.Unlock()
	s.cancel()
}

// fatalErr is the error that ended the run, nil if none did.
func (s *sharedState) fatalErr() error {
	s.fatalMu.Lock()
	defer s.fatalMu.Unlock()
	return s.fatal
}

// discard is the recorder of a run that records nothing.
type discard struct{}

func (discard) Append(*history.Event) {}

// worker is one client.
type worker struct {
	id       int
	process  int
	shared   *sharedState
	env      Env
	locker   locks.Locker
	proc     ProcessLocker // locker, when it runs a client process of its own
	resource *Resource
	sched    *Schedule
	stats    *workerStats
	rec      Recorder
	ev       history.Event // reused: recording allocates nothing
	timer    *time.Timer

	// Open loop: one operation every interval, the next one at next.
	interval time.Duration
	next     int64
}

// more reports whether the budget allows another operation.
func (w *worker) more(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	s := w.shared
	if s.stopAt > 0 && w.env.Clock.Now() >= s.stopAt {
		return false
	}
	if s.spec.Ops > 0 && s.started.Add(1) > int64(s.spec.Ops) {
		return false
	}
	return true
}

// sleep waits d or until ctx ends; false if ctx ended. The worker has
// appended every event whose time it read before a sleep, so a long one
// starts by telling the recorder it is idle.
func (w *worker) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	if r, ok := w.rec.(idler); ok && d >= idleWait {
		_ = r.Idle(w.env.Clock.Now()) // a write error stays with the history, whose Close returns it
	}
	if w.timer == nil {
		w.timer = time.NewTimer(d)
	} else {
		w.timer.Reset(d)
	}
	select {
	case <-w.timer.C:
		return true
	case <-ctx.Done():
		w.timer.Stop()
		return false
	}
}

// emit records one event for the worker's current process.
func (w *worker) emit(typ history.Type, op history.Op, key string) *history.Event {
	w.ev = history.Event{Time: w.env.Clock.Now(), Process: w.process, Type: typ, Op: op, Key: key}
	return &w.ev
}

func (w *worker) run(ctx context.Context) {
	if c, ok := w.rec.(io.Closer); ok {
		defer c.Close() // done: hold the history's checkpoints back no more; an error stays with the history
	}
	if w.proc != nil {
		w.proc.Process(w.process)
	}
	for w.more(ctx) {
		step := w.sched.Next()
		intended := w.env.Clock.Now()
		if w.interval > 0 {
			intended = w.next
			w.next += int64(w.interval)
			if !w.sleep(ctx, time.Duration(intended-w.env.Clock.Now())) {
				return
			}
		}
		w.cycle(ctx, step, intended)
		if !w.sleep(ctx, step.Think) {
			return
		}
	}
}

// cycle is one acquire, critical section and release. intended is when
// the operation was due (open loop) and latency counts from there, so a
// stall shows as latency for every operation scheduled during it.
func (w *worker) cycle(ctx context.Context, step Step, intended int64) {
	spec, clk := w.shared.spec, w.env.Clock
	key, counter := w.shared.keys[step.Key], w.shared.counters[step.Key]
	st := w.stats
	st.counts.Attempts++

	ev := w.emit(history.Invoke, history.Acquire, key)
	ev.TTLms = spec.TTL.Milliseconds()
	actual := ev.Time
	w.rec.Append(ev)
	lease, err := w.locker.Acquire(ctx, key, spec.TTL)
	done := clk.Now()
	sec, secHist := st.second(done - w.shared.start)
	st.record(st.hists[HistAcquireService], time.Duration(done-actual))
	st.record(secHist, time.Duration(done-intended))
	if err != nil {
		st.record(st.hists[HistAcquireFail], time.Duration(done-intended))
		typ, msg := history.Info, ""
		if errors.Is(err, locks.ErrNotObtained) && !errors.Is(err, locks.ErrFatal) {
			typ, msg = history.Fail, "not obtained"
			st.counts.NotObtained++
			sec.NotObtained++
		} else {
			msg = err.Error()
			st.counts.AcquireUnknown++
			sec.Unknown++
		}
		ev = w.emit(typ, history.Acquire, key)
		ev.Time, ev.Error = done, msg
		w.rec.Append(ev)
		w.afterError(err)
		return
	}
	st.counts.AcquireOK++
	sec.AcquireOK++
	st.record(st.hists[HistAcquireOK], time.Duration(done-intended))
	if t := w.shared.lastRelease[step.Key].Swap(0); t > 0 && w.shared.lastReleaser[step.Key].Load() != int64(w.process) {
		st.record(st.hists[HistHandoff], time.Duration(done-t))
	}
	var deadline int64
	if spec.HonourDeadline {
		if d := lease.Deadline(); !d.IsZero() {
			deadline = clk.At(d)
		}
	}
	fence, _ := lease.Fence()
	ev = w.emit(history.OK, history.Acquire, key)
	ev.Time, ev.Fence, ev.Deadline = done, fence, deadline
	w.rec.Append(ev)

	if w.env.Faults.takeCrash(w.id) {
		if w.proc != nil {
			// The crash is recorded whatever Kill says: the harness
			// treats the process as gone, and the next operation
			// starts a new one.
			_ = w.proc.Kill()
		}
		w.crash()
		return
	}
	if deadline == 0 || clk.Now() < deadline {
		w.criticalSection(ctx, step, counter, fence, deadline)
	} else {
		st.counts.SkippedExpired++
	}
	w.release(ctx, lease, step.Key, key)
}

// criticalSection reads the counter, works, and writes counter+1, unless
// the lease's deadline (0 = none) passed while it worked: a holder that
// honours its validity stops using the lock then, and a write after it
// would be the harness's fault, not the lock's. A client pause comes
// after that check, just before the write, as a GC pause would
// (Kleppmann's scenario).
func (w *worker) criticalSection(ctx context.Context, step Step, counter string, fence, deadline int64) {
	st := w.stats
	if w.shared.spec.SkipResource {
		w.sleep(ctx, step.CriticalSection)
		return
	}
	w.rec.Append(w.emit(history.Invoke, history.Read, counter))
	v, err := w.resource.Read(ctx, counter)
	if err != nil {
		st.counts.ResourceErrors++
		ev := w.emit(history.Info, history.Read, counter)
		ev.Error = err.Error()
		w.rec.Append(ev)
		return
	}
	ev := w.emit(history.OK, history.Read, counter)
	ev.Value = v
	w.rec.Append(ev)

	if !w.sleep(ctx, step.CriticalSection) {
		return
	}
	if deadline != 0 && w.env.Clock.Now() >= deadline {
		st.counts.SkippedExpired++
		return
	}
	if pause := w.env.Faults.takePause(w.id); pause > 0 {
		// A stop-the-world pause after the validity check, before the
		// write: the lease may expire and another holder come and go
		// meanwhile.
		st.counts.Pauses++
		w.nemesis("client-pause", "start")
		if w.proc != nil {
			// The client process freezes with the worker; an error
			// leaves it running, and the worker pauses all the same.
			_ = w.proc.Stop()
		}
		w.sleep(ctx, pause)
		if w.proc != nil {
			_ = w.proc.Cont()
		}
		w.nemesis("client-pause", "stop")
	}

	ev = w.emit(history.Invoke, history.Write, counter)
	ev.Value, ev.Fence = v+1, fence
	w.rec.Append(ev)
	accepted, err := w.resource.Write(ctx, counter, v+1, fence)
	switch {
	case err != nil:
		st.counts.ResourceErrors++
		ev = w.emit(history.Info, history.Write, counter)
		ev.Error = err.Error()
	case accepted:
		st.counts.WritesOK++
		ev = w.emit(history.OK, history.Write, counter)
	default:
		st.counts.WritesRejected++
		ev = w.emit(history.Fail, history.Write, counter)
		ev.Error = "stale fence rejected"
	}
	w.rec.Append(ev)
}

// release gives the lease back and records the outcome.
func (w *worker) release(ctx context.Context, lease locks.Lease, keyIdx int, key string) {
	st := w.stats
	ev := w.emit(history.Invoke, history.Release, key)
	start := ev.Time
	w.rec.Append(ev)
	err := lease.Release(ctx)
	done := w.env.Clock.Now()
	st.record(st.hists[HistRelease], time.Duration(done-start))
	switch {
	case err == nil:
		st.counts.ReleaseOK++
		w.shared.lastReleaser[keyIdx].Store(int64(w.process))
		w.shared.lastRelease[keyIdx].Store(done)
		ev = w.emit(history.OK, history.Release, key)
	case (errors.Is(err, locks.ErrLost) || errors.Is(err, locks.ErrUnreachable)) && !errors.Is(err, locks.ErrFatal):
		st.counts.ReleaseLost++
		ev = w.emit(history.Fail, history.Release, key)
		ev.Error = err.Error()
	default:
		st.counts.ReleaseUnknown++
		ev = w.emit(history.Info, history.Release, key)
		ev.Error = err.Error()
	}
	ev.Time = done
	w.rec.Append(ev)
	w.afterError(err)
}

// afterError acts on a locker error once the operation is recorded: a
// client process that is gone crashed (its locks are abandoned, the
// worker comes back as a new process), and a fatal error ends the run.
func (w *worker) afterError(err error) {
	switch {
	case err == nil:
	case errors.Is(err, locks.ErrFatal):
		w.shared.fail(err)
	case errors.Is(err, locks.ErrClientGone):
		w.crash()
	}
}

// crash abandons the lease: the process stops for good and the worker
// comes back as a fresh process id that never collides with another's.
func (w *worker) crash() {
	w.stats.counts.Crashes++
	w.rec.Append(w.emit(history.Crash, 0, ""))
	w.process += w.shared.spec.Clients
	if w.proc != nil {
		w.proc.Process(w.process)
	}
}

// nemesis records a client fault this worker carries out itself.
func (w *worker) nemesis(fault, phase string) {
	w.ev = history.Event{Time: w.env.Clock.Now(), Type: history.Nemesis, Fault: fault, Target: "process " + strconv.Itoa(w.process), Phase: phase}
	w.rec.Append(&w.ev)
}

// KeyName is the name of lock key i of a workload whose keys start with
// prefix (Env.KeyPrefix): what a fault aimed at "the lock key" names.
func KeyName(prefix string, i int) string { return prefix + "lock:" + strconv.Itoa(i) }
