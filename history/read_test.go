package history

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestReadFileGood(t *testing.T) {
	const errInfo = "i/o timeout: \"127.0.0.1:7001\"\n\tafter 3 tries"
	want := []Event{
		{Time: 100, Process: 0, Type: Invoke, Op: Acquire, Key: "lock", TTLms: 500},
		{Time: 110, Process: 1, Type: Invoke, Op: Acquire, Key: "lock", TTLms: 500},
		{Time: 150, Type: Nemesis, Fault: "partition", Target: "clients-a×n1", Phase: "start"},
		{Time: 200, Process: 0, Type: OK, Op: Acquire, Key: "lock", Fence: 1, Deadline: 500000000},
		{Time: 210, Process: 0, Type: Invoke, Op: Write, Key: "counter", Fence: 1, Value: 0},
		{Time: 250, Process: 1, Type: Info, Op: Acquire, Key: "lock", Error: errInfo},
		{Time: 300, Process: 0, Type: OK, Op: Write, Key: "counter"},
		{Time: 310, Process: 0, Type: Invoke, Op: Read, Key: "counter"},
		{Time: 320, Process: 0, Type: OK, Op: Read, Key: "counter", Value: 0},
		{Time: 330, Process: 0, Type: Invoke, Op: Extend, Key: "lock", TTLms: 500},
		{Time: 340, Process: 0, Type: OK, Op: Extend, Key: "lock", Deadline: 840000000},
		{Time: 350, Process: 0, Type: Invoke, Op: Release, Key: "lock"},
		{Time: 350, Process: 2, Type: Invoke, Op: Acquire, Key: "lock", TTLms: 0},
		{Time: 360, Process: 0, Type: Fail, Op: Release, Key: "lock", Error: "not held"},
		{Time: 360, Process: 2, Type: Fail, Op: Acquire, Key: "lock"},
		{Time: 400, Process: 1, Type: Crash},
		{Time: 400, Type: Nemesis, Fault: "partition", Target: "clients-a×n1", Phase: "stop"},
		{Time: 500, Process: 2, Type: Invoke, Op: Read, Key: "counter"},
	}
	got, st, err := ReadFileStats(filepath.Join("testdata", "good.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		for i := range max(len(got), len(want)) {
			var g, w Event
			if i < len(got) {
				g = got[i]
			}
			if i < len(want) {
				w = want[i]
			}
			if g != w {
				t.Errorf("event %d:\n got %+v\nwant %+v", i, g, w)
			}
		}
	}
	if st != (Stats{Lines: 19}) {
		t.Errorf("stats = %+v, want 19 lines, not truncated", st)
	}
	if err := Validate(got); err != nil {
		t.Errorf("Validate(ReadFile(good)) = %v", err)
	}
}

