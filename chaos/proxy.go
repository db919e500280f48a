package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// Errors callers tell apart with errors.Is.
var (
	// ErrUnknownGroup: the client group is not part of the mesh.
	ErrUnknownGroup = errors.New("unknown client group")
	// ErrUnknownNode: the node is not part of the mesh.
	ErrUnknownNode = errors.New("unknown node")
	// ErrClosed: the mesh was closed; its proxies are gone.
	ErrClosed = errors.New("proxy mesh closed")
	// ErrInvalid: the request itself is wrong (negative delay, empty or
	// duplicate name, unknown direction).
	ErrInvalid = errors.New("invalid argument")
)

// Direction says which way through a proxy a fault acts.
type Direction int

// The directions. Upstream is what the client sends (requests), Downstream is
// what the node sends back (replies).
const (
	// Upstream delays or drops requests on their way to the node.
	Upstream Direction = 1 << iota
	// Downstream delays or drops replies on their way to the client.
	Downstream
	// Both acts on requests and replies.
	Both = Upstream | Downstream
)

// String names the direction as toxiproxy's "stream" field does.
func (d Direction) String() string {
	switch d {
	case Upstream:
		return "upstream"
	case Downstream:
		return "downstream"
	case Both:
		return "both"
	default:
		return fmt.Sprintf("Direction(%d)", int(d))
	}
}

// streams splits d into toxiproxy stream names, upstream first.
func (d Direction) streams() ([]string, error) {
	switch d {
	case Upstream:
		return []string{"upstream"}, nil
	case Downstream:
		return []string{"downstream"}, nil
	case Both:
		return []string{"upstream", "downstream"}, nil
	default:
		return nil, fmt.Errorf("direction %v: %w", d, ErrInvalid)
	}
}

// NodeAddr is a node a mesh proxies to.
type NodeAddr struct {
	// Name is the node's stable name (cluster.Node.Name, e.g. "n1").
	Name string
	// Addr is the node's own host:port; only the proxies dial it.
	Addr string
}

// Toxic names. Every proxy serves exactly one (group, node) pair, so a name
// only needs the fault kind and the stream. Fixed names are what make the
// faults idempotent: adding one that exists is detected, not stacked.
const (
	toxicPartition = "lockbench_partition"    // timeout 0, suffixed _upstream / _downstream
	toxicLatency   = "lockbench_latency"      // latency ± jitter, suffixed _upstream / _downstream
	toxicSlowReply = "lockbench_slow_replies" // latency on downstream only
)

// loopbackHost is where proxies listen by default.
const loopbackHost = "127.0.0.1"

// pairKey identifies one proxy.
type pairKey struct{ group, node string }

// pairProxy is the proxy of one (group, node) pair.
type pairProxy struct {
	// mu serialises faults on this pair: ResetConnections stops and starts
	// the proxy and must not interleave with another reset or a toxic change.
	mu    sync.Mutex
	proxy *toxiproxy.Proxy
	// addr is the listening address, fixed at start. Kept here rather than
	// read from proxy.Listen, which toxiproxy rewrites on every start.
	addr string
	// label names the pair in error messages.
	label string
}

// Mesh is the set of proxies between every client group and every node. The
// zero value is not usable; build one with NewMesh. All methods are safe for
// concurrent use.
type Mesh struct {
	groups []string
	nodes  []string
	// pairs is filled by NewMesh and never changed after, so lookups need no
	// lock.
	pairs map[pairKey]*pairProxy

	// mu is held for reading by every fault and for writing by Close, so
	// Close waits for faults in progress and no fault restarts a proxy after
	// Close stopped it.
	mu     sync.RWMutex
	closed bool
}

// NewMesh starts one proxy for every (group, node) pair, each on its own
// 127.0.0.1 port chosen by the kernel. Loopback only: the proxies pass Redis
// traffic unauthenticated and must not be reachable from the network. On
// error every proxy already started is stopped again.
func NewMesh(ctx context.Context, groups []string, nodes []NodeAddr) (*Mesh, error) {
	return NewMeshOn(ctx, loopbackHost, groups, nodes)
}

