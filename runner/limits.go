package runner

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unsafe"

	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/history"
	"github.com/lockbench/lockbench/workloads"
)

// ErrTooBig marks a scenario that asks for more than this machine can hold
// (descriptors, memory, ports, processes, time). Such an error also matches
// ErrBadScenario; its message is one line: what is too big, what the
// machine holds, what to do.
var ErrTooBig = errors.New("too big for this machine")

// tooBig is an ErrTooBig error.
type tooBig struct{ msg string }

func (e *tooBig) Error() string   { return e.msg }
func (e *tooBig) Unwrap() []error { return []error{ErrTooBig, ErrBadScenario} }

// What one node, connection, client or key costs. The node figures were
// measured on Redis 7.0 (Debian's, with jemalloc) and Docker 20.10 on
// linux/amd64; the harness figures are the sizes it allocates. Measured
// resident memory of `bench run` was a third of the per-client estimate
// (untouched histogram pages are not resident): the difference is the
// margin for what is not counted, such as the checker's working set.
const (
	// An idle redis-server: 12 MiB resident, 5 threads (main, three bio
	// threads, jemalloc's), about 10 descriptors of its own.
	execNodeBytes   = 12 << 20
	execNodeThreads = 5
	nodeOwnFiles    = 16
	// A docker node adds its containerd-shim (13 MiB, 11 threads) and the
	// docker-proxy of its published port (3 MiB, 7 threads), which holds
	// two descriptors per connection.
	dockerNodeBytes   = 28 << 20
	dockerNodeThreads = 23
	// A client connection costs Redis its client struct, its 16 KiB reply
	// buffer and a query buffer.
	nodeConnBytes = 24 << 10
	// redisMaxClients is redis-server's default maxclients, which exec
	// and docker nodes keep; Redis keeps 32 descriptors for itself.
	redisMaxClients    = 10000
	redisReservedFiles = 32
	// nodeSideConns: a node also answers the harness's resets, version
	// query and heals, one connection at a time.
	nodeSideConns = 4
	// The harness's side of one connection: go-redis's 32 KiB read and
	// write buffers.
	clientConnBytes = 64 << 10
	// One connection through an embedded toxiproxy: a link each way, each
	// copying through 32 KiB buffers in three goroutines.
	proxyConnBytes = 128 << 10
	// A worker's history stream buffer (history/writer.go's streamCap,
	// 64 KiB to flush at and 4 KiB for the line that crosses it) and its
	// goroutine's stack.
	streamBytes      = 68 << 10
	workerStackBytes = 8 << 10
	// A key: its lock and counter names in the harness, their arguments
	// in the reset's DEL on both sides, the lock, counter and fence keys
	// in Redis.
	keyBytes = 1 << 10
	// A finished cell's entry in the summary beyond its histograms and
	// seconds: encoded histograms, verdicts, witnesses.
	cellResultBytes = 64 << 10
	// What the harness needs besides its cells: runtime, binary, Docker
	// client, report; and descriptors for the history file, the Docker
	// socket, stdio and the like.
	harnessBytes = 256 << 20
	harnessFiles = 64
	// eventsPerCycle: acquire, read, write and release, each an invoke
	// and a completion, all read back into memory by the checker.
	eventsPerCycle = 8
	// maxCyclesPerCPU: a lock cycle is at least two loopback round trips,
	// microseconds of CPU each; no CPU does a million a second.
	maxCyclesPerCPU = 1_000_000
	// maxRunTime backs the machine's limits with a plain one: a run longer
	// than a day is more likely a slip than a plan, and several shorter
	// runs lose less to a crash.
	maxRunTime = 24 * time.Hour
)

// maxCells bounds the cells a scenario expands into, checked before they
// are built: past it the list alone would take memory, and at a second a
// cell the run a day.
const maxCells = 100_000

// eventBytes is one history event as the checker holds it: the event and
// its key, and about as much again in the operation built from it.
const eventBytes = 2 * (int64(unsafe.Sizeof(history.Event{})) + 32)

// CheckCapacity refuses, before anything starts, a run whose cells would
// need more than c holds: file descriptors, connections a node accepts,
// ephemeral ports, threads, memory, lock cycles a second, and more than a
// day of load. The cells are as Expand or the zoo built them, on sc's
// nodes, with provider (exec, docker or external) starting the nodes. The
// error wraps ErrTooBig and ErrBadScenario.
func CheckCapacity(sc Scenario, cells []Cell, provider string, c Capacity) error {
	sc = sc.withDefaults()
	plans, err := planCells(sc, cells)
	if err != nil {
		return err
	}
	return checkCapacity(sc, plans, provider, c)
}

