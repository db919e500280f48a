package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/internal/leakcheck"
	"github.com/lockbench/lockbench/internal/testenv"
)

// writeScenario writes a scenario file into a temp dir.
func writeScenario(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "scenario.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTooBigIsRefusedBeforeAnythingStarts: inputs larger than this machine
// can hold exit 3 within 5 s with one line on stderr, having started and
// written nothing.
func TestTooBigIsRefusedBeforeAnythingStarts(t *testing.T) {
	testenv.NeedRedisServer(t) // else auto fails for want of Redis, and proves nothing
	for _, tc := range []struct {
		name string
		args []string
		// want is in the message.
		want string
	}{
		{"a hundred thousand nodes", []string{"run", "--nodes", "100000"}, "--nodes 100000 needs ~"},
		{"a hundred million clients in a scenario", []string{"run", "-s", writeScenario(t, "name: big\nlocks: [token]\nworkloads: [hot-key]\nclients: 100000000\n")}, "--clients 100000000 (workload hot-key) needs ~"},
		{"ten billion keys", []string{"run", "-s", writeScenario(t, "name: keys\nlocks: [token]\nworkloads:\n  - {preset: zipf, keys: {kind: zipf, count: 10000000000, s: 1.1}}\n")}, "10000000000 keys"},
		{"a thousand-hour cell", []string{"run", "--duration", "1000h"}, "a run may take"},
		{"days of cells", []string{"run", "--duration", "1h"}, "a run may take"},
		{"a billion repeats", []string{"run", "--repeat", "1000000000"}, "cells"},
		{"an open-loop rate no machine keeps", []string{"run", "-s", writeScenario(t, "name: rate\nlocks: [token]\nworkloads:\n  - {preset: hot-key, rate: 1000000000000}\n")}, "rate 1000000000000/s"},
		{"calibrate on a hundred thousand nodes", []string{"calibrate", "--nodes", "100000"}, "--nodes 100000 needs ~"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "results")
			before := leakcheck.Take()
			var stdout, stderr bytes.Buffer
			start := time.Now()
			code := run(append(tc.args, "--out", out), &stdout, &stderr)
			took := time.Since(start)
			t.Logf("%v: %s", took, strings.TrimSpace(stderr.String()))
			if code != exitBadInput {
				t.Errorf("exit %d, want %d", code, exitBadInput)
			}
			if took > 5*time.Second {
				t.Errorf("refused after %v, want under 5 s", took)
			}
			msg := strings.TrimSpace(stderr.String())
			if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "bench ") || !strings.Contains(msg, tc.want) || stdout.Len() > 0 {
				t.Errorf("stderr %q, stdout %q: want one line on stderr with %q", msg, stdout.String(), tc.want)
			}
			if got := before.New(leakcheck.Take()); len(got) > 0 {
				t.Errorf("a refused run started %v", got)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("a refused run made %s", out)
			}
		})
	}
}

// TestInterruptedBeforeAnythingStarted: a command interrupted before it
// started anything (while the provider was chosen) exits 2 with one line
// and writes nothing. bench run used to dereference its nil summary here.
func TestInterruptedBeforeAnythingStarted(t *testing.T) {
	type cmdFunc func(context.Context, []string, io.Writer, io.Writer) int
	for _, tc := range []struct {
		name string
		cmd  cmdFunc
		args []string
	}{
		{"run, exec", runCmd, []string{"--provider", "exec", "--preset", "quick"}},
		{"run, docker", runCmd, []string{"--provider", "docker", "--preset", "quick"}},
		{"run, auto", runCmd, []string{"--preset", "quick"}},
		{"zoo, docker", zooCmd, []string{"--provider", "docker", "--quick"}},
		{"calibrate, exec", calibrate, []string{"--provider", "exec"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // Ctrl-C before anything
			out := filepath.Join(t.TempDir(), "results")
			before := leakcheck.Take()
			var stdout, stderr bytes.Buffer
			code := tc.cmd(ctx, append(tc.args, "--out", out), &stdout, &stderr)
			msg := strings.TrimSpace(stderr.String())
			if code != exitUndecided {
				t.Errorf("exit %d, want %d; stderr %q", code, exitUndecided, msg)
			}
			if strings.Contains(msg, "\n") || !strings.Contains(msg, "interrupted") {
				t.Errorf("stderr %q: want one line saying it was interrupted", msg)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("an interrupted run wrote %s", out)
			}
			if got := before.New(leakcheck.Take()); len(got) > 0 {
				t.Errorf("left behind: %v", got)
			}
		})
	}
}

