package zoo

import (
	"bytes"
	"cmp"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lockbench/lockbench/chaos"
	"github.com/lockbench/lockbench/checker"
	"github.com/lockbench/lockbench/clients/python"
	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/history"
	"github.com/lockbench/lockbench/locks"
	"github.com/lockbench/lockbench/runner"
)

// TestZooCoversTheIssue: every (strategy, scenario) pair issue 9 lists is
// in the zoo with the verdict the literature predicts.
func TestZooCoversTheIssue(t *testing.T) {
	safeLive := Expectation{Safety: SafetySafe}
	unsafe := Expectation{Safety: SafetyUnsafe}
	type row struct {
		lock, fault, topology string
		expect                Expectation
	}
	want := []row{
		{"nolock", "none", "", unsafe},
		{"setnx", "client-crash", "", Expectation{Safety: SafetySafe, Liveness: checker.LivenessStalled}},
		{"setnx-expire", chaos.FaultCutBetween, "", Expectation{Safety: SafetySafe, Liveness: checker.LivenessStalled}},
		// its DEL frees someone else's lock: a stale release must show
		{"set-nx-ex", "kleppmann-client-pause", "", Expectation{Safety: SafetyUnsafe, Cause: checker.CauseStaleRelease}},
		{"token", "kleppmann-client-pause", "", unsafe},
		{"redislock", "kleppmann-client-pause", "", unsafe},
		{"fenced", "kleppmann-client-pause", "", Expectation{Safety: SafetySafe, StaleRejected: true}},
		// issue 18: the failovers of replicated deployments
		{"token", "failover-after-replication-cut", "sentinel", Expectation{Safety: SafetyUnsafe, Cause: checker.CauseLostWithinTTL}},
		{"redislock", "failover-after-replication-cut", "sentinel", unsafe},
		{"fenced", "failover-after-replication-cut", "sentinel", unsafe},
		{"token-wait", "failover-after-replication-cut", "sentinel", safeLive},
		{"token-wait", "failover-after-replica-cut", "sentinel", Expectation{Safety: SafetyUnsafe, Cause: checker.CauseLostWithinTTL}},
		{"token", "failover-after-replication-cut", "cluster", Expectation{Safety: SafetyUnsafe, Cause: checker.CauseLostWithinTTL}},
		{"redlock", "redis-restart-aof-always", "", safeLive},
		// issue 19: the seed's Python snippets and redis-py's Lock
		{"py-setnx", "client-crash", "", Expectation{Safety: SafetySafe, Liveness: checker.LivenessStalled}},
		{"py-set-nx-ex", "kleppmann-client-pause", "", Expectation{Safety: SafetyUnsafe, Cause: checker.CauseStaleRelease}},
		{"py-redis-lock", "none", "", safeLive},
		{"py-redis-lock", "kleppmann-client-pause", "", unsafe},
	}
	for _, l := range []string{"redlock", "redsync"} {
		want = append(want, []row{
			{l, "partition-minority", "", Expectation{Safety: SafetySafe, Availability: Available}},
			{l, "partition-majority", "", Expectation{Safety: SafetySafe, Availability: Unavailable}},
			{l, "redis-restart-no-fsync", "", unsafe},
			{l, "redis-delayed-restart", "", safeLive},
			{l, "kleppmann-clock-jump", "", unsafe},
		}...)
	}
	for _, l := range []string{"token", "fenced", "redlock", "redsync", "redislock"} {
		want = append(want, row{l, "none", "", safeLive}, row{l, "latency", "", safeLive})
	}
	zoo := Entries()
	for _, w := range want {
		i := slices.IndexFunc(zoo, func(e Entry) bool { return e.Lock == w.lock && e.Fault == w.fault && e.Topology == w.topology })
		if i < 0 {
			t.Errorf("no zoo entry for %s under %s on %q", w.lock, w.fault, w.topology)
			continue
		}
		if zoo[i].Expect != w.expect {
			t.Errorf("%s: expects %v, the literature says %v", zoo[i].ID(), zoo[i].Expect, w.expect)
		}
	}
	if len(zoo) != len(want) {
		t.Errorf("the zoo has %d entries, the issue %d", len(zoo), len(want))
	}
	failovers := 0
	for _, e := range zoo {
		if strings.Contains(e.Fault, "failover") {
			failovers++
		}
	}
	if failovers < 5 {
		t.Errorf("%d zoo entries involve a failover, the issue asks for at least 5", failovers)
	}
}

