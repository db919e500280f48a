package cluster

import (
	"context"
	"errors"
	"net"
	"os"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/lockbench/lockbench/internal/cpuset"
	"github.com/lockbench/lockbench/internal/leakcheck"
	"github.com/lockbench/lockbench/internal/testenv"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// startExec starts n exec nodes and closes them when the test ends.
func startExec(t *testing.T, spec Spec) *Cluster {
	t.Helper()
	testenv.NeedRedisServer(t)
	return startWith(t, NewExec(ExecOptions{}), spec)
}

// startWith starts a cluster with p and closes it when the test ends.
func startWith(t *testing.T, p Provider, spec Spec) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := p.Start(ctx, spec)
	if err != nil {
		t.Fatalf("start %s cluster: %v", p.Name(), err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return c
}

func client(t *testing.T, n Node) *redis.Client {
	t.Helper()
	c := redis.NewClient(n.Endpoint().ClientOptions(""))
	t.Cleanup(func() { c.Close() })
	return c
}

func TestExecStartsFiveWritableNodes(t *testing.T) {
	start := time.Now()
	c := startExec(t, Spec{Nodes: 5})
	t.Logf("exec: 5 nodes started in %v", time.Since(start))
	if len(c.Nodes) != 5 || c.Provider != "exec" {
		t.Fatalf("got %d nodes from %q", len(c.Nodes), c.Provider)
	}
	seen := map[string]bool{}
	ctx := context.Background()
	for i, n := range c.Nodes {
		addr := n.Endpoint().Addr
		if host, _, _ := net.SplitHostPort(addr); host != "127.0.0.1" {
			t.Errorf("node %s listens on %s, want loopback", n.Name(), addr)
		}
		if seen[addr] {
			t.Errorf("address %s used twice", addr)
		}
		seen[addr] = true
		rc := client(t, n)
		if err := rc.Set(ctx, "k", i, 0).Err(); err != nil {
			t.Fatalf("SET on %s: %v", n.Name(), err)
		}
	}
	// Nodes are independent: each kept its own value.
	for i, n := range c.Nodes {
		got, err := client(t, n).Get(ctx, "k").Int()
		if err != nil || got != i {
			t.Errorf("GET on %s = %d, %v; want %d", n.Name(), got, err, i)
		}
	}
}

func TestExecKillRestartPersistence(t *testing.T) {
	for _, tc := range []struct {
		persist  Persistence
		wantKept bool
	}{
		{PersistNone, false},
		{PersistAOFEverySec, true}, // a process kill keeps what reached the kernel
		{PersistAOFAlways, true},
	} {
		t.Run(string(tc.persist), func(t *testing.T) {
			c := startExec(t, Spec{Nodes: 1, Persistence: tc.persist})
			n := c.Nodes[0]
			ctx := context.Background()
			addr := n.Endpoint().Addr
			if err := client(t, n).Set(ctx, "survivor", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if err := Restart(ctx, n, 50*time.Millisecond); err != nil {
				t.Fatalf("restart: %v", err)
			}
			if got := n.Endpoint().Addr; got != addr {
				t.Fatalf("address changed across restart: %s → %s", addr, got)
			}
			rc := redis.NewClient(n.Endpoint().ClientOptions(""))
			defer rc.Close()
			count, err := rc.Exists(ctx, "survivor").Result()
			if err != nil {
				t.Fatalf("EXISTS after restart: %v", err)
			}
			if kept := count == 1; kept != tc.wantKept {
				t.Errorf("key kept = %v, want %v", kept, tc.wantKept)
			}
		})
	}
}

func TestExecKillMakesNodeUnreachable(t *testing.T) {
	c := startExec(t, Spec{Nodes: 1})
	n := c.Nodes[0]
	ctx := context.Background()
	if err := n.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pingOnce(ctx, n.Endpoint().Addr); err == nil {
		t.Fatal("killed node still answers PING")
	}
	if err := n.Kill(ctx); err == nil {
		t.Error("second Kill of a dead node did not fail")
	}
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pingOnce(ctx, n.Endpoint().Addr); err != nil {
		t.Fatalf("restarted node: %v", err)
	}
}

func TestExecPauseTimesOutThenRecovers(t *testing.T) {
	c := startExec(t, Spec{Nodes: 1})
	n := c.Nodes[0]
	ctx := context.Background()
	opts := n.Endpoint().ClientOptions("")
	opts.ReadTimeout = 300 * time.Millisecond
	rc := redis.NewClient(opts)
	defer rc.Close()
	if err := rc.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := n.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := rc.Set(ctx, "k", "v", 0).Err()
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("SET on a paused node: err = %v, want a timeout", err)
	}
	if el := time.Since(start); el < 250*time.Millisecond || el > 2*time.Second {
		t.Errorf("timeout took %v, want about the 300ms read timeout", el)
	}
	if err := n.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rc.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET after resume: %v", err)
	}
}

func TestExecFakeTimeMovesClock(t *testing.T) {
	if _, err := ClockShimPath(context.Background(), ""); err != nil {
		testenv.Skip(t, err.Error())
	}
	c := startExec(t, Spec{Nodes: 2, FakeTime: true})
	ctx := context.Background()
	real, err := ClockOffset(ctx, c.Nodes[1].Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	if real.Abs() > 200*time.Millisecond {
		t.Fatalf("untouched node's offset is %v, want ~0", real)
	}
	if err := c.Nodes[0].SetClock(ctx, time.Hour, 1); err != nil {
		t.Fatal(err)
	}
	off, err := ClockOffset(ctx, c.Nodes[0].Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	if d := off - time.Hour; d.Abs() > 250*time.Millisecond {
		t.Errorf("offset after SetClock(+1h) = %v", off)
	}
	// Keys expire on the node's clock: a 10 minute TTL is gone after the jump.
	rc := client(t, c.Nodes[1])
	if err := rc.Set(ctx, "lease", "x", 10*time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Nodes[1].SetClock(ctx, 11*time.Minute, 1); err != nil {
		t.Fatal(err)
	}
	if n, err := rc.Exists(ctx, "lease").Result(); err != nil || n != 0 {
		t.Errorf("lease after an 11 minute clock jump: exists=%d err=%v, want expired", n, err)
	}
	// A fast clock: offset grows at (rate-1) × real time.
	if err := c.Nodes[0].SetClock(ctx, 0, 5); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the shim re-read its file
	o1, _ := ClockOffset(ctx, c.Nodes[0].Endpoint())
	time.Sleep(500 * time.Millisecond)
	o2, _ := ClockOffset(ctx, c.Nodes[0].Endpoint())
	if gain := o2 - o1; gain < time.Second || gain > 3*time.Second {
		t.Errorf("a 5× clock gained %v in 500ms, want ~2s", gain)
	}
}

func TestExecSetClockNeedsFakeTime(t *testing.T) {
	c := startExec(t, Spec{Nodes: 1})
	err := c.Nodes[0].SetClock(context.Background(), time.Second, 1)
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("err = %v, want ErrUnsupported", err)
	}
}

func TestExecCloseRemovesProcessesAndDirs(t *testing.T) {
	testenv.NeedRedisServer(t)
	before := leakcheck.Take()
	c, err := NewExec(ExecOptions{}).Start(context.Background(), Spec{Nodes: 3, Persistence: PersistAOFAlways})
	if err != nil {
		t.Fatal(err)
	}
	if got := before.New(leakcheck.Take()); len(got) != 4 { // 3 processes + 1 dir
		t.Fatalf("while running, new things = %v, want 3 redis-server pids and 1 temp dir", got)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if got := before.New(leakcheck.Take()); len(got) != 0 {
		t.Fatalf("after Close, left behind: %v", got)
	}
}

func TestExecCleanupOnPanic(t *testing.T) {
	testenv.NeedRedisServer(t)
	before := leakcheck.Take()
	func() {
		defer func() { recover() }()
		c, err := NewExec(ExecOptions{}).Start(context.Background(), Spec{Nodes: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		panic("a bug in a run")
	}()
	if got := before.New(leakcheck.Take()); len(got) != 0 {
		t.Fatalf("after a panic, left behind: %v", got)
	}
}

func TestExecFailedStartLeavesNothing(t *testing.T) {
	testenv.NeedRedisServer(t)
	before := leakcheck.Take()
	// A binary that exits at once fails the readiness wait.
	_, err := NewExec(ExecOptions{Binary: "false", StartTimeout: 2 * time.Second}).Start(context.Background(), Spec{Nodes: 2})
	if err == nil {
		t.Fatal("start with a broken binary succeeded")
	}
	if got := before.New(leakcheck.Take()); len(got) != 0 {
		t.Fatalf("after a failed start, left behind: %v", got)
	}
}

func TestSweepStaleDirsRemovesDeadOwners(t *testing.T) {
	tmp := t.TempDir()
	dead, live := tmp+"/"+TempPrefix+"dead", tmp+"/"+TempPrefix+"live"
	for dir, pid := range map[string]int{dead: deadPID(t), live: os.Getpid()} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(dir+"/"+ownerFile, []byte(strconv.Itoa(pid)), 0o644)
	}
	SweepStaleDirs(tmp)
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Error("dir of a dead owner was kept")
	}
	if _, err := os.Stat(live); err != nil {
		t.Error("dir of a live owner was removed")
	}
}

// deadPID returns the pid of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	p.Wait()
	if err := syscall.Kill(p.Pid, 0); err == nil {
		t.Skip("pid reused already")
	}
	return p.Pid
}

func TestExecPinCPUsHoldsAcrossRestart(t *testing.T) {
	all, err := cpuset.Allowed(0)
	if err != nil {
		t.Fatal(err)
	}
	want := all[len(all)-1:]
	c := startExec(t, Spec{Nodes: 1})
	n := c.Nodes[0].(*execNode)
	ctx := context.Background()
	if err := n.PinCPUs(ctx, want); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		n.mu.Lock()
		pid := n.cmd.Process.Pid
		n.mu.Unlock()
		got, err := cpuset.Allowed(pid)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: redis-server may run on CPUs %v, want %v", when, got, want)
		}
	}
	check("pinned")
	if err := Restart(ctx, n, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	check("after a restart")
}
