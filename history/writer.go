package history

import (
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// flushBytes is how full a stream's buffer gets before it is written.
	flushBytes = 64 << 10
	// flushEvery is how long, in event time, a stream goes without a
	// flush at most (as long as events keep coming).
	flushEvery = int64(100 * time.Millisecond)
	// streamCap is a stream buffer's capacity: room for the line that
	// crosses flushBytes, so steady-state appends never grow it.
	streamCap = flushBytes + 4<<10
	// maxStreamCap is the capacity above which a buffer, grown by huge
	// lines, is given back after a flush.
	maxStreamCap = 4 * streamCap
	// checkpointEvery is how often the writer tries to record a
	// checkpoint; one is written only when the common time has moved.
	checkpointEvery = 100 * time.Millisecond
)

// Writer records a history to a file in the format of DESIGN §4. Workers
// each append through their own [Stream]; [Writer.Append] takes rare
// events from any goroutine. Every write is one write(2) of whole lines
// under the writer's mutex, so once a batch is handed over it survives a
// SIGKILL of the recorder (it is in the kernel); [Writer.Sync] and
// [Writer.Close] also make it survive a machine crash.
//
// The first write error is sticky: later writes are dropped (so the file
// holds whole lines, but for at most a truncated last one) and the error is
// returned by [Stream.Flush], [Writer.Append], [Writer.Sync] and
// [Writer.Close].
//
// Checkpoints. While it is open, a Writer's own goroutine records, every
// 100 ms or so, a checkpoint line {"type":"checkpoint","time":T}: every
// event with time ≤ T of every stream is in the file by then (handed to
// the kernel), so a history cut short by a SIGKILL is complete up to its
// last checkpoint. T is the least, over the streams still open, of the
// time each has vouched for: a stream's events are appended in time
// order, so once it has written its buffer, every event it will append
// comes at or after the last one written, and all before that are in the
// file; a stream about to wait says so with [Stream.Idle], and a stream
// whose owner is done stops holding T back with [Stream.Close]. Events
// given to [Writer.Append] are in the file when it returns; their caller
// reads their time just before (see Append). [Writer.Close] writes an
// end marker {"type":"end","time":T} last: the history is complete.
type Writer struct {
	mu sync.Mutex
	f  *os.File
	// streams are the open streams: those that hold checkpoints back.
	streams []*Stream
	buf     []byte // Append's line, or a marker's
	err     error  // the first write error
	closed  bool
	// latest is the latest event time handed to the file; checkpoint
	// the time of the last checkpoint written.
	latest, checkpoint int64
	// stop ends the checkpoint goroutine, which closes done as it
	// returns; stopOnce lets Close be called twice.
	stop, done chan struct{}
	stopOnce   sync.Once
}

// Open creates (or truncates) the file at path and returns a Writer
// recording to it. The file starts with a checkpoint at time 0, so that a
// history killed before the next checkpoint reads as cut short (and is
// checked as empty), not as a complete history from another system: start
// the run's clock after Open, so that every event comes after time 0.
// Open starts the checkpoint goroutine; [Writer.Close] stops it.
func Open(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	w := &Writer{f: f, buf: make([]byte, 0, 512), stop: make(chan struct{}), done: make(chan struct{})}
	w.buf = appendMarker(w.buf[:0], markerNameCheckpoint, 0)
	_ = w.writeLocked(w.buf) // an error is sticky, as for every write
	go w.checkpoints()
	return w, nil
}

// Stream returns a new stream recording to w, for one goroutine (one
// worker, one process). It is safe to call from any goroutine. The
// stream's events must come after the writer's last checkpoint: take the
// stream before reading the clock for its first event, as a worker that
// is handed its stream when it starts does.
func (w *Writer) Stream() *Stream {
	s := &Stream{w: w, buf: make([]byte, 0, streamCap)}
	w.mu.Lock()
	// A new stream vouches for what the last checkpoint already claimed:
	// its events are read from the clock after it.
	s.through.Store(w.checkpoint)
	w.streams = append(w.streams, s)
	w.mu.Unlock()
	return s
}