func TestReadFileErrors(t *testing.T) {
	tests := []struct {
		file string
		line int
		msg  string
	}{
		{"syntax", 3, `malformed JSON: unexpected '"' at column 41, after a field's value`},
		{"not_object", 3, "malformed JSON: unexpected '[' at column 1, where an object should start"},
		{"trailing_garbage", 3, "malformed JSON: unexpected '{' at column 41, after the object"},
		{"cut_line_mid_file", 3, "malformed JSON: unexpected end of line"},
		{"bad_last_line_no_newline", 3, "malformed JSON: unexpected 'x' at column 70, after the object"},
		{"raw_control_char", 3, "malformed JSON: unexpected byte 0x09 at column 61, in a string (control characters must be escaped)"},
		{"bad_escape", 3, `malformed JSON: unexpected 'q' at column 62, in a string escape`},
		{"unknown_field", 3, `unknown field "colour"`},
		{"duplicate_field", 3, `duplicate field "time"`},
		{"unknown_type", 3, `unknown type "begin"`},
		{"unknown_op", 3, `unknown op "lock"`},
		{"time_not_integer", 3, "field time: not an integer at column 9"},
		{"time_is_string", 3, "field time: want an integer, got a string at column 9"},
		{"time_overflow", 3, "field time: 9223372036854775808 out of range"},
		{"missing_time", 3, "missing field time"},
		{"missing_type", 3, "missing field type"},
		{"missing_process", 3, "missing field process on a read invoke event"},
		{"missing_op", 3, "missing field op on an invoke event"},
		{"missing_key", 3, "missing or empty field key on a read invoke event"},
		{"empty_key", 3, "missing or empty field key on a read invoke event"},
		{"missing_ttl", 3, "missing field ttl_ms on an extend invoke event"},
		{"missing_value_read_ok", 4, "missing field value on a read ok event"},
		{"missing_value_write_invoke", 3, "missing field value on a write invoke event"},
		{"missing_fault", 3, "missing or empty field fault on a nemesis event"},
		{"missing_target", 3, "missing or empty field target on a nemesis event"},
		{"missing_phase", 3, "missing or empty field phase on a nemesis event"},
		{"bad_phase", 3, `nemesis phase "begin" is neither start nor stop`},
		{"negative_time", 3, "negative time -5"},
		{"negative_process", 3, "negative process -1"},
		{"negative_ttl", 3, "negative ttl_ms -1"},
		{"process_on_nemesis", 3, "field process does not belong on a nemesis event"},
		{"fence_on_acquire_invoke", 3, "field fence does not belong on an acquire invoke event"},
		{"value_on_read_invoke", 3, "field value does not belong on a read invoke event"},
		{"op_on_crash", 3, "field op does not belong on a crash event"},
		{"error_on_ok", 4, "field error does not belong on a release ok event"},
		{"completion_no_invoke", 3, "completion with no invoke in flight for process 3"},
		{"completion_other_op", 4, `extend ok "lock" does not match the invoke in flight for process 0 (release "lock", invoked on line 3)`},
		{"completion_other_key", 4, `release fail "other" does not match the invoke in flight for process 0 (release "lock", invoked on line 3)`},
		{"second_invoke", 4, `second invoke while one is in flight for process 0 (release "lock", invoked on line 3)`},
		{"after_crash", 4, "invoke for process 0 after its crash on line 3"},
		{"second_crash", 4, "crash for process 0 after its crash on line 3"},
		{"completion_before_invoke_in_time", 4, "completion with no invoke in flight for process 1"},
		{"marker_extra_field", 3, "field process does not belong on a checkpoint marker"},
		{"marker_missing_time", 3, "missing field time on an end marker"},
		{"marker_negative_time", 3, "negative time -1"},
		{"marker_time_string", 3, "field time: want an integer, got a string at column 29"},
		{"checkpoint_backwards", 3, "checkpoint at 80 is before the checkpoint at 90 on line 2"},
		{"event_after_end", 4, "event after the end marker on line 3"},
		{"checkpoint_after_end", 3, "a checkpoint marker after the end marker on line 2"},
		{"second_end", 3, "an end marker after the end marker on line 2"},
		{"end_before_checkpoint", 3, "end marker at 200 is before the checkpoint at 300 on line 2"},
		{"end_before_event", 3, "end marker at 50 is before the event at 100 on line 2"},
		{"clock_missing_offset", 3, "missing field offset on a clock event"},
		{"clock_missing_uncertainty", 3, "missing field uncertainty on a clock event"},
		{"clock_empty_target", 3, "missing or empty field target on a clock event"},
		{"clock_negative_uncertainty", 3, "negative uncertainty -1"},
		{"clock_with_op", 3, "field op does not belong on a clock event"},
		{"clock_with_key", 3, "field key does not belong on a clock event"},
		{"offset_on_invoke", 3, "field offset does not belong on a read invoke event"},
		{"clock_after_crash", 4, "clock for process 0 after its crash on line 3"},
	}
	files, err := filepath.Glob(filepath.Join("testdata", "bad", "*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(tests) {
		t.Errorf("%d files in testdata/bad, %d cases: every file needs a case", len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "bad", tt.file+".jsonl")
			events, err := ReadFile(path)
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("ReadFile = %d events, %v; want an *InputError", len(events), err)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("errors.Is(%v, ErrMalformed) = false", err)
			}
			if events != nil {
				t.Errorf("events = %d, want none with an error", len(events))
			}
			if ie.Line != tt.line || ie.Msg != tt.msg {
				t.Errorf("error = line %d %q\n       want line %d %q", ie.Line, ie.Msg, tt.line, tt.msg)
			}
			if want := "history line "; !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Error() = %q: want one line starting %q", err.Error(), want)
			}
		})
	}
}

