package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockbench/lockbench/internal/testenv"
)

// runMainEnv makes the test binary run main instead of the tests: the
// tests start it as the client process, so that it is driven through its
// real stdin and stdout.
const runMainEnv = "LOCKBENCH_TOKENCLIENT_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// start runs the client with env added to a clean protocol environment.
func start(t *testing.T, ctx context.Context, env ...string) *testenv.Client {
	t.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "LOCKBENCH_PROTOCOL=1", "LOCKBENCH_TOPOLOGY=standalone", "LOCKBENCH_CLIENT=7")
	cmd.Env = append(cmd.Env, env...)
	return testenv.StartClient(t, cmd)
}

func TestTokenClientExchange(t *testing.T) {
	addr := testenv.StartRedis(t, nil)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	p := start(t, ctx, "LOCKBENCH_NODES="+addr+",127.0.0.1:1")
	a := p.Ask(ctx, `{"id":1,"op":"acquire","key":"lock:0","ttl_ms":5000}`)
	lease, _ := a["lease"].(string)
	if a["id"] != 1.0 || a["type"] != "ok" || len(lease) != 32 {
		t.Fatalf("acquire: %v", a)
	}
	if v, _ := a["validity_ms"].(float64); v <= 0 || v > 5000-50-2 {
		t.Errorf("acquire validity_ms %v, want in (0, 4948]: ttl minus 1 %% + 2 ms drift", a["validity_ms"])
	}
	if got, _ := rdb.Get(ctx, "lock:0").Result(); got != lease {
		t.Errorf("the key holds %q, want the lease %q", got, lease)
	}
	if pttl := rdb.PTTL(ctx, "lock:0").Val(); pttl <= 4000*time.Millisecond || pttl > 5000*time.Millisecond {
		t.Errorf("PTTL %v, want the 5 s asked for", pttl)
	}

	steps := []struct {
		Req      string
		WantType string
		Check    func(map[string]any) string
	}{
		{`{"id":2,"op":"acquire","key":"lock:0","ttl_ms":5000}`, "fail", nil},
		{`{"id":3,"op":"extend","key":"lock:0","lease":"not-it","ttl_ms":9000}`, "fail", nil},
		{`{"id":4,"op":"extend","key":"lock:0","lease":"` + lease + `","ttl_ms":20000}`, "ok", func(m map[string]any) string {
			if pttl := rdb.PTTL(ctx, "lock:0").Val(); pttl <= 15*time.Second {
				return "PTTL after extend is " + pttl.String() + ", want about 20 s"
			}
			if v, _ := m["validity_ms"].(float64); v <= 15000 {
				return "extend validity_ms is not about 20 s"
			}
			return ""
		}},
		{`{"id":5,"op":"release","key":"lock:0","lease":"not-it"}`, "fail", func(map[string]any) string {
			if rdb.Exists(ctx, "lock:0").Val() != 1 {
				return "a release with a wrong lease deleted the key"
			}
			return ""
		}},
		{`{"id":6,"op":"release","key":"lock:0","lease":"` + lease + `"}`, "ok", func(map[string]any) string {
			if rdb.Exists(ctx, "lock:0").Val() != 0 {
				return "the key survived its release"
			}
			return ""
		}},
		{`{"id":7,"op":"release","key":"lock:0","lease":"` + lease + `"}`, "fail", nil},
		{`{"id":8,"op":"extend","key":"lock:0","lease":"` + lease + `","ttl_ms":500}`, "fail", nil},
		{`{"id":9,"op":"frobnicate","key":"lock:0"}`, "fail", nil},
		{`{"id":10,"op":"acquire","key":"lock:0","ttl_ms":500}`, "ok", nil},
	}
	for _, s := range steps {
		p.Exchange(ctx, testenv.Step(s))
	}
	if code := p.Wait(ctx); code != 0 {
		t.Errorf("exit status %d at EOF, want 0; stderr: %s", code, p.Stderr)
	}
}

