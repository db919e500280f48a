package history

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestStreamsConcurrent has many workers, each with its own stream, and a
// nemesis writing through the Writer, all at once; after Close the reader
// gets every event, each process's in the order it was appended.
func TestStreamsConcurrent(t *testing.T) {
	const (
		workers = 8
		ops     = 5000
	)
	path := filepath.Join(t.TempDir(), "history.jsonl")
	w, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	clock := NewClock()
	keys := []string{"lock", `lock "quoted" \ back`, "verrou-é-🔒", "tab\there", "nul\x00"}
	var wg sync.WaitGroup
	for p := range workers {
		s := w.Stream()
		wg.Go(func() {
			key := keys[p%len(keys)]
			for seq := range int64(ops) {
				s.Append(&Event{Time: clock.Now(), Process: p, Type: Invoke, Op: Write, Key: key, Fence: seq + 1, Value: seq})
				s.Append(&Event{Time: clock.Now(), Process: p, Type: OK, Op: Write, Key: key})
				if seq%1000 == 999 {
					if err := s.Flush(); err != nil {
						t.Error(err)
						return
					}
				}
			}
			if p%2 == 0 {
				s.Append(&Event{Time: clock.Now(), Process: p, Type: Crash})
			}
		})
	}
	stop := make(chan struct{})
	nemeses := 0
	var nwg sync.WaitGroup
	nwg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, phase := range []string{"start", "stop"} {
				if err := w.Append(&Event{Time: clock.Now(), Type: Nemesis, Fault: "latency", Target: "group-a×n1", Phase: phase}); err != nil {
					t.Error(err)
					return
				}
			}
			nemeses += 2
			time.Sleep(time.Millisecond)
		}
	})
	wg.Wait()
	close(stop)
	nwg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	events, st, err := ReadFileStats(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Truncated {
		t.Errorf("a closed history ends in a truncated line")
	}
	if want := workers*ops*2 + workers/2 + nemeses; len(events) != want {
		t.Errorf("read %d events, want %d", len(events), want)
	}
	next := make([]int64, workers)
	crashed := make([]bool, workers)
	gotNemeses := 0
	for i, e := range events {
		if i > 0 && e.Time < events[i-1].Time {
			t.Fatalf("event %d is out of time order", i)
		}
		switch e.Type {
		case Nemesis:
			gotNemeses++
			continue
		case Crash:
			crashed[e.Process] = true
			continue
		}
		if want := keys[e.Process%len(keys)]; e.Key != want {
			t.Fatalf("event %d: key %q, want %q", i, e.Key, want)
		}
		if e.Type == Invoke {
			if e.Value != next[e.Process] || e.Fence != e.Value+1 {
				t.Fatalf("process %d: write %d (fence %d), want %d: order lost", e.Process, e.Value, e.Fence, next[e.Process])
			}
			next[e.Process]++
		}
	}
	for p := range workers {
		if next[p] != ops || crashed[p] != (p%2 == 0) {
			t.Errorf("process %d: %d writes, crashed %v", p, next[p], crashed[p])
		}
	}
	if gotNemeses != nemeses {
		t.Errorf("%d nemesis events, want %d", gotNemeses, nemeses)
	}
}

// TestStreamFlushPolicy: a stream writes when its buffer reaches 64 KiB or
// an event comes 100 ms (event time) after its last flush, and always
// whole lines.
func TestStreamFlushPolicy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.jsonl")
	w, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s := w.Stream()
	// fileLines counts the event lines: the checkpoint goroutine adds
	// marker lines of its own when it likes.
	fileLines := func() int {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 0 && b[len(b)-1] != '\n' {
			t.Fatalf("the file ends in a partial line")
		}
		return bytes.Count(b, []byte("\n")) - bytes.Count(b, []byte(`{"type":"checkpoint"`))
	}
	crash := func(ms int64, p int) {
		s.Append(&Event{Time: ms * int64(time.Millisecond), Process: p, Type: Crash})
	}
	steps := []struct {
		ms    int64
		lines int // in the file after appending at ms
	}{
		{50, 0},   // 50 ms after the start (last flush 0): buffered
		{99, 0},   // still under 100 ms
		{100, 3},  // 100 ms: flush, this event included
		{150, 3},  // 50 ms after the last flush
		{199, 3},  //
		{200, 6},  // 100 ms after the last flush
		{5000, 7}, // an idle stream's next event goes at once
	}
	for i, st := range steps {
		crash(st.ms, i)
		if got := fileLines(); got != st.lines {
			t.Fatalf("after the event at %d ms: %d lines in the file, want %d", st.ms, got, st.lines)
		}
	}
	// Size: events at one instant go out in whole 64 KiB batches.
	line := len(AppendJSON(nil, &Event{Time: 5000 * int64(time.Millisecond), Process: 1000, Type: Crash})) + 1
	perBatch := (flushBytes + line - 1) / line
	for i := range perBatch - 1 {
		crash(5000, 1000+i)
	}
	if got := fileLines(); got != 7 {
		t.Fatalf("%d lines after %d events short of 64 KiB, want 7", got, perBatch-1)
	}
	crash(5000, 1000+perBatch)
	if got := fileLines(); got != 7+perBatch {
		t.Fatalf("%d lines after 64 KiB, want %d", got, 7+perBatch)
	}
	crash(5000, 0)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := fileLines(); got != 8+perBatch {
		t.Fatalf("%d lines after Flush, want %d", got, 8+perBatch)
	}
}

