package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// FuzzRoundTrip encodes arbitrary events: the line is one line of valid
// JSON whose strings encoding/json decodes as written (invalid UTF-8
// aside); an event Validate accepts (its fields, not the protocol) comes
// back from the parser unchanged and re-encodes to the same bytes; one it
// rejects never comes back unchanged.
func FuzzRoundTrip(f *testing.F) {
	f.Add(int64(5), int64(2), uint8(OK), uint8(Acquire), "lock", int64(0), int64(9), int64(500000005), int64(0), "", "", "", "", int64(0), int64(0))
	f.Add(int64(1), int64(0), uint8(Invoke), uint8(Write), "r", int64(0), int64(3), int64(0), int64(-7), "", "", "", "", int64(0), int64(0))
	f.Add(int64(1), int64(0), uint8(Info), uint8(Release), "a\"b\\c", int64(0), int64(0), int64(0), int64(0), "i/o timeout\n\t\x00é\xff", "", "", "", int64(0), int64(0))
	f.Add(int64(9), int64(0), uint8(Nemesis), uint8(0), "", int64(0), int64(0), int64(0), int64(0), "", "kill -9", "n1", "start", int64(0), int64(0))
	f.Add(int64(9), int64(4), uint8(ClockSample), uint8(0), "", int64(0), int64(0), int64(0), int64(0), "", "", "agent-1", "", int64(-42), int64(5000000))
	f.Add(int64(9), int64(4), uint8(ClockSample), uint8(0), "", int64(0), int64(0), int64(0), int64(0), "", "", "", "", int64(0), int64(-1))
	f.Add(int64(9), int64(4), uint8(Crash), uint8(0), "", int64(0), int64(0), int64(0), int64(0), "", "", "", "", int64(0), int64(0))
	f.Add(int64(-1), int64(-1), uint8(0), uint8(9), "\xed\xa0\x80", int64(-1), int64(-1), int64(-1), int64(0), "", "", "", "begin", int64(0), int64(0))
	f.Fuzz(func(t *testing.T, tm, process int64, typ, op uint8, key string, ttl, fence, deadline, value int64, errText, fault, target, phase string, offset, uncertainty int64) {
		e := Event{Time: tm, Process: int(process), Type: Type(typ), Op: Op(op), Key: key, TTLms: ttl, Fence: fence,
			Deadline: deadline, Value: value, Error: errText, Fault: fault, Target: target, Phase: phase,
			Offset: offset, Uncertainty: uncertainty}
		line := AppendJSON(nil, &e)
		if !json.Valid(line) || bytes.ContainsAny(line, "\n\r") {
			t.Fatalf("AppendJSON(%+v) = %q: not one line of valid JSON", e, line)
		}
		var ref map[string]any
		if err := json.Unmarshal(line, &ref); err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]string{"key": e.Key, "error": e.Error, "fault": e.Fault, "target": e.Target, "phase": e.Phase} {
			if v, ok := ref[name]; ok && v != fixUTF8(want) {
				t.Fatalf("field %s: encoding/json reads %q, want %q (line %s)", name, v, fixUTF8(want), line)
			}
		}

		var p parser
		var got Event
		has, msg := p.parse(line, &got)
		if msg == "" {
			msg = checkEvent(&got, has)
		}
		want := e
		want.Key, want.Error, want.Fault = fixUTF8(e.Key), fixUTF8(e.Error), fixUTF8(e.Fault)
		want.Target, want.Phase = fixUTF8(e.Target), fixUTF8(e.Phase)
		if want.Type == Nemesis {
			want.Process = 0
		}
		valid := checkEvent(&e, presentFields(&e)) == ""
		if valid {
			if msg != "" {
				t.Fatalf("valid %+v: line %s rejected: %s", e, line, msg)
			}
			if got != want {
				t.Fatalf("round trip:\n got %+v\nwant %+v\nline %s", got, want, line)
			}
			if again := AppendJSON(nil, &got); !bytes.Equal(again, line) {
				t.Fatalf("re-encoding differs:\n %s\n %s", again, line)
			}
		} else if msg == "" && got == want {
			t.Fatalf("invalid %+v (%s) came back unchanged from %s", e, checkEvent(&e, presentFields(&e)), line)
		}
	})
}

