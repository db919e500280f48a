package runner

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/lockbench/lockbench/chaos"
	"github.com/lockbench/lockbench/cluster"
)

// A scenario file's faults: list holds preset names and hand-written
// schedules:
//
//	faults:
//	  - none
//	  - name: latency-then-partition
//	    steps:
//	      - {fault: latency, targets: [n1], at: 1s, duration: 2s}
//	      - {fault: partition-node, targets: [n2], groups: [A], at: 3s, duration: 1s}
//
// Both become names in Scenario.Faults, the schedules' in
// Scenario.Schedules too. Everything the file says wrong is an error
// naming its line (lineError); what only the whole scenario can tell (a
// step that starts after the cell ends, a node --nodes removed) is found
// by Expand, which names the step's line.

// untilEnd is how a schedule file writes chaos.UntilEnd as a duration.
const untilEnd = "until-end"

// scheduleName is what a hand-written schedule may be called: it becomes
// part of cell ids and so of directory names.
var scheduleName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// lineError is something wrong at a line of a scenario file. LoadScenario
// turns it into "FILE:LINE: what".
type lineError struct {
	line int
	msg  string
}

// Error says the line and what is wrong.
func (e *lineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// Unwrap makes every lineError a bad scenario.
func (e *lineError) Unwrap() error { return ErrBadScenario }

// at is a lineError at n's line.
func at(n *yaml.Node, format string, args ...any) error {
	return &lineError{line: n.Line, msg: fmt.Sprintf(format, args...)}
}

// faultSource remembers where the file wrote its schedules, so that what
// Expand finds wrong with a step names the step's line.
type faultSource struct {
	// file is the scenario file's name ("" = not known: messages say
	// "line N").
	file string
	// steps are the lines of each hand-written schedule's steps.
	steps map[string][]int
}

// where names a line of the file: "FILE:LINE" or "line LINE".
func (src *faultSource) where(line int) string {
	if src.file == "" {
		return "line " + strconv.Itoa(line)
	}
	return src.file + ":" + strconv.Itoa(line)
}

// stepLine says what a chaos.StepError of a hand-written schedule is
// about, starting with the step's line: "FILE:LINE: step 2 of fault
// schedule "x" (latency): why". ok is false for other errors.
func (src *faultSource) stepLine(err error) (msg string, ok bool) {
	var se *chaos.StepError
	if src == nil || !errors.As(err, &se) {
		return "", false
	}
	lines, ok := src.steps[se.Schedule]
	if !ok || se.Step >= len(lines) {
		return "", false
	}
	return fmt.Sprintf("%s: step %d of fault schedule %q (%s): %s",
		src.where(lines[se.Step]), se.Step+1, se.Schedule, se.Fault, strings.TrimSuffix(oneLine(se.Err), ": "+chaos.ErrBadSchedule.Error())), true
}

// Schedule returns the fault schedule a cell's Fault names: one of the
// scenario's hand-written Schedules, else a preset.
func (s Scenario) Schedule(name string) (chaos.Schedule, error) {
	for _, sc := range s.Schedules {
		if sc.Name == name {
			return sc, nil
		}
	}
	sc, err := chaos.LookupPreset(name)
	if err != nil && len(s.Schedules) > 0 {
		names := make([]string, len(s.Schedules))
		for i, sc := range s.Schedules {
			names[i] = sc.Name
		}
		return sc, fmt.Errorf("%w; the scenario's own: %s", err, strings.Join(names, ", "))
	}
	return sc, err
}

// parseFaults reads a scenario file's faults: entries into s.Faults and
// s.Schedules, checking what can be checked without the rest of the
// scenario: fault kinds, fields, durations, and node and group names
// against s.Nodes (default 5).
func parseFaults(entries []yaml.Node, s *Scenario) error {
	nodes := s.Nodes
	if nodes == 0 {
		nodes = Scenario{}.withDefaults().Nodes
	}
	src := &faultSource{steps: map[string][]int{}}
	for i := range entries {
		n := &entries[i]
		switch n.Kind {
		case yaml.ScalarNode:
			if _, err := chaos.LookupPreset(n.Value); err != nil {
				return at(n, "%v; write a preset's name (bench list presets) or a schedule (name: and steps:, see docs/faults.md)", oneLine(err))
			}
			s.Faults = append(s.Faults, n.Value)
		case yaml.MappingNode:
			sc, lines, err := parseSchedule(n, nodes)
			if err != nil {
				return err
			}
			if _, err := chaos.LookupPreset(sc.Name); err == nil {
				return at(n, "fault schedule %q has a preset's name; call it something else", sc.Name)
			}
			if _, dup := src.steps[sc.Name]; dup {
				return at(n, "fault schedule %q is written twice; give each schedule its own name", sc.Name)
			}
			src.steps[sc.Name] = lines
			s.Faults = append(s.Faults, sc.Name)
			s.Schedules = append(s.Schedules, sc)
		default:
			return at(n, "a faults: entry is a preset's name or a schedule (name: and steps:), not a %s", kindName(n))
		}
	}
	if len(src.steps) > 0 {
		s.src = src
	}
	return nil
}

// parseSchedule reads one hand-written schedule and the lines of its
// steps.
func parseSchedule(n *yaml.Node, nodes int) (chaos.Schedule, []int, error) {
	var sc chaos.Schedule
	var lines []int
	var stepsNode *yaml.Node
	err := eachKey(n, "a fault schedule", []string{"name", "description", "source", "persistence", "steps"}, func(key string, v *yaml.Node) error {
		switch key {
		case "name":
			sc.Name = v.Value
			if v.Kind != yaml.ScalarNode || !scheduleName.MatchString(v.Value) {
				return at(v, "fault schedule name %q: use letters, digits, '.', '_' and '-' (it names the cells' directories)", v.Value)
			}
		case "description", "source":
			if v.Kind != yaml.ScalarNode {
				return at(v, "%s: write one line of text", key)
			}
			if key == "source" {
				sc.Source = v.Value
			} else {
				sc.Description = v.Value
			}
		case "persistence":
			p, err := cluster.ParsePersistence(v.Value)
			if err != nil || v.Kind != yaml.ScalarNode || v.Value == "" {
				return at(v, "persistence: %s is not a persistence mode; write none, aof-everysec or aof-always", describe(v))
			}
			sc.Persistence = p
		case "steps":
			stepsNode = v
		}
		return nil
	})
	if err != nil {
		return sc, nil, err
	}
	if sc.Name == "" {
		return sc, nil, at(n, "a fault schedule needs name: (it names the cells)")
	}
	if stepsNode == nil || stepsNode.Kind != yaml.SequenceNode || len(stepsNode.Content) == 0 {
		return sc, nil, at(n, "fault schedule %q needs steps: a list of faults (- fault: latency, at: 1s, …)", sc.Name)
	}
	for _, sn := range stepsNode.Content {
		st, err := parseStep(sn, nodes)
		if err != nil {
			return sc, nil, err
		}
		sc.Steps = append(sc.Steps, st)
		lines = append(lines, sn.Line)
	}
	return sc, lines, nil
}

// stepFields maps a step's YAML keys to chaos.Step's fields (its yaml
// tags), so that the file's keys are the ones chaos documents.
func stepFields() (map[string]int, []string) {
	t := reflect.TypeFor[chaos.Step]()
	idx := map[string]int{}
	var keys []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			idx[name] = i
			keys = append(keys, name)
		}
	}
	return idx, keys
}

