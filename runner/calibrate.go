// Package runner wires the parts of lockbench together: it provisions
// nodes, puts proxies in front of them, runs scenarios cell by cell and
// measures the harness against the physical limit. The CLI in cmd/bench is
// a thin layer over it.
package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockbench/lockbench/chaos"
	"github.com/lockbench/lockbench/checker"
	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/endpoint"
	"github.com/lockbench/lockbench/history"
	"github.com/lockbench/lockbench/locks"
	"github.com/lockbench/lockbench/workloads"
)

// CalibrateOptions configures Calibrate.
type CalibrateOptions struct {
	// Cluster chooses the provider (see cluster.Auto).
	Cluster cluster.AutoOptions
	// Nodes is how many nodes to start and time (default 5).
	Nodes int
	// Samples is how many SETs to time on each path (default 5000).
	Samples int
	// Clients is the concurrency of every throughput measurement, the
	// same for every path (default 4).
	Clients int
	// Duration is the length of each throughput measurement (default 2 s).
	Duration time.Duration
	// Rounds is how many times each throughput is measured; medians are
	// reported (default 5).
	Rounds int
	// ClientProcs is GOMAXPROCS while the Go loops run, as in
	// Options.ClientProcs: 0 keeps a CPU free for the node they load
	// (every CPU but the node's when it is pinned).
	ClientProcs int
	// NoPin leaves the lock node and the harness where the scheduler
	// puts them; by default they are pinned to disjoint CPUs.
	NoPin bool
	// Progress, when set, receives one line per step.
	Progress func(string)
}

// Latency summarises a set of round trips.
type Latency struct {
	Samples int           `json:"samples"`
	P50     time.Duration `json:"p50_ns"`
	P99     time.Duration `json:"p99_ns"`
	Max     time.Duration `json:"max_ns"`
}

// Throughput is one path's lock cycles per second over the rounds.
type Throughput struct {
	Rounds []float64 `json:"rounds"`
	Median float64   `json:"median"`
}

// Ratios are one ratio per round, in round order, and their median.
type Ratios struct {
	Rounds []float64 `json:"rounds"`
	Median float64   `json:"median"`
}

// RedisBenchmark is what redis-benchmark measured at the same client count:
// the two commands a token lock cycle costs, and the cycle rate they allow.
type RedisBenchmark struct {
	SetNXPX    Throughput `json:"set_nx_px_rps"`
	EvalDelete Throughput `json:"eval_compare_and_delete_rps"`
	// CycleLimit is 1 / (1/SET + 1/EVAL): one of each per cycle.
	CycleLimit float64 `json:"cycle_limit"`
}

