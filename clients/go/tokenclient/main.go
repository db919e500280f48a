// Command tokenclient is a reference external lock client in Go: the
// `token` strategy (SET key <random> NX PX ttl; release and extend by Lua
// compare-and-delete and compare-and-pexpire) on the first node of
// LOCKBENCH_NODES, speaking lockbench's external client protocol, version
// 1 (docs/protocol.md), on its stdin and stdout.
//
// It exists for two reasons: a team writing its own client in Go starts
// from it, and running it beside the in-process `token` strategy measures
// what the protocol itself costs (a pipe round trip and a process per
// client) on the same lock.
//
// Environment: LOCKBENCH_PROTOCOL must be 1 and LOCKBENCH_TOPOLOGY
// standalone (anything else: a line on stderr and exit status 2);
// LOCKBENCH_NODES is host:port[,…] or redis:// URLs, of which it uses the
// first; LOCKBENCH_CLIENT names it in its stderr log; LOCKBENCH_TIMEOUT_MS
// (optional, not set by the harness, default 1000) bounds each command.
//
// Outcomes: a command that could not even dial is fail (nothing was
// sent); a timeout or a lost connection is info (it may have run).
// Acquire ok carries validity_ms = ttl − elapsed − (ttl·1 % + 2 ms).
//
// Known hazard: as token — one node, so a lease that runs out during a
// long pause, or a restart without persistence, lets a second holder in.
// Declare it with `release: owner`.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Protocol is the protocol version this client speaks.
const Protocol = "1"

// defaultTimeout bounds each command when LOCKBENCH_TIMEOUT_MS is unset.
const defaultTimeout = time.Second

// maxLine is the longest request line read; the harness's are far shorter.
const maxLine = 1 << 20

// exitUsage is the exit status for an environment or input it cannot work with.
const exitUsage = 2

// The token family's scripts, as in locks/single.go: compare and act in
// one script, so no other client's command comes between.
var (
	releaseScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0`)
	extendScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`)
)

