package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendJSON(t *testing.T) {
	tests := []struct {
		name string
		e    Event
		want string
	}{
		{"acquire invoke", Event{Time: 1, Process: 2, Type: Invoke, Op: Acquire, Key: "k", TTLms: 500},
			`{"time":1,"process":2,"type":"invoke","op":"acquire","key":"k","ttl_ms":500}`},
		{"acquire invoke ttl 0", Event{Time: 1, Process: 2, Type: Invoke, Op: Acquire, Key: "k"},
			`{"time":1,"process":2,"type":"invoke","op":"acquire","key":"k","ttl_ms":0}`},
		{"acquire ok", Event{Time: 5, Process: 2, Type: OK, Op: Acquire, Key: "k", Fence: 9, Deadline: 500000005},
			`{"time":5,"process":2,"type":"ok","op":"acquire","key":"k","fence":9,"deadline":500000005}`},
		{"acquire ok bare", Event{Time: 5, Process: 2, Type: OK, Op: Acquire, Key: "k"},
			`{"time":5,"process":2,"type":"ok","op":"acquire","key":"k"}`},
		{"acquire fail", Event{Time: 5, Process: 0, Type: Fail, Op: Acquire, Key: "k", Error: "not obtained"},
			`{"time":5,"process":0,"type":"fail","op":"acquire","key":"k","error":"not obtained"}`},
		{"acquire info no error", Event{Time: 5, Process: 0, Type: Info, Op: Acquire, Key: "k"},
			`{"time":5,"process":0,"type":"info","op":"acquire","key":"k"}`},
		{"release invoke", Event{Time: 7, Process: 3, Type: Invoke, Op: Release, Key: "k"},
			`{"time":7,"process":3,"type":"invoke","op":"release","key":"k"}`},
		{"release ok", Event{Time: 8, Process: 3, Type: OK, Op: Release, Key: "k"},
			`{"time":8,"process":3,"type":"ok","op":"release","key":"k"}`},
		{"extend invoke", Event{Time: 7, Process: 3, Type: Invoke, Op: Extend, Key: "k", TTLms: 100},
			`{"time":7,"process":3,"type":"invoke","op":"extend","key":"k","ttl_ms":100}`},
		{"extend ok", Event{Time: 8, Process: 3, Type: OK, Op: Extend, Key: "k", Deadline: 99},
			`{"time":8,"process":3,"type":"ok","op":"extend","key":"k","deadline":99}`},
		{"read invoke", Event{Time: 8, Process: 3, Type: Invoke, Op: Read, Key: "r"},
			`{"time":8,"process":3,"type":"invoke","op":"read","key":"r"}`},
		{"read ok value 0", Event{Time: 8, Process: 3, Type: OK, Op: Read, Key: "r"},
			`{"time":8,"process":3,"type":"ok","op":"read","key":"r","value":0}`},
		{"read ok negative", Event{Time: 8, Process: 3, Type: OK, Op: Read, Key: "r", Value: -12},
			`{"time":8,"process":3,"type":"ok","op":"read","key":"r","value":-12}`},
		{"write invoke", Event{Time: 8, Process: 3, Type: Invoke, Op: Write, Key: "r", Fence: 4, Value: 0},
			`{"time":8,"process":3,"type":"invoke","op":"write","key":"r","fence":4,"value":0}`},
		{"write invoke no fence", Event{Time: 8, Process: 3, Type: Invoke, Op: Write, Key: "r", Value: 5},
			`{"time":8,"process":3,"type":"invoke","op":"write","key":"r","value":5}`},
		{"write ok", Event{Time: 9, Process: 3, Type: OK, Op: Write, Key: "r"},
			`{"time":9,"process":3,"type":"ok","op":"write","key":"r"}`},
		{"crash", Event{Time: 9, Process: 3, Type: Crash},
			`{"time":9,"process":3,"type":"crash"}`},
		{"nemesis", Event{Time: 9, Type: Nemesis, Fault: "kill", Target: "n1", Phase: "start"},
			`{"time":9,"type":"nemesis","fault":"kill","target":"n1","phase":"start"}`},
		{"clock", Event{Time: 9, Process: 3, Type: ClockSample, Target: "agent-1", Offset: -1234567, Uncertainty: 5000000},
			`{"time":9,"process":3,"type":"clock","target":"agent-1","offset":-1234567,"uncertainty":5000000}`},
		{"clock zeros", Event{Time: 9, Process: 3, Type: ClockSample, Target: "a"},
			`{"time":9,"process":3,"type":"clock","target":"a","offset":0,"uncertainty":0}`},
		{"clock misplaced fields dropped", Event{Time: 9, Process: 3, Type: ClockSample, Op: Read, Key: "x", Fault: "f", Target: "a", Phase: "start", Offset: 1, Uncertainty: 2},
			`{"time":9,"process":3,"type":"clock","target":"a","offset":1,"uncertainty":2}`},
		{"offset on crash dropped", Event{Time: 9, Process: 3, Type: Crash, Offset: 1, Uncertainty: 2},
			`{"time":9,"process":3,"type":"crash"}`},
		{"extreme numbers", Event{Time: 1<<63 - 1, Process: 1<<63 - 1, Type: OK, Op: Read, Key: "r", Value: -1 << 63},
			`{"time":9223372036854775807,"process":9223372036854775807,"type":"ok","op":"read","key":"r","value":-9223372036854775808}`},
		// Misplaced fields are not written: they are not part of §4.
		{"misplaced fields dropped", Event{Time: 9, Process: 3, Type: Crash, Op: Read, Key: "x", TTLms: 1, Fence: 2, Deadline: 3, Value: 4, Error: "e", Fault: "f", Target: "t", Phase: "start"},
			`{"time":9,"process":3,"type":"crash"}`},
		{"process on nemesis dropped", Event{Time: 9, Process: 3, Type: Nemesis, Op: Read, Key: "x", Fault: "f", Target: "t", Phase: "stop"},
			`{"time":9,"type":"nemesis","fault":"f","target":"t","phase":"stop"}`},
		{"fence on extend ok dropped", Event{Time: 9, Process: 3, Type: OK, Op: Extend, Key: "k", Fence: 5},
			`{"time":9,"process":3,"type":"ok","op":"extend","key":"k"}`},
		{"invalid type", Event{Time: 9, Process: 3, Type: 0},
			`{"time":9,"process":3,"type":"unknown"}`},
		{"invalid op", Event{Time: 9, Process: 3, Type: Invoke, Op: 42, Key: "k"},
			`{"time":9,"process":3,"type":"invoke","op":"unknown","key":"k"}`},
		{"escaping", Event{Time: 1, Process: 1, Type: Fail, Op: Release, Key: "a\"b\\c/d", Error: "\x00\x01\x1f\n\r\t\b\f\x7f é 🔒 \u2028"},
			`{"time":1,"process":1,"type":"fail","op":"release","key":"a\"b\\c/d","error":"\u0000\u0001\u001f\n\r\t\b\f` + "\x7f é 🔒 \u2028" + `"}`},
		{"invalid UTF-8", Event{Time: 1, Process: 1, Type: Invoke, Op: Release, Key: "a\xffb\xe2\x82"},
			`{"time":1,"process":1,"type":"invoke","op":"release","key":"a` + "\uFFFDb\uFFFD\uFFFD" + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(AppendJSON([]byte("prefix"), &tt.e))
			if got != "prefix"+tt.want {
				t.Errorf("AppendJSON =\n %s\nwant\n %s", got[len("prefix"):], tt.want)
			}
			if !json.Valid([]byte(tt.want)) {
				t.Errorf("not valid JSON: %s", tt.want)
			}
			if m, err := tt.e.MarshalJSON(); err != nil || string(m) != tt.want {
				t.Errorf("MarshalJSON = %s, %v", m, err)
			}
			if s := tt.e.String(); s != tt.want {
				t.Errorf("String = %s", s)
			}
		})
	}
}