// CalibrateResult is what Calibrate measured.
type CalibrateResult struct {
	Provider string `json:"provider"`
	// Why is the provider choice's reason.
	Why   string `json:"why"`
	Nodes int    `json:"nodes"`
	// StartNodes is the wall time to start every node.
	StartNodes time.Duration `json:"start_nodes_ns"`
	// Direct is SET straight to node n1; Proxied is the same through an
	// idle proxy of the chaos mesh in front of n1.
	Direct  Latency `json:"direct_set"`
	Proxied Latency `json:"proxied_set"`

	Clients int `json:"clients"`
	// ClientProcs is the GOMAXPROCS of the bare loop and the harness.
	ClientProcs int `json:"client_procs"`
	// CPUPinning says which CPUs the clients and the lock node were
	// pinned to, or why they were not.
	CPUPinning string `json:"cpu_pinning"`
	// RedisBenchmark is nil when redis-benchmark is not installed or the
	// node speaks TLS.
	RedisBenchmark *RedisBenchmark `json:"redis_benchmark,omitempty"`
	// Bare is a go-redis loop doing SET NX PX + the compare-and-delete
	// script per cycle, nothing else.
	Bare Throughput `json:"bare_go_redis"`
	// Harness is the token uncontended workload with full recording,
	// straight to the node; HarnessProxied the same through idle proxies.
	Harness        Throughput `json:"harness"`
	HarnessProxied Throughput `json:"harness_proxied"`
	// Ratios of the medians.
	HarnessVsBare           float64 `json:"harness_vs_bare"`
	HarnessVsRedisBenchmark float64 `json:"harness_vs_redis_benchmark,omitempty"`
	// The same ratios within each round (paired, so that the machine's
	// drift between rounds cancels).
	HarnessVsBarePaired           Ratios  `json:"harness_vs_bare_paired"`
	HarnessVsRedisBenchmarkPaired *Ratios `json:"harness_vs_redis_benchmark_paired,omitempty"`
	// ProxyCost is 1 − HarnessProxied/Harness, paired within each round
	// (the median of the rounds' ratios), as bench run measures it for
	// its summary (summary.ProxyCost).
	ProxyCost float64 `json:"proxy_cost"`
	// CheckerEventsPerSec is the checker's speed on the last harness
	// history (read, validated and checked).
	CheckerEventsPerSec float64 `json:"checker_events_per_sec"`
	CheckerEvents       int     `json:"checker_events"`
	// OthersCores is, per round, the most CPU (in CPUs) that processes
	// other than the measurement (this process, its children, the lock
	// node) used during one of the round's phases; -1 where the
	// machine's use cannot be read. Rounds above busyOthersCores are left
	// out of Targets.
	OthersCores []float64 `json:"others_cores"`
	// Targets are the verdicts against TargetVsBare and, when
	// redis-benchmark ran, TargetVsRedisBenchmark.
	Targets []TargetVerdict `json:"targets"`
}

func (o *CalibrateOptions) defaults() {
	if o.Nodes <= 0 {
		o.Nodes = 5
	}
	if o.Samples <= 0 {
		o.Samples = 5000
	}
	if o.Clients <= 0 {
		o.Clients = 4
	}
	if o.Duration <= 0 {
		o.Duration = 2 * time.Second
	}
	if o.Rounds <= 0 {
		o.Rounds = 5
	}
}

// checkCalibrateCapacity holds a calibration to a run's bounds: each
// measurement is like a token cell of the uncontended workload on o.Nodes
// nodes, and a round takes up to four of them.
func checkCalibrateCapacity(o CalibrateOptions, provider string) error {
	const phases = 4 // bare loop, harness, harness through proxies, redis-benchmark
	// Divisions only: rounds × duration may not fit in a Duration.
	if o.Duration > maxRunTime/phases/time.Duration(o.Rounds) {
		return &tooBig{fmt.Sprintf("--rounds %d of %d measurements of --duration %v are more than the %v a run may take; use fewer rounds or a shorter duration",
			o.Rounds, phases, o.Duration, maxRunTime)}
	}
	spec, err := workloads.Preset("uncontended")
	if err != nil {
		return err
	}
	spec.Clients, spec.Duration = o.Clients, o.Duration
	cell := Cell{ID: "calibrate", Lock: "token", Workload: spec, Fault: "none"}
	return CheckCapacity(Scenario{Name: "calibrate", Nodes: o.Nodes}, []Cell{cell}, provider, ReadCapacity())
}

