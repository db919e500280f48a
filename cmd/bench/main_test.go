package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lockbench/lockbench/internal/leakcheck"
	"github.com/lockbench/lockbench/internal/testenv"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) {
	redis.SetLogger(quietLogger{}) // as main does
	leakcheck.Main(m)
}

// buildBench compiles the command once per test binary run.
func buildBench(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bench")
	out, err := exec.Command("go", "build", "-race", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestSignalLeavesNothingBehind interrupts a running calibration with
// SIGINT and SIGTERM and checks that the nodes it had started and their
// temp dirs are gone when the process has exited.
func TestSignalLeavesNothingBehind(t *testing.T) {
	testenv.NeedRedisServer(t)
	bin := buildBench(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "calibrate", "--provider", "exec", "--nodes", "3", "--samples", "100000000", "--out", t.TempDir())
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Wait until the nodes run and the timing loop has begun.
			sc := bufio.NewScanner(stderr)
			var lines []string
			for sc.Scan() {
				lines = append(lines, sc.Text())
				if strings.Contains(sc.Text(), "started") {
					break
				}
			}
			running := leakcheck.TakeFor(cmd.Process.Pid)
			if len(running.RedisPIDs) != 3 || len(running.TempDirs) != 1 {
				cmd.Process.Kill()
				t.Fatalf("before the signal: %+v (stderr %q), want 3 nodes and 1 dir", running, lines)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			for sc.Scan() {
				lines = append(lines, sc.Text())
			}
			err = cmd.Wait()
			if code := cmd.ProcessState.ExitCode(); code != exitUndecided {
				t.Errorf("exit code after %v = %d (%v), want %d; stderr %q", sig, code, err, exitUndecided, lines)
			}
			if last := lines[len(lines)-1]; !strings.Contains(last, "interrupted") {
				t.Errorf("last line %q does not say it was interrupted", last)
			}
			for _, pid := range running.RedisPIDs {
				if _, err := os.Stat("/proc/" + pid); err == nil {
					if st, _ := os.ReadFile("/proc/" + pid + "/stat"); !bytes.Contains(st, []byte(") Z")) {
						t.Errorf("redis-server %s still runs after %v", pid, sig)
					}
				}
			}
			for _, d := range running.TempDirs {
				if _, err := os.Stat(d); err == nil {
					t.Errorf("temp dir %s still exists after %v", d, sig)
				}
			}
		})
	}
}

func TestBadInputIsOneLineAndExit3(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no command", nil},
		{"unknown command", []string{"frobnicate"}},
		{"unknown flag", []string{"calibrate", "--frob"}},
		{"bad node count", []string{"calibrate", "--nodes", "0"}},
		{"bad address", []string{"calibrate", "--redis-addrs", "nohostport"}},
		{"unknown provider", []string{"calibrate", "--provider", "kubernetes"}},
		{"unreachable redis", []string{"calibrate", "--provider", "external", "--redis-addrs", "127.0.0.1:1"}},
		{"unknown registry", []string{"list", "bananas"}},
		{"unknown release kind", []string{"check", "--releases", "bogus", "history.jsonl"}},
		{"unknown agent engine", []string{"run", "--agents", "nomad:3"}},
		{"no agents", []string{"run", "--agents", "local:0"}},
		{"agent without a controller", []string{"agent", "--index", "0"}},
		{"manifest of no agents", []string{"agent", "manifest", "--agents", "0"}},
		{"a client fault on agents", []string{"run", "--agents", "local:2", "--provider", "exec", "--locks", "token", "--faults", "kleppmann-client-pause"}},
		{"kubernetes without a cluster", []string{"run", "--agents", "k8s:bench"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != exitBadInput {
				t.Errorf("exit code %d, want %d", code, exitBadInput)
			}
			// Progress lines start with "·"; the error is one line of its own.
			var errLines []string
			for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
				if !strings.HasPrefix(l, "·") {
					errLines = append(errLines, l)
				}
			}
			if len(errLines) != 1 || !strings.HasPrefix(errLines[0], "bench") {
				t.Errorf("stderr %q: want one error line starting with bench", stderr.String())
			}
		})
	}
}

func TestCalibrateWritesResults(t *testing.T) {
	testenv.NeedRedisServer(t)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"calibrate", "--provider", "exec", "--nodes", "2", "--samples", "200", "--rounds", "1", "--duration", "300ms", "--out", out}, &stdout, &stderr)
	// One short round on a machine that may be busy: any verdict, but the
	// exit code must be the one the verdict line printed.
	wantCode := map[string]int{"met": exitOK, "not met": exitBad, "not judged": exitUndecided}
	verdict := ""
	for line := range strings.SplitSeq(stdout.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "verdict: "); ok {
			verdict = v
		}
	}
	if want, ok := wantCode[verdict]; !ok || code != want {
		t.Fatalf("exit %d after verdict %q: %s\n%s", code, verdict, stdout.String(), stderr.String())
	}
	files, _ := filepath.Glob(filepath.Join(out, "*", "calibrate.json"))
	if len(files) != 1 {
		t.Fatalf("calibrate.json files: %v", files)
	}
	for _, want := range []string{"direct", "idle proxy", "proxy cost", "bare go-redis loop", "× bare loop", "checker:", "≥ 0.90"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
}

