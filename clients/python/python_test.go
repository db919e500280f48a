package python

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockbench/lockbench/internal/testenv"
)

// python is the interpreter the clients run with (testenv.NeedPythonRedis).
func python(t *testing.T) string { return testenv.NeedPythonRedis(t) }

// start runs script with a protocol v1 standalone environment plus env
// (later entries win). It is killed when the test ends or ctx does.
func start(t *testing.T, ctx context.Context, py, script string, env ...string) *testenv.Client {
	t.Helper()
	cmd := exec.CommandContext(ctx, py, script)
	// No __pycache__ left in the source tree by a test run.
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "LOCKBENCH_PROTOCOL=1", "LOCKBENCH_TOPOLOGY=standalone", "LOCKBENCH_CLIENT=4")
	cmd.Env = append(cmd.Env, env...)
	return testenv.StartClient(t, cmd)
}

// step is one request of a scripted exchange (testenv.Step).
type step struct {
	Req      string
	WantType string
	Check    func(reply map[string]any) string
}

// world is what a step's check can look at.
type world struct {
	ctx context.Context
	rdb *redis.Client
	// lease is the lease of the exchange's first acquire.
	lease string
}

func (w *world) pttl(key string) time.Duration { return w.rdb.PTTL(w.ctx, key).Val() }
func (w *world) get(key string) string         { return w.rdb.Get(w.ctx, key).Val() }