// A command that outlives its timeout is info: it may have run.
func TestTokenClientTimeoutIsInfo(t *testing.T) {
	addr := testenv.StartRedis(t, nil)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	p := start(t, ctx, "LOCKBENCH_NODES="+addr, "LOCKBENCH_TIMEOUT_MS=200")
	// Connect first, so the pause holds a command, not the handshake.
	if m := p.Ask(ctx, `{"id":1,"op":"acquire","key":"warm","ttl_ms":1000}`); m["type"] != "ok" {
		t.Fatalf("warm-up acquire: %v", m)
	}
	if err := rdb.Do(ctx, "CLIENT", "PAUSE", "2000", "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	defer rdb.Do(context.Background(), "CLIENT", "UNPAUSE")
	began := time.Now()
	m := p.Ask(ctx, `{"id":2,"op":"acquire","key":"lock:0","ttl_ms":1000}`)
	if m["type"] != "info" || m["error"] == "" {
		t.Errorf("acquire against a paused server: %v, want info with an error", m)
	}
	if took := time.Since(began); took > 1500*time.Millisecond {
		t.Errorf("the reply took %v, want about the 200 ms timeout", took)
	}
}

// Nothing to dial: the command was never sent, so fail.
func TestTokenClientUnreachableIsFail(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := start(t, ctx, "LOCKBENCH_NODES=127.0.0.1:1")
	if m := p.Ask(ctx, `{"id":1,"op":"acquire","key":"lock:0","ttl_ms":1000}`); m["type"] != "fail" || !strings.Contains(m["error"].(string), "unreachable") {
		t.Errorf("acquire with nothing listening: %v, want fail unreachable", m)
	}
}

func TestTokenClientRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, env, stderr string
	}{
		{"protocol 2", "LOCKBENCH_PROTOCOL=2", "LOCKBENCH_PROTOCOL"},
		{"no protocol", "LOCKBENCH_PROTOCOL=", "LOCKBENCH_PROTOCOL"},
		{"cluster", "LOCKBENCH_TOPOLOGY=cluster", `"cluster" unsupported`},
		{"sentinel", "LOCKBENCH_TOPOLOGY=sentinel", `"sentinel" unsupported`},
		{"no nodes", "LOCKBENCH_NODES=", "LOCKBENCH_NODES is empty"},
		{"bad timeout", "LOCKBENCH_TIMEOUT_MS=soon", "LOCKBENCH_TIMEOUT_MS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			p := start(t, ctx, "LOCKBENCH_NODES=127.0.0.1:1", tc.env)
			if code := p.Wait(ctx); code != exitUsage {
				t.Errorf("exit status %d, want %d", code, exitUsage)
			}
			if !strings.Contains(p.Stderr.String(), tc.stderr) {
				t.Errorf("stderr %q does not mention %q", p.Stderr, tc.stderr)
			}
		})
	}
}

// A line it cannot answer (no id) ends it with status 2 and the line on stderr.
func TestTokenClientUnanswerableLine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p := start(t, ctx, "LOCKBENCH_NODES=127.0.0.1:1")
	io.WriteString(p.Stdin, "not json\n")
	if code := p.Wait(ctx); code != exitUsage {
		t.Errorf("exit status %d, want %d", code, exitUsage)
	}
	if !strings.Contains(p.Stderr.String(), "stdin line 1") {
		t.Errorf("stderr %q does not name the line", p.Stderr)
	}
}

func TestValidityMs(t *testing.T) {
	for _, tc := range []struct {
		ttl, elapsed time.Duration
		want         int64
	}{
		{1000 * time.Millisecond, 0, 988},
		{1000 * time.Millisecond, 100 * time.Millisecond, 888},
		{100 * time.Millisecond, 0, 97},
		{10 * time.Millisecond, 20 * time.Millisecond, 0},
	} {
		if got := validityMs(tc.ttl, tc.elapsed); got != tc.want {
			t.Errorf("validityMs(%v, %v) = %d, want %d", tc.ttl, tc.elapsed, got, tc.want)
		}
	}
}