func TestListLocksPrintsTheRegistry(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"list", "locks"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, name := range []string{"setnx", "setnx-expire", "set-nx-ex", "token", "fenced", "redlock", "redsync", "redislock", "nolock"} {
		if !strings.Contains(stdout.String(), "\n"+name+" ") {
			t.Errorf("bench list locks lacks %s:\n%s", name, stdout.String())
		}
	}
}

// TestRunThenCheck runs the quick scenario end to end and checks each
// cell's history with bench check: the canary's must fail (exit 1) and the
// token lock's must pass (exit 0).
func TestRunThenCheck(t *testing.T) {
	testenv.NeedRedisServer(t)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"run", "--preset", "quick", "--out", out, "--provider", "exec"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("bench run exit %d:\n%s\n%s", code, stdout.String(), stderr.String())
	}
	for _, tc := range []struct {
		lock string
		want int
	}{{"token", exitOK}, {"nolock", exitBad}} {
		files, _ := filepath.Glob(filepath.Join(out, "*", "cells", "*-"+tc.lock+"-*", "history.jsonl"))
		if len(files) != 1 {
			t.Fatalf("%s histories: %v", tc.lock, files)
		}
		var o, e bytes.Buffer
		if code := run([]string{"check", files[0]}, &o, &e); code != tc.want {
			t.Errorf("bench check on the %s history: exit %d, want %d\n%s%s", tc.lock, code, tc.want, o.String(), e.String())
		}
		var j bytes.Buffer
		run([]string{"check", "--json", files[0]}, &j, &e)
		if !strings.Contains(j.String(), `"mutex"`) {
			t.Errorf("--json output lacks the mutex verdict: %s", j.String())
		}
	}
	summaries, _ := filepath.Glob(filepath.Join(out, "*", "summary.json"))
	if len(summaries) != 1 {
		t.Fatalf("summary files: %v", summaries)
	}
}

func TestCheckBadInputIsExit3WithTheLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(path, []byte(`{"time":1,"process":0,"type":"invoke","op":"acquire","key":"k","ttl_ms":100}
{"time":2,"process":0,"type":"ok","op":"acquire","key":"k"}
{"time":3,"process":0,"type":"teleport","op":"acquire","key":"k"}
`), 0o644)
	var o, e bytes.Buffer
	if code := run([]string{"check", path}, &o, &e); code != exitBadInput {
		t.Fatalf("exit %d, want %d: %s", code, exitBadInput, e.String())
	}
	if msg := strings.TrimSpace(e.String()); !strings.Contains(msg, "line 3") || strings.Count(msg, "\n") != 0 {
		t.Errorf("message %q: want one line naming line 3", msg)
	}
	if code := run([]string{"check", filepath.Join(t.TempDir(), "missing.jsonl")}, &o, &e); code != exitBadInput {
		t.Errorf("missing file: exit %d", code)
	}
}

func TestListFaultsWorkloadsPresets(t *testing.T) {
	for _, tc := range []struct {
		what string
		want []string
	}{
		{"faults", []string{"partition-asymmetric", "clock-jump", "delayed-write", "exec"}},
		{"workloads", []string{"uncontended", "hot-key", "zipf", "long-critical-section"}},
		{"presets", []string{"kleppmann-client-pause", "source:", "default"}},
		{"topologies", []string{"standalone", "exec,docker,external", "sentinel", "cluster", "Redis Cluster"}},
	} {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"list", tc.what}, &stdout, &stderr); code != exitOK {
			t.Fatalf("list %s: exit %d", tc.what, code)
		}
		for _, w := range tc.want {
			if !strings.Contains(stdout.String(), w) {
				t.Errorf("bench list %s lacks %q", tc.what, w)
			}
		}
	}
}

func TestCompareBaselineWithItselfPasses(t *testing.T) {
	md := filepath.Join(t.TempDir(), "compare.md")
	var o, e bytes.Buffer
	if code := run([]string{"compare", "../../results/baseline", "../../results/baseline", "--markdown", md}, &o, &e); code != exitOK {
		t.Fatalf("baseline vs itself: exit %d\n%s%s", code, o.String(), e.String())
	}
	if b, err := os.ReadFile(md); err != nil || len(b) == 0 {
		t.Errorf("markdown not written: %v", err)
	}
	if code := run([]string{"compare", "../../results/baseline", filepath.Join(t.TempDir(), "none")}, &o, &e); code != exitBadInput {
		t.Errorf("missing NEW: exit %d, want %d", code, exitBadInput)
	}
	if code := run([]string{"compare", "../../results/baseline"}, &o, &e); code != exitBadInput {
		t.Errorf("one path: exit %d, want %d", code, exitBadInput)
	}
	if code := run([]string{"compare", "--thresholds", "speed=9", "a", "b"}, &o, &e); code != exitBadInput {
		t.Errorf("bad thresholds: exit %d, want %d", code, exitBadInput)
	}
}