// checkCapacity is CheckCapacity of cells already planned on sc (with its
// defaults).
func checkCapacity(sc Scenario, plans []*cellPlan, provider string, c Capacity) error {
	if err := checkRunTime(plans); err != nil {
		return err
	}
	var shapes []shape
	seen := map[shape]bool{}
	for _, p := range plans {
		s := shapeOf(sc, p, provider, len(plans))
		if !seen[s] {
			seen[s] = true
			shapes = append(shapes, s)
		}
	}
	fp := workloads.StatsFootprint()
	checks := capacityChecks(c, provider)
	for _, s := range shapes {
		if err := s.check(checks, fp, shapes); err != nil {
			return err
		}
	}
	return nil
}

// checkRunTime refuses a run with more than maxRunTime of load.
func checkRunTime(cells []*cellPlan) error {
	var total, longest time.Duration
	for _, c := range cells {
		d := c.spec.Duration
		total = min(total, math.MaxInt64-d) + d // saturates instead of wrapping
		longest = max(longest, d)
	}
	if total <= maxRunTime {
		return nil
	}
	// Advice: a duration that fits every cell in, if there is one worth
	// running, and otherwise fewer cells at a time.
	each := (maxRunTime / time.Duration(len(cells))).Truncate(time.Second)
	shorter := ""
	if each >= time.Second {
		shorter = fmt.Sprintf("give each at most %v (--duration, duration:)", each)
	}
	if longest > maxRunTime {
		if shorter == "" {
			shorter = fmt.Sprintf("give each at most %v (--duration, duration:) and run fewer cells at a time", maxRunTime)
		}
		return &tooBig{fmt.Sprintf("--duration %v is more than the %v a run may take; %s", longest, maxRunTime, shorter)}
	}
	advice := fmt.Sprintf("run at most %d cells at a time", int64(maxRunTime/longest))
	if shorter != "" {
		advice += ", or " + shorter
	}
	return &tooBig{fmt.Sprintf("%d cells of up to %v each are %v of load, more than the %v a run may take; %s",
		len(cells), longest, total.Round(time.Second), maxRunTime, advice)}
}

// shape is what one cell asks of the machine. Cells of the same shape
// are checked once.
type shape struct {
	provider string
	workload string
	// nodes are the lock nodes; every client talks to used of them.
	nodes, used int64
	multiNode   bool
	clients     int64
	groups      int64
	// keys is the workload's key count; perClient when it is the clients'.
	keys      int64
	perClient bool
	// seconds is the cell's duration, rounded up; rate its open-loop rate.
	seconds int64
	rate    int64
	// resourceProxy: the resource too is reached through proxies.
	resourceProxy bool
	// cells is how many cells the run has; their results stay in memory.
	cells int64
}

// shapeOf is the planned cell's shape, with what its fault schedule adds
// to it.
func shapeOf(sc Scenario, p *cellPlan, provider string, cells int) shape {
	w := p.spec
	s := shape{
		provider:      provider,
		workload:      w.Name,
		nodes:         int64(p.topology.Processes(p.nodes(sc))),
		multiNode:     p.strategy.MultiNode,
		clients:       int64(w.Clients),
		groups:        int64(w.Groups),
		keys:          int64(w.KeyCount()),
		perClient:     w.Keys.Kind == "per-client",
		seconds:       int64(max((w.Duration+time.Second-1)/time.Second, 1)),
		rate:          int64(math.Ceil(min(w.Rate, math.MaxInt64/2))),
		resourceProxy: p.req.ResourceProxy,
		cells:         int64(cells),
	}
	s.used = 1
	if s.multiNode {
		s.used = s.nodes
	}
	if s.perClient {
		s.keys = s.clients
	}
	return s
}

// The counts below are float64: inputs go up to the int64 range and their
// products must not wrap around.

// pool is a group's connection pool per node (runner.cellBody).
func (s shape) pool() float64 { return math.Ceil(float64(s.clients)/float64(s.groups)) + 1 }

// nodeConns is how many connections one lock node receives at most.
func (s shape) nodeConns() float64 { return float64(s.groups)*s.pool() + nodeSideConns }

