package history

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// ErrMalformed is wrapped by every input error: a history that breaks
// DESIGN §4. Check with errors.Is(err, ErrMalformed), or errors.As with an
// [*InputError] for the line.
var ErrMalformed = errors.New("malformed history")

// InputError is a history that breaks DESIGN §4, with the line to blame.
type InputError struct {
	// Line is the 1-based line of the file (for [Validate]: the 1-based
	// position of the event in the slice).
	Line int
	// Msg says what is wrong, on one line.
	Msg string
}

// Error is "history line N: what is wrong".
func (e *InputError) Error() string {
	return "history line " + strconv.Itoa(e.Line) + ": " + e.Msg
}

// Unwrap returns [ErrMalformed].
func (e *InputError) Unwrap() error { return ErrMalformed }

// Validate checks a history held in memory as the reader checks a file:
// every event's fields against DESIGN §4, events sorted by time (see
// [Sort]), and each process's protocol — at most one operation in flight,
// a completion (ok/fail/info) only for the operation in flight with the
// same op and key, nothing after the process's crash (clock events
// included; before it they may come anywhere, an operation in flight or
// not). A field is taken as
// present when it is non-zero (non-empty for strings), except ttl_ms,
// value, offset and uncertainty, which are present wherever §4 requires
// them; Process is ignored
// on nemesis events. So Validate accepts exactly the events that come back
// unchanged from [AppendJSON] and the reader (but for invalid UTF-8 in
// strings, which comes back as U+FFFD). The first problem is returned as an
// [*InputError] whose Line is the event's 1-based position in events.
func Validate(events []Event) error {
	tr := newTracker()
	for i := range events {
		e := &events[i]
		if msg := checkEvent(e, presentFields(e)); msg != "" {
			return &InputError{Line: i + 1, Msg: msg}
		}
		if i > 0 && e.Time < events[i-1].Time {
			return &InputError{Line: i + 1, Msg: fmt.Sprintf("time %d is before the previous event's %d: events must be sorted by time", e.Time, events[i-1].Time)}
		}
		if msg := tr.step(e, i+1); msg != "" {
			return &InputError{Line: i + 1, Msg: msg}
		}
	}
	return nil
}

// Sort sorts events by time, keeping the order of events with equal times
// (so each process's events stay in the order they were recorded).
func Sort(events []Event) {
	slices.SortStableFunc(events, func(a, b Event) int { return cmp.Compare(a.Time, b.Time) })
}

// fieldSet is a set of the fields of DESIGN §4.
type fieldSet uint16

const (
	fTime fieldSet = 1 << iota
	fProcess
	fType
	fOp
	fKey
	fTTL
	fFence
	fDeadline
	fValue
	fError
	fFault
	fTarget
	fPhase
	fOffset
	fUncertainty
)

// fieldName is the name in the file of the lowest field in f.
func fieldName(f fieldSet) string {
	switch f & -f {
	case fTime:
		return "time"
	case fProcess:
		return "process"
	case fType:
		return "type"
	case fOp:
		return "op"
	case fKey:
		return "key"
	case fTTL:
		return "ttl_ms"
	case fFence:
		return "fence"
	case fDeadline:
		return "deadline"
	case fValue:
		return "value"
	case fError:
		return "error"
	case fFault:
		return "fault"
	case fTarget:
		return "target"
	case fPhase:
		return "phase"
	case fOffset:
		return "offset"
	case fUncertainty:
		return "uncertainty"
	}
	return "?"
}

// placement is where DESIGN §4 puts each field: the fields an event of
// type t and op o must have, and those it may have.
func placement(t Type, o Op) (required, allowed fieldSet) {
	switch t {
	case Invoke, OK, Fail, Info:
		required = fTime | fType | fProcess | fOp | fKey
		switch {
		case t == Invoke && (o == Acquire || o == Extend):
			required |= fTTL
		case t == Invoke && o == Write:
			required |= fValue
			allowed |= fFence
		case t == OK && o == Acquire:
			allowed |= fFence | fDeadline
		case t == OK && o == Extend:
			allowed |= fDeadline
		case t == OK && o == Read:
			required |= fValue
		case t == Fail || t == Info:
			allowed |= fError
		}
	case Crash:
		required = fTime | fType | fProcess
	case Nemesis:
		required = fTime | fType | fFault | fTarget | fPhase
	case ClockSample:
		required = fTime | fType | fProcess | fTarget | fOffset | fUncertainty
	default:
		required = fTime | fType
	}
	return required, required | allowed
}

