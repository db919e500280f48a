package history

import (
	"fmt"
	"strconv"
)

// Marker lines are file-level metadata (DESIGN §4), written by [Writer]:
// {"type":"checkpoint","time":T} — every event with time ≤ T is in the
// file — and {"type":"end","time":T}, the last line of a history its
// recorder closed. They are not events: the parser decodes one into an
// Event whose Type is one of these values, and the reader takes it out
// (into [Stats]), so no Event it returns, and none [Validate] accepts, has
// one.
const (
	typeCheckpoint Type = 0x80 + iota
	typeEnd
)

// Marker names in the file.
const (
	markerNameCheckpoint = "checkpoint"
	markerNameEnd        = "end"
)

// isMarker reports whether t is a marker's type.
func isMarker(t Type) bool { return t == typeCheckpoint || t == typeEnd }

// lineTypeOf is the Type named s in a line's type field: an event's type,
// a marker's, or 0.
func lineTypeOf(s string) Type {
	switch s {
	case markerNameCheckpoint:
		return typeCheckpoint
	case markerNameEnd:
		return typeEnd
	}
	return typeOf(s)
}

// markerName is the name of marker type t in messages.
func markerName(t Type) string {
	if t == typeEnd {
		return "an end marker"
	}
	return "a checkpoint marker"
}

// appendMarker appends the marker line {"type":name,"time":t} with its
// newline.
func appendMarker(dst []byte, name string, t int64) []byte {
	dst = append(dst, `{"type":"`...)
	dst = append(dst, name...)
	dst = append(dst, `","time":`...)
	dst = strconv.AppendInt(dst, t, 10)
	return append(dst, "}\n"...)
}

// markers checks a file's marker lines in file order and gathers what
// [Stats] says of them.
type markers struct {
	checkpointLine int // the last checkpoint's line
	endLine        int
}

// take checks the marker e, found on line with fields has, and records it
// in st; it returns what is wrong or "".
func (m *markers) take(e *Event, has fieldSet, line int, st *Stats) string {
	if has&fTime == 0 {
		return "missing field time on " + markerName(e.Type)
	}
	if extra := has &^ (fTime | fType); extra != 0 {
		return "field " + fieldName(extra) + " does not belong on " + markerName(e.Type)
	}
	if e.Time < 0 {
		return fmt.Sprintf("negative time %d", e.Time)
	}
	if st.Ended {
		return fmt.Sprintf("%s after the end marker on line %d", markerName(e.Type), m.endLine)
	}
	if st.Checkpoints > 0 && e.Time < st.LastCheckpoint {
		what := "checkpoint"
		if e.Type == typeEnd {
			what = "end marker"
		}
		return fmt.Sprintf("%s at %d is before the checkpoint at %d on line %d", what, e.Time, st.LastCheckpoint, m.checkpointLine)
	}
	if e.Type == typeEnd {
		st.Ended, st.EndTime, m.endLine = true, e.Time, line
		return ""
	}
	st.Checkpoints++
	st.LastCheckpoint, m.checkpointLine = e.Time, line
	return ""
}
