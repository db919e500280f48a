package extclient

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/lockbench/lockbench/history"
	"github.com/lockbench/lockbench/locks"
	"github.com/lockbench/lockbench/workloads"
)

// events is a workload recorder keeping every worker's events.
type events struct {
	mu  sync.Mutex
	all []history.Event
}

type stream struct{ e *events }

func (s stream) Append(e *history.Event) {
	s.e.mu.Lock()
	s.e.all = append(s.e.all, *e)
	s.e.mu.Unlock()
}

// runWorkload runs a closed-loop workload of one external client per
// worker, each running command, for d, leaving the resource alone.
func runWorkload(t *testing.T, commands [][]string, d time.Duration, faults *workloads.ClientFaults) (*workloads.Result, []history.Event, error) {
	t.Helper()
	spec, _ := workloads.Preset("hot-key")
	spec.Clients, spec.Duration = len(commands), d
	spec.CriticalSection, spec.Think, spec.SkipResource = workloads.Dist{}, workloads.Dist{}, true
	var ls []locks.Locker
	for _, c := range commands {
		ls = append(ls, newLocker(t, c, 300*time.Millisecond))
	}
	rec := &events{}
	start := time.Now()
	res, err := workloads.Run(context.Background(), spec, workloads.Env{
		ClientLockers: ls, Resources: make([]*workloads.Resource, 1), Faults: faults,
		Clock: clock{start}, NewRecorder: func() workloads.Recorder { return stream{rec} },
	})
	return res, rec.all, err
}

type clock struct{ start time.Time }

func (c clock) Now() int64           { return int64(time.Since(c.start)) }
func (c clock) At(t time.Time) int64 { return int64(t.Sub(c.start)) }

// TestExtWorkloadCrashesAndRecovers: through workloads.Run, a client
// process that never answers is recorded as unknown and crashed, the
// worker goes on as a new process whose client answers; a client crash
// fault kills the process and the next one takes over.
func TestExtWorkloadCrashesAndRecovers(t *testing.T) {
	faults := workloads.NewClientFaults(2)
	faults.Crash(1)
	res, evs, err := runWorkload(t, [][]string{fake("silent-if-0"), fake("script")}, time.Second, faults)
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts.Crashes != 2 || res.Counts.AcquireUnknown != 1 {
		t.Errorf("crashes %d, unknown acquires %d; want 2 and 1", res.Counts.Crashes, res.Counts.AcquireUnknown)
	}
	okBy := map[int]int{}
	crashed := map[int]bool{}
	for _, e := range evs {
		switch {
		case e.Type == history.Crash:
			crashed[e.Process] = true
		case e.Type == history.OK && e.Op == history.Acquire:
			okBy[e.Process]++
		}
	}
	if !crashed[0] || !crashed[1] || okBy[0] != 0 || okBy[2] == 0 || okBy[3] == 0 {
		t.Errorf("crashed %v, acquires by process %v; want 0 and 1 crashed, 2 and 3 acquiring, 0 never", crashed, okBy)
	}
}

// TestExtWorkloadProtocolErrorEndsTheRun: a reply that breaks the
// protocol ends the run with the ProtocolError, the request recorded as
// unknown.
func TestExtWorkloadProtocolErrorEndsTheRun(t *testing.T) {
	start := time.Now()
	_, evs, err := runWorkload(t, [][]string{fake("script", `{"id":ID,"type":"ok","lease":"L"}`, "{}", "oops"), fake("script")}, 20*time.Second, nil)
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.Line != 2 || pe.Process != 0 {
		t.Fatalf("Run: %v, want the protocol error of process 0 at line 2", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the run went on %v", d)
	}
	last := history.Event{}
	for _, e := range evs {
		if e.Process == 0 {
			last = e
		}
	}
	if last.Type != history.Info || last.Op != history.Release {
		t.Errorf("process 0's last event %s, want an info release", last.String())
	}
}
