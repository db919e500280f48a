package history

import (
	"bytes"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// benchEvent is a realistic acquire ok: fence and deadline present.
func benchEvent(process int) Event {
	return Event{Time: 12_345_678_901, Process: process, Type: OK, Op: Acquire, Key: "lockbench:cell-3:orders",
		Fence: 1_234_567, Deadline: 42_345_678_901}
}

// BenchmarkStreamAppend is one worker recording to a real file.
func BenchmarkStreamAppend(b *testing.B) {
	w, err := Open(filepath.Join(b.TempDir(), "h.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	s := w.Stream()
	e := benchEvent(1)
	b.ReportAllocs()
	b.SetBytes(int64(len(AppendJSON(nil, &e)) + 1))
	for b.Loop() {
		e.Time += 1000 // 1 µs apart
		s.Append(&e)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkStreamAppendParallel is GOMAXPROCS workers, a stream each,
// recording to one file.
func BenchmarkStreamAppendParallel(b *testing.B) {
	w, err := Open(filepath.Join(b.TempDir(), "h.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	var process atomic.Int64
	e0 := benchEvent(0)
	b.ReportAllocs()
	b.SetBytes(int64(len(AppendJSON(nil, &e0)) + 1))
	b.RunParallel(func(pb *testing.PB) {
		s := w.Stream()
		e := benchEvent(int(process.Add(1)))
		for pb.Next() {
			e.Time += 1000
			s.Append(&e)
		}
		if err := s.Flush(); err != nil {
			b.Error(err)
		}
	})
	b.StopTimer() // Close's fsync is not the hot path
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAppendJSON is the encoder alone.
func BenchmarkAppendJSON(b *testing.B) {
	e := benchEvent(1)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendJSON(buf[:0], &e)
	}
}

// BenchmarkRead parses, validates and sorts a history of 100 000 events
// from 16 processes, written by 4 streams whose batches interleave.
func BenchmarkRead(b *testing.B) {
	data := benchHistory(100_000, 16, 4)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	events := 0
	for b.Loop() {
		ev, err := ReadAll(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		events += len(ev)
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// benchHistory is a valid history of n events: processes cycle through
// acquire, write, read, release, time rising by 1 µs per event; each
// process belongs to one of streams streams, and each stream's events are
// written in batches of 500 (as 64 KiB flushes do), batches of different
// streams out of time order.
func benchHistory(n, processes, streams int) []byte {
	type step struct {
		typ   Type
		op    Op
		key   string
		ttl   int64
		fence bool
		dl    bool
		value bool
		err   string
	}
	cycle := []step{
		{typ: Invoke, op: Acquire, key: "lockbench:orders", ttl: 30000},
		{typ: OK, op: Acquire, key: "lockbench:orders", fence: true, dl: true},
		{typ: Invoke, op: Write, key: "counter", fence: true, value: true},
		{typ: OK, op: Write, key: "counter"},
		{typ: Invoke, op: Read, key: "counter"},
		{typ: OK, op: Read, key: "counter", value: true},
		{typ: Invoke, op: Release, key: "lockbench:orders"},
		{typ: Info, op: Release, key: "lockbench:orders", err: "i/o timeout"},
	}
	batches := make([][]byte, streams)
	var out []byte
	pos := make([]int, processes)
	for i := range n {
		p := i % processes
		st := cycle[pos[p]%len(cycle)]
		pos[p]++
		e := Event{Time: int64(i) * 1000, Process: p, Type: st.typ, Op: st.op, Key: st.key, TTLms: st.ttl, Error: st.err}
		if st.fence {
			e.Fence = int64(pos[p])
		}
		if st.dl {
			e.Deadline = e.Time + 30_000_000_000
		}
		if st.value {
			e.Value = int64(i)
		}
		s := p % streams
		batches[s] = append(AppendJSON(batches[s], &e), '\n')
		if bytes.Count(batches[s], []byte("\n")) == 500 {
			out = append(out, batches[s]...)
			batches[s] = batches[s][:0]
		}
	}
	for s := len(batches) - 1; s >= 0; s-- {
		out = append(out, batches[s]...)
	}
	return out
}
