package history

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestValidate(t *testing.T) {
	acq := Event{Time: 10, Process: 1, Type: Invoke, Op: Acquire, Key: "k", TTLms: 100}
	ok := Event{Time: 20, Process: 1, Type: OK, Op: Acquire, Key: "k", Fence: 1, Deadline: 110}
	tests := []struct {
		name   string
		events []Event
		line   int // 0: valid
		msg    string
	}{
		{"empty", nil, 0, ""},
		{"acquire", []Event{acq, ok}, 0, ""},
		{"every kind", []Event{
			acq,
			{Time: 15, Type: Nemesis, Fault: "latency", Target: "n1", Phase: "start"},
			ok,
			{Time: 30, Process: 1, Type: Invoke, Op: Write, Key: "r", Fence: 1},
			{Time: 31, Process: 1, Type: Info, Op: Write, Key: "r", Error: "timeout"},
			{Time: 32, Process: 2, Type: Invoke, Op: Read, Key: "r"},
			{Time: 33, Process: 2, Type: OK, Op: Read, Key: "r"},
			{Time: 34, Process: 2, Type: Crash},
			{Time: 35, Process: 1, Type: Invoke, Op: Release, Key: "k"},
			{Time: 36, Process: 1, Type: Fail, Op: Release, Key: "k"},
			{Time: 36, Type: Nemesis, Process: 7, Fault: "latency", Target: "n1", Phase: "stop"}, // Process ignored on nemesis
		}, 0, ""},
		{"unsorted", []Event{{Time: 20, Process: 1, Type: Crash}, {Time: 10, Process: 2, Type: Crash}}, 2, "time 10 is before the previous event's 20: events must be sorted by time"},
		{"invalid type", []Event{{Time: 1, Type: 9}}, 1, "invalid type 9"},
		{"zero type", []Event{{Time: 1}}, 1, "invalid type 0"},
		{"invalid op", []Event{{Time: 1, Type: Invoke, Op: 6, Key: "k"}}, 1, "invalid op 6"},
		{"missing op", []Event{{Time: 1, Type: Fail, Key: "k"}}, 1, "missing field op on a fail event"},
		{"missing key", []Event{acq, {Time: 20, Process: 1, Type: OK, Op: Acquire}}, 2, "missing or empty field key on an acquire ok event"},
		{"negative time", []Event{{Time: -1, Type: Crash}}, 1, "negative time -1"},
		{"negative process", []Event{{Time: 1, Process: -2, Type: Crash}}, 1, "negative process -2"},
		{"negative fence", []Event{acq, {Time: 20, Process: 1, Type: OK, Op: Acquire, Key: "k", Fence: -1}}, 2, "negative fence -1"},
		{"negative deadline", []Event{acq, {Time: 20, Process: 1, Type: OK, Op: Acquire, Key: "k", Deadline: -1}}, 2, "negative deadline -1"},
		{"ttl on ok", []Event{acq, {Time: 20, Process: 1, Type: OK, Op: Acquire, Key: "k", TTLms: 5}}, 2, "field ttl_ms does not belong on an acquire ok event"},
		{"value on write ok", []Event{{Time: 1, Process: 1, Type: Invoke, Op: Write, Key: "r"}, {Time: 2, Process: 1, Type: OK, Op: Write, Key: "r", Value: 3}}, 2, "field value does not belong on a write ok event"},
		{"deadline on release ok", []Event{{Time: 1, Process: 1, Type: Invoke, Op: Release, Key: "r"}, {Time: 2, Process: 1, Type: OK, Op: Release, Key: "r", Deadline: 3}}, 2, "field deadline does not belong on a release ok event"},
		{"key on nemesis", []Event{{Time: 1, Type: Nemesis, Key: "k", Fault: "f", Target: "t", Phase: "start"}}, 1, "field key does not belong on a nemesis event"},
		{"fault on crash", []Event{{Time: 1, Type: Crash, Fault: "f"}}, 1, "field fault does not belong on a crash event"},
		{"bad phase", []Event{{Time: 1, Type: Nemesis, Fault: "f", Target: "t", Phase: "Start"}}, 1, `nemesis phase "Start" is neither start nor stop`},
		{"empty target", []Event{{Time: 1, Type: Nemesis, Fault: "f", Phase: "stop"}}, 1, "missing or empty field target on a nemesis event"},
		{"completion without invoke", []Event{ok}, 1, "completion with no invoke in flight for process 1"},
		{"completion after completion", []Event{acq, ok, ok}, 3, "completion with no invoke in flight for process 1"},
		{"other process's completion", []Event{acq, {Time: 20, Process: 2, Type: OK, Op: Acquire, Key: "k"}}, 2, "completion with no invoke in flight for process 2"},
		{"other op", []Event{acq, {Time: 20, Process: 1, Type: Fail, Op: Release, Key: "k"}}, 2, `release fail "k" does not match the invoke in flight for process 1 (acquire "k", invoked on line 1)`},
		{"other key", []Event{acq, {Time: 20, Process: 1, Type: Info, Op: Acquire, Key: "j"}}, 2, `acquire info "j" does not match the invoke in flight for process 1 (acquire "k", invoked on line 1)`},
		{"second invoke", []Event{acq, acq}, 2, `second invoke while one is in flight for process 1 (acquire "k", invoked on line 1)`},
		{"crash with op in flight", []Event{acq, {Time: 20, Process: 1, Type: Crash}}, 0, ""},
		{"after crash", []Event{{Time: 5, Process: 1, Type: Crash}, acq}, 2, "invoke for process 1 after its crash on line 1"},
		{"clock before, during and between operations", []Event{
			{Time: 1, Process: 1, Type: ClockSample, Target: "agent-1", Offset: -123456789, Uncertainty: 5000000},
			acq,
			{Time: 15, Process: 1, Type: ClockSample, Target: "agent-1", Offset: 7, Uncertainty: 0}, // acquire in flight
			ok,
			{Time: 25, Process: 1, Type: ClockSample, Target: "agent-1"}, // offset and uncertainty 0
			{Time: 26, Process: 2, Type: ClockSample, Target: "agent-2", Offset: 1, Uncertainty: 2},
			{Time: 27, Process: 2, Type: Crash},
		}, 0, ""},
		{"clock without target", []Event{{Time: 1, Process: 1, Type: ClockSample, Uncertainty: 5}}, 1, "missing or empty field target on a clock event"},
		{"clock negative uncertainty", []Event{{Time: 1, Process: 1, Type: ClockSample, Target: "a", Uncertainty: -1}}, 1, "negative uncertainty -1"},
		{"clock with op", []Event{{Time: 1, Process: 1, Type: ClockSample, Target: "a", Op: Acquire}}, 1, "field op does not belong on a clock event"},
		{"clock with key", []Event{{Time: 1, Process: 1, Type: ClockSample, Target: "a", Key: "k"}}, 1, "field key does not belong on a clock event"},
		{"clock with phase", []Event{{Time: 1, Process: 1, Type: ClockSample, Target: "a", Phase: "start"}}, 1, "field phase does not belong on a clock event"},
		{"offset on invoke", []Event{{Time: 10, Process: 1, Type: Invoke, Op: Acquire, Key: "k", TTLms: 100, Offset: 3}}, 1, "field offset does not belong on an acquire invoke event"},
		{"uncertainty on crash", []Event{{Time: 1, Process: 1, Type: Crash, Uncertainty: 3}}, 1, "field uncertainty does not belong on a crash event"},
		{"clock after crash", []Event{acq, {Time: 15, Process: 1, Type: Crash}, {Time: 16, Process: 1, Type: ClockSample, Target: "a", Uncertainty: 1}}, 3, "clock for process 1 after its crash on line 2"},
		{"completion after crash", []Event{acq, {Time: 15, Process: 1, Type: Crash}, ok}, 3, "ok for process 1 after its crash on line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.events)
			if tt.line == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				// Valid in memory ⇒ the same events come back from a file.
				var b []byte
				for i := range tt.events {
					b = append(AppendJSON(b, &tt.events[i]), '\n')
				}
				got, err := ReadAll(bytes.NewReader(b))
				if err != nil {
					t.Fatalf("ReadAll(encoded) = %v", err)
				}
				want := append([]Event{}, tt.events...)
				for i := range want {
					if want[i].Type == Nemesis {
						want[i].Process = 0
					}
				}
				if len(want) == 0 {
					want = []Event{}
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("round trip:\n got %v\nwant %v", got, want)
				}
				return
			}
			var ie *InputError
			if !errors.As(err, &ie) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("Validate = %v, want an *InputError", err)
			}
			if ie.Line != tt.line || ie.Msg != tt.msg {
				t.Errorf("Validate = line %d %q\n      want line %d %q", ie.Line, ie.Msg, tt.line, tt.msg)
			}
		})
	}
}

func TestSort(t *testing.T) {
	events := []Event{
		{Time: 3, Process: 1}, {Time: 1, Process: 1}, {Time: 3, Process: 2}, {Time: 2, Process: 1}, {Time: 3, Process: 3},
	}
	Sort(events)
	want := []Event{{Time: 1, Process: 1}, {Time: 2, Process: 1}, {Time: 3, Process: 1}, {Time: 3, Process: 2}, {Time: 3, Process: 3}}
	if !reflect.DeepEqual(events, want) {
		t.Errorf("Sort = %v, want %v", events, want)
	}
}