// parseStep reads one step: each key into its field, so that a bad value
// names its own line.
func parseStep(n *yaml.Node, nodes int) (chaos.Step, error) {
	var st chaos.Step
	if n.Kind != yaml.MappingNode {
		return st, at(n, "a step is a mapping (fault: latency, at: 1s, …), not a %s", kindName(n))
	}
	idx, keys := stepFields()
	v := reflect.ValueOf(&st).Elem()
	seen := false
	err := eachKey(n, "a fault step", keys, func(key string, val *yaml.Node) error {
		field := v.Field(idx[key])
		switch {
		case key == "fault":
			if val.Kind != yaml.ScalarNode {
				return at(val, "fault: write a fault kind (bench list faults)")
			}
			if _, err := chaos.LookupFault(val.Value); err != nil {
				return at(val, "unknown fault kind %q (known: %s); see bench list faults or docs/faults.md", val.Value, strings.Join(chaos.FaultNames(), ", "))
			}
			st.Fault, seen = val.Value, true
		case field.Type() == reflect.TypeFor[time.Duration]():
			d, err := parseDuration(key, val)
			if err != nil {
				return err
			}
			field.SetInt(int64(d))
		case field.Kind() == reflect.Slice && val.Kind == yaml.ScalarNode:
			// targets: n1 is targets: [n1].
			field.Set(reflect.ValueOf([]string{val.Value}))
		default:
			if err := val.Decode(field.Addr().Interface()); err != nil {
				return at(val, "%s: %s is not %s", key, describe(val), typeName(field.Type()))
			}
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	if !seen {
		return st, at(n, "a step needs fault: its kind (bench list faults)")
	}
	return st, checkNames(n, st, nodes)
}

// checkNames refuses targets, groups and cuts that name no node or group.
// A group name in the right form always exists: the run makes as many
// client groups as the schedule names.
func checkNames(n *yaml.Node, st chaos.Step, nodes int) error {
	line := func(key string) *yaml.Node {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
		return n
	}
	node := func(where *yaml.Node, name string) error {
		if k, ok := nodeNumber(name); ok && k <= nodes {
			return nil
		}
		return at(where, "node %q does not exist: the scenario has %d nodes, n1 … n%d; name one of them (or %q, the nodes both sides of the default asymmetric partition reach), or raise the scenario's nodes", name, nodes, nodes, chaos.SharedNodes)
	}
	group := func(where *yaml.Node, name string) error {
		if slices.Contains(chaos.GroupNames(100), name) {
			return nil
		}
		return at(where, "client group %q does not exist: groups are named A, B, C, … (worker i is in group i mod groups)", name)
	}
	for _, t := range st.Targets {
		if t == chaos.SharedNodes {
			continue
		}
		if err := node(line("targets"), t); err != nil {
			return err
		}
	}
	for _, g := range st.Groups {
		if err := group(line("groups"), g); err != nil {
			return err
		}
	}
	cuts := line("cuts")
	for g, ns := range st.Cuts {
		if err := group(cuts, g); err != nil {
			return err
		}
		for _, name := range ns {
			if err := node(cuts, name); err != nil {
				return err
			}
		}
	}
	return nil
}

// nodeNumber parses "nK" into K.
func nodeNumber(name string) (int, bool) {
	k, err := strconv.Atoi(strings.TrimPrefix(name, "n"))
	return k, err == nil && k >= 1 && "n"+strconv.Itoa(k) == name
}

// parseDuration reads a duration written as Go writes them (1s, 250ms,
// 1m30s); duration: until-end lasts until the end of the cell.
func parseDuration(key string, n *yaml.Node) (time.Duration, error) {
	if n.Kind == yaml.ScalarNode {
		if key == "duration" && n.Value == untilEnd {
			return chaos.UntilEnd, nil
		}
		d, err := time.ParseDuration(n.Value)
		if err == nil && d >= 0 {
			return d, nil
		}
		if err == nil {
			return 0, at(n, "%s: %s is negative; times count from the start of the cell", key, n.Value)
		}
	}
	hint := "write it with a unit: 1s, 250ms, 1m30s"
	if key == "duration" {
		hint += ", or until-end"
	}
	return 0, at(n, "%s: %s is not a duration; %s", key, describe(n), hint)
}

// eachKey calls f for every key of mapping n, refusing keys not in known.
func eachKey(n *yaml.Node, what string, known []string, f func(key string, v *yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		return at(n, "%s is a mapping, not a %s", what, kindName(n))
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !slices.Contains(known, k.Value) {
			return at(k, "unknown field %q in %s (known: %s)", k.Value, what, strings.Join(known, ", "))
		}
		if seen[k.Value] {
			return at(k, "%s written twice in %s", k.Value, what)
		}
		seen[k.Value] = true
		if err := f(k.Value, v); err != nil {
			return err
		}
	}
	return nil
}

// kindName names a YAML node's kind for messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	case yaml.AliasNode:
		return "alias"
	}
	return "value"
}

// describe quotes a scalar for messages, or names the node's kind.
func describe(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return strconv.Quote(n.Value)
	}
	return "a " + kindName(n)
}

// typeName says in words what a step field takes.
func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		return "a list of names"
	case reflect.Map:
		return "a mapping of group to node list"
	}
	return t.String()
}