// NewMeshOn is NewMesh with the proxies listening on host instead of
// loopback: the address agents on other hosts reach this one at (a
// controller pod's IP), so that their traffic goes through the faults.
// Anyone who reaches that address reaches the nodes through the proxies:
// give a host only the agents' network reaches.
func NewMeshOn(ctx context.Context, host string, groups []string, nodes []NodeAddr) (*Mesh, error) {
	if err := checkNames("client group", groups); err != nil {
		return nil, err
	}
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
		if n.Addr == "" {
			return nil, fmt.Errorf("chaos: node %q has no address: %w", n.Name, ErrInvalid)
		}
	}
	if err := checkNames("node", names); err != nil {
		return nil, err
	}

	// One toxiproxy server per mesh only carries the logger and the metrics
	// container; it never listens. Metrics stay off (nil collectors), the
	// registry is private, so nothing global is touched.
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	m := &Mesh{
		groups: append([]string(nil), groups...),
		nodes:  names,
		pairs:  make(map[pairKey]*pairProxy, len(groups)*len(nodes)),
	}
	for _, g := range groups {
		for _, n := range nodes {
			if err := ctx.Err(); err != nil {
				m.Close()
				return nil, fmt.Errorf("chaos: start proxies: %w", err)
			}
			label := g + "->" + n.Name
			p := toxiproxy.NewProxy(server, label, net.JoinHostPort(host, "0"), n.Addr)
			if err := p.Start(); err != nil {
				m.Close()
				return nil, fmt.Errorf("chaos: start proxy %s: %w", label, err)
			}
			m.pairs[pairKey{g, n.Name}] = &pairProxy{proxy: p, addr: listenAddr(p), label: label}
		}
	}
	return m, nil
}

// checkNames refuses empty and duplicate names: both would make Addr and the
// faults ambiguous.
func checkNames(what string, names []string) error {
	if len(names) == 0 {
		return fmt.Errorf("chaos: no %ss: %w", what, ErrInvalid)
	}
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if n == "" || strings.TrimSpace(n) != n {
			return fmt.Errorf("chaos: %s name %q is empty or padded: %w", what, n, ErrInvalid)
		}
		if seen[n] {
			return fmt.Errorf("chaos: %s %q given twice: %w", what, n, ErrInvalid)
		}
		seen[n] = true
	}
	return nil
}

// listenAddr reads the address toxiproxy bound. Start has returned, so the
// write happened before; the proxy's lock makes that visible to the race
// detector too.
func listenAddr(p *toxiproxy.Proxy) string {
	p.Lock()
	defer p.Unlock()
	return p.Listen
}

// Groups returns the client groups in the order NewMesh got them.
func (m *Mesh) Groups() []string { return append([]string(nil), m.groups...) }

// Nodes returns the node names in the order NewMesh got them.
func (m *Mesh) Nodes() []string { return append([]string(nil), m.nodes...) }

// Addr is the address a client of group uses to reach node, or "" when the
// mesh has no such pair. It stays the same for the mesh's whole life, across
// ResetConnections too, so clients can be built once.
func (m *Mesh) Addr(group, node string) string {
	if p, ok := m.pairs[pairKey{group, node}]; ok {
		return p.addr
	}
	return ""
}

// Addrs returns group's addresses for every node, in node order: what a
// multi-node strategy such as Redlock is configured with.
func (m *Mesh) Addrs(group string) ([]string, error) {
	out := make([]string, len(m.nodes))
	for i, n := range m.nodes {
		p, err := m.pair(group, n)
		if err != nil {
			return nil, fmt.Errorf("chaos: addresses: %w", err)
		}
		out[i] = p.addr
	}
	return out, nil
}

