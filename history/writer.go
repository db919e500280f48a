package history

import (
	"fmt"
	"os"
	"sync"
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
type Writer struct {
	mu      sync.Mutex
	f       *os.File
	streams []*Stream
	buf     []byte // Append's line
	err     error  // the first write error
	closed  bool
}

// Open creates (or truncates) the file at path and returns a Writer
// recording to it.
func Open(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	return &Writer{f: f, buf: make([]byte, 0, 512)}, nil
}

// Stream returns a new stream recording to w, for one goroutine (one
// worker, one process). It is safe to call from any goroutine.
func (w *Writer) Stream() *Stream {
	s := &Stream{w: w, buf: make([]byte, 0, streamCap)}
	w.mu.Lock()
	w.streams = append(w.streams, s)
	w.mu.Unlock()
	return s
}

// Append writes e at once, as one line: for rare events (nemesis) from any
// goroutine. It is safe for concurrent use, with streams too.
func (w *Writer) Append(e *Event) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(AppendJSON(w.buf[:0], e), '\n')
	return w.writeLocked(w.buf)
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

// Close flushes the buffer of every stream w handed out, fsyncs and closes
// the file. Call it after the workers stopped: no stream may be appended
// to or flushed concurrently with Close (Close reads their buffers under
// w's mutex, and the worker's last Append must happen before Close, e.g.
// through a sync.WaitGroup). Appending to a stream after Close records
// nothing; its Flush returns an error. A second Close returns an error
// wrapping os.ErrClosed.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errClosed()
	}
	for _, s := range w.streams {
		_ = w.writeLocked(s.buf) // an error is sticky in w.err
		s.buf = nil
	}
	w.streams = nil
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
// blocks keeps them until its next Append, [Stream.Flush] or
// [Writer.Close]; a SIGKILL loses them.
type Stream struct {
	w    *Writer
	buf  []byte
	last int64 // the Time of the event that caused the last flush
}

// Append records e (the stream does not keep the pointer). In steady state
// it allocates nothing. A write error is kept by the writer and returned by
// the next Flush or Close.
func (s *Stream) Append(e *Event) {
	s.buf = append(AppendJSON(s.buf, e), '\n')
	if len(s.buf) >= flushBytes || e.Time-s.last >= flushEvery {
		_ = s.flush()
		s.last = e.Time
	}
}

// Flush hands the stream's buffered events to the file now: after Flush
// returns nil they survive a SIGKILL of the process. It returns the
// writer's first write error, if any.
func (s *Stream) Flush() error { return s.flush() }

func (s *Stream) flush() error {
	w := s.w
	w.mu.Lock()
	err := w.writeLocked(s.buf)
	if cap(s.buf) > maxStreamCap {
		s.buf = make([]byte, 0, streamCap)
	} else {
		s.buf = s.buf[:0]
	}
	w.mu.Unlock()
	return err
}