// TestSIGTERMDuringProvisioning sends SIGTERM to a real bench run 0.3 s
// after it started (choosing the provider, or starting nodes), and as soon
// as its first node runs, and checks that it ends within 10 s with exit 2,
// one line saying so and no panic, that no redis-server, container or temp
// dir of it is left, and that it forked no node after the signal but those
// already on their way.
func TestSIGTERMDuringProvisioning(t *testing.T) {
	bin := buildBench(t)
	for _, tc := range []struct {
		name     string
		provider string
		// Sixty exec nodes take over a second to start on a 2-CPU machine.
		nodes int
		need  func(testing.TB)
		// at is when to send SIGTERM after the start; 0 is as soon as the
		// first node runs.
		at time.Duration
	}{
		{"exec after 0.3 s", "exec", 60, testenv.NeedRedisServer, 300 * time.Millisecond},
		{"exec once a node runs", "exec", 60, testenv.NeedRedisServer, 0},
		{"docker after 0.3 s", "docker", 5, needDocker, 300 * time.Millisecond},
		{"docker once a container exists", "docker", 5, needDocker, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.need(t)
			var r signalled
			for attempt := 1; ; attempt++ {
				r = signalRun(t, bin, tc.provider, tc.nodes, tc.at)
				t.Logf("SIGTERM %v after start; exit %d %v after it; %d nodes forked, %d after it; owned before it: %+v; stderr %q", r.at, r.code, r.took, len(r.forks), r.forkedAfter(), r.seen, r.stderr)
				// A signal that lands before bench's main installed its
				// handler (package initialisation of a race-enabled binary
				// on a loaded machine can outlast 0.3 s) ends the process
				// by default, before it could start or print anything.
				if r.code == -1 && len(r.stderr) == 0 && attempt < 3 {
					t.Logf("the signal came before bench could handle it; again")
					continue
				}
				break
			}
			if r.code != exitUndecided {
				t.Errorf("exit code %d, want %d", r.code, exitUndecided)
			}
			if r.took > 10*time.Second {
				t.Errorf("ended %v after SIGTERM, want within 10 s", r.took)
			}
			if len(r.stderr) == 0 || !strings.Contains(r.stderr[len(r.stderr)-1], "interrupted") || slices.ContainsFunc(r.stderr, func(l string) bool { return strings.Contains(l, "panic") }) {
				t.Errorf("stderr %q: want it to end saying it was interrupted, without a panic", r.stderr)
			}
			if slices.ContainsFunc(r.stderr, func(l string) bool { return strings.HasPrefix(l, "· started") }) {
				t.Logf("the nodes had all started before SIGTERM: this run tested an interrupted cell, not provisioning")
			}
			if !r.left.Empty() {
				t.Errorf("left behind after SIGTERM: %+v", r.left)
			}
			// Eight nodes start at a time (cluster's parallelLimit): those
			// may have passed their last look at the context.
			if late := r.forkedAfter(); late > 8 {
				t.Errorf("%d redis-servers were forked after SIGTERM, want at most the 8 already starting", late)
			}
		})
	}
}

// signalled is what a bench run did around a SIGTERM.
type signalled struct {
	// at is when the signal was sent after the start, took how long the
	// process lived on.
	at, took time.Duration
	code     int
	stderr   []string
	// seen is what the run owned before the signal, left what remains of
	// it after the process exited.
	seen, left leakcheck.Snapshot
	// forks are when each redis-server was started (exec).
	forks []time.Time
	sent  time.Time
}