// listeners are the proxies' listening sockets.
func (s shape) listeners() float64 {
	n := float64(s.groups) * float64(s.nodes)
	if s.resourceProxy {
		n += float64(s.groups)
	}
	return n
}

// startsNodes reports whether the provider runs nodes on this machine.
func (s shape) startsNodes() bool {
	return s.provider == cluster.ProviderExec || s.provider == cluster.ProviderDocker
}

// files is the descriptors this process holds during the cell: a
// proxied connection is three (the client's socket, the proxy's accepted
// one and its upstream), a direct one one; an exec node's stderr pipe and
// pidfd are two.
func (s shape) files() float64 {
	conns := float64(s.groups) * s.pool() // into one node, from every group
	f := harnessFiles + s.listeners() + 3*float64(s.used)*conns
	if s.resourceProxy {
		f += 3 * conns
	} else {
		f += conns
	}
	if s.provider == cluster.ProviderExec {
		f += 2 * float64(s.nodes+1)
	}
	return f
}

// systemFiles is files plus the nodes' own descriptors (docker-proxy
// holds two per connection besides).
func (s shape) systemFiles() float64 {
	f := s.files()
	if !s.startsNodes() {
		return f
	}
	perConn := 1.0
	if s.provider == cluster.ProviderDocker {
		perConn = 3
	}
	return f + float64(s.nodes+1)*nodeOwnFiles + float64(s.used+1)*s.nodeConns()*perConn
}

// ports is what the cell takes from the ephemeral range: the listeners,
// the nodes' ports, and one local port per connection into the busiest
// node (ports repeat across destinations, not towards one).
func (s shape) ports() float64 {
	p := s.listeners() + s.nodeConns()
	if s.startsNodes() {
		p += float64(s.nodes + 1)
	}
	return p
}

// threads is the threads the nodes add.
func (s shape) threads() float64 {
	switch s.provider {
	case cluster.ProviderExec:
		return float64(s.nodes+1) * execNodeThreads
	case cluster.ProviderDocker:
		return float64(s.nodes+1) * dockerNodeThreads
	}
	return 0
}

// memory is what the cell needs while it runs, with the results of every
// cell of the run kept for the summary.
func (s shape) memory(fp workloads.Footprint) float64 {
	m := float64(harnessBytes)
	if s.startsNodes() {
		node := float64(execNodeBytes)
		if s.provider == cluster.ProviderDocker {
			node = dockerNodeBytes
		}
		m += float64(s.nodes+1)*node + float64(s.used+1)*s.nodeConns()*nodeConnBytes
	}
	secs := float64(s.seconds)
	proxied := float64(s.used)
	if s.resourceProxy {
		proxied++
	}
	perClient := float64(fp.Hists) + secs*float64(fp.SecondHist+fp.Second) + streamBytes + workerStackBytes +
		float64(s.used+1)*clientConnBytes + proxied*proxyConnBytes
	m += float64(s.clients)*perClient + float64(s.keys)*keyBytes
	m += float64(s.cells) * (float64(fp.Hists) + secs*float64(fp.Second) + cellResultBytes)
	// An open-loop cell's history, as the checker reads it back.
	m += float64(s.rate) * secs * eventsPerCycle * float64(eventBytes)
	return m
}

// capacityCheck is one resource: what a shape needs of it, what the
// machine has, and how to say both.
type capacityCheck struct {
	what string
	need func(shape, workloads.Footprint) float64
	have float64
	// show formats an amount of the resource.
	show func(float64) string
	// holds says what the machine holds, e.g. "this process may open
	// 20000 (ulimit -n)".
	holds string
}