// pair finds the proxy of (group, node), telling which name is unknown.
func (m *Mesh) pair(group, node string) (*pairProxy, error) {
	if p, ok := m.pairs[pairKey{group, node}]; ok {
		return p, nil
	}
	if !contains(m.groups, group) {
		return nil, fmt.Errorf("client group %q: %w", group, ErrUnknownGroup)
	}
	return nil, fmt.Errorf("node %q: %w", node, ErrUnknownNode)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// apply runs f on each of the given pairs in order. Every name is checked
// before anything changes, so a typo never leaves a fault half applied. ctx
// is checked before each pair; toxiproxy's own calls cannot be interrupted,
// but each finishes in microseconds unless a link is wedged.
func (m *Mesh) apply(ctx context.Context, what string, keys []pairKey, f func(ctx context.Context, p *pairProxy) error) error {
	ps := make([]*pairProxy, len(keys))
	for i, k := range keys {
		p, err := m.pair(k.group, k.node)
		if err != nil {
			return fmt.Errorf("chaos: %s: %w", what, err)
		}
		ps[i] = p
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return fmt.Errorf("chaos: %s: %w", what, ErrClosed)
	}
	for _, p := range ps {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("chaos: %s on %s: %w", what, p.label, err)
		}
		p.mu.Lock()
		err := f(ctx, p)
		p.mu.Unlock()
		if err != nil {
			return fmt.Errorf("chaos: %s on %s: %w", what, p.label, err)
		}
	}
	return nil
}

// one is the key list of a single pair.
func one(group, node string) []pairKey { return []pairKey{{group, node}} }

// toxicSpec is the JSON toxiproxy's AddToxicJson reads. Going through JSON is
// the only public way to build a toxic with its attributes.
type toxicSpec struct {
	Name       string  `json:"name"`
	Type       string  `json:"type"`
	Stream     string  `json:"stream"`
	Toxicity   float32 `json:"toxicity"`
	Attributes any     `json:"attributes"`
}

// addToxic adds a toxic with toxicity 1 (see the package doc for why never
// less). ifAbsent makes an existing toxic of that name a success, for faults
// that are states (a partition is either there or not).
func (p *pairProxy) addToxic(name, typ, stream string, attrs any, ifAbsent bool) error {
	body, err := json.Marshal(toxicSpec{Name: name, Type: typ, Stream: stream, Toxicity: 1, Attributes: attrs})
	if err != nil {
		return err
	}
	_, err = p.proxy.Toxics.AddToxicJson(bytes.NewReader(body))
	if ifAbsent && errors.Is(err, toxiproxy.ErrToxicAlreadyExists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("add toxic %s: %w", name, err)
	}
	return nil
}

// removeToxic removes a toxic; one that is not there is already removed.
func (p *pairProxy) removeToxic(ctx context.Context, name string) error {
	err := p.proxy.Toxics.RemoveToxic(ctx, name)
	if err != nil && !errors.Is(err, toxiproxy.ErrToxicNotFound) {
		return fmt.Errorf("remove toxic %s: %w", name, err)
	}
	return nil
}

// millis converts d to toxiproxy's whole milliseconds, rounding up so that a
// fault is never weaker than asked.
func millis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// latencyAttrs are the latency toxic's attributes.
type latencyAttrs struct {
	Latency int64 `json:"latency"`
	Jitter  int64 `json:"jitter"`
}

// AddLatency delays traffic between group and node by latency ± jitter
// (uniform) in each direction dir names; with Both a round trip grows by
// about twice latency. It replaces latency this pair already has in those
// directions rather than stacking on it, so a schedule can change the delay
// by calling it again. It acts on open connections at once. jitter must not
// exceed latency: toxiproxy would clamp the negative delays to zero and skew
// the distribution.
func (m *Mesh) AddLatency(ctx context.Context, group, node string, latency, jitter time.Duration, dir Direction) error {
	streams, err := dir.streams()
	if err != nil {
		return fmt.Errorf("chaos: add latency: %w", err)
	}
	if latency <= 0 || jitter < 0 || jitter > latency {
		return fmt.Errorf("chaos: add latency %v ± %v: need 0 < latency and 0 <= jitter <= latency: %w", latency, jitter, ErrInvalid)
	}
	attrs := latencyAttrs{Latency: millis(latency), Jitter: millis(jitter)}
	return m.apply(ctx, "add latency", one(group, node), func(ctx context.Context, p *pairProxy) error {
		for _, s := range streams {
			name := toxicLatency + "_" + s
			// Replace by remove-then-add: toxiproxy's in-place update writes
			// the attributes while the toxic's goroutines read them.
			if err := p.removeToxic(ctx, name); err != nil {
				return err
			}
			if err := p.addToxic(name, "latency", s, attrs, false); err != nil {
				return err
			}
		}
		return nil
	})
}