// TestZooEntriesAreWellFormed: every entry cites a source in one line,
// says how it is set up, names a real strategy and preset, has a valid
// workload that the preset can run with, and a unique ID; the quick subset
// keeps every scenario.
func TestZooEntriesAreWellFormed(t *testing.T) {
	ids := map[string]bool{}
	caps := execCapsForTest()
	for _, e := range Entries() {
		t.Run(e.ID(), func(t *testing.T) {
			if ids[e.ID()] {
				t.Error("duplicate entry")
			}
			ids[e.ID()] = true
			if e.Source == "" || strings.Contains(e.Source, "\n") {
				t.Errorf("source %q: want one line", e.Source)
			}
			if e.Setup == "" || strings.Contains(e.Setup, "\n") {
				t.Errorf("setup %q: want one line", e.Setup)
			}
			if _, err := locks.Lookup(e.Lock); err != nil && !slices.ContainsFunc(python.Clients(), func(c python.Client) bool { return c.Name == e.Lock }) {
				t.Error(err)
			}
			sched, err := chaos.LookupPreset(e.Fault)
			if err != nil {
				t.Fatal(err)
			}
			w := e.Workload
			if err := w.Validate(); err != nil {
				t.Error(err)
			}
			req := sched.Requirements()
			topology, err := cluster.ParseTopology(e.Topology)
			if err != nil {
				t.Fatal(err)
			}
			if req.Replicated != topology.Replicated() {
				t.Errorf("preset %s on topology %s", e.Fault, topology)
			}
			nodes := cmp.Or(topology.DataNodes(), 5)
			if err := sched.Validate(caps, "exec", nodes, max(w.Groups, req.MinGroups), max(w.Clients, req.MinClients)); err != nil {
				t.Error(err)
			}
			tl, err := sched.Timeline(1, chaos.Topology{Nodes: chaos.NodeNames(nodes), Groups: chaos.GroupNames(max(w.Groups, req.MinGroups)),
				Clients: w.Clients, TTL: w.TTL, Duration: w.Duration})
			if err != nil {
				t.Error(err)
			}
			if e.Fault != "none" && len(tl) == 0 {
				t.Error("the fault never happens within the cell")
			}
			switch e.Expect.Safety {
			case SafetySafe, SafetyUnsafe:
			default:
				t.Errorf("safety expectation %q", e.Expect.Safety)
			}
			if e.Expect.Liveness == checker.LivenessStalled && e.StallBound == 0 {
				t.Error("a stall is expected with the default stall bound (≥ 5 s): set one")
			}
		})
	}
	quick := QuickEntries(Entries())
	for _, e := range Entries() {
		if !slices.ContainsFunc(quick, func(q Entry) bool { return q.Fault == e.Fault }) {
			t.Errorf("the quick zoo has no entry for %s", e.Fault)
		}
	}
	if len(quick) >= len(Entries()) {
		t.Errorf("the quick zoo has %d of %d entries", len(quick), len(Entries()))
	}
}

// execCapsForTest is every capability the exec provider offers.
func execCapsForTest() []cluster.Capability {
	return cluster.NewExec(cluster.ExecOptions{}).Caps()
}

