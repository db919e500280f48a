// Package docs holds the project's documents; its test keeps
// history.schema.json true to the history reader.
package docs

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/lockbench/lockbench/history"
)

// schemaFile is the public JSON Schema of one history line.
const schemaFile = "history.schema.json"

// historyDirs hold the histories the project's tests read: every line of
// them is checked against the schema.
var historyDirs = []string{"../checker/testdata", "../history/testdata"}

// compileSchema compiles history.schema.json as the draft it declares.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s is not JSON: %v", schemaFile, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(schemaFile, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(schemaFile)
	if err != nil {
		t.Fatalf("%s does not compile: %v", schemaFile, err)
	}
	return s
}

// schemaAccepts validates one line: it must be one JSON value and nothing
// after it, and that value must satisfy the schema.
func schemaAccepts(s *jsonschema.Schema, line []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(line))
	if err != nil {
		return err
	}
	return s.Validate(v)
}

// readerAccepts says whether lockbench's reader takes the line on its
// own: an event through Event.UnmarshalJSON (fields, types and placement,
// not the protocol between lines), a marker through ReadAll of a history
// of that one line (a lone checkpoint or end marker breaks no ordering).
func readerAccepts(line []byte) error {
	var probe struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(line, &probe) == nil && (probe.Type == "checkpoint" || probe.Type == "end") {
		_, err := history.ReadAll(bytes.NewReader(append(line, '\n')))
		return err
	}
	var e history.Event
	return e.UnmarshalJSON(line)
}