// Append writes e at once, as one line: for rare events (nemesis) from any
// goroutine. It is safe for concurrent use, with streams too. Appended
// events do not hold checkpoints back, so read e's time from the clock
// right before calling Append: an event whose time is older than a
// checkpoint written meanwhile is in the file only after that checkpoint.
func (w *Writer) Append(e *Event) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(AppendJSON(w.buf[:0], e), '\n')
	if err := w.writeLocked(w.buf); err != nil {
		return err
	}
	w.latest = max(w.latest, e.Time)
	return nil
}

// checkpoints is the goroutine that records checkpoints until Close.
func (w *Writer) checkpoints() {
	defer close(w.done)
	tick := time.NewTicker(checkpointEvery)
	defer tick.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-tick.C:
			w.mu.Lock()
			_ = w.checkpointLocked() // an error is sticky in w.err
			w.mu.Unlock()
		}
	}
}

// checkpointLocked writes a checkpoint if the common time has moved past
// the last one; w.mu is held.
func (w *Writer) checkpointLocked() error {
	t := w.commonLocked()
	if t <= w.checkpoint {
		return nil
	}
	w.buf = appendMarker(w.buf[:0], markerNameCheckpoint, t)
	if err := w.writeLocked(w.buf); err != nil {
		return err
	}
	w.checkpoint = t
	return nil
}

// commonLocked is the latest time up to which every event of every stream
// is in the file: the least time the open streams vouch for, or, with no
// stream open, the instant before the latest event written (a stream
// taken later reads its times from the clock after it); w.mu is held.
func (w *Writer) commonLocked() int64 {
	if len(w.streams) == 0 {
		return w.latest - 1
	}
	t := int64(math.MaxInt64)
	for _, s := range w.streams {
		t = min(t, s.through.Load())
	}
	return t
}

// Sync commits what was handed to the file to stable storage (fsync): call
// it on interrupt. It does not flush streams' buffers; their owners do
// that with [Stream.Flush]. Bytes already handed over survive a SIGKILL
// without Sync; Sync is for a crash of the machine.
func (w *Writer) Sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errClosed()
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("history: sync: %w", err)
	}
	return w.err
}

// Close stops the checkpoints, flushes the buffer of every stream w handed
// out and has not been closed, writes the end marker (its time is the
// latest event's or checkpoint's), fsyncs and closes the file. Call it
// after the workers stopped: no stream may be appended to or flushed
// concurrently with Close (Close reads their buffers under w's mutex, and
// the worker's last Append must happen before Close, e.g. through a
// sync.WaitGroup). Appending to a stream after Close records nothing; its
// Flush returns an error. A second Close returns an error wrapping
// os.ErrClosed.
func (w *Writer) Close() error {
	w.stopOnce.Do(func() { close(w.stop) })
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errClosed()
	}
	for _, s := range w.streams {
		if w.writeLocked(s.buf) == nil && len(s.buf) > 0 { // an error is sticky in w.err
			w.latest = max(w.latest, s.tail)
		}
		s.buf = nil
	}
	w.streams = nil
	w.buf = appendMarker(w.buf[:0], markerNameEnd, max(w.latest, w.checkpoint))
	_ = w.writeLocked(w.buf)
	err := w.err
	if serr := w.f.Sync(); serr != nil && err == nil {
		err = fmt.Errorf("history: sync: %w", serr)
	}
	if cerr := w.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("history: close: %w", cerr)
	}
	w.closed = true
	return err
}

// writeLocked writes b, whole lines, with one write(2); w.mu is held.
func (w *Writer) writeLocked(b []byte) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errClosed()
	}
	if len(b) == 0 {
		return nil
	}
	if _, err := w.f.Write(b); err != nil {
		w.err = fmt.Errorf("history: write: %w", err)
		return w.err
	}
	return nil
}

func errClosed() error { return fmt.Errorf("history: writer closed: %w", os.ErrClosed) }