// RemoveLatency removes the latency AddLatency added between group and node,
// in both directions. Data the delay holds back is delivered, not dropped.
// Removing latency that is not there is not an error.
func (m *Mesh) RemoveLatency(ctx context.Context, group, node string) error {
	return m.apply(ctx, "remove latency", one(group, node), func(ctx context.Context, p *pairProxy) error {
		for _, s := range []string{"upstream", "downstream"} {
			if err := p.removeToxic(ctx, toxicLatency+"_"+s); err != nil {
				return err
			}
		}
		return nil
	})
}

// SlowReplies delays the node's replies to group by delay, leaving requests
// alone: the node executes a command at once and the client hears about it
// late. With delay above a lock's TTL a client acquires a lock that has
// already expired when it learns so (DESIGN §6). It is a separate toxic from
// AddLatency's, so the two add up; calling it again replaces the delay.
func (m *Mesh) SlowReplies(ctx context.Context, group, node string, delay time.Duration) error {
	if delay <= 0 {
		return fmt.Errorf("chaos: slow replies by %v: %w", delay, ErrInvalid)
	}
	attrs := latencyAttrs{Latency: millis(delay)}
	return m.apply(ctx, "slow replies", one(group, node), func(ctx context.Context, p *pairProxy) error {
		if err := p.removeToxic(ctx, toxicSlowReply); err != nil {
			return err
		}
		return p.addToxic(toxicSlowReply, "latency", "downstream", attrs, false)
	})
}

// RemoveSlowReplies ends SlowReplies between group and node. Replies already
// held back are delivered. Not an error when there is nothing to remove.
func (m *Mesh) RemoveSlowReplies(ctx context.Context, group, node string) error {
	return m.apply(ctx, "remove slow replies", one(group, node), func(ctx context.Context, p *pairProxy) error {
		return p.removeToxic(ctx, toxicSlowReply)
	})
}

// timeoutAttrs are the timeout toxic's attributes; 0 means drop everything
// and never close.
type timeoutAttrs struct {
	Timeout int64 `json:"timeout"`
}

// partition cuts p in both directions. Both toxics drop data and keep the
// connection open, like a network that silently loses packets: commands
// already sent and new ones vanish, and clients only learn from their own
// timeouts. Refusing or resetting connections instead would tell clients at
// once, which no real partition does. New connections are still accepted
// and bridged to the node, then hear nothing: a client's dial succeeds and
// its handshake times out.
func (p *pairProxy) partition() error {
	// Replies first, so that nothing answered after the cut gets through.
	for _, s := range []string{"downstream", "upstream"} {
		if err := p.addToxic(toxicPartition+"_"+s, "timeout", s, timeoutAttrs{Timeout: 0}, true); err != nil {
			return err
		}
	}
	return nil
}

func (p *pairProxy) heal(ctx context.Context) error {
	for _, s := range []string{"upstream", "downstream"} {
		if err := p.removeToxic(ctx, toxicPartition+"_"+s); err != nil {
			return err
		}
	}
	return nil
}

// Partition cuts group off node in both directions: requests in flight and
// new ones are dropped silently and clients time out. It acts on open
// connections at once. Partitioning a pair that is already partitioned does
// nothing, so overlapping schedule entries are harmless.
func (m *Mesh) Partition(ctx context.Context, group, node string) error {
	return m.apply(ctx, "partition", one(group, node), func(_ context.Context, p *pairProxy) error {
		return p.partition()
	})
}

// Heal ends a partition between group and node. Every connection that was
// open during the partition is closed (toxiproxy closes a link when its
// timeout toxic is removed), so clients reconnect; data dropped during the
// partition stays lost. Healing a pair that is not partitioned does nothing.
func (m *Mesh) Heal(ctx context.Context, group, node string) error {
	return m.apply(ctx, "heal", one(group, node), func(ctx context.Context, p *pairProxy) error {
		return p.heal(ctx)
	})
}

