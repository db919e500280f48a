package history

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// TestCheckpointsProperty drives a writer through random steps on one
// simulated clock — streams appending in time order (an event's time may
// have been read a while before it is appended), flushing, idling, closing
// and being taken late, nemesis events appended at once, checkpoints — and
// then cuts the file as a SIGKILL would: after any write, or at any byte.
// Whatever the cut, every event with time ≤ the last checkpoint left in
// the file is in the file, from every stream; and once every stream has
// gone idle the checkpoint catches up with the clock.
func TestCheckpointsProperty(t *testing.T) {
	dir := t.TempDir()
	runs := 0
	rapid.Check(t, func(t *rapid.T) {
		runs++
		path := filepath.Join(dir, fmt.Sprintf("h%d.jsonl", runs))
		w, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close() // when the test fails; a second Close does nothing
		m := &ckModel{w: w, clock: 1}
		cuts := []int64{fileSize(t, path)}
		for step := range rapid.IntRange(1, 200).Draw(t, "steps") {
			m.clock += rapid.SampledFrom([]int64{0, 1, 1000, int64(time.Millisecond), int64(30 * time.Millisecond), int64(150 * time.Millisecond)}).Draw(t, "tick")
			m.step(t, step)
			cuts = append(cuts, fileSize(t, path))
		}
		// Every stream goes idle now: the checkpoint reaches the clock.
		for _, s := range m.open {
			if err := s.s.Idle(m.clock); err != nil {
				t.Fatal(err)
			}
			s.from = m.clock
		}
		m.checkpoint(t)
		if len(m.open) > 0 && m.w.checkpoint != m.clock-1 {
			t.Fatalf("every stream idle at %d, but the checkpoint is %d", m.clock, m.w.checkpoint)
		}
		cuts = append(cuts, fileSize(t, path))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for range 5 { // and a few cuts inside writes
			cuts = append(cuts, int64(rapid.IntRange(0, len(data)).Draw(t, "cut")))
		}
		cuts = append(cuts, int64(len(data)))
		for _, cut := range cuts {
			m.checkCut(t, data[:cut])
		}
		if _, st, _ := ReadAllStats(bytes.NewReader(data)); !st.Ended || st.Unfinished() {
			t.Fatalf("closed file: stats %+v, want the end marker", st)
		}
	})
}

// ckModel is what TestCheckpointsProperty knows it handed the writer.
type ckModel struct {
	w     *Writer
	clock int64
	// open are the streams not closed; events every event given to the
	// writer, a stream's with its process (its index in procs).
	open   []*ckStream
	procs  int
	events []Event
}

// ckStream is a stream, its process, and the earliest time its next event
// may have: what its owner promised (Idle) or last appended.
type ckStream struct {
	s       *Stream
	process int
	from    int64
	seq     int64
}

func (m *ckModel) step(t *rapid.T, step int) {
	switch op := rapid.IntRange(0, 9).Draw(t, "op"); {
	case op == 0 || len(m.open) == 0 && op < 7:
		// A stream taken late: it reads its first time after.
		m.open = append(m.open, &ckStream{s: m.w.Stream(), process: m.procs, from: m.clock})
		m.procs++
	case op <= 3:
		s := rapid.SampledFrom(m.open).Draw(t, "stream")
		// Its time was read some while ago, but not before its last one.
		at := rapid.Int64Range(s.from, m.clock).Draw(t, "at")
		e := Event{Time: at, Process: s.process, Type: Invoke, Op: Write, Key: "k", Value: s.seq}
		if s.seq%2 == 1 {
			e = Event{Time: at, Process: s.process, Type: OK, Op: Write, Key: "k"}
		}
		s.s.Append(&e)
		s.seq++
		s.from = at
		m.events = append(m.events, e)
	case op == 4:
		if err := rapid.SampledFrom(m.open).Draw(t, "stream").s.Flush(); err != nil {
			t.Fatal(err)
		}
	case op == 5:
		s := rapid.SampledFrom(m.open).Draw(t, "stream")
		if err := s.s.Idle(m.clock); err != nil {
			t.Fatal(err)
		}
		s.from = m.clock
	case op == 6:
		i := rapid.IntRange(0, len(m.open)-1).Draw(t, "stream")
		if err := m.open[i].s.Close(); err != nil {
			t.Fatal(err)
		}
		m.open = slices.Delete(m.open, i, i+1)
	case op == 7:
		e := Event{Time: m.clock, Type: Nemesis, Fault: "pause", Target: fmt.Sprintf("n%d", step), Phase: "start"}
		if err := m.w.Append(&e); err != nil {
			t.Fatal(err)
		}
		m.events = append(m.events, e)
	default:
		m.checkpoint(t)
	}
}