// TestReadMarkers: checkpoint and end markers are not events; Stats says
// how many checkpoints, the last one's time, the end marker's, and how many
// events came after the last checkpoint.
func TestReadMarkers(t *testing.T) {
	tests := []struct {
		file       string
		events     int
		want       Stats
		unfinished bool
	}{
		{"checkpointed.jsonl", 7, Stats{Lines: 11, Checkpoints: 3, LastCheckpoint: 250, Ended: true, EndTime: 500, AfterCheckpoint: 4}, false},
		{"cut_after_checkpoint.jsonl", 5, Stats{Lines: 8, Checkpoints: 3, LastCheckpoint: 250, AfterCheckpoint: 2}, true},
		{"good.jsonl", 18, Stats{Lines: 19}, false}, // no markers: another recorder's, complete
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			events, st, err := ReadFileStats(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != tt.events || st != tt.want || st.Unfinished() != tt.unfinished {
				t.Errorf("got %d events, %+v (unfinished %v)\nwant %d events, %+v (unfinished %v)", len(events), st, st.Unfinished(), tt.events, tt.want, tt.unfinished)
			}
			for _, e := range events {
				if isMarker(e.Type) {
					t.Errorf("marker %v among the events", e)
				}
			}
			if err := Validate(events); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
	var e Event
	if err := e.UnmarshalJSON([]byte(`{"type":"checkpoint","time":5}`)); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "a checkpoint marker, not an event") {
		t.Errorf("Event.UnmarshalJSON(checkpoint) = %v, want an error: not an event", err)
	}
	if err := Validate([]Event{{Time: 5, Type: typeCheckpoint}}); err == nil {
		t.Errorf("Validate accepts a marker as an event")
	}
}

func TestReadTruncatedLastLine(t *testing.T) {
	tests := []struct {
		file      string
		events    int
		truncated bool
	}{
		{"truncated.jsonl", 2, true},         // cut mid-line by a killed writer: dropped
		{"no_final_newline.jsonl", 3, false}, // complete, just no newline: kept
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			events, st, err := ReadFileStats(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != tt.events || st.Truncated != tt.truncated || st.Lines != 3 {
				t.Errorf("got %d events, %+v; want %d events, truncated %v, 3 lines", len(events), st, tt.events, tt.truncated)
			}
		})
	}
}

// TestReadEveryPrefix cuts a valid history at every byte: each prefix reads
// without error, the events of its whole lines, and Truncated says whether
// a partial line was dropped.
func TestReadEveryPrefix(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "good.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(data) + 1 {
		prefix := data[:n]
		_, st, err := ReadAllStats(bytes.NewReader(prefix))
		if err != nil {
			// A prefix can cut a process's operation from its invoke
			// only at the end; it never makes protocol errors.
			t.Fatalf("prefix of %d bytes: %v", n, err)
		}
		last := prefix[bytes.LastIndexByte(prefix, '\n')+1:]
		partial := len(bytes.TrimSpace(last)) > 0 && !bytes.HasSuffix(bytes.TrimRight(last, " \r"), []byte("}"))
		if st.Truncated != partial {
			t.Errorf("prefix of %d bytes ending %q: Truncated = %v, want %v", n, last, st.Truncated, partial)
		}
	}
}