// PartitionNode cuts node off from every client group: the node is up but
// nobody reaches it. On error some groups may already be cut; HealNode or
// ClearAll undoes it.
func (m *Mesh) PartitionNode(ctx context.Context, node string) error {
	return m.apply(ctx, "partition node", m.nodeKeys(node), func(_ context.Context, p *pairProxy) error {
		return p.partition()
	})
}

// HealNode ends every group's partition from node.
func (m *Mesh) HealNode(ctx context.Context, node string) error {
	return m.apply(ctx, "heal node", m.nodeKeys(node), func(ctx context.Context, p *pairProxy) error {
		return p.heal(ctx)
	})
}

// PartitionGroup cuts group off each of nodes; pass Nodes() to isolate the
// group completely. An empty list does nothing rather than meaning "all", so
// that an empty computed minority never isolates a group by accident.
func (m *Mesh) PartitionGroup(ctx context.Context, group string, nodes []string) error {
	return m.apply(ctx, "partition group", groupKeys(group, nodes), func(_ context.Context, p *pairProxy) error {
		return p.partition()
	})
}

// HealGroup ends group's partition from each of nodes.
func (m *Mesh) HealGroup(ctx context.Context, group string, nodes []string) error {
	return m.apply(ctx, "heal group", groupKeys(group, nodes), func(ctx context.Context, p *pairProxy) error {
		return p.heal(ctx)
	})
}

// nodeKeys are the pairs of node with every group. An unknown node still
// yields keys so that apply reports it.
func (m *Mesh) nodeKeys(node string) []pairKey {
	keys := make([]pairKey, len(m.groups))
	for i, g := range m.groups {
		keys[i] = pairKey{g, node}
	}
	return keys
}

func groupKeys(group string, nodes []string) []pairKey {
	keys := make([]pairKey, len(nodes))
	for i, n := range nodes {
		keys[i] = pairKey{group, n}
	}
	return keys
}

// ResetConnections closes every connection between group and node, as a
// node or middlebox dropping its connection table would. The proxy is
// stopped and started again on the same port, so Addr stays valid; a client
// dialling in the sub-millisecond gap is refused. toxiproxy closes with a
// FIN, not an RST, so a command in flight fails with EOF; an idle pooled
// connection is usually noticed and replaced by go-redis's pool health check
// before it is used, so the next command succeeds. Toxics on the pair stay in force for the new
// connections.
func (m *Mesh) ResetConnections(ctx context.Context, group, node string) error {
	return m.apply(ctx, "reset connections", one(group, node), func(_ context.Context, p *pairProxy) error {
		p.proxy.Stop()
		if err := p.proxy.Start(); err != nil {
			return fmt.Errorf("restart proxy on %s: %w", p.addr, err)
		}
		if got := listenAddr(p.proxy); got != p.addr {
			// Cannot happen while toxiproxy listens on the Listen it was
			// given; checked because clients would silently lose the node.
			p.proxy.Stop()
			return fmt.Errorf("proxy came back on %s instead of %s", got, p.addr)
		}
		return nil
	})
}

// Clear removes every fault between group and node: partition, latency and
// slow replies. Like Heal it closes connections that were partitioned.
func (m *Mesh) Clear(ctx context.Context, group, node string) error {
	return m.apply(ctx, "clear", one(group, node), func(ctx context.Context, p *pairProxy) error {
		p.proxy.Toxics.ResetToxics(ctx)
		return nil
	})
}

// ClearAll removes every fault on every pair: the network is healthy again.
func (m *Mesh) ClearAll(ctx context.Context) error {
	keys := make([]pairKey, 0, len(m.pairs))
	for _, g := range m.groups {
		for _, n := range m.nodes {
			keys = append(keys, pairKey{g, n})
		}
	}
	return m.apply(ctx, "clear all", keys, func(ctx context.Context, p *pairProxy) error {
		p.proxy.Toxics.ResetToxics(ctx)
		return nil
	})
}

// Close stops every proxy and closes every connection through the mesh; the
// addresses stop accepting at once. It waits for faults in progress. Later
// faults fail with ErrClosed. Safe to call more than once; the error is
// always nil and exists so a Mesh is an io.Closer.
func (m *Mesh) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	for _, p := range m.pairs {
		p.mu.Lock()
		p.proxy.Stop()
		p.mu.Unlock()
	}
	return nil
}