// FuzzParseLine checks the hand-written parser against a reference built
// on encoding/json's tokenizer: they accept the same lines and decode them
// alike; and every proper prefix of an accepted line fails as cut short,
// which is what lets the reader drop a truncated last line.
func FuzzParseLine(f *testing.F) {
	for _, file := range seedFiles(f) {
		for _, line := range file {
			f.Add(line)
		}
	}
	for _, s := range []string{
		`{}`, ` { "time" : 1 , "process":0,"type":"crash" } `, `{"time":-0,"process":0,"type":"crash"}`,
		`{"time":1e3}`, `{"time":01}`, `{"time":1,}`, `{"ti\u006de":1}`, `{"key":"\ud83d\udd12\udc00\ud800x"}`,
		`{"key":"\u00e9\/"}`, `{"key":null}`, `{"time":true}`, `{"time":[1]}`, `{"fence":0,"error":"","deadline":-0}`,
		"{\"key\":\"\xff\xfe\"}", `{"process":9223372036854775807}`, `{"process":-9223372036854775808}`,
		`{"value":-9223372036854775809}`, `{"time":1}{}`, `{"time":1} x`, `"time"`, `{"Time":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		if skipWS(line, 0) == len(line) {
			return // the reader skips blank lines
		}
		var p parser
		var got Event
		has, msg := p.parse(line, &got)
		want, wantHas, refOK := refParse(line)
		if (msg == "") != refOK {
			t.Fatalf("line %q: parser says %q, encoding/json accepts: %v", line, msg, refOK)
		}
		if !refOK {
			return
		}
		if got != want || has != wantHas {
			t.Fatalf("line %q:\n got %+v (fields %b)\nwant %+v (fields %b)", line, got, has, want, wantHas)
		}
		end := len(bytes.TrimRight(line, " \t\r\n"))
		for n := 1; n < end; n++ {
			if skipWS(line[:n], 0) == n {
				continue
			}
			var e Event
			if _, msg := p.parse(line[:n], &e); msg != msgEOF {
				t.Fatalf("prefix %q of accepted %q: %q, want %q", line[:n], line, msg, msgEOF)
			}
		}
	})
}

// seedFiles is every line of the test histories, as seeds.
func seedFiles(f *testing.F) [][][]byte {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.jsonl"))
	bad, _ := filepath.Glob(filepath.Join("testdata", "bad", "*.jsonl"))
	var files [][][]byte
	for _, path := range append(paths, bad...) {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		var lines [][]byte
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			lines = append(lines, append([]byte(nil), sc.Bytes()...))
		}
		files = append(files, lines)
	}
	return files
}

// refParse decodes a line with encoding/json's tokenizer, by the parser's
// rules: an object of known, distinct fields with integer or string values
// (type and op by name), nothing after it.
func refParse(line []byte) (Event, fieldSet, bool) {
	var e Event
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return e, 0, false
	}
	var seen, has fieldSet
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return e, 0, false
		}
		name, _ := tok.(string)
		f := fieldOf([]byte(name))
		if f == 0 || seen&f != 0 {
			return e, 0, false
		}
		seen |= f
		tok, err = dec.Token()
		if err != nil {
			return e, 0, false
		}
		switch v := tok.(type) {
		case json.Number:
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return e, 0, false
			}
			switch f {
			case fTime:
				e.Time = n
			case fProcess:
				e.Process = int(n)
			case fTTL:
				e.TTLms = n
			case fFence:
				e.Fence = n
			case fDeadline:
				e.Deadline = n
			case fValue:
				e.Value = n
			case fOffset:
				e.Offset = n
			case fUncertainty:
				e.Uncertainty = n
			default:
				return e, 0, false
			}
			if n != 0 || f&(fFence|fDeadline) == 0 {
				has |= f
			}
		case string:
			switch f {
			case fType:
				if e.Type = lineTypeOf(v); e.Type == 0 {
					return e, 0, false
				}
			case fOp:
				if e.Op = opOf(v); e.Op == 0 {
					return e, 0, false
				}
			case fKey:
				e.Key = v
			case fError:
				e.Error = v
			case fFault:
				e.Fault = v
			case fTarget:
				e.Target = v
			case fPhase:
				e.Phase = v
			default:
				return e, 0, false
			}
			if v != "" || f&(fType|fOp) != 0 {
				has |= f
			}
		default:
			return e, 0, false
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return e, 0, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return e, 0, false
	}
	return e, has, true
}