func TestReadSortsStably(t *testing.T) {
	// Two streams' batches, interleaved out of time order; equal times
	// keep file order.
	in := strings.Join([]string{
		`{"time":30,"process":1,"type":"invoke","op":"read","key":"r"}`,
		`{"time":30,"process":1,"type":"ok","op":"read","key":"r","value":7}`,
		`{"time":10,"process":0,"type":"invoke","op":"read","key":"r"}`,
		`{"time":30,"process":0,"type":"ok","op":"read","key":"r","value":-3}`,
		`{"time":20,"type":"nemesis","fault":"pause","target":"n2","phase":"start"}`,
	}, "\n") + "\n"
	got, err := ReadAll(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Event{
		{Time: 10, Process: 0, Type: Invoke, Op: Read, Key: "r"},
		{Time: 20, Type: Nemesis, Fault: "pause", Target: "n2", Phase: "start"},
		{Time: 30, Process: 1, Type: Invoke, Op: Read, Key: "r"},
		{Time: 30, Process: 1, Type: OK, Op: Read, Key: "r", Value: 7},
		{Time: 30, Process: 0, Type: OK, Op: Read, Key: "r", Value: -3},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

func TestReadEmpty(t *testing.T) {
	for _, in := range []string{"", "\n", "  \n\r\n\t"} {
		events, st, err := ReadAllStats(strings.NewReader(in))
		if err != nil || len(events) != 0 || st.Truncated {
			t.Errorf("ReadAllStats(%q) = %v, %+v, %v; want no events, no error", in, events, st, err)
		}
	}
}

func TestReadLongLine(t *testing.T) {
	key := strings.Repeat("k", 100<<10) // longer than the reader's buffer
	var b []byte
	b = append(AppendJSON(b, &Event{Time: 1, Type: Invoke, Op: Release, Key: key}), '\n')
	events, err := ReadAll(bytes.NewReader(b))
	if err != nil || len(events) != 1 || events[0].Key != key {
		t.Fatalf("ReadAll(100 KiB line) = %d events, %v", len(events), err)
	}
	b = append(AppendJSON(nil, &Event{Time: 1, Type: Invoke, Op: Release, Key: strings.Repeat("k", maxLine)}), '\n')
	_, err = ReadAll(bytes.NewReader(b))
	var ie *InputError
	if !errors.As(err, &ie) || ie.Line != 1 || !strings.Contains(ie.Msg, "line longer than") {
		t.Errorf("ReadAll(2 MiB line) = %v, want a line-too-long error on line 1", err)
	}
}

func TestReadFileMissing(t *testing.T) {
	_, err := ReadFile(filepath.Join(t.TempDir(), "absent.jsonl"))
	if !errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrMalformed) {
		t.Errorf("ReadFile(absent) = %v, want a not-exist error, not an input error", err)
	}
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

func TestReadAllReaderError(t *testing.T) {
	boom := errors.New("boom")
	_, err := ReadAll(failingReader{boom})
	if !errors.Is(err, boom) || errors.Is(err, ErrMalformed) {
		t.Errorf("ReadAll(failing reader) = %v, want it to wrap the reader's error", err)
	}
}

// TestFormatDocExample reads the example of docs/history-format.md: it is a
// valid, closed history with two checkpoints, and cut after its second
// checkpoint it reads as unfinished.
func TestFormatDocExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "history-format.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok0 := strings.Cut(string(doc), "\n## Example\n")
	_, rest, ok := strings.Cut(section, "```json\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok0 || !ok || !ok2 {
		t.Fatal("no json example in docs/history-format.md")
	}
	events, st, err := ReadAllStats(strings.NewReader(example))
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 12 || st.Checkpoints != 2 || !st.Ended || st.Unfinished() {
		t.Errorf("example: %d events, %+v; want 12 events, 2 checkpoints, the end marker", len(events), st)
	}
	lines := strings.SplitAfter(example, "\n")
	_, st, err = ReadAllStats(strings.NewReader(strings.Join(lines[:10], "")))
	if err != nil || !st.Unfinished() || st.LastCheckpoint != 1899999 {
		t.Errorf("example cut after its second checkpoint: %+v, %v; want unfinished at 1899999", st, err)
	}
}

// TestFormatDocClockExample reads the clock events' example of
// docs/history-format.md: a clock event before the process's first
// operation and one while its acquire is in flight.
func TestFormatDocClockExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "history-format.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok0 := strings.Cut(string(doc), "\n### Clock events\n")
	_, rest, ok := strings.Cut(section, "```json\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok0 || !ok || !ok2 {
		t.Fatal("no json example of clock events in docs/history-format.md")
	}
	events, err := ReadAll(strings.NewReader(example))
	if err != nil {
		t.Fatal(err)
	}
	var clocks int
	for _, e := range events {
		if e.Type == ClockSample {
			clocks++
			if e.Target != "agent-1" || e.Offset >= 0 || e.Uncertainty <= 0 {
				t.Errorf("clock event %+v", e)
			}
		}
	}
	if len(events) != 4 || clocks != 2 {
		t.Errorf("example: %d events, %d clock events; want 4 and 2", len(events), clocks)
	}
}