func TestPythonClients(t *testing.T) {
	py := python(t)
	addr := testenv.StartRedis(t, nil)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()

	for _, tc := range []struct {
		script string
		// first must be an acquire ok; its lease becomes w.lease.
		first string
		steps func(w *world) []step
	}{
		{
			script: "seed_setnx.py",
			first:  `{"id":1,"op":"acquire","key":"setnx","ttl_ms":500}`,
			steps: func(w *world) []step {
				return []step{
					{`{"id":2,"op":"acquire","key":"setnx","ttl_ms":500}`, "fail", nil},
					{`{"id":3,"op":"extend","key":"setnx","lease":"1","ttl_ms":500}`, "ok", nil},
					{`{"id":4,"op":"acquire","key":"other","ttl_ms":500}`, "ok", func(map[string]any) string {
						if d := w.pttl("setnx"); d != -1 {
							return "the seed's lock has a TTL (" + d.String() + "); the snippet sets none"
						}
						return ""
					}},
					{`{"id":5,"op":"release","key":"setnx","lease":"1"}`, "ok", func(map[string]any) string {
						if w.rdb.Exists(w.ctx, "setnx").Val() != 0 {
							return "release left the key"
						}
						return ""
					}},
					// DEL of nothing: the snippet does not look, always ok.
					{`{"id":6,"op":"release","key":"setnx","lease":"1"}`, "ok", nil},
					{`{"id":7,"op":"acquire","key":"setnx","ttl_ms":500}`, "ok", nil},
				}
			},
		},
		{
			script: "seed_set_nx_ex.py",
			first:  `{"id":1,"op":"acquire","key":"nxex","ttl_ms":1500}`,
			steps: func(w *world) []step {
				return []step{
					{`{"id":2,"op":"acquire","key":"nxex","ttl_ms":1500}`, "fail", func(map[string]any) string {
						// EX in whole seconds: 1500 ms became 2 s.
						if d := w.pttl("nxex"); d <= 1500*time.Millisecond || d > 2*time.Second {
							return "PTTL " + d.String() + ", want ceil(1.5 s) = 2 s"
						}
						return ""
					}},
					{`{"id":3,"op":"extend","key":"nxex","lease":"1","ttl_ms":3001}`, "ok", func(map[string]any) string {
						if d := w.pttl("nxex"); d <= 3*time.Second || d > 4*time.Second {
							return "PTTL after extend " + d.String() + ", want 4 s"
						}
						// The hazard's setting: our lease ran out and
						// another client took the lock.
						w.rdb.Set(w.ctx, "nxex", "another-holder", 10*time.Second)
						return ""
					}},
					{`{"id":4,"op":"release","key":"nxex","lease":"1"}`, "ok", func(map[string]any) string {
						if w.rdb.Exists(w.ctx, "nxex").Val() != 0 {
							return "the late release left the other holder's lock; the seed's DEL deletes it"
						}
						return ""
					}},
					{`{"id":5,"op":"extend","key":"nxex","lease":"1","ttl_ms":1000}`, "fail", nil},
				}
			},
		},
		{
			script: "redis_py_lock.py",
			first:  `{"id":1,"op":"acquire","key":"pylock","ttl_ms":1234}`,
			steps: func(w *world) []step {
				return []step{
					{`{"id":2,"op":"acquire","key":"pylock","ttl_ms":1234}`, "fail", func(map[string]any) string {
						if got := w.get("pylock"); got != w.lease {
							return "the key holds " + got + ", not the lease"
						}
						// PX keeps milliseconds: not rounded to 1 or 2 s.
						if d := w.pttl("pylock"); d <= 1000*time.Millisecond || d > 1234*time.Millisecond {
							return "PTTL " + d.String() + ", want the 1234 ms asked for"
						}
						return ""
					}},
					{`{"id":3,"op":"release","key":"pylock","lease":"not-the-lease"}`, "fail", func(map[string]any) string {
						if w.get("pylock") != w.lease {
							return "a release with a wrong lease touched the lock"
						}
						return ""
					}},
					{`{"id":4,"op":"extend","key":"pylock","lease":"not-the-lease","ttl_ms":9000}`, "fail", nil},
					{`{"id":5,"op":"extend","key":"pylock","lease":"` + w.lease + `","ttl_ms":7777}`, "ok", func(r map[string]any) string {
						if d := w.pttl("pylock"); d <= 7000*time.Millisecond || d > 7777*time.Millisecond {
							return "PTTL after extend " + d.String() + ", want 7777 ms (replace_ttl)"
						}
						if v, _ := r["validity_ms"].(float64); v <= 7000 || v > 7777-77-2 {
							return "extend validity_ms not in (7000, 7698]"
						}
						return ""
					}},
					{`{"id":6,"op":"release","key":"pylock","lease":"` + w.lease + `"}`, "ok", func(map[string]any) string {
						if w.rdb.Exists(w.ctx, "pylock").Val() != 0 {
							return "the key survived its release"
						}
						return ""
					}},
					{`{"id":7,"op":"release","key":"pylock","lease":"` + w.lease + `"}`, "fail", nil},
					{`{"id":8,"op":"extend","key":"pylock","lease":"` + w.lease + `","ttl_ms":1000}`, "fail", nil},
				}
			},
		},
	} {
		t.Run(tc.script, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			w := &world{ctx: ctx, rdb: rdb}
			p := start(t, ctx, py, tc.script, "LOCKBENCH_NODES="+addr+",127.0.0.1:1")
			a := p.Ask(ctx, tc.first)
			w.lease, _ = a["lease"].(string)
			if a["type"] != "ok" || w.lease == "" {
				t.Fatalf("%s → %v, want ok with a lease", tc.first, a)
			}
			var first map[string]any
			json.Unmarshal([]byte(tc.first), &first)
			ttl := first["ttl_ms"].(float64)
			switch v, has := a["validity_ms"].(float64); {
			case tc.script == "redis_py_lock.py" && (!has || v <= 0 || v > ttl-ttl/100-2):
				t.Errorf("acquire validity_ms %v, want in (0, ttl − 1 %% − 2 ms]", a["validity_ms"])
			case tc.script != "redis_py_lock.py" && has:
				t.Errorf("the seed's snippet tracks no validity, but the reply has validity_ms %v", v)
			}
			if tc.script != "redis_py_lock.py" && w.lease != "1" {
				t.Errorf("the seed's lease is %q, want \"1\"", w.lease)
			}
			for _, s := range tc.steps(w) {
				p.Exchange(ctx, testenv.Step(s))
			}
			if code := p.Wait(ctx); code != 0 {
				t.Errorf("exit status %d at EOF, want 0; stderr: %s", code, p.Stderr)
			}
		})
	}
}