// checkpoint has the writer record a checkpoint now, as its goroutine
// does every 100 ms (which it also does meanwhile).
func (m *ckModel) checkpoint(t *rapid.T) {
	m.w.mu.Lock()
	defer m.w.mu.Unlock()
	if err := m.w.checkpointLocked(); err != nil {
		t.Fatal(err)
	}
}

// checkCut reads the file cut short as data and checks that it holds every
// event up to its last checkpoint (every event, when the end marker is
// left).
func (m *ckModel) checkCut(t *rapid.T, data []byte) {
	got, st, err := ReadAllStats(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("cut at %d bytes: %v", len(data), err)
	}
	closed := st.Ended
	if st.Checkpoints == 0 {
		if len(data) > len(`{"type":"checkpoint","time":0}`+"\n") {
			t.Fatalf("no checkpoint in %d bytes: the file starts with one", len(data))
		}
		return
	}
	through := st.LastCheckpoint
	if closed {
		through = st.EndTime
	}
	var n int
	for i := range m.events {
		if m.events[i].Time <= through {
			n++
		}
	}
	if n > len(got) {
		t.Fatalf("cut at %d bytes: %d events up to the checkpoint at %d, but only %d events in the file", len(data), n, through, len(got))
	}
	// Each process's events are a prefix of what its stream appended,
	// and holding every one up to the checkpoint means holding as many
	// as there are up to it (its times rise); nemesis events by target.
	var have []int
	haveNemesis := map[string]bool{}
	for _, e := range got {
		if e.Type == Nemesis {
			haveNemesis[e.Target] = true
			continue
		}
		for len(have) <= e.Process {
			have = append(have, 0)
		}
		have[e.Process]++
	}
	seen := make([]int, m.procs)
	for _, e := range m.events {
		if e.Type == Nemesis {
			if e.Time <= through && !haveNemesis[e.Target] {
				t.Fatalf("cut at %d bytes: nemesis %s at %d lost, before the checkpoint at %d", len(data), e.Target, e.Time, through)
			}
			continue
		}
		seen[e.Process]++
		if e.Time <= through && (e.Process >= len(have) || have[e.Process] < seen[e.Process]) {
			t.Fatalf("cut at %d bytes: process %d's event %d at %d lost, before the checkpoint at %d", len(data), e.Process, seen[e.Process], e.Time, through)
		}
	}
	if closed && len(got) != len(m.events) {
		t.Fatalf("closed file: %d events, %d appended", len(got), len(m.events))
	}
}