// forkedAfter is how many redis-servers were started after the signal.
func (r signalled) forkedAfter() int {
	n := 0
	for _, f := range r.forks {
		if f.After(r.sent) {
			n++
		}
	}
	return n
}

// forkLog puts a redis-server first on PATH that notes the time of every
// start in a file, then runs the real one, and returns that PATH and file.
func forkLog(t *testing.T) (path, log string) {
	t.Helper()
	real, err := exec.LookPath("redis-server")
	if err != nil {
		return os.Getenv("PATH"), "" // the docker cases need none
	}
	dir := t.TempDir()
	log = filepath.Join(dir, "forks")
	script := "#!/bin/sh\ndate +%s%N >> '" + log + "'\nexec '" + real + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "redis-server"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir + string(os.PathListSeparator) + os.Getenv("PATH"), log
}

// readForks reads forkLog's file.
func readForks(log string) []time.Time {
	b, _ := os.ReadFile(log)
	var out []time.Time
	for _, f := range strings.Fields(string(b)) {
		if ns, err := strconv.ParseInt(f, 10, 64); err == nil {
			out = append(out, time.Unix(0, ns))
		}
	}
	return out
}

// signalRun starts bin run on provider with nodes lock nodes and sends it
// SIGTERM after at, or, for 0, once its first node runs.
func signalRun(t *testing.T, bin, provider string, nodes int, at time.Duration) signalled {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run", "--provider", provider, "--nodes", strconv.Itoa(nodes),
		"--locks", "token", "--faults", "none", "--workload", "hot-key", "--duration", "10s", "--out", t.TempDir())
	path, forks := forkLog(t)
	cmd.Env = append(os.Environ(), "PATH="+path)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan []string, 1)
	go func() {
		var all []string
		for sc := bufio.NewScanner(stderr); sc.Scan(); {
			all = append(all, sc.Text())
		}
		lines <- all
	}()
	// Until the signal, note everything the run owns: once it has exited
	// its redis-servers can no longer be told by their parent.
	var r signalled
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if at > 0 && time.Since(started) >= at || at == 0 && len(r.seen.RedisPIDs)+len(r.seen.Containers) > 0 {
			break
		}
		if left := at - time.Since(started); at > 0 && left < 150*time.Millisecond {
			time.Sleep(left) // a snapshot (docker ps) would overshoot
			continue
		}
		r.seen = union(r.seen, leakcheck.TakeFor(cmd.Process.Pid))
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	signalledAt := time.Now()
	r.sent = signalledAt
	r.at = signalledAt.Sub(started)
	r.stderr = <-lines
	cmd.Wait()
	r.took = time.Since(signalledAt)
	r.code = cmd.ProcessState.ExitCode()
	r.forks = readForks(forks)
	r.left = leakcheck.TakeFor(cmd.Process.Pid)
	for _, pid := range r.seen.RedisPIDs {
		if st, err := os.ReadFile("/proc/" + pid + "/stat"); err == nil && !bytes.Contains(st, []byte(") Z")) {
			r.left.RedisPIDs = append(r.left.RedisPIDs, pid)
		}
	}
	for _, d := range r.seen.TempDirs {
		if _, err := os.Stat(d); err == nil && !slices.Contains(r.left.TempDirs, d) {
			r.left.TempDirs = append(r.left.TempDirs, d)
		}
	}
	return r
}

// union adds what b has to a.
func union(a, b leakcheck.Snapshot) leakcheck.Snapshot {
	add := func(to, from []string) []string {
		for _, x := range from {
			if !slices.Contains(to, x) {
				to = append(to, x)
			}
		}
		return to
	}
	a.RedisPIDs = add(a.RedisPIDs, b.RedisPIDs)
	a.TempDirs = add(a.TempDirs, b.TempDirs)
	a.Containers = add(a.Containers, b.Containers)
	return a
}

// needDocker skips (fails in CI) unless the docker provider can run here.
func needDocker(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cluster.DockerHealthy(ctx, cluster.DockerOptions{}); err != nil {
		testenv.Skip(t, err.Error())
	}
}