// TestKilledRunIsCheckedUpToItsLastCheckpoint SIGKILLs `bench run` in the
// middle of a cell, so that each worker's stream loses a different tail of
// events, and checks the history it left: bench check must check it up to
// its last checkpoint and say so first — the token lock is safe there (exit
// 0; taken as complete, a holder whose release was lost would seem to hold
// the lock forever), and the canary is still caught (exit 1).
func TestKilledRunIsCheckedUpToItsLastCheckpoint(t *testing.T) {
	testenv.NeedRedisServer(t)
	bin := buildBench(t)
	for _, tc := range []struct {
		lock string
		want int
	}{{"token", exitOK}, {"nolock", exitBad}} {
		t.Run(tc.lock, func(t *testing.T) {
			path := killMidCell(t, bin, tc.lock)
			var o, e bytes.Buffer
			code := run([]string{"check", path}, &o, &e)
			if code != tc.want {
				t.Errorf("bench check: exit %d, want %d\n%s%s", code, tc.want, o.String(), e.String())
			}
			first, _, _ := strings.Cut(o.String(), "\n")
			if !strings.Contains(first, "TRUNCATED") || !strings.Contains(first, "checked up to its last checkpoint at ") {
				t.Errorf("first line %q does not say the history was truncated and checked up to its last checkpoint\n%s", first, o.String())
			}
			var j bytes.Buffer
			run([]string{"check", "--json", path}, &j, &e)
			if !strings.Contains(j.String(), `"truncated": {`) || !strings.Contains(j.String(), `"at_ms": `) {
				t.Errorf("--json output lacks the truncation: %s", j.String())
			}
			t.Logf("%s: %s", tc.lock, first)
		})
	}
}

// killMidCell starts `bench run` of one 60 s cell of lock, SIGKILLs it
// 2.5 s after the cell's history appeared, removes what the run could not
// clean up, and returns the history's path.
func killMidCell(t *testing.T, bin, lock string) string {
	t.Helper()
	out := t.TempDir()
	cmd := exec.Command(bin, "run", "--locks", lock, "--workload", "hot-key", "--faults", "none", "--duration", "60s", "--provider", "exec", "--out", out)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var path string
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no cell history after 90 s; output:\n%s", stderr.String())
		}
		if files, _ := filepath.Glob(filepath.Join(out, "*", "cells", "*", "history.jsonl")); len(files) == 1 {
			path = files[0]
			break
		}
	}
	time.Sleep(2500 * time.Millisecond)
	owned := leakcheck.TakeFor(cmd.Process.Pid)
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	cmd.Wait()
	// Its nodes die with it (Pdeathsig); its temp dirs stay behind.
	for _, d := range owned.TempDirs {
		os.RemoveAll(d)
	}
	if b, err := os.ReadFile(path); err != nil || bytes.Contains(b, []byte(`{"type":"end"`)) {
		t.Fatalf("the killed run's history has an end marker (%v)", err)
	}
	return path
}

// TestSignalStopsAgents interrupts a run on local agents mid-cell: the
// run ends with exit 2 and says so, every agent process is gone, and the
// cell's history holds what the agents had streamed.
func TestSignalStopsAgents(t *testing.T) {
	testenv.NeedRedisServer(t)
	bin := buildBench(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out := t.TempDir()
	cmd := exec.CommandContext(ctx, bin, "run", "--agents", "local:2", "--provider", "exec", "--locks", "token", "--faults", "none",
		"--workload", "hot-key", "--duration", "60s", "--out", out)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.Contains(sc.Text(), "started") {
			break
		}
	}
	time.Sleep(3 * time.Second) // into the cell
	agents := childrenNamed(cmd.Process.Pid, "agent")
	if len(agents) != 2 {
		cmd.Process.Kill()
		t.Fatalf("agent processes %v before the signal (stderr %q), want 2", agents, lines)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	err = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitUndecided {
		t.Errorf("exit code %d (%v), want %d; stderr %q", code, err, exitUndecided, lines)
	}
	for _, pid := range agents {
		if st, err := os.ReadFile("/proc/" + pid + "/stat"); err == nil && !bytes.Contains(st, []byte(") Z")) {
			t.Errorf("agent %s still runs after the interrupt", pid)
		}
	}
	hist, _ := filepath.Glob(filepath.Join(out, "*", "cells", "*", "history.jsonl"))
	if len(hist) != 1 {
		t.Fatalf("histories %v", hist)
	}
	if b, err := os.ReadFile(hist[0]); err != nil || !bytes.Contains(b, []byte(`"type":"clock"`)) || !bytes.Contains(b, []byte(`"op":"acquire"`)) {
		t.Errorf("the interrupted cell's history lacks the agents' events (%v)", err)
	}
}

// childrenNamed are the pids of parent's children whose command line
// has arg.
func childrenNamed(parent int, arg string) []string {
	var pids []string
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		st, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		f := strings.Fields(string(st[bytes.LastIndexByte(st, ')')+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(parent) {
			continue
		}
		dir := filepath.Dir(p)
		cl, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
		if slices.Contains(strings.Split(string(cl), "\x00"), arg) {
			pids = append(pids, filepath.Base(dir))
		}
	}
	return pids
}