// Calibrate measures the harness against the physical limit on the same
// nodes: node start time, SET round trip direct and through an idle proxy,
// then lock cycles/s from redis-benchmark, a bare go-redis loop and the
// harness itself (direct and proxied), interleaved round by round so that
// drift on the machine hits every path alike. Everything it started is
// removed again, also when ctx is cancelled.
func Calibrate(ctx context.Context, o CalibrateOptions) (res CalibrateResult, err error) {
	o.defaults()
	say := func(format string, args ...any) {
		if o.Progress != nil {
			o.Progress(fmt.Sprintf(format, args...))
		}
	}
	prov, why, err := cluster.Auto(ctx, o.Cluster)
	if err != nil {
		return res, err
	}
	if err := checkCalibrateCapacity(o, prov.Name()); err != nil {
		return res, err
	}
	res.Provider, res.Why, res.Nodes, res.Clients = prov.Name(), why, o.Nodes, o.Clients
	say("provider %s", why)
	nodes := max(o.Nodes, 2) // a lock node and a resource node at least

	start := time.Now()
	c, err := prov.Start(ctx, cluster.Spec{Nodes: nodes})
	if err != nil {
		return res, err
	}
	defer func() {
		if cerr := c.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("remove nodes: %w", cerr)
		}
	}()
	res.StartNodes = time.Since(start)
	say("started %d %s nodes in %v", nodes, prov.Name(), res.StartNodes.Round(time.Millisecond))

	addrs := make([]chaos.NodeAddr, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = chaos.NodeAddr{Name: n.Name(), Addr: n.Endpoint().Addr}
	}
	mesh, err := chaos.NewMesh(ctx, []string{"A"}, addrs)
	if err != nil {
		return res, err
	}
	defer mesh.Close()
	lockNode, resNode := c.Nodes[0], c.Nodes[1]
	ep := lockNode.Endpoint()
	proxyAddr := mesh.Addr("A", lockNode.Name())

	if res.Direct, res.Proxied, err = setRoundTrips(ctx, ep, proxyAddr, o.Samples); err != nil {
		return res, err
	}
	say("SET round trip: direct p50 %v, through an idle proxy p50 %v", res.Direct.P50, res.Proxied.P50)

	tmp, err := os.MkdirTemp("", "lockbench-calibrate-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(tmp)

	rbPath, rbErr := exec.LookPath("redis-benchmark")
	if ep.TLS != nil {
		// redis-benchmark takes TLS as files, which the endpoint no
		// longer has; the bare loop is the reference then.
		rbErr = errors.New("redis-benchmark is not run over TLS")
	}
	if ep.Password != "" {
		// redis-benchmark takes a password only as -a on its command
		// line, which every user of the machine can read in ps.
		rbErr = errors.New("redis-benchmark is not run against a node with a password: it would put the password on its command line, where ps shows it")
	}
	// The Go loops load one node (the harness skips the resource).
	procs := clientProcs(o.ClientProcs, 1)
	var clientCPUs []int
	res.CPUPinning = "not pinned: --no-pin"
	if !o.NoPin {
		clientCPUs, res.CPUPinning = pinApart(ctx, lockNode)
	}
	if clientCPUs != nil && o.ClientProcs == 0 {
		procs = len(clientCPUs)
	}
	say("CPUs: %s", res.CPUPinning)
	var set, eval []float64
	var lastHistory string
	nodeClient := redis.NewClient(ep.ClientOptions(""))
	defer nodeClient.Close()
	for round := 1; round <= o.Rounds; round++ {
		lastHistory = filepath.Join(tmp, fmt.Sprintf("history-%d.jsonl", round))
		var bare, direct, proxied, s, e float64
		viaProxy := ep
		viaProxy.Addr = proxyAddr
		// Each phase is labelled, so that a --cpuprofile splits by phase
		// (go tool pprof -tagfocus phase=harness).
		phases := []phase{
			{"bare", func(ctx context.Context) (err error) {
				bare, err = bareLoop(ctx, ep, o.Clients, o.Duration)
				return err
			}},
			{"harness", func(ctx context.Context) (err error) {
				direct, err = harness(ctx, ep, resNode.Endpoint(), o.Clients, o.Duration, lastHistory)
				return err
			}},
			{"harness-proxied", func(ctx context.Context) (err error) {
				proxied, err = harness(ctx, viaProxy, resNode.Endpoint(), o.Clients, o.Duration, filepath.Join(tmp, "history-proxied.jsonl"))
				return err
			}},
		}
		if rbErr == nil {
			phases = append(phases, phase{"redis-benchmark", func(ctx context.Context) (err error) {
				s, e, err = redisBenchmark(ctx, rbPath, ep, o.Clients)
				return err
			}})
		}
		// Rotate the order round by round: whatever a phase leaves behind
		// (keys to expire, a warm or cold cache) or the machine's drift
		// within a round then falls on every path alike.
		rot := (round - 1) % len(phases)
		phases = append(phases[rot:], phases[:rot]...)
		names := make([]string, len(phases))
		for i, p := range phases {
			names[i] = p.name
		}
		say("round %d of %d: %s (%v each)", round, o.Rounds, strings.Join(names, ", "), o.Duration)
		others := 0.0
		res.ClientProcs, err = confine(procs, clientCPUs, func() error {
			for _, p := range phases {
				load, err := startPhaseLoad(ctx, nodeClient)
				if err != nil {
					return err
				}
				pprof.Do(ctx, pprof.Labels("phase", p.name), func(ctx context.Context) { err = p.run(ctx) })
				if err != nil {
					return err
				}
				o, err := load.othersCores(ctx)
				if err != nil {
					return err
				}
				if o < 0 || others < 0 {
					others = -1
				} else {
					others = max(others, o)
				}
			}
			return nil
		})
		if err != nil {
			return res, err
		}
		res.OthersCores = append(res.OthersCores, others)
		res.Bare.Rounds = append(res.Bare.Rounds, bare)
		res.Harness.Rounds = append(res.Harness.Rounds, direct)
		res.HarnessProxied.Rounds = append(res.HarnessProxied.Rounds, proxied)
		res.HarnessVsBarePaired.Rounds = append(res.HarnessVsBarePaired.Rounds, direct/bare)
		if rbErr == nil {
			set, eval = append(set, s), append(eval, e)
			if res.HarnessVsRedisBenchmarkPaired == nil {
				res.HarnessVsRedisBenchmarkPaired = &Ratios{}
			}
			res.HarnessVsRedisBenchmarkPaired.Rounds = append(res.HarnessVsRedisBenchmarkPaired.Rounds, direct/cycleLimit(s, e))
		}
	}
	for _, t := range []*Throughput{&res.Bare, &res.Harness, &res.HarnessProxied} {
		t.Median = median(t.Rounds)
	}
	res.HarnessVsBarePaired.Median = median(res.HarnessVsBarePaired.Rounds)
	if r := res.HarnessVsRedisBenchmarkPaired; r != nil {
		r.Median = median(r.Rounds)
	}
	if len(set) > 0 {
		rb := &RedisBenchmark{SetNXPX: Throughput{Rounds: set, Median: median(set)}, EvalDelete: Throughput{Rounds: eval, Median: median(eval)}}
		rb.CycleLimit = cycleLimit(rb.SetNXPX.Median, rb.EvalDelete.Median)
		res.RedisBenchmark = rb
		res.HarnessVsRedisBenchmark = res.Harness.Median / rb.CycleLimit
	} else if errors.Is(rbErr, exec.ErrNotFound) {
		say("redis-benchmark not installed: no redis-benchmark limit (scripts/install-deps.sh installs it)")
	} else if rbErr != nil {
		say("no redis-benchmark limit: %v", rbErr)
	}
	if res.Bare.Median > 0 {
		res.HarnessVsBare = res.Harness.Median / res.Bare.Median
	}
	res.ProxyCost = proxyCostOf(res.Harness.Rounds, res.HarnessProxied.Rounds).Fraction
	res.Targets = []TargetVerdict{judgeTarget("harness vs bare go-redis loop", TargetVsBare, res.HarnessVsBarePaired.Rounds, res.OthersCores)}
	if r := res.HarnessVsRedisBenchmarkPaired; r != nil {
		res.Targets = append(res.Targets, judgeTarget("harness vs redis-benchmark limit", TargetVsRedisBenchmark, r.Rounds, res.OthersCores))
	}

	began := time.Now()
	events, err := history.ReadFile(lastHistory)
	if err != nil {
		return res, err
	}
	if _, err := checker.Check(ctx, events, checker.Options{}); err != nil {
		return res, err
	}
	res.CheckerEvents = len(events)
	res.CheckerEventsPerSec = float64(len(events)) / time.Since(began).Seconds()
	return res, nil
}