// presentFields is the fields of an in-memory event that the encoder
// writes (see Validate).
func presentFields(e *Event) fieldSet {
	has := fTime | fType
	if e.Type != Nemesis {
		has |= fProcess
	}
	if e.Op != 0 {
		has |= fOp
	}
	for _, f := range [...]struct {
		set bool
		bit fieldSet
	}{
		{e.Key != "", fKey}, {e.TTLms != 0, fTTL}, {e.Fence != 0, fFence},
		{e.Deadline != 0, fDeadline}, {e.Value != 0, fValue}, {e.Error != "", fError},
		{e.Fault != "", fFault}, {e.Target != "", fTarget}, {e.Phase != "", fPhase},
		{e.Offset != 0, fOffset}, {e.Uncertainty != 0, fUncertainty},
	} {
		if f.set {
			has |= f.bit
		}
	}
	required, _ := placement(e.Type, e.Op)
	return has | required&(fTTL|fValue|fOffset|fUncertainty)
}

// checkEvent checks one event's fields, has being those present; it
// returns what is wrong or "". String fields count as present only when
// non-empty, fence and deadline only when non-zero.
func checkEvent(e *Event, has fieldSet) string {
	if has&fType == 0 {
		return "missing field type"
	}
	if e.Type < Invoke || e.Type > ClockSample {
		return fmt.Sprintf("invalid type %d", uint8(e.Type))
	}
	if has&fTime == 0 {
		return "missing field time"
	}
	if e.Time < 0 {
		return fmt.Sprintf("negative time %d", e.Time)
	}
	if has&fProcess != 0 && e.Process < 0 {
		return fmt.Sprintf("negative process %d", e.Process)
	}
	if has&fOp != 0 && (e.Op < Acquire || e.Op > Write) {
		return fmt.Sprintf("invalid op %d", uint8(e.Op))
	}
	required, allowed := placement(e.Type, e.Op)
	if missing := required &^ has; missing != 0 {
		switch f := missing & -missing; f {
		case fKey, fFault, fTarget, fPhase:
			return "missing or empty field " + fieldName(f) + " on " + describe(e, has)
		default:
			return "missing field " + fieldName(f) + " on " + describe(e, has)
		}
	}
	if extra := has &^ allowed; extra != 0 {
		return "field " + fieldName(extra) + " does not belong on " + describe(e, has)
	}
	switch {
	case e.TTLms < 0 && has&fTTL != 0:
		return fmt.Sprintf("negative ttl_ms %d", e.TTLms)
	case e.Fence < 0:
		return fmt.Sprintf("negative fence %d", e.Fence)
	case e.Deadline < 0:
		return fmt.Sprintf("negative deadline %d", e.Deadline)
	case e.Uncertainty < 0:
		return fmt.Sprintf("negative uncertainty %d", e.Uncertainty)
	}
	if e.Type == Nemesis && e.Phase != "start" && e.Phase != "stop" {
		return fmt.Sprintf("nemesis phase %q is neither start nor stop", e.Phase)
	}
	return ""
}

// describe names an event's kind for messages: "an acquire ok event".
func describe(e *Event, has fieldSet) string {
	if e.Type >= Invoke && e.Type <= Info && has&fOp != 0 {
		article := "a "
		if e.Op == Acquire || e.Op == Extend {
			article = "an "
		}
		return article + e.Op.String() + " " + e.Type.String() + " event"
	}
	if e.Type == Invoke || e.Type == Info {
		return "an " + e.Type.String() + " event"
	}
	return "a " + e.Type.String() + " event"
}

// tracker checks each process's protocol over events in time order.
type tracker struct {
	procs map[int]procState
}

// procState is what the tracker knows about one process.
type procState struct {
	key      string
	op       Op
	inFlight bool
	crashed  bool
	// line is where the operation in flight was invoked, or where the
	// process crashed.
	line int
}

func newTracker() tracker { return tracker{procs: make(map[int]procState)} }

// step takes the next event, found on line; it returns what is wrong or "".
func (t *tracker) step(e *Event, line int) string {
	if e.Type == Nemesis {
		return ""
	}
	p := t.procs[e.Process]
	if p.crashed {
		return fmt.Sprintf("%s for process %d after its crash on line %d", e.Type, e.Process, p.line)
	}
	switch e.Type {
	case Invoke:
		if p.inFlight {
			return fmt.Sprintf("second invoke while one is in flight for process %d (%s %q, invoked on line %d)", e.Process, p.op, p.key, p.line)
		}
		p = procState{key: e.Key, op: e.Op, inFlight: true, line: line}
	case OK, Fail, Info:
		if !p.inFlight {
			return fmt.Sprintf("completion with no invoke in flight for process %d", e.Process)
		}
		if e.Op != p.op || e.Key != p.key {
			return fmt.Sprintf("%s %s %q does not match the invoke in flight for process %d (%s %q, invoked on line %d)", e.Op, e.Type, e.Key, e.Process, p.op, p.key, p.line)
		}
		p = procState{}
	case Crash:
		p = procState{crashed: true, line: line}
	case ClockSample:
		// A re-measurement of the process's clock may come at any time
		// before its crash, even with an operation in flight.
		return ""
	}
	t.procs[e.Process] = p
	return ""
}