func TestStreamAppendAllocs(t *testing.T) {
	w, err := Open(filepath.Join(t.TempDir(), "h.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s := w.Stream()
	e := Event{Time: 1, Process: 7, Type: OK, Op: Acquire, Key: `orders:"eu"`, Fence: 123456, Deadline: 30_000_000_000}
	// Enough runs for many 64 KiB and 100 ms flushes.
	allocs := testing.AllocsPerRun(20000, func() {
		e.Time += 50_000 // 50 µs per event
		s.Append(&e)
	})
	if allocs != 0 {
		t.Errorf("Stream.Append allocates %v times per event, want 0", allocs)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
}

func TestWriterClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.jsonl")
	w, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s1, s2 := w.Stream(), w.Stream()
	s1.Append(&Event{Time: 1, Process: 1, Type: Crash})
	s2.Append(&Event{Time: 2, Process: 2, Type: Crash})
	if err := w.Append(&Event{Time: 3, Type: Nemesis, Fault: "f", Target: "t", Phase: "start"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	events, err := ReadFile(path)
	if err != nil || len(events) != 3 {
		t.Fatalf("ReadFile = %v, %v; want 3 events", events, err)
	}
	if err := w.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("second Close = %v, want os.ErrClosed", err)
	}
	if err := w.Append(&events[2]); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Append after Close = %v, want os.ErrClosed", err)
	}
	if err := w.Sync(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Sync after Close = %v, want os.ErrClosed", err)
	}
	s1.Append(&Event{Time: 4, Process: 1, Type: Crash})
	if err := s1.Flush(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Flush after Close = %v, want os.ErrClosed", err)
	}
}

func TestWriterErrorIsSticky(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	w, err := Open("/dev/full")
	if err != nil {
		t.Fatal(err)
	}
	s := w.Stream()
	s.Append(&Event{Time: 1, Process: 1, Type: Crash})
	err1 := s.Flush()
	if err1 == nil {
		t.Fatal("Flush to /dev/full succeeded")
	}
	if err := w.Append(&Event{Time: 2, Type: Nemesis, Fault: "f", Target: "t", Phase: "stop"}); err != err1 {
		t.Errorf("Append after a write error = %v, want the first error %v", err, err1)
	}
	if err := w.Close(); !errors.Is(err, err1) {
		t.Errorf("Close = %v, want the first write error %v", err, err1)
	}
}

func TestOpenError(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "absent", "h.jsonl"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open in a missing directory = %v, want os.ErrNotExist", err)
	}
}

func TestClock(t *testing.T) {
	c := NewClock()
	a := c.Now()
	time.Sleep(2 * time.Millisecond)
	b := c.Now()
	if a < 0 || b-a < int64(2*time.Millisecond) {
		t.Errorf("Now: %d then %d, want ≥ 2 ms apart", a, b)
	}
	now := time.Now()
	at := c.At(now)
	if at < b || at > c.Now() {
		t.Errorf("At(time.Now()) = %d, not between two Now readings", at)
	}
	deadline := now.Add(30 * time.Second)
	if got := c.At(deadline) - at; got != int64(30*time.Second) {
		t.Errorf("At(deadline) - At(now) = %d, want 30 s", got)
	}
	if !c.Time(c.At(deadline)).Equal(deadline) || c.At(c.Start()) != 0 {
		t.Errorf("Time is not At's inverse")
	}
	// A time without a monotonic reading converts by the wall clock.
	if got := c.At(now.Round(0)); got-at > int64(time.Second) || at-got > int64(time.Second) {
		t.Errorf("At(wall time) = %d, far from %d", got, at)
	}
}

// ExampleWriter records a history with one stream per worker and reads it
// back.
func ExampleWriter() {
	dir, err := os.MkdirTemp("", "history")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "history.jsonl")

	w, err := Open(path)
	if err != nil {
		panic(err)
	}
	clock := NewClock()
	var wg sync.WaitGroup
	for p := range 2 {
		s := w.Stream() // one per worker
		wg.Go(func() {
			e := Event{Time: clock.Now(), Process: p, Type: Invoke, Op: Acquire, Key: "orders", TTLms: 500}
			s.Append(&e)
			e = Event{Time: clock.Now(), Process: p, Type: Fail, Op: Acquire, Key: "orders", Error: "not obtained"}
			s.Append(&e)
		})
	}
	wg.Wait()       // workers stopped ...
	err = w.Close() // ... before Close flushes their streams
	if err != nil {
		panic(err)
	}
	events, err := ReadFile(path)
	fmt.Println(len(events), err)
	// Output: 4 <nil>
}