func TestSelectZoo(t *testing.T) {
	got, err := Select(Entries(), []string{"token/no-fault", "nolock/no-fault"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID() != "nolock/no-fault" || got[1].ID() != "token/no-fault" {
		t.Errorf("selected %v, want nolock then token in table order", got)
	}
	if _, err := Select(Entries(), []string{"token/nope"}); !errors.Is(err, runner.ErrBadScenario) || !strings.Contains(err.Error(), "token/no-fault") {
		t.Errorf("unknown entry: %v", err)
	}
	cells := Cells(got, 7)
	if cells[0].Seed != 7 || cells[0].Workload.Seed != 7 || cells[0].Fault != "none" || cells[0].ID != "01-nolock-no-fault-s7" {
		t.Errorf("cell %+v", cells[0])
	}
}

// result is a synthetic checker result.
func result(m checker.MutexVerdict, r checker.ResourceVerdict, l checker.LivenessVerdict, rejected int) *checker.Result {
	return &checker.Result{Mutex: m, Resource: r, Liveness: l, Counts: checker.Counts{StaleRejected: rejected}}
}

func share(x float64) *float64 { return &x }

// TestExpectationMatch compares expectations with observations built from
// synthetic checker results.
func TestExpectationMatch(t *testing.T) {
	safeLive := Expectation{Safety: SafetySafe}
	unsafeLive := Expectation{Safety: SafetyUnsafe}
	mustLive := Expectation{Safety: SafetySafe, Liveness: checker.LivenessOK}
	stalled := Expectation{Safety: SafetySafe, Liveness: checker.LivenessStalled}
	withProgress := func(r *checker.Result, p checker.ProgressVerdict) *checker.Result {
		r.Progress = p
		return r
	}
	unavailable := Expectation{Safety: SafetySafe, Availability: Unavailable}
	available := Expectation{Safety: SafetySafe, Availability: Available}
	fenced := Expectation{Safety: SafetySafe, StaleRejected: true}
	byStaleRelease := Expectation{Safety: SafetyUnsafe, Cause: checker.CauseStaleRelease}
	withCauses := func(r *checker.Result, causes map[string]int) *checker.Result {
		r.Counts.OverlapCauses = causes
		return r
	}
	const (
		ok       = checker.MutexOK
		violated = checker.MutexViolated
		unknown  = checker.MutexUnknown
		rOK      = checker.ResourceOK
		lost     = checker.ResourceLostUpdates
		stale    = checker.ResourceStaleWritesAccepted
		live     = checker.LivenessOK
		stall    = checker.LivenessStalled
	)
	for _, tc := range []struct {
		name   string
		expect Expectation
		chk    *checker.Result
		avail  *float64
		match  bool
		text   string
	}{
		{"safe as expected", safeLive, result(ok, rOK, live, 0), nil, true, "safe · live"},
		{"mutex violated is unsafe", unsafeLive, result(violated, rOK, live, 0), nil, true, "unsafe (mutex violated) · live"},
		{"lost updates are unsafe", unsafeLive, result(ok, lost, live, 0), nil, true, "unsafe (lost-updates) · live"},
		{"stale writes accepted are unsafe", unsafeLive, result(ok, stale, live, 0), nil, true, "unsafe (stale-writes-accepted) · live"},
		{"both", unsafeLive, result(violated, lost, live, 0), nil, true, "unsafe (mutex violated, lost-updates) · live"},
		{"unsafe when safe was expected", safeLive, result(violated, rOK, live, 0), nil, false, "unsafe (mutex violated) · live"},
		{"safe when unsafe was expected", unsafeLive, result(ok, rOK, live, 0), nil, false, "safe · live"},
		{"unknown never matches", unsafeLive, result(unknown, rOK, live, 0), nil, false, "unknown · live"},
		{"unknown never matches safe", safeLive, result(unknown, rOK, live, 0), nil, false, "unknown · live"},
		{"stalled as expected", stalled, result(ok, rOK, stall, 0), nil, true, "safe · stalled"},
		{"live when a stall was expected", stalled, result(ok, rOK, live, 0), nil, false, "safe · live"},
		{"stalled when nothing was predicted", safeLive, result(ok, rOK, stall, 0), nil, true, "safe · stalled"},
		{"stalled when live was expected", mustLive, result(ok, rOK, stall, 0), nil, false, "safe · stalled"},
		{"not assessed when live was expected", mustLive, result(ok, rOK, checker.LivenessNA, 0), nil, false, "safe · liveness n/a"},
		{"no progress is not safe", safeLive, withProgress(result(ok, rOK, checker.LivenessNA, 0), checker.ProgressNone), nil, false, "safe · liveness n/a · progress none"},
		{"degraded progress still shows safety", safeLive, withProgress(result(ok, rOK, live, 0), checker.ProgressDegraded), nil, true, "safe · live · progress degraded"},
		{"unavailable", unavailable, result(ok, rOK, live, 0), share(0), true, "safe · live · unavailable 0%"},
		{"unavailable at the bound", unavailable, result(ok, rOK, live, 0), share(UnavailableMax), true, "safe · live · unavailable 20%"},
		{"available when unavailable was expected", unavailable, result(ok, rOK, live, 0), share(1), false, "safe · live · available 100%"},
		{"partly available", unavailable, result(ok, rOK, live, 0), share(0.5), false, "safe · live · partly available 50%"},
		{"not measured", unavailable, result(ok, rOK, live, 0), nil, false, "safe · live"},
		{"available", available, result(ok, rOK, live, 0), share(0.8), true, "safe · live · available 80%"},
		{"unavailable when available was expected", available, result(ok, rOK, live, 0), share(0), false, "safe · live · unavailable 0%"},
		{"stale writes rejected", fenced, result(ok, rOK, live, 3), nil, true, "safe · live · 3 stale writes rejected"},
		{"no stale write rejected", fenced, result(ok, rOK, live, 0), nil, false, "safe · live"},
		{"the expected cause", byStaleRelease, withCauses(result(violated, lost, live, 0), map[string]int{checker.CauseTTLPassed: 2, checker.CauseStaleRelease: 1}), nil, true,
			"unsafe (mutex violated [ttl-passed 2, stale-release 1], lost-updates) · live"},
		{"unsafe by another cause", byStaleRelease, withCauses(result(violated, rOK, live, 0), map[string]int{checker.CauseTTLPassed: 2}), nil, false,
			"unsafe (mutex violated [ttl-passed 2]) · live"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := observe(tc.chk, tc.avail)
			diffs := tc.expect.Match(o)
			if (len(diffs) == 0) != tc.match {
				t.Errorf("Match(%v, %v) = %q, want match %v", tc.expect, o, diffs, tc.match)
			}
			if got := o.String(); got != tc.text {
				t.Errorf("observation reads %q, want %q", got, tc.text)
			}
		})
	}
	if d := safeLive.Match(Observation{Error: "boom"}); len(d) != 1 || !strings.Contains(d[0], "boom") {
		t.Errorf("a cell that could not run: %q", d)
	}
}

// TestFaultAvailability measures the windows trimmed by the grace: a
// straggler acquire just inside either end of a window does not count.
func TestFaultAvailability(t *testing.T) {
	const s = int64(time.Second)
	ok := func(at int64) history.Event { return history.Event{Time: at, Type: history.OK, Op: history.Acquire} }
	windows := []checker.WindowAvailability{{Fault: "partition-majority", StartMs: 1000, EndMs: 4000}}
	grace := 250 * time.Millisecond
	for _, tc := range []struct {
		name   string
		events []history.Event
		want   float64
	}{
		{"nothing inside", []history.Event{ok(s / 2), ok(5 * s)}, 0},
		{"stragglers at both ends", []history.Event{ok(s + 10e6), ok(4*s - 10e6)}, 0},
		{"one bucket of three", []history.Event{ok(s + 300e6)}, 1.0 / 3},
		{"every bucket", []history.Event{ok(s + 300e6), ok(2*s + 300e6), ok(3*s + 300e6)}, 1},
	} {
		got := FaultAvailability(tc.events, windows, grace)
		if got == nil || *got != tc.want {
			t.Errorf("%s: availability %v, want %v", tc.name, got, tc.want)
		}
	}
	short := []checker.WindowAvailability{{StartMs: 1000, EndMs: 1400}}
	if got := FaultAvailability([]history.Event{ok(s + 200e6)}, short, grace); got != nil {
		t.Errorf("a window shorter than twice the grace measured %v", *got)
	}
}

// TestZooReportText: the matrix marks matches and differences, lists the
// witnesses and stalls, and the exit code follows the rows.
func TestZooReportText(t *testing.T) {
	zoo := Entries()
	rep := &Report{Seed: 3, ElapsedMs: 61500}
	w := checker.Witness{Kind: checker.KindOverlap, Explanation: "processes 1 and 2 both believed they held k"}
	rep.Rows = []Row{
		{Entry: zoo[0], Observed: observe(result(checker.MutexViolated, checker.ResourceOK, checker.LivenessOK, 0), nil), Match: true, Witnesses: []checker.Witness{w}},
		{Entry: zoo[1], Observed: observe(result(checker.MutexOK, checker.ResourceOK, checker.LivenessOK, 0), nil),
			Diffs: []string{"expected liveness stalled, observed ok"}, CellID: "02-x", Seed: 3},
	}
	rep.Matched, rep.Differed = 1, 1
	var b bytes.Buffer
	rep.WriteText(&b)
	out := b.String()
	for _, want := range []string{"✓", "✗", w.Explanation, "expected liveness stalled", "1 of 2 observations equal their expectation, 1 differ", "seed 3", zoo[1].Source} {
		if !strings.Contains(out, want) {
			t.Errorf("matrix lacks %q:\n%s", want, out)
		}
	}
	if rep.ExitCode() != 1 {
		t.Errorf("exit code %d with a difference, want 1", rep.ExitCode())
	}
	rep.Differed, rep.Errored = 0, 1
	if rep.ExitCode() != 2 {
		t.Errorf("exit code %d with an undecided cell, want 2", rep.ExitCode())
	}
	rep.Errored = 0
	if rep.ExitCode() != 0 {
		t.Errorf("exit code %d, want 0", rep.ExitCode())
	}
	b.Reset()
	rep.WriteMarkdown(&b)
	if !strings.Contains(b.String(), "| lock | scenario |") || !strings.Contains(b.String(), "- "+zoo[0].ID()+": "+w.Explanation) {
		t.Errorf("markdown:\n%s", b.String())
	}
}

// TestZooFitsCapacity: the whole zoo, as Run runs it, fits a small machine
// (the one runner's capacity tests assume) and this one, with every
// provider.
func TestZooFitsCapacity(t *testing.T) {
	small := runner.Capacity{
		OpenFiles: 1024, FilesOpen: 10, NodeFiles: 4096, SystemFiles: 1 << 20,
		MemAvailable: 4 << 30, Ports: 28232, Tasks: 30000, UserTasks: -1, CPUs: 2,
	}
	entries := Entries()
	for _, machine := range []struct {
		name string
		c    runner.Capacity
	}{{"small machine", small}, {"this machine", runner.ReadCapacity()}} {
		for _, provider := range []string{"exec", "docker", "external"} {
			if err := runner.CheckCapacity(Scenario(entries, 1), Cells(entries, 1), provider, machine.c); err != nil {
				t.Errorf("%s, %s: %v", machine.name, provider, err)
			}
		}
	}
}

// TestObserveFailoverGap: the longest time without a grant through the
// cell's failovers is observed and printed; other windows do not count,
// and a cell without a failover has none.
func TestObserveFailoverGap(t *testing.T) {
	chk := &checker.Result{Mutex: checker.MutexOK, Resource: checker.ResourceOK, Availability: []checker.WindowAvailability{
		{Fault: chaos.FaultReplicationCut, LongestGapMs: 9000},
		{Fault: chaos.FaultFailover, LongestGapMs: 3200},
		{Fault: chaos.FaultFailover, LongestGapMs: 1500},
	}}
	o := observe(chk, nil)
	if o.FailoverGapMs == nil || *o.FailoverGapMs != 3200 {
		t.Fatalf("failover gap %v, want 3200 ms", o.FailoverGapMs)
	}
	if !strings.Contains(o.String(), "no grant for 3.2 s through the failover") {
		t.Errorf("observation %q does not give the gap", o)
	}
	chk.Availability = chk.Availability[:1]
	if o := observe(chk, nil); o.FailoverGapMs != nil || strings.Contains(o.String(), "failover") {
		t.Errorf("no failover, but observed %v (%q)", o.FailoverGapMs, o)
	}
}

// TestStarvedCellsAreNotJudged: a row that differs on a cell whose
// harness was starved counts as undecided (exit 2), not as a difference
// (exit 1), and says so; a match stays a match, and a difference on a
// healthy cell stays one.
func TestStarvedCellsAreNotJudged(t *testing.T) {
	safe := Expectation{Safety: SafetySafe}
	row := func(observed string, starved bool) Row {
		o := Observation{Safety: observed, Mutex: checker.MutexOK, Resource: checker.ResourceOK, Progress: checker.ProgressOK, HarnessOverloaded: starved}
		if observed == SafetyUnsafe {
			o.Mutex = checker.MutexViolated
		}
		r := Row{Entry: Entry{Lock: "token", Scenario: "s", Expect: safe}, Observed: o}
		r.Diffs = safe.Match(o)
		r.Match = len(r.Diffs) == 0
		return r
	}
	for _, tc := range []struct {
		name                       string
		rows                       []Row
		matched, differed, errored int
		exit                       int
	}{
		{"a difference on a healthy cell", []Row{row(SafetyUnsafe, false)}, 0, 1, 0, 1},
		{"a difference on a starved cell", []Row{row(SafetyUnsafe, true)}, 0, 0, 1, 2},
		{"a match on a starved cell", []Row{row(SafetySafe, true)}, 1, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Report{Rows: tc.rows}
			r.count()
			if r.Matched != tc.matched || r.Differed != tc.differed || r.Errored != tc.errored || r.ExitCode() != tc.exit {
				t.Errorf("matched %d, differed %d, errored %d, exit %d; want %d, %d, %d, %d", r.Matched, r.Differed, r.Errored, r.ExitCode(), tc.matched, tc.differed, tc.errored, tc.exit)
			}
			var b strings.Builder
			r.WriteText(&b)
			if starved := tc.rows[0].Observed.HarnessOverloaded; starved != strings.Contains(b.String(), "harness overloaded") {
				t.Errorf("starved %v, but the text says:\n%s", starved, b.String())
			}
			if tc.errored > 0 && !strings.Contains(b.String(), "not judged") {
				t.Errorf("the difference does not say it was not judged:\n%s", b.String())
			}
		})
	}
}