// Stream is one goroutine's way into a [Writer]: Append encodes into the
// stream's own buffer with no lock; the buffer is handed to the writer (one
// lock and one write(2) per batch) when it reaches 64 KiB, or when the
// event appended is 100 ms or more after the stream's last flush (by the
// event's Time: no clock is read). A Stream is not safe for concurrent use:
// give each worker (each process) its own. Its events must be appended in
// time order; events of different streams interleave in the file, which
// DESIGN §4 allows (the reader sorts).
//
// Events still in the buffer are not in the file: a stream whose owner
// blocks keeps them until its next Append, [Stream.Flush], [Stream.Idle],
// [Stream.Close] or [Writer.Close]; a SIGKILL loses them. The writer's
// checkpoints wait for them: a stream vouches only for what it has
// written. An owner about to wait long calls Idle, and one that is done
// calls Close, so that the checkpoints need not wait for it.
type Stream struct {
	w    *Writer
	buf  []byte
	last int64 // the Time of the event that caused the last flush
	tail int64 // the Time of the last event appended
	// through is the time the stream vouches for: every event of it with
	// time ≤ through is in the file, and every event it will append comes
	// later. Only the owner stores it, after a write; the checkpoint
	// goroutine loads it.
	through atomic.Int64
	closed  bool // by Close; guarded by the writer's mutex
}

// Append records e (the stream does not keep the pointer). In steady state
// it allocates nothing. A write error is kept by the writer and returned by
// the next Flush or Close.
func (s *Stream) Append(e *Event) {
	s.buf = append(AppendJSON(s.buf, e), '\n')
	s.tail = e.Time
	if len(s.buf) >= flushBytes || e.Time-s.last >= flushEvery {
		_ = s.flush()
		s.last = e.Time
	}
}

// Flush hands the stream's buffered events to the file now: after Flush
// returns nil they survive a SIGKILL of the process. It returns the
// writer's first write error, if any.
func (s *Stream) Flush() error { return s.flush() }

// Idle tells the writer that the stream's owner is about to wait (sleep,
// or block in a call) and that every event it appends from now on has a
// time ≥ now: the buffered events, if any, go to the file (one write(2)),
// and the writer's checkpoints may pass now while the owner waits. Call it
// before waits that are long next to the 100 ms flush interval, not
// before every operation: with events buffered, each call is a write.
func (s *Stream) Idle(now int64) error {
	if len(s.buf) > 0 {
		if err := s.flush(); err != nil {
			return err
		}
		s.last = now
	}
	s.vouch(now - 1)
	return nil
}

// Close hands the stream's buffered events to the file and retires the
// stream: it no longer holds the writer's checkpoints back. Call it when
// the stream's owner has appended its last event (a worker that
// finished). Appending after Close records nothing (Flush returns an
// error); a second Close returns an error wrapping os.ErrClosed.
func (s *Stream) Close() error {
	w := s.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if s.closed {
		return errClosed()
	}
	s.closed = true
	err := w.writeLocked(s.buf)
	if err == nil && len(s.buf) > 0 {
		w.latest = max(w.latest, s.tail)
	}
	s.buf = nil
	for i, o := range w.streams {
		if o == s {
			w.streams = append(w.streams[:i], w.streams[i+1:]...)
			break
		}
	}
	return err
}

func (s *Stream) flush() error {
	w := s.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if s.closed {
		s.buf = s.buf[:0]
		return fmt.Errorf("history: stream closed: %w", os.ErrClosed)
	}
	err := w.writeLocked(s.buf)
	if err == nil && len(s.buf) > 0 {
		// Everything appended so far is in the file; what comes next is
		// at or after tail, so the stream vouches for the instant before.
		w.latest = max(w.latest, s.tail)
		s.vouch(s.tail - 1)
	}
	if cap(s.buf) > maxStreamCap {
		s.buf = make([]byte, 0, streamCap)
	} else {
		s.buf = s.buf[:0]
	}
	return err
}

// vouch raises the time the stream vouches for to t; only the owner calls
// it.
func (s *Stream) vouch(t int64) {
	if t > s.through.Load() {
		s.through.Store(t)
	}
}