// TestAppendJSONStringsAgreeWithEncodingJSON checks escaping against
// encoding/json's decoder, for every byte value and some runes.
func TestAppendJSONStringsAgreeWithEncodingJSON(t *testing.T) {
	var samples []string
	for c := range 256 {
		samples = append(samples, string([]byte{'x', byte(c), 'y'}))
	}
	samples = append(samples, "", "日本語", "\U0001F512", "\xed\xa0\x80", "\xf0\x9f\x94", "a\u2029b", strings.Repeat(`"\`, 50))
	for _, s := range samples {
		line := AppendJSON(nil, &Event{Time: 1, Type: Invoke, Op: Release, Key: s})
		var v struct{ Key string }
		if err := json.Unmarshal(line, &v); err != nil {
			t.Fatalf("key %q: %s: %v", s, line, err)
		}
		if want := fixUTF8(s); v.Key != want {
			t.Errorf("key %q: encoding/json decodes %s as %q, want %q", s, line, v.Key, want)
		}
		if bytes.ContainsAny(line, "\n\r") {
			t.Errorf("key %q: line %q holds a raw newline", s, line)
		}
	}
}

// fixUTF8 replaces each invalid byte of s with U+FFFD, as the encoder does.
func fixUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r)
		i += size
	}
	return b.String()
}

func TestEventJSONMarshaling(t *testing.T) {
	type witness struct {
		Events []Event `json:"events"`
		Op     Op      `json:"op"`
		Type   Type    `json:"type"`
	}
	in := witness{
		Events: []Event{
			{Time: 5, Process: 2, Type: OK, Op: Acquire, Key: "k", Fence: 9},
			{Time: 9, Type: Nemesis, Fault: "kill", Target: "n1", Phase: "start"},
		},
		Op:   Extend,
		Type: Info,
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"events":[{"time":5,"process":2,"type":"ok","op":"acquire","key":"k","fence":9},{"time":9,"type":"nemesis","fault":"kill","target":"n1","phase":"start"}],"op":"extend","type":"info"}`
	if string(b) != want {
		t.Errorf("json.Marshal =\n %s\nwant\n %s", b, want)
	}
	var out witness
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip: got %+v, want %+v", out, in)
	}

	for _, bad := range []string{
		`{"events":[{"time":5,"process":2,"type":"ok","op":"acquire","key":"k","colour":1}]}`,
		`{"events":[{"time":5,"type":"ok","op":"acquire","key":"k"}]}`,
		`{"op":"lock"}`,
		`{"type":"begin"}`,
	} {
		if err := json.Unmarshal([]byte(bad), &out); !errors.Is(err, ErrMalformed) {
			t.Errorf("json.Unmarshal(%s) = %v, want ErrMalformed", bad, err)
		}
	}
	if _, err := json.Marshal(witness{Op: 0, Type: Info}); err == nil {
		t.Errorf("json.Marshal of an invalid Op succeeded")
	}
}

func TestParseTypeOp(t *testing.T) {
	for ty := Invoke; ty <= Nemesis; ty++ {
		if got, err := ParseType(ty.String()); got != ty || err != nil {
			t.Errorf("ParseType(%q) = %v, %v", ty.String(), got, err)
		}
	}
	for op := Acquire; op <= Write; op++ {
		if got, err := ParseOp(op.String()); got != op || err != nil {
			t.Errorf("ParseOp(%q) = %v, %v", op.String(), got, err)
		}
	}
	for _, s := range []string{"", "unknown", "OK", "Invoke"} {
		if _, err := ParseType(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseType(%q) = %v, want ErrMalformed", s, err)
		}
		if _, err := ParseOp(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseOp(%q) = %v, want ErrMalformed", s, err)
		}
	}
}

// ExampleAppendJSON shows a line of a history.
func ExampleAppendJSON() {
	e := Event{Time: 1500, Process: 3, Type: OK, Op: Acquire, Key: "orders", Fence: 42, Deadline: 30001500}
	line := AppendJSON(nil, &e)
	fmt.Printf("%s\n", line)
	// Output: {"time":1500,"process":3,"type":"ok","op":"acquire","key":"orders","fence":42,"deadline":30001500}
}
