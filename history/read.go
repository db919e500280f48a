package history

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
)

// maxLine is the longest line the reader accepts.
const maxLine = 1 << 20

// Stats is what the reader saw besides the events.
type Stats struct {
	// Lines is the number of lines in the input, blank ones and a dropped
	// truncated one included.
	Lines int
	// Truncated reports that the input ended in an incomplete line: no
	// newline, and JSON cut short — the recorder was killed in the middle
	// of a write. That line was dropped; it is not an error. A last line
	// that lacks only its newline is complete and kept.
	Truncated bool
	// Checkpoints is the number of checkpoint markers, LastCheckpoint the
	// time of the last one: every event with time ≤ LastCheckpoint is in
	// the input.
	Checkpoints    int
	LastCheckpoint int64
	// Ended reports the end marker, EndTime its time: the recorder closed
	// the history, every event is in the input.
	Ended   bool
	EndTime int64
	// AfterCheckpoint is the number of events after the last checkpoint
	// (time > LastCheckpoint); 0 without checkpoints.
	AfterCheckpoint int
}

// Unfinished reports a history cut short: it has checkpoints but no end
// marker, so its recorder was killed and each stream may have lost a tail
// of events. Only its events up to LastCheckpoint are known to be all
// there. A history with no markers at all comes from another recorder and
// is taken as complete.
func (s Stats) Unfinished() bool { return s.Checkpoints > 0 && !s.Ended }

// ReadAll reads a history in the format of DESIGN §4 (JSON Lines), checks
// it and returns its events sorted by time; events with equal times keep
// their order in the input. Blank lines are skipped. A truncated last line
// is dropped silently, and checkpoint and end markers are checked and left
// out of the events (see [ReadAllStats] to learn of them). A history that
// breaks §4 — malformed JSON, an unknown field or type or op, a missing or
// misplaced field, a negative time or process, a nemesis phase other than
// start or stop, a completion with no invoke in flight for its process or
// with another op or key than that invoke, a second invoke while one is in
// flight, any event of a process after its crash, a marker with a field
// other than type and time, a checkpoint earlier than the one before it,
// anything after the end marker or an event later than it — is an
// [*InputError]
// naming the line (errors.Is(err, ErrMalformed) holds). Lines are checked
// in file order, then each process's protocol in time order: the error
// reported is the first bad line, or else the earliest protocol error in
// time. Other errors are the reader's. (ReadAll is not named Read: the Op
// Read has that name.)
func ReadAll(r io.Reader) ([]Event, error) {
	events, _, err := ReadAllStats(r)
	return events, err
}

// ReadFile is [ReadAll] on the file at path.
func ReadFile(path string) ([]Event, error) {
	events, _, err := ReadFileStats(path)
	return events, err
}

// ReadFileStats is [ReadAllStats] on the file at path.
func ReadFileStats(path string) ([]Event, Stats, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Stats{}, fmt.Errorf("history: %w", err)
	}
	defer f.Close()
	hint := 0 // events, at about 100 bytes a line
	if fi, err := f.Stat(); err == nil {
		hint = int(min(fi.Size()/100, 1<<22))
	}
	return readAll(f, hint) // read errors name the path
}

// ReadAllStats is [ReadAll] that also returns what the reader saw: the
// number of lines, whether a truncated last line was dropped, and the
// checkpoint and end markers.
func ReadAllStats(r io.Reader) ([]Event, Stats, error) {
	return readAll(r, 0)
}

// chunkLen is how many events the reader holds per chunk: chunks grow the
// history without copying it, and the sorted copy is made once.
const chunkLen = 1 << 10