// capacityChecks are the checks c allows (unknown capacities are skipped).
func capacityChecks(c Capacity, provider string) []capacityCheck {
	count := func(v float64) string { return strconv.FormatFloat(math.Ceil(v), 'f', -1, 64) }
	var out []capacityCheck
	add := func(ok bool, ch capacityCheck) {
		if ok {
			out = append(out, ch)
		}
	}
	add(c.OpenFiles >= 0, capacityCheck{
		what: "file descriptors", need: func(s shape, _ workloads.Footprint) float64 { return s.files() },
		have: float64(c.OpenFiles - c.FilesOpen), show: count,
		holds: fmt.Sprintf("this process may open %d more (ulimit -n %d)", c.OpenFiles-c.FilesOpen, c.OpenFiles),
	})
	maxClients := int64(redisMaxClients)
	if provider == cluster.ProviderExec && c.NodeFiles >= 0 {
		maxClients = min(maxClients, c.NodeFiles-redisReservedFiles)
	}
	add(provider == cluster.ProviderExec || provider == cluster.ProviderDocker, capacityCheck{
		what: "connections into one node", need: func(s shape, _ workloads.Footprint) float64 { return s.nodeConns() },
		have: float64(maxClients), show: count,
		holds: fmt.Sprintf("a redis-server node accepts %d (maxclients, ulimit -Hn)", maxClients),
	})
	add(c.Ports >= 0, capacityCheck{
		what: "local ports", need: func(s shape, _ workloads.Footprint) float64 { return s.ports() },
		have: float64(c.Ports), show: count,
		holds: fmt.Sprintf("the ephemeral port range holds %d (net.ipv4.ip_local_port_range)", c.Ports),
	})
	add(c.Tasks >= 0, capacityCheck{
		what: "threads", need: func(s shape, _ workloads.Footprint) float64 { return s.threads() },
		have: float64(c.Tasks), show: count,
		holds: fmt.Sprintf("the kernel allows %d more (kernel.pid_max, kernel.threads-max)", c.Tasks),
	})
	add(c.UserTasks >= 0 && provider == cluster.ProviderExec, capacityCheck{
		what: "processes", need: func(s shape, _ workloads.Footprint) float64 { return s.threads() },
		have: float64(c.UserTasks), show: count,
		holds: fmt.Sprintf("this user may start %d more (ulimit -u)", c.UserTasks),
	})
	add(c.SystemFiles >= 0, capacityCheck{
		what: "open files system-wide", need: func(s shape, _ workloads.Footprint) float64 { return s.systemFiles() },
		have: float64(c.SystemFiles), show: count,
		holds: fmt.Sprintf("the system has %d free (fs.file-max)", c.SystemFiles),
	})
	add(c.MemAvailable >= 0, capacityCheck{
		what: "of memory", need: func(s shape, fp workloads.Footprint) float64 { return s.memory(fp) },
		have: float64(c.MemAvailable), show: bytesText,
		holds: fmt.Sprintf("%s is available (MemAvailable in /proc/meminfo)", bytesText(float64(c.MemAvailable))),
	})
	cycles := float64(c.CPUs) * maxCyclesPerCPU
	add(c.CPUs > 0, capacityCheck{
		what: "lock cycles a second", need: func(s shape, _ workloads.Footprint) float64 { return float64(s.rate) },
		have: cycles, show: count,
		holds: fmt.Sprintf("%d CPUs manage at most %s (a cycle is two loopback round trips)", c.CPUs, count(cycles)),
	})
	return out
}

// bytesText formats a byte count with a binary unit.
func bytesText(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	return strconv.FormatFloat(b, 'f', 1, 64) + " " + units[i]
}

// fits reports whether every check passes for s.
func (s shape) fits(checks []capacityCheck, fp workloads.Footprint) bool {
	for _, ch := range checks {
		if ch.need(s, fp) > ch.have {
			return false
		}
	}
	return true
}

// check returns a tooBig error naming the resource s overshoots most and
// the input whose reduction fits it in best; all are the run's shapes,
// which that input may shape too.
func (s shape) check(checks []capacityCheck, fp workloads.Footprint, all []shape) error {
	var worst *capacityCheck
	ratio := 0.0
	for i, ch := range checks {
		need := ch.need(s, fp)
		if need <= ch.have {
			continue
		}
		if r := need / max(ch.have, 1); worst == nil || r > ratio {
			worst, ratio = &checks[i], r
		}
	}
	if worst == nil {
		return nil
	}
	k, at := s.advice(checks, fp, all)
	need := worst.show(worst.need(s, fp))
	if k == nil {
		return &tooBig{fmt.Sprintf("workload %s on %d lock nodes needs ~%s %s, %s; make the scenario smaller", s.workload, s.nodes, need, worst.what, worst.holds)}
	}
	return &tooBig{fmt.Sprintf("%s needs ~%s %s, %s; %s", k.subject(s), need, worst.what, worst.holds, k.limit(at))}
}

// knob is an input the user can lower.
type knob struct {
	get func(shape) int64
	set func(*shape, int64)
	// least is the smallest value worth suggesting.
	least func(shape) int64
	// subject names the current value, limit the advice for value v.
	subject func(shape) string
	limit   func(v int64) string
}

