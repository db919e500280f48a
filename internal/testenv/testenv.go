// Package testenv decides whether an integration test can run here: it
// skips with a reason when a dependency is missing, except in CI (CI=true),
// where a missing dependency is a failure because CI must run every test.
package testenv

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"
)

// InCI reports whether the tests run under CI.
func InCI() bool { return os.Getenv("CI") == "true" }

// Skip skips t with reason, or fails it in CI.
func Skip(t testing.TB, reason string) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI must run this test, but: %s", reason)
	}
	t.Skip(reason)
}

// NeedRedisServer skips (fails in CI) unless redis-server is on PATH.
func NeedRedisServer(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		Skip(t, "redis-server not on PATH (run scripts/install-deps.sh)")
	}
}

// NeedRedisServerMajor is NeedRedisServer for what needs redis-server
// major or later (the replicated topologies need 7: cluster-port, CLUSTER
// ADDSLOTSRANGE, Sentinel's announce settings); an older one skips t.
func NeedRedisServerMajor(t testing.TB, major int) {
	t.Helper()
	NeedRedisServer(t)
	out, err := exec.Command("redis-server", "--version").Output()
	if err != nil {
		t.Skipf("redis-server --version: %v", err)
	}
	m := regexp.MustCompile(`v=(\d+)\.`).FindSubmatch(out)
	if m == nil {
		t.Skipf("cannot read the version in %q", out)
	}
	if got, _ := strconv.Atoi(string(m[1])); got < major {
		t.Skipf("redis-server %s.x is older than the %d.0 this test needs", m[1], major)
	}
}

// NeedPythonRedis returns a python3 that can run the reference Python
// lock clients (clients/python): $LOCKBENCH_PYTHON, else python3 on PATH,
// else Debian's /usr/bin/python3. The clients take Debian's python3-redis
// from its module directory when the interpreter lacks redis-py (a pyenv
// python3), so the check does the same. None: t is skipped (failed in CI).
func NeedPythonRedis(t testing.TB) string {
	t.Helper()
	candidates := []string{"python3", "/usr/bin/python3"}
	if p := os.Getenv("LOCKBENCH_PYTHON"); p != "" {
		candidates = []string{p}
	}
	const probe = "import sys\ntry:\n    import redis\nexcept ImportError:\n    sys.path.append('/usr/lib/python3/dist-packages')\n    import redis"
	for _, c := range candidates {
		path, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err = exec.CommandContext(ctx, path, "-c", probe).Run()
		cancel()
		if err == nil {
			return path
		}
	}
	Skip(t, "no python3 that imports redis-py (run scripts/install-deps.sh: python3, python3-redis)")
	return ""
}

// BurnCPU starts n goroutines that never block, so that every other
// goroutine waits its turn behind them (a starved harness, made on
// purpose); the returned function stops them and waits until they have.
func BurnCPU(n int) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				for i := 0; i < 1e6; i++ {
					_ = i * i
				}
			}
		})
	}
	return func() { close(done); wg.Wait() }
}