// historyFiles lists every *.jsonl under dirs.
func historyFiles(t *testing.T, dirs []string) []string {
	t.Helper()
	var files []string
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(path, ".jsonl") {
				files = append(files, path)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(files) == 0 {
		t.Fatalf("no histories under %v", dirs)
	}
	return files
}

// fileLines returns the non-blank lines of path (blank lines are skipped
// by the format) with their 1-based numbers.
func fileLines(t *testing.T, path string) (lines [][]byte, numbers []int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			lines = append(lines, bytes.Clone(line))
			numbers = append(numbers, n)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines, numbers
}

// readerOnly are lines the reader refuses and no JSON Schema can: a field
// given twice is gone once the line is parsed into an object.
var readerOnly = []string{"history/testdata/bad/duplicate_field.jsonl:3"}

// TestTestdataHistories checks every history the tests use: each history
// the reader accepts has every line valid under the schema, and on every
// single line, of good histories and of bad ones, the schema and the
// reader agree (but for readerOnly). A bad history whose fault lies
// between lines (the protocol, the markers' order) has only valid lines.
func TestTestdataHistories(t *testing.T) {
	s := compileSchema(t)
	for _, path := range historyFiles(t, historyDirs) {
		name := strings.TrimPrefix(filepath.ToSlash(path), "../")
		t.Run(name, func(t *testing.T) {
			_, stats, readErr := history.ReadFileStats(path)
			lines, numbers := fileLines(t, path)
			for i, line := range lines {
				where := name + ":" + strconv.Itoa(numbers[i])
				schemaErr := schemaAccepts(s, line)
				if readErr == nil {
					if stats.Truncated && i == len(lines)-1 {
						continue // the reader dropped this cut last line
					}
					if schemaErr != nil {
						t.Errorf("%s: the reader accepts this history, the schema refuses the line: %v", where, schemaErr)
					}
					continue
				}
				lineErr := readerAccepts(line)
				switch {
				case slices.Contains(readerOnly, where):
					if lineErr == nil {
						t.Errorf("%s is listed in readerOnly but the reader accepts it", where)
					}
				case (schemaErr == nil) != (lineErr == nil):
					t.Errorf("%s: schema and reader disagree on %s\n  schema: %v\n  reader: %v", where, line, schemaErr, lineErr)
				}
			}
		})
	}
}

// TestSchemaRefuses checks lines built to fail, each beside a valid line
// that differs from it in one respect, and that the reader agrees.
func TestSchemaRefuses(t *testing.T) {
	s := compileSchema(t)
	tests := []struct {
		name string
		line string
		ok   bool
	}{
		{"acquire invoke", `{"time":1,"process":0,"type":"invoke","op":"acquire","key":"k","ttl_ms":500}`, true},
		{"acquire invoke without ttl_ms", `{"time":1,"process":0,"type":"invoke","op":"acquire","key":"k"}`, false},
		{"acquire invoke with ttl_ms as a string", `{"time":1,"process":0,"type":"invoke","op":"acquire","key":"k","ttl_ms":"500"}`, false},
		{"acquire ok with fence and deadline", `{"time":2,"process":0,"type":"ok","op":"acquire","key":"k","fence":7,"deadline":9}`, true},
		{"acquire ok with a fractional fence", `{"time":2,"process":0,"type":"ok","op":"acquire","key":"k","fence":7.5}`, false},
		{"release ok with a deadline", `{"time":2,"process":0,"type":"ok","op":"release","key":"k","deadline":9}`, false},
		{"event without time", `{"process":0,"type":"invoke","op":"release","key":"k"}`, false},
		{"event with time as a string", `{"time":"1","process":0,"type":"invoke","op":"release","key":"k"}`, false},
		{"event with negative time", `{"time":-1,"process":0,"type":"crash"}`, false},
		{"time beyond int64", `{"time":9223372036854775808,"process":0,"type":"crash"}`, false},
		{"time at int64's limit", `{"time":9223372036854775807,"process":0,"type":"crash"}`, true},
		{"event without process", `{"time":1,"type":"invoke","op":"read","key":"r"}`, false},
		{"event with an empty key", `{"time":1,"process":0,"type":"invoke","op":"read","key":""}`, false},
		{"unknown op", `{"time":1,"process":0,"type":"invoke","op":"lock","key":"k"}`, false},
		{"unknown field", `{"time":1,"process":0,"type":"crash","colour":"red"}`, false},
		{"read ok", `{"time":1,"process":0,"type":"ok","op":"read","key":"r","value":-3}`, true},
		{"read ok without value", `{"time":1,"process":0,"type":"ok","op":"read","key":"r"}`, false},
		{"info with error", `{"time":1,"process":0,"type":"info","op":"extend","key":"k","error":"i/o timeout"}`, true},
		{"ok with error", `{"time":1,"process":0,"type":"ok","op":"extend","key":"k","error":"x"}`, false},
		{"nemesis", `{"time":1,"type":"nemesis","fault":"kill","target":"n1","phase":"start"}`, true},
		{"nemesis with a process", `{"time":1,"process":0,"type":"nemesis","fault":"kill","target":"n1","phase":"start"}`, false},
		{"nemesis with phase begin", `{"time":1,"type":"nemesis","fault":"kill","target":"n1","phase":"begin"}`, false},
		{"nemesis without target", `{"time":1,"type":"nemesis","fault":"kill","phase":"stop"}`, false},
		{"clock", `{"time":1,"process":3,"type":"clock","target":"agent-1","offset":-52113000,"uncertainty":420000}`, true},
		{"clock with offset and uncertainty 0", `{"time":1,"process":3,"type":"clock","target":"agent-1","offset":0,"uncertainty":0}`, true},
		{"clock without target", `{"time":1,"process":3,"type":"clock","offset":0,"uncertainty":1}`, false},
		{"clock with an empty target", `{"time":1,"process":3,"type":"clock","target":"","offset":0,"uncertainty":1}`, false},
		{"clock without offset", `{"time":1,"process":3,"type":"clock","target":"a","uncertainty":1}`, false},
		{"clock without uncertainty", `{"time":1,"process":3,"type":"clock","target":"a","offset":0}`, false},
		{"clock with negative uncertainty", `{"time":1,"process":3,"type":"clock","target":"a","offset":0,"uncertainty":-1}`, false},
		{"clock with a fractional offset", `{"time":1,"process":3,"type":"clock","target":"a","offset":0.5,"uncertainty":1}`, false},
		{"clock without process", `{"time":1,"type":"clock","target":"a","offset":0,"uncertainty":1}`, false},
		{"clock with a key", `{"time":1,"process":3,"type":"clock","key":"k","target":"a","offset":0,"uncertainty":1}`, false},
		{"clock with an op", `{"time":1,"process":3,"type":"clock","op":"acquire","target":"a","offset":0,"uncertainty":1}`, false},
		{"crash with an offset", `{"time":1,"process":3,"type":"crash","offset":0}`, false},
		{"checkpoint", `{"type":"checkpoint","time":0}`, true},
		{"checkpoint with a process", `{"type":"checkpoint","time":0,"process":1}`, false},
		{"end without time", `{"type":"end"}`, false},
		{"not an object", `[1,0,"crash"]`, false},
		{"trailing garbage", `{"time":1,"process":0,"type":"crash"} x`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := schemaAccepts(s, []byte(tt.line))
			if (err == nil) != tt.ok {
				t.Errorf("schema: got %v, want ok=%v for %s", err, tt.ok, tt.line)
			}
			var ve *jsonschema.ValidationError
			if err != nil && !tt.ok && strings.HasPrefix(tt.line, "{") && !strings.HasSuffix(tt.line, " x") && !errors.As(err, &ve) {
				t.Errorf("want a validation error, got %T: %v", err, err)
			}
			if rerr := readerAccepts([]byte(tt.line)); (rerr == nil) != tt.ok {
				t.Errorf("reader: got %v, want ok=%v: the schema and the reader must agree", rerr, tt.ok)
			}
		})
	}
}

// TestFormatDocExample validates every line of every json example in
// history-format.md (the history of its Example section, the clock
// events') against the schema.
func TestFormatDocExample(t *testing.T) {
	s := compileSchema(t)
	doc, err := os.ReadFile("history-format.md")
	if err != nil {
		t.Fatal(err)
	}
	var total int
	rest := string(doc)
	for {
		var ok bool
		if _, rest, ok = strings.Cut(rest, "```json\n"); !ok {
			break
		}
		var example string
		if example, rest, ok = strings.Cut(rest, "```"); !ok {
			t.Fatal("an unterminated json example in history-format.md")
		}
		lines := strings.Split(strings.TrimSpace(example), "\n")
		for i, line := range lines {
			if err := schemaAccepts(s, []byte(line)); err != nil {
				t.Errorf("example line %d (%s): %v", i+1, line, err)
			}
		}
		total += len(lines)
	}
	if total < 14 {
		t.Errorf("the examples have %d lines: not the ones this test expects", total)
	}
}