// knobs are the inputs advice may name.
func knobs() []knob {
	one := func(shape) int64 { return 1 }
	return []knob{
		{
			get: func(s shape) int64 { return s.nodes },
			set: func(s *shape, v int64) {
				s.nodes = v
				if s.multiNode {
					s.used = v
				}
			},
			least: func(s shape) int64 {
				if s.multiNode {
					return 3 // Expand's minimum for a multi-node strategy
				}
				return 1
			},
			subject: func(s shape) string { return fmt.Sprintf("--nodes %d", s.nodes) },
			limit:   func(v int64) string { return fmt.Sprintf("use at most %d nodes (--nodes, nodes:)", v) },
		},
		{
			get: func(s shape) int64 { return s.clients },
			set: func(s *shape, v int64) {
				s.clients, s.groups = v, min(s.groups, v)
				if s.perClient {
					s.keys = v
				}
			},
			least:   one,
			subject: func(s shape) string { return fmt.Sprintf("--clients %d (workload %s)", s.clients, s.workload) },
			limit:   func(v int64) string { return fmt.Sprintf("use at most %d clients (--clients, clients:)", v) },
		},
		{
			get:     func(s shape) int64 { return s.groups },
			set:     func(s *shape, v int64) { s.groups = v },
			least:   one,
			subject: func(s shape) string { return fmt.Sprintf("%d client groups (workload %s)", s.groups, s.workload) },
			limit:   func(v int64) string { return fmt.Sprintf("use at most %d groups (groups: in the workload)", v) },
		},
		{
			get: func(s shape) int64 {
				if s.perClient {
					return 1 // the clients' knob moves them
				}
				return s.keys
			},
			set:     func(s *shape, v int64) { s.keys = v },
			least:   one,
			subject: func(s shape) string { return fmt.Sprintf("%d keys (workload %s)", s.keys, s.workload) },
			limit:   func(v int64) string { return fmt.Sprintf("use at most %d keys (keys: count: in the workload)", v) },
		},
		{
			get:   func(s shape) int64 { return s.seconds },
			set:   func(s *shape, v int64) { s.seconds = v },
			least: one,
			subject: func(s shape) string {
				return fmt.Sprintf("--duration %v (workload %s)", time.Duration(s.seconds)*time.Second, s.workload)
			},
			limit: func(v int64) string {
				return fmt.Sprintf("use a duration of at most %v (--duration, duration:)", time.Duration(v)*time.Second)
			},
		},
		{
			get:     func(s shape) int64 { return s.rate },
			set:     func(s *shape, v int64) { s.rate = v },
			least:   one,
			subject: func(s shape) string { return fmt.Sprintf("rate %d/s (workload %s)", s.rate, s.workload) },
			limit:   func(v int64) string { return fmt.Sprintf("use a rate of at most %d/s (rate: in the workload)", v) },
		},
		{
			get:     func(s shape) int64 { return s.cells },
			set:     func(s *shape, v int64) { s.cells = v },
			least:   one,
			subject: func(s shape) string { return fmt.Sprintf("%d cells", s.cells) },
			limit: func(v int64) string {
				return fmt.Sprintf("run at most %d cells at a time (fewer locks, workloads, faults or seeds, or a smaller --repeat)", v)
			},
		},
	}
}

// advice picks the input to lower: of those that alone can make s fit,
// the one furthest above the largest value that fits. It returns that
// input and that value, or nil when no single input can. The value must
// fit every shape of all where the input has s's value (one flag or one
// workload's field set them all), not s alone.
func (s shape) advice(checks []capacityCheck, fp workloads.Footprint, all []shape) (*knob, int64) {
	var best *knob
	var bestAt int64
	bestRatio := 0.0
	ks := knobs()
	for i := range ks {
		k := &ks[i]
		cur, least := k.get(s), k.least(s)
		if cur <= least {
			continue
		}
		fitsAt := func(v int64) bool {
			for _, t := range all {
				if k.get(t) != cur {
					continue
				}
				k.set(&t, v)
				if !t.fits(checks, fp) {
					return false
				}
			}
			return true
		}
		if !fitsAt(least) {
			continue
		}
		// The largest value in [least, cur) that fits: needs grow with
		// every input, so fitting is monotone.
		lo, hi := least, cur-1
		for lo < hi {
			mid := lo + (hi-lo+1)/2
			if fitsAt(mid) {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		if r := float64(cur) / float64(lo); best == nil || r > bestRatio {
			best, bestAt, bestRatio = k, lo, r
		}
	}
	return best, bestAt
}