// cycleLimit is the lock cycles/s that set and eval requests/s allow when a
// cycle costs one of each.
func cycleLimit(set, eval float64) float64 { return 1 / (1/set + 1/eval) }

// phase is one measurement of a calibration round.
type phase struct {
	name string
	run  func(ctx context.Context) error
}

// setRoundTrips times sequential SETs direct and through the proxy,
// alternating in blocks so that drift hits both paths alike.
func setRoundTrips(ctx context.Context, ep endpoint.Endpoint, proxyAddr string, samples int) (Latency, Latency, error) {
	direct := redis.NewClient(ep.ClientOptions(""))
	defer direct.Close()
	proxied := redis.NewClient(ep.ClientOptions(proxyAddr))
	defer proxied.Close()
	var d, p []time.Duration
	var err error
	const block = 100
	for len(d) < samples {
		n := min(block, samples-len(d))
		if d, err = timeSETs(ctx, direct, n, d); err != nil {
			return Latency{}, Latency{}, fmt.Errorf("direct SET: %w", err)
		}
		if p, err = timeSETs(ctx, proxied, n, p); err != nil {
			return Latency{}, Latency{}, fmt.Errorf("proxied SET: %w", err)
		}
	}
	return summarise(d), summarise(p), nil
}

// timeSETs appends the round trips of n sequential SETs to into.
func timeSETs(ctx context.Context, c *redis.Client, n int, into []time.Duration) ([]time.Duration, error) {
	for i := 0; i < n; i++ {
		t := time.Now()
		if err := c.Set(ctx, "lockbench:calibrate", i, 0).Err(); err != nil {
			return into, err
		}
		into = append(into, time.Since(t))
	}
	return into, nil
}

