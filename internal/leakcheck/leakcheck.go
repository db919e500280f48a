// Package leakcheck lets test binaries assert that nothing the harness
// starts outlives it: redis-server processes, lockbench containers and
// lockbench temp dirs are listed before and after the tests and compared,
// and goroutines still running after the tests are reported (goleak).
package leakcheck

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Snapshot is what one owner process has at one moment. Other test
// binaries running at the same time own their own things and are ignored.
type Snapshot struct {
	// RedisPIDs are live redis-server processes the owner started.
	RedisPIDs []string
	// TempDirs are lockbench temp dirs the owner made.
	TempDirs []string
	// Containers are containers labelled with the owner's pid.
	Containers []string
}

// Take lists what this process owns now.
func Take() Snapshot { return TakeFor(os.Getpid()) }

// TakeFor lists what process owner owns now: redis-server children whose
// parent is owner or whose working dir is in a lockbench dir owner made
// (Redis overwrites its environment for its process title, so the
// environment cannot tell), the dirs whose owner.pid names owner, and the
// containers labelled lockbench.owner-pid=owner.
func TakeFor(owner int) Snapshot {
	var s Snapshot
	me := strconv.Itoa(owner)
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "lockbench-*"))
	for _, d := range dirs {
		if b, err := os.ReadFile(filepath.Join(d, "owner.pid")); err == nil && strings.TrimSpace(string(b)) == me {
			s.TempDirs = append(s.TempDirs, d)
		}
	}
	comms, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, c := range comms {
		b, err := os.ReadFile(c)
		if err != nil || strings.TrimSpace(string(b)) != "redis-server" {
			continue
		}
		pid := filepath.Base(filepath.Dir(c))
		state, ppid := procStat(pid)
		if state == "" || state == "Z" {
			continue // gone, or a zombie about to be reaped: holds nothing
		}
		cwd, _ := os.Readlink(filepath.Join("/proc", pid, "cwd"))
		if ppid == me || inAny(cwd, s.TempDirs) {
			s.RedisPIDs = append(s.RedisPIDs, pid)
		}
	}
	if _, err := exec.LookPath("docker"); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "docker", "ps", "-aq", "--filter", "label=lockbench.owner-pid="+me).Output()
		if err == nil {
			s.Containers = strings.Fields(string(out))
		}
	}
	return s
}

// inAny reports whether path lies in one of dirs.
func inAny(path string, dirs []string) bool {
	for _, d := range dirs {
		if strings.HasPrefix(path, d+"/") {
			return true
		}
	}
	return false
}

// Empty reports whether the snapshot holds nothing.
func (s Snapshot) Empty() bool {
	return len(s.RedisPIDs)+len(s.TempDirs)+len(s.Containers) == 0
}

// procStat returns a process's state letter and parent pid ("" if gone).
func procStat(pid string) (state, ppid string) {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return "", ""
	}
	// The fields after the ")" that ends the command name: state ppid ...
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return "", ""
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return "", ""
	}
	return f[0], f[1]
}

// New returns what is in after and was not in s, as readable lines.
func (s Snapshot) New(after Snapshot) []string {
	var out []string
	diff := func(kind string, before, now []string) {
		for _, x := range now {
			if !slices.Contains(before, x) {
				out = append(out, kind+" "+x)
			}
		}
	}
	diff("redis-server pid", s.RedisPIDs, after.RedisPIDs)
	diff("temp dir", s.TempDirs, after.TempDirs)
	diff("container", s.Containers, after.Containers)
	return out
}

// Goroutines returns an error listing the goroutines running now that
// are neither the testing package's nor the runtime's, nor excepted by
// opts; nil when there are none. goleak retries for about a second first,
// so goroutines that are on their way out (a closed pool's reaper, a
// proxy's link draining) are given time to end.
func Goroutines(opts ...goleak.Option) error {
	if err := goleak.Find(opts...); err != nil {
		return fmt.Errorf("goroutines still running: %w", err)
	}
	return nil
}

// upstreamLeaks are goroutines a library leaves behind that the harness
// cannot stop. toxiproxy's NoopToxic.Pipe forwards a chunk with a bare
// channel send that no interrupt can reach: when a link is torn down while
// a chunk is in flight, the goroutine stays blocked on that send for the
// life of the process (seen about once in a few runs of the runner's
// tests). It holds no socket, process or file.
func upstreamLeaks() []goleak.Option {
	return []goleak.Option{goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2/toxics.(*NoopToxic).Pipe")}
}

// Main runs the tests and fails the binary if they left anything behind:
// processes, temp dirs, containers or goroutines. Use it as
// TestMain(m) { leakcheck.Main(m) }.
//
// Goroutines running before the tests (started by package init) are not
// the tests' doing and are ignored; every other goroutine still running
// after them is a leak: a worker, proxy link, pool or timer a test (or the
// code under test) did not stop.
func Main(m *testing.M) {
	before := Take()
	atStart := goleak.IgnoreCurrent()
	code := m.Run()
	if err := Goroutines(append([]goleak.Option{atStart}, upstreamLeaks()...)...); err != nil {
		fmt.Fprintf(os.Stderr, "leakcheck: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	// Give the kernel a moment to finish reaping what was just killed.
	var leaked []string
	for i := 0; i < 20; i++ {
		if leaked = before.New(Take()); len(leaked) == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(leaked) > 0 {
		fmt.Fprintf(os.Stderr, "leakcheck: the tests left behind:\n  %s\n", strings.Join(leaked, "\n  "))
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}