// readAll reads, checks and sorts a history; hint is how many events to
// expect.
func readAll(r io.Reader, hint int) ([]Event, Stats, error) {
	var (
		st     Stats
		p      parser
		chunks [][]Event
		cur    []Event
		order  = make([]sortKey, 0, hint) // the events in file order
		br     = bufio.NewReaderSize(r, 64<<10)
		long   []byte
		mk     markers
		// latest is the latest event's time, on line latestLine: the end
		// marker must not come before it.
		latest, latestLine int64
	)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				if len(long) > maxLine {
					return nil, st, &InputError{Line: st.Lines + 1, Msg: fmt.Sprintf("line longer than %d bytes", maxLine)}
				}
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, st, fmt.Errorf("history: read: %w", err)
		}
		if len(line) == 0 {
			break
		}
		st.Lines++
		complete := line[len(line)-1] == '\n'
		if complete {
			line = line[:len(line)-1]
		}
		if len(line) > maxLine {
			return nil, st, &InputError{Line: st.Lines, Msg: fmt.Sprintf("line longer than %d bytes", maxLine)}
		}
		if skipWS(line, 0) == len(line) {
			continue
		}
		if len(order) == math.MaxInt32 {
			return nil, st, fmt.Errorf("history: more than %d events", math.MaxInt32)
		}
		if len(cur) == cap(cur) {
			if cur != nil {
				chunks = append(chunks, cur)
			}
			cur = make([]Event, 0, chunkLen)
		}
		cur = cur[:len(cur)+1]
		e := &cur[len(cur)-1]
		has, msg := p.parse(line, e)
		if msg == msgEOF && !complete {
			st.Truncated = true
			cur = cur[:len(cur)-1]
			break
		}
		switch {
		case msg == "" && isMarker(e.Type):
			cur = cur[:len(cur)-1] // metadata, not an event
			msg = mk.take(e, has, st.Lines, &st)
		case msg == "" && st.Ended:
			msg = fmt.Sprintf("event after the end marker on line %d", mk.endLine)
		case msg == "":
			msg = checkEvent(e, has)
			if msg == "" {
				order = append(order, sortKey{t: e.Time, i: int32(len(order)), line: int32(st.Lines)})
				if latestLine == 0 || e.Time > latest {
					latest, latestLine = e.Time, int64(st.Lines)
				}
			}
		}
		if msg != "" {
			return nil, st, &InputError{Line: st.Lines, Msg: msg}
		}
		if err != nil { // io.EOF after a last line without newline
			break
		}
	}
	if st.Ended && latestLine != 0 && latest > st.EndTime {
		return nil, st, &InputError{Line: mk.endLine, Msg: fmt.Sprintf("end marker at %d is before the event at %d on line %d", st.EndTime, latest, latestLine)}
	}
	if len(cur) > 0 {
		chunks = append(chunks, cur)
	}
	events, st, err := sortAndTrack(chunks, order, st)
	if err == nil && st.Checkpoints > 0 {
		i, _ := slices.BinarySearchFunc(events, st.LastCheckpoint, func(e Event, t int64) int {
			if e.Time <= t {
				return -1
			}
			return 1
		})
		st.AfterCheckpoint = len(events) - i
	}
	return events, st, err
}

// sortKey is an event's place in the file.
type sortKey struct {
	t    int64 // the event's time
	i    int32 // its index in file order
	line int32
}

// sortAndTrack returns the events of chunks sorted by time (file order
// for equal times) and checks each process's protocol in that order;
// order lists them in file order.
func sortAndTrack(chunks [][]Event, order []sortKey, st Stats) ([]Event, Stats, error) {
	if !slices.IsSortedFunc(order, func(a, b sortKey) int { return cmp.Compare(a.t, b.t) }) {
		slices.SortFunc(order, func(a, b sortKey) int {
			if c := cmp.Compare(a.t, b.t); c != 0 {
				return c
			}
			return cmp.Compare(a.i, b.i)
		})
	}
	events := make([]Event, len(order))
	tr := newTracker()
	for k, o := range order {
		events[k] = chunks[o.i/chunkLen][o.i%chunkLen]
		if msg := tr.step(&events[k], int(o.line)); msg != "" {
			return nil, st, &InputError{Line: int(o.line), Msg: msg}
		}
	}
	return events, st, nil
}