// summarise computes exact quantiles of a small sample.
func summarise(s []time.Duration) Latency {
	s = slices.Clone(s)
	slices.Sort(s)
	q := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return Latency{Samples: len(s), P50: q(0.50), P99: q(0.99), Max: s[len(s)-1]}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// compareAndDelete is the token lock's release, as redis-benchmark and
// the bare loop send it.
const compareAndDelete = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`

// redisBenchmark runs redis-benchmark for SET NX PX and the
// compare-and-delete EVAL at the given client count; it returns requests/s.
func redisBenchmark(ctx context.Context, path string, ep endpoint.Endpoint, clients int) (set, eval float64, err error) {
	host, port, err := net.SplitHostPort(ep.Addr)
	if err != nil {
		return 0, 0, err
	}
	run := func(args ...string) (float64, error) {
		// No -a: a password never goes on a command line (the caller
		// does not run redis-benchmark against a node with one).
		base := []string{"-h", host, "-p", port, "-c", strconv.Itoa(clients), "-n", "40000", "-r", "100000", "--csv"}
		if ep.DB != 0 {
			base = append(base, "--dbnum", strconv.Itoa(ep.DB))
		}
		cmd := exec.CommandContext(ctx, path, append(base, args...)...)
		out, err := cmd.Output()
		if err != nil {
			return 0, fmt.Errorf("redis-benchmark %s: %w", args[0], err)
		}
		// redis-benchmark does not escape the quotes of the command it
		// echoes in the first column, so count the columns from the end:
		// rps is the seventh last of "test","rps", then six latencies.
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		cols := strings.Split(lines[len(lines)-1], ",")
		if len(lines) < 2 || len(cols) < 8 {
			return 0, fmt.Errorf("redis-benchmark %s: unexpected output %q", args[0], out)
		}
		return strconv.ParseFloat(strings.Trim(cols[len(cols)-7], `"`), 64)
	}
	if set, err = run("SET", "lockbench:rb:__rand_int__", "token", "NX", "PX", "10000"); err != nil {
		return 0, 0, err
	}
	if eval, err = run("EVAL", compareAndDelete, "1", "lockbench:rb:__rand_int__", "token"); err != nil {
		return 0, 0, err
	}
	// Tens of thousands of its keys are left to expire: delete them now,
	// or the node's expiry cycle would slow down whatever runs next.
	if err := deleteKeys(ctx, ep, "lockbench:rb:*"); err != nil {
		return 0, 0, fmt.Errorf("redis-benchmark's keys: %w", err)
	}
	return set, eval, nil
}

