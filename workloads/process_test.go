package workloads

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lockbench/lockbench/history"
	"github.com/lockbench/lockbench/locks"
)

// fakeLocker is a locker whose outcomes a test scripts, and which records
// the ProcessLocker calls the worker makes: the workload's side of an
// external client, with no process and no Redis.
type fakeLocker struct {
	acquireErrs []error         // the outcome of acquire call i; past the end: ok
	releaseErrs []error         // the outcome of release call i; past the end: ok
	block       bool            // acquires wait for ctx to end instead
	entered     chan struct{}   // closed when a blocked acquire waits
	gate        <-chan struct{} // acquires wait for it first, if set

	mu        sync.Mutex
	acquires  int
	releases  int
	calls     []string // Process(n), Kill, Stop, Cont in order
	processes []int
}

func (f *fakeLocker) note(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

func (f *fakeLocker) Process(id int) {
	f.mu.Lock()
	f.processes = append(f.processes, id)
	f.mu.Unlock()
	f.note(fmt.Sprintf("Process(%d)", id))
}
func (f *fakeLocker) Kill() error  { f.note("Kill"); return nil }
func (f *fakeLocker) Stop() error  { f.note("Stop"); return nil }
func (f *fakeLocker) Cont() error  { f.note("Cont"); return nil }
func (f *fakeLocker) Close() error { return nil }

func (f *fakeLocker) Acquire(ctx context.Context, key string, ttl time.Duration) (locks.Lease, error) {
	if f.gate != nil {
		<-f.gate
	}
	if f.block {
		close(f.entered)
		<-ctx.Done()
		return nil, fmt.Errorf("%w: %w", locks.ErrUnknown, ctx.Err())
	}
	f.mu.Lock()
	i := f.acquires
	f.acquires++
	f.mu.Unlock()
	if i < len(f.acquireErrs) && f.acquireErrs[i] != nil {
		return nil, f.acquireErrs[i]
	}
	return &fakeLease{f: f, key: key}, nil
}

type fakeLease struct {
	f   *fakeLocker
	key string
}

func (l *fakeLease) Key() string                                 { return l.key }
func (l *fakeLease) Token() string                               { return "t" }
func (l *fakeLease) Fence() (int64, bool)                        { return 0, false }
func (l *fakeLease) Deadline() time.Time                         { return time.Time{} }
func (l *fakeLease) Extend(context.Context, time.Duration) error { return nil }
func (l *fakeLease) Release(context.Context) error {
	f := l.f
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.releases
	f.releases++
	if i < len(f.releaseErrs) {
		return f.releaseErrs[i]
	}
	return nil
}

var _ ProcessLocker = (*fakeLocker)(nil)

// fakeSpec is a closed-loop spec of clients clients that leaves the
// resource alone, bounded by ops acquires.
func fakeSpec(clients, ops int) Spec {
	s, _ := Preset("hot-key")
	s.Clients, s.Duration, s.Ops = clients, 10*time.Second, ops
	s.CriticalSection, s.Think = Dist{}, Dist{}
	s.SkipResource = true
	return s
}

func fakeEnv(spec Spec, rec *memRecorder, ls ...locks.Locker) Env {
	return Env{ClientLockers: ls, Resources: make([]*Resource, spec.Groups), Clock: newTestClock(), NewRecorder: rec.new}
}

// step is an event as these tests compare it.
func step(e history.Event) string {
	if e.Type == history.Crash {
		return fmt.Sprintf("%d crash", e.Process)
	}
	return fmt.Sprintf("%d %s %s", e.Process, e.Type, e.Op)
}

var (
	errGone  = fmt.Errorf("client x (process 0) gave no reply: %w: %w", locks.ErrClientGone, locks.ErrUnknown)
	errFatal = fmt.Errorf("client x broke protocol v1: %w", locks.ErrFatal)
)

// TestClientGoneCrashesTheProcess: an operation whose client process is
// gone is recorded as unknown, then the process crashes, the worker goes
// on as a new process id and tells its locker that id.
func TestClientGoneCrashesTheProcess(t *testing.T) {
	for _, tc := range []struct {
		name      string
		locker    *fakeLocker
		faults    func(*ClientFaults)
		want      []string
		wantCalls []string
	}{
		{
			name:   "acquire",
			locker: &fakeLocker{acquireErrs: []error{errGone}},
			want: []string{"0 invoke acquire", "0 info acquire", "0 crash",
				"1 invoke acquire", "1 ok acquire", "1 invoke release", "1 ok release"},
			wantCalls: []string{"Process(0)", "Process(1)"},
		},
		{
			name:   "release",
			locker: &fakeLocker{releaseErrs: []error{errGone}},
			want: []string{"0 invoke acquire", "0 ok acquire", "0 invoke release", "0 info release", "0 crash",
				"1 invoke acquire", "1 ok acquire", "1 invoke release", "1 ok release"},
			wantCalls: []string{"Process(0)", "Process(1)"},
		},
		{
			name:   "plain unknown is no crash",
			locker: &fakeLocker{acquireErrs: []error{fmt.Errorf("timeout: %w", locks.ErrUnknown)}},
			want: []string{"0 invoke acquire", "0 info acquire",
				"0 invoke acquire", "0 ok acquire", "0 invoke release", "0 ok release"},
			wantCalls: []string{"Process(0)"},
		},
		{
			name:   "crash fault kills the process",
			locker: &fakeLocker{},
			faults: func(f *ClientFaults) { f.Crash(0) },
			want: []string{"0 invoke acquire", "0 ok acquire", "0 crash",
				"1 invoke acquire", "1 ok acquire", "1 invoke release", "1 ok release"},
			wantCalls: []string{"Process(0)", "Kill", "Process(1)"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := fakeSpec(1, 2)
			rec := &memRecorder{}
			env := fakeEnv(spec, rec, tc.locker)
			if tc.faults != nil {
				env.Faults = NewClientFaults(1)
				tc.faults(env.Faults)
			}
			if _, err := Run(context.Background(), spec, env); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range rec.all() {
				got = append(got, step(e))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("history:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if !slices.Equal(tc.locker.calls, tc.wantCalls) {
				t.Errorf("locker calls %v, want %v", tc.locker.calls, tc.wantCalls)
			}
		})
	}
}

// TestFatalLockerErrorEndsTheRun: an error wrapping locks.ErrFatal is
// recorded as unknown, stops every worker (the other's operation in
// flight is cancelled and recorded as unknown) long before the run's
// duration, and is what Run returns.
func TestFatalLockerErrorEndsTheRun(t *testing.T) {
	for _, tc := range []struct {
		name   string
		locker *fakeLocker
		want   []string
	}{
		{"acquire", &fakeLocker{acquireErrs: []error{nil, errFatal}},
			[]string{"0 invoke acquire", "0 ok acquire", "0 invoke release", "0 ok release", "0 invoke acquire", "0 info acquire"}},
		{"release", &fakeLocker{releaseErrs: []error{errFatal}},
			[]string{"0 invoke acquire", "0 ok acquire", "0 invoke release", "0 info release"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := fakeSpec(2, 0)
			rec := &memRecorder{}
			// The fatal error comes once the other worker waits in its
			// acquire.
			blocked := &fakeLocker{block: true, entered: make(chan struct{})}
			tc.locker.gate = blocked.entered
			env := fakeEnv(spec, rec, tc.locker, blocked)
			start := time.Now()
			res, err := Run(context.Background(), spec, env)
			if !errors.Is(err, locks.ErrFatal) || err != errFatal {
				t.Fatalf("Run returned %v, want the fatal error itself", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("the run went on for %v after the fatal error", d)
			}
			if res == nil || res.Counts.Attempts == 0 {
				t.Fatalf("no statistics of what ran before: %+v", res)
			}
			var w0, w1 []string
			for _, e := range rec.all() {
				if e.Process%2 == 0 {
					w0 = append(w0, step(e))
				} else {
					w1 = append(w1, step(e))
				}
			}
			if !slices.Equal(w0, tc.want) {
				t.Errorf("worker 0's history %v, want %v", w0, tc.want)
			}
			if want := []string{"1 invoke acquire", "1 info acquire"}; !slices.Equal(w1, want) {
				t.Errorf("the blocked worker's history %v, want %v", w1, want)
			}
		})
	}
}

// TestClientPauseStopsTheClientProcess: a client pause freezes the
// locker's process for the pause and thaws it after, inside the nemesis
// events (the resource is real: the pause falls between read and write).
func TestClientPauseStopsTheClientProcess(t *testing.T) {
	r := newRig(t)
	spec := hotKey(1, 10*time.Second)
	spec.Ops = 2
	spec.CriticalSection = Dist{}
	rec := &memRecorder{}
	f := &fakeLocker{}
	env := Env{ClientLockers: []locks.Locker{f}, Resources: []*Resource{r.resource}, Clock: newTestClock(),
		NewRecorder: rec.new, KeyPrefix: t.Name() + ":", Faults: NewClientFaults(1)}
	env.Faults.Pause(0, 50*time.Millisecond)
	res, err := Run(context.Background(), spec, env)
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts.Pauses != 1 || res.Counts.WritesOK != 2 {
		t.Fatalf("pauses %d, writes %d; want 1 and 2", res.Counts.Pauses, res.Counts.WritesOK)
	}
	if want := []string{"Process(0)", "Stop", "Cont"}; !slices.Equal(f.calls, want) {
		t.Errorf("locker calls %v, want %v", f.calls, want)
	}
}

// TestClientLockersMustMatchClients: one locker per client or none.
func TestClientLockersMustMatchClients(t *testing.T) {
	spec := fakeSpec(2, 1)
	_, err := Run(context.Background(), spec, fakeEnv(spec, &memRecorder{}, &fakeLocker{}))
	if !errors.Is(err, ErrBadSpec) {
		t.Errorf("1 client locker for 2 clients: %v, want ErrBadSpec", err)
	}
}