func main() {
	os.Exit(run(os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

// usageError is an environment or input that ends the client with exitUsage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// config is what the environment says.
type config struct {
	node    string
	client  string
	timeout time.Duration
}

// readEnv checks the environment; errors are *usageError.
func readEnv(getenv func(string) string) (config, error) {
	c := config{client: getenv("LOCKBENCH_CLIENT"), timeout: defaultTimeout}
	if c.client == "" {
		c.client = "?"
	}
	if v := getenv("LOCKBENCH_PROTOCOL"); v != Protocol {
		return c, &usageError{fmt.Sprintf("LOCKBENCH_PROTOCOL=%q: this client speaks protocol version %s only", v, Protocol)}
	}
	if v := getenv("LOCKBENCH_TOPOLOGY"); v != "standalone" {
		return c, &usageError{fmt.Sprintf("LOCKBENCH_TOPOLOGY=%q unsupported: this client talks to one standalone node", v)}
	}
	for n := range strings.SplitSeq(getenv("LOCKBENCH_NODES"), ",") {
		if n = strings.TrimSpace(n); n != "" {
			c.node = n
			break
		}
	}
	if c.node == "" {
		return c, &usageError{"LOCKBENCH_NODES is empty: want host:port[,host:port...]"}
	}
	if v := getenv("LOCKBENCH_TIMEOUT_MS"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			return c, &usageError{fmt.Sprintf("LOCKBENCH_TIMEOUT_MS=%q: want a positive integer of milliseconds", v)}
		}
		c.timeout = time.Duration(ms) * time.Millisecond
	}
	return c, nil
}

// options are the go-redis options of node: no retries and short
// timeouts, as the harness's own strategies use, so that a fault shows as
// info instead of being hidden behind a retry.
func options(node string, timeout time.Duration) (*redis.Options, error) {
	o := &redis.Options{Addr: node}
	if strings.Contains(node, "://") {
		var err error
		if o, err = redis.ParseURL(node); err != nil {
			return nil, &usageError{fmt.Sprintf("LOCKBENCH_NODES: %v", err)}
		}
	} else if _, _, err := net.SplitHostPort(node); err != nil {
		return nil, &usageError{fmt.Sprintf("LOCKBENCH_NODES: %q is not host:port", node)}
	}
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout = timeout, timeout, timeout, timeout
	o.ContextTimeoutEnabled = true
	o.MaxRetries = -1
	o.DialerRetries = 1
	o.PoolSize = 1 // one request at a time
	o.DisableIdentity = true
	o.Protocol = 2
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return o, nil
}

// run is the client: it returns the exit status.
func run(getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, err := readEnv(getenv)
	logf := func(format string, args ...any) {
		fmt.Fprintf(stderr, "lockbench tokenclient %s: %s\n", cfg.client, fmt.Sprintf(format, args...))
	}
	var opts *redis.Options
	if err == nil {
		opts, err = options(cfg.node, cfg.timeout)
	}
	if err != nil {
		logf("%v", err)
		return exitUsage
	}
	c := &client{rdb: redis.NewClient(opts), timeout: cfg.timeout}
	defer c.rdb.Close()
	logf("protocol %s, node %s, timeout %v", Protocol, cfg.node, cfg.timeout)
	if err := serve(c, stdin, stdout); err != nil {
		var u *usageError
		if errors.As(err, &u) {
			logf("%v", err)
			return exitUsage
		}
		logf("%v", err) // stdout gone: the harness is done with us
	}
	return 0
}

// request is one line from the harness. Pointers tell a missing field.
type request struct {
	ID    *int64  `json:"id"`
	Op    string  `json:"op"`
	Key   string  `json:"key"`
	Lease *string `json:"lease"`
	TTLms *int64  `json:"ttl_ms"`
}

// reply is one line to the harness.
type reply struct {
	ID         int64  `json:"id"`
	Type       string `json:"type"`
	Lease      string `json:"lease,omitempty"`
	ValidityMs *int64 `json:"validity_ms,omitempty"`
	Error      string `json:"error,omitempty"`
}

// serve answers every line of in until EOF. A line without an integer id
// cannot be answered and is a *usageError.
func serve(c *client, in io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		var head struct {
			ID *int64 `json:"id"`
		}
		if err := json.Unmarshal(line, &head); err != nil || head.ID == nil {
			return &usageError{fmt.Sprintf("stdin line %d has no integer \"id\": %.200s", n, line)}
		}
		var req request
		var rep reply
		if err := json.Unmarshal(line, &req); err != nil {
			rep = reply{ID: *head.ID, Type: "fail", Error: "bad request: " + err.Error()}
		} else {
			rep = c.handle(req)
		}
		b, _ := json.Marshal(rep) // strings and ints: cannot fail
		if _, err := out.Write(append(b, '\n')); err != nil {
			return fmt.Errorf("write reply: %w", err)
		}
	}
	if err := sc.Err(); err != nil {
		return &usageError{fmt.Sprintf("read stdin: %v", err)}
	}
	return nil
}

// client runs the token lock on one node.
type client struct {
	rdb     *redis.Client
	timeout time.Duration
}

// errNotObtained, errNotOurs: fail outcomes.
var (
	errNotObtained = errors.New("not obtained")
	errNotOurs     = errors.New("not ours: the key is gone or holds another token")
)

// handle runs one request and says how it ended.
func (c *client) handle(req request) reply {
	id := *req.ID
	if err := req.check(); err != nil {
		return reply{ID: id, Type: "fail", Error: "bad request: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	start := time.Now()
	var (
		lease string
		ttl   time.Duration
		err   error
	)
	if req.TTLms != nil {
		ttl = time.Duration(*req.TTLms) * time.Millisecond
	}
	switch req.Op {
	case "acquire":
		lease, err = c.acquire(ctx, req.Key, ttl)
	case "release":
		err = c.release(ctx, req.Key, *req.Lease)
	case "extend":
		err = c.extend(ctx, req.Key, *req.Lease, ttl)
	}
	switch {
	case errors.Is(err, errNotObtained), errors.Is(err, errNotOurs):
		return reply{ID: id, Type: "fail", Error: err.Error()}
	case unsent(err):
		return reply{ID: id, Type: "fail", Error: "unreachable: " + err.Error()}
	case err != nil:
		return reply{ID: id, Type: "info", Error: err.Error()}
	}
	rep := reply{ID: id, Type: "ok", Lease: lease}
	if req.Op != "release" {
		v := validityMs(ttl, time.Since(start))
		rep.ValidityMs = &v
	}
	return rep
}

// check reports a request the protocol does not allow.
func (r request) check() error {
	switch {
	case r.Key == "":
		return errors.New(`no "key"`)
	case r.Op != "acquire" && r.Op != "release" && r.Op != "extend":
		return fmt.Errorf("unknown op %q", r.Op)
	case r.Op != "acquire" && r.Lease == nil:
		return fmt.Errorf(`%s without "lease"`, r.Op)
	case r.Op != "release" && (r.TTLms == nil || *r.TTLms <= 0):
		return fmt.Errorf(`%s needs "ttl_ms" > 0`, r.Op)
	}
	return nil
}

// unsent reports an error of a command that was never sent: the dial
// failed, so the operation certainly did not happen.
func unsent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// validityMs is what is left of a ttl lease whose command took elapsed:
// ttl − elapsed − (ttl·1 % + 2 ms), the Redlock drift, never below 0.
func validityMs(ttl, elapsed time.Duration) int64 {
	return max(0, (ttl - elapsed - ttl/100 - 2*time.Millisecond).Milliseconds())
}

func (c *client) acquire(ctx context.Context, key string, ttl time.Duration) (string, error) {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go ≥ 1.24)
	token := hex.EncodeToString(b[:])
	ok, err := c.rdb.SetNX(ctx, key, token, ttl).Result()
	if err != nil {
		return "", fmt.Errorf("SET %s NX PX: %w", key, err)
	}
	if !ok {
		return "", errNotObtained
	}
	return token, nil
}

func (c *client) release(ctx context.Context, key, token string) error {
	n, err := releaseScript.Run(ctx, c.rdb, []string{key}, token).Int64()
	if err != nil {
		return fmt.Errorf("release %s: %w", key, err)
	}
	if n == 0 {
		return errNotOurs
	}
	return nil
}

func (c *client) extend(ctx context.Context, key, token string, ttl time.Duration) error {
	n, err := extendScript.Run(ctx, c.rdb, []string{key}, token, ttl.Milliseconds()).Int64()
	if err != nil {
		return fmt.Errorf("extend %s: %w", key, err)
	}
	if n == 0 {
		return errNotOurs
	}
	return nil
}