// deleteKeys unlinks every key matching pattern on the node.
func deleteKeys(ctx context.Context, ep endpoint.Endpoint, pattern string) error {
	c := redis.NewClient(ep.ClientOptions(""))
	defer c.Close()
	iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
	batch := make([]string, 0, 1000)
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == cap(batch) {
			if err := c.Unlink(ctx, batch...).Err(); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(batch) > 0 {
		return c.Unlink(ctx, batch...).Err()
	}
	return nil
}

// bareLoop is the floor of what a Go client can do: each of clients
// goroutines takes and releases its own key with SET NX PX and EVALSHA,
// nothing recorded, for d. It returns cycles/s.
func bareLoop(ctx context.Context, ep endpoint.Endpoint, clients int, d time.Duration) (float64, error) {
	// The strategies' own go-redis options: the loop is the harness's
	// client without the harness around it.
	opts, err := locks.Config{PoolSize: clients}.ClientOptions(ep)
	if err != nil {
		return 0, err
	}
	c := redis.NewClient(opts)
	defer c.Close()
	script := redis.NewScript(compareAndDelete)
	if err := script.Load(ctx, c).Err(); err != nil {
		return 0, fmt.Errorf("bare loop: %w", err)
	}
	var wg sync.WaitGroup
	counts := make([]int, clients)
	errs := make([]error, clients)
	start := time.Now()
	deadline := start.Add(d)
	for i := range clients {
		wg.Go(func() {
			key := "lockbench:bare:" + strconv.Itoa(i)
			for time.Now().Before(deadline) {
				if err := c.SetNX(ctx, key, "token", 10*time.Second).Err(); err != nil {
					errs[i] = err
					return
				}
				if err := script.Run(ctx, c, []string{key}, "token").Err(); err != nil {
					errs[i] = err
					return
				}
				counts[i]++
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, fmt.Errorf("bare loop: %w", err)
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	return float64(total) / time.Since(start).Seconds(), nil
}

// harness runs the token lock on the uncontended workload with every
// event recorded to historyPath and no protected resource (a cycle is the
// same two commands the bare loop sends). It returns cycles/s.
func harness(ctx context.Context, lock, resource endpoint.Endpoint, clients int, d time.Duration, historyPath string) (float64, error) {
	spec, err := workloads.Preset("uncontended")
	if err != nil {
		return 0, err
	}
	spec.Clients, spec.Duration, spec.SkipResource = clients, d, true
	strategy, err := locks.Lookup("token")
	if err != nil {
		return 0, err
	}
	l, err := strategy.New(locks.Config{Nodes: []endpoint.Endpoint{lock}, PoolSize: clients, Retry: spec.Retry})
	if err != nil {
		return 0, err
	}
	defer l.Close()
	// As a cell does: dialling is not the lock's work, and through a
	// proxy it costs more than direct.
	if w, ok := l.(locks.Warmer); ok {
		if err := w.Warm(ctx); err != nil {
			return 0, err
		}
	}
	rc := redis.NewClient(resource.ClientOptions(""))
	defer rc.Close()
	w, err := history.Open(historyPath)
	if err != nil {
		return 0, err
	}
	res, err := workloads.Run(ctx, spec, workloads.Env{
		Lockers: []locks.Locker{l}, Resources: []*workloads.Resource{workloads.NewResource(rc)},
		Clock: history.NewClock(), NewRecorder: func() workloads.Recorder { return w.Stream() },
		KeyPrefix: "lockbench:calibrate:",
	})
	if cerr := w.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	return res.Throughput, nil
}