// A command that runs out of its socket timeout is info (redis-py's
// TimeoutError: it may have run), never fail.
func TestPythonTimeoutIsInfo(t *testing.T) {
	py := python(t)
	addr := testenv.StartRedis(t, nil)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	for _, script := range []string{"seed_setnx.py", "seed_set_nx_ex.py", "redis_py_lock.py"} {
		t.Run(script, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			p := start(t, ctx, py, script, "LOCKBENCH_NODES="+addr, "LOCKBENCH_TIMEOUT_MS=200")
			// Connect first, so the pause holds a command, not the handshake.
			if r := p.Ask(ctx, `{"id":1,"op":"release","key":"warm","lease":"1"}`); r["type"] == "info" {
				t.Fatalf("warm-up: %v", r)
			}
			if err := rdb.Do(ctx, "CLIENT", "PAUSE", "3000", "WRITE").Err(); err != nil {
				t.Fatal(err)
			}
			defer rdb.Do(context.Background(), "CLIENT", "UNPAUSE")
			began := time.Now()
			r := p.Ask(ctx, `{"id":2,"op":"acquire","key":"paused","ttl_ms":1000}`)
			if e, _ := r["error"].(string); r["type"] != "info" || !strings.Contains(e, "Timeout") {
				t.Errorf("acquire against a paused server: %v, want info naming the timeout", r)
			}
			if took := time.Since(began); took > 2*time.Second {
				t.Errorf("the reply took %v, want about the 200 ms timeout", took)
			}
		})
	}
}

// Every client refuses a protocol or topology it does not know: exit 2
// with a line on stderr that says why, before touching any node.
func TestPythonClientsRefuse(t *testing.T) {
	py := python(t)
	for _, script := range []string{"seed_setnx.py", "seed_set_nx_ex.py", "redis_py_lock.py"} {
		for _, tc := range []struct {
			name, env, stderr string
		}{
			{"protocol 2", "LOCKBENCH_PROTOCOL=2", "LOCKBENCH_PROTOCOL='2'"},
			{"no protocol", "LOCKBENCH_PROTOCOL=", "LOCKBENCH_PROTOCOL"},
			{"cluster", "LOCKBENCH_TOPOLOGY=cluster", "'cluster' unsupported"},
			{"no nodes", "LOCKBENCH_NODES=", "LOCKBENCH_NODES is empty"},
		} {
			t.Run(script+"/"+tc.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				p := start(t, ctx, py, script, "LOCKBENCH_NODES=127.0.0.1:1", tc.env)
				if code := p.Wait(ctx); code != 2 {
					t.Errorf("exit status %d, want 2; stderr: %s", code, p.Stderr)
				}
				if !strings.Contains(p.Stderr.String(), tc.stderr) {
					t.Errorf("stderr %q does not say %q", p.Stderr, tc.stderr)
				}
			})
		}
	}
}

// A line without an integer id cannot be answered: exit 2, the line named
// on stderr. A request with an id but a bad field is answered fail.
func TestPythonBadInput(t *testing.T) {
	py := python(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p := start(t, ctx, py, "redis_py_lock.py", "LOCKBENCH_NODES=127.0.0.1:1")
	for _, req := range []string{
		`{"id":1,"op":"acquire","key":"k","ttl_ms":"500"}`,
		`{"id":2,"op":"release","key":"k"}`,
		`{"id":3,"op":"steal","key":"k"}`,
		`{"id":4,"op":"acquire","key":"","ttl_ms":500}`,
	} {
		if r := p.Ask(ctx, req); r["type"] != "fail" {
			t.Errorf("%s → %v, want fail (nothing was done)", req, r)
		}
	}
	io.WriteString(p.Stdin, "{not json\n")
	if code := p.Wait(ctx); code != 2 {
		t.Errorf("exit status %d after a line that is not JSON, want 2", code)
	}
	if !strings.Contains(p.Stderr.String(), "stdin line 5") {
		t.Errorf("stderr %q does not name line 5", p.Stderr)
	}
}