func fileSize(t *rapid.T, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestCheckpointTimes follows the common time through streams that flush,
// stay blocked, go idle and close: the checkpoint is the least time the
// open streams vouch for, never moves back, and with no stream open is the
// instant before the latest event written.
func TestCheckpointTimes(t *testing.T) {
	const ms = int64(time.Millisecond)
	w, err := Open(filepath.Join(t.TempDir(), "h.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	a, b := w.Stream(), w.Stream()
	var c *Stream
	crash := func(s *Stream, p int, at int64) func() error {
		return func() error { s.Append(&Event{Time: at, Process: p, Type: Crash}); return nil }
	}
	steps := []struct {
		what string
		do   func() error
		want int64 // the checkpoint after it
	}{
		{"nothing written", func() error { return nil }, 0},
		{"a buffers an event", crash(a, 1, 50*ms), 0},
		{"a flushes", a.Flush, 0}, // b still vouches for 0 only
		{"b goes idle at 80 ms", func() error { return b.Idle(80 * ms) }, 50*ms - 1},
		{"b appends at 90 ms, buffered", crash(b, 2, 90*ms), 50*ms - 1},
		{"a is done", a.Close, 80*ms - 1}, // b's promise from Idle
		{"b's event at 200 ms flushes both", crash(b, 3, 200*ms), 200*ms - 1},
		{"c is taken late", func() error { c = w.Stream(); return nil }, 200*ms - 1},
		{"c appends at 300 ms and flushes", func() error { crash(c, 4, 300*ms)(); return c.Flush() }, 200*ms - 1},
		{"b is done", b.Close, 300*ms - 1},
		{"a nemesis at 400 ms", func() error {
			return w.Append(&Event{Time: 400 * ms, Type: Nemesis, Fault: "f", Target: "t", Phase: "start"})
		}, 300*ms - 1},
		{"c is done", func() error { return c.Close() }, 400*ms - 1},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.what, err)
		}
		w.mu.Lock()
		err := w.checkpointLocked()
		got := w.checkpoint
		w.mu.Unlock()
		if err != nil || got != st.want {
			t.Fatalf("after %q: checkpoint %d (%v), want %d", st.what, got, err, st.want)
		}
	}
	if err := a.Close(); err == nil {
		t.Errorf("a second Close of a stream succeeded")
	}
	a.Append(&Event{Time: 500 * ms, Process: 1, Type: Crash})
	if err := a.Flush(); err == nil {
		t.Errorf("Flush after the stream's Close succeeded")
	}
}

// TestCheckpointGoroutine: an open writer records checkpoints on its own
// while streams write; Close ends the file with the end marker, after
// every event, and leaves no goroutine behind.
func TestCheckpointGoroutine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.jsonl")
	w, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	clock := NewClock()
	s := w.Stream()
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		s.Append(&Event{Time: clock.Now(), Process: 1, Type: Invoke, Op: Read, Key: "r"})
		s.Append(&Event{Time: clock.Now(), Process: 1, Type: OK, Op: Read, Key: "r", Value: 1})
		time.Sleep(time.Millisecond)
	}
	idle := clock.Now()
	if err := s.Idle(idle); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * checkpointEvery)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n := checkpointGoroutines(w); n != 0 {
		t.Errorf("%d checkpoint goroutines left after Close", n)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	events, st, err := ReadAllStats(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	// A second a stream that flushes every 100 ms of event time: about ten
	// checkpoints, and the last one at the idle stream's promise.
	if st.Checkpoints < 5 || st.LastCheckpoint != idle-1 {
		t.Errorf("%d checkpoints, the last at %d; want several, the last at %d", st.Checkpoints, st.LastCheckpoint, idle-1)
	}
	last := events[len(events)-1].Time
	if !st.Ended || st.EndTime != max(last, idle-1) || st.AfterCheckpoint != 0 || st.Unfinished() {
		t.Errorf("stats %+v: want the end marker at %d", st, max(last, idle-1))
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if want := fmt.Sprintf(`{"type":"end","time":%d}`, st.EndTime); lines[len(lines)-1] != want {
		t.Errorf("last line %s, want %s", lines[len(lines)-1], want)
	}
	if lines[0] != `{"type":"checkpoint","time":0}` {
		t.Errorf("first line %s, want the checkpoint at 0", lines[0])
	}
}

// checkpointGoroutines counts w's checkpoint goroutines alive (their
// stacks name w), after giving one just stopped a moment to go.
func checkpointGoroutines(w *Writer) int {
	n := 0
	frame := []byte(fmt.Sprintf("history.(*Writer).checkpoints(%p)", w))
	for range 50 {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		if n = bytes.Count(buf, frame); n == 0 {
			return 0
		}
		time.Sleep(10 * time.Millisecond)
	}
	return n
}
