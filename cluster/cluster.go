// Package cluster starts, controls and removes the Redis nodes a run talks to.
//
// Three providers exist (DESIGN §7): exec (redis-server child processes),
// docker (containers through testcontainers-go) and external (addresses the
// user gives). Every provider hands back a Cluster whose nodes listen on
// loopback only; Close removes every process, container and temp dir the
// provider created.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lockbench/lockbench/endpoint"
)

// Persistence is how a node keeps its data across a kill -9 and restart.
type Persistence string

// The persistence modes of DESIGN §6.
const (
	// PersistNone keeps nothing: a restarted node comes back empty.
	PersistNone Persistence = "none"
	// PersistAOFEverySec appends every write and fsyncs once a second. A
	// process kill keeps what reached the kernel; an OS crash loses up to a
	// second of acknowledged writes.
	PersistAOFEverySec Persistence = "aof-everysec"
	// PersistAOFAlways fsyncs the append-only file before every reply.
	PersistAOFAlways Persistence = "aof-always"
)

// Persistences lists every valid Persistence, in documentation order.
var Persistences = []Persistence{PersistNone, PersistAOFEverySec, PersistAOFAlways}

// ParsePersistence turns a name into a Persistence; "" means none.
func ParsePersistence(s string) (Persistence, error) {
	if s == "" {
		return PersistNone, nil
	}
	for _, p := range Persistences {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown persistence %q (want one of none, aof-everysec, aof-always): %w", s, ErrBadSpec)
}

// redisArgs are the redis-server arguments that select the persistence mode.
// RDB snapshots are always off so that "none" really keeps nothing.
func (p Persistence) redisArgs() []string {
	switch p {
	case PersistAOFEverySec:
		return []string{"--save", "", "--appendonly", "yes", "--appendfsync", "everysec"}
	case PersistAOFAlways:
		return []string{"--save", "", "--appendonly", "yes", "--appendfsync", "always"}
	default:
		return []string{"--save", "", "--appendonly", "no"}
	}
}

// Spec says what nodes to start.
type Spec struct {
	// Nodes is how many independent nodes to start (external: how many of
	// the given addresses to use; 0 means all of them).
	Nodes int
	// Persistence applies to every node.
	Persistence Persistence
	// FakeTime starts exec nodes with the clock shim so that SetClock can
	// move their wall clock later. Refused by the other providers.
	FakeTime bool
	// Topology is how the nodes replicate; "" means standalone. For a
	// replicated topology Nodes counts the data nodes (primaries and
	// replicas) and 0 means the topology's default size.
	Topology Topology
}

// Capability is a kind of process control a provider offers.
type Capability string

// The capabilities faults may need.
const (
	CapKill  Capability = "kill"  // kill -9 and restart
	CapPause Capability = "pause" // freeze and thaw the process
	CapClock Capability = "clock" // move or speed up the node's wall clock
)

// Node is one Redis server under the harness's control. Methods a provider
// cannot do return an error wrapping ErrUnsupported that names the providers
// that can.
type Node interface {
	// Name is a short stable name, e.g. "n1".
	Name() string
	// Endpoint is where clients connect; it stays the same across restarts.
	Endpoint() endpoint.Endpoint
	// Kill stops the node with SIGKILL: no shutdown, no final fsync.
	Kill(ctx context.Context) error
	// Start starts a killed node again on the same address with the same
	// data directory; what survives depends on the persistence mode.
	Start(ctx context.Context) error
	// Pause freezes the process (SIGSTOP / docker pause): connections stay
	// open and nothing is answered.
	Pause(ctx context.Context) error
	// Resume thaws a paused node.
	Resume(ctx context.Context) error
	// SetClock moves the node's wall clock: offset from the real time and a
	// rate (1 = normal speed). The monotonic clock is left alone, as NTP
	// would leave it.
	SetClock(ctx context.Context, offset time.Duration, rate float64) error
}

// Restart kills n and starts it again after delay (0 = at once). The delay
// respects ctx; the node is started again even when ctx ends during the wait
// so that a cancelled run does not leave it down.
func Restart(ctx context.Context, n Node, delay time.Duration) error {
	if err := n.Kill(ctx); err != nil {
		return err
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	return n.Start(context.WithoutCancel(ctx))
}

// Cluster is a set of started nodes.
type Cluster struct {
	// Provider is the name of the provider that started the nodes.
	Provider string
	// Nodes are the started nodes, named n1, n2, ...
	Nodes []Node
	// Caps are the kinds of process control the nodes support.
	Caps []Capability
	// Topology is how the nodes replicate; "" means standalone, as in
	// Spec (clusters built as literals, e.g. a subset of another's nodes,
	// are standalone).
	Topology Topology
	// Roles are the data nodes' roles as provisioned, parallel to Nodes;
	// nil for standalone. A failover changes the live roles: ask
	// ReplicationInfo for those.
	Roles []Role
	// Sentinels are the Sentinel processes watching the primary (sentinel
	// topology only), named s1, s2, ...; they are not data nodes.
	Sentinels []Node
	// MasterName is the name the Sentinels monitor the primary under
	// (sentinel topology only).
	MasterName string

	// replPass is the password of the replication users (replAuthConf),
	// random per Cluster. It is never put in an error or a log line.
	replPass string
	close    func() error
}

// Addrs returns the nodes' addresses in order.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Endpoint().Addr
	}
	return out
}

// Can reports whether the cluster's nodes support cap.
func (c *Cluster) Can(cap Capability) bool {
	for _, have := range c.Caps {
		if have == cap {
			return true
		}
	}
	return false
}

// Close stops every node and removes everything the provider created. It is
// safe to call more than once.
func (c *Cluster) Close() error {
	if c == nil || c.close == nil {
		return nil
	}
	f := c.close
	c.close = nil
	return f()
}

// Provider names: what --provider, a scenario's provider and Provider.Name
// say.
const (
	// ProviderAuto is no provider but the choice of one (Auto).
	ProviderAuto     = "auto"
	ProviderExec     = "exec"
	ProviderDocker   = "docker"
	ProviderExternal = "external"
)

// ProviderCaps is a provider and the process control its nodes offer.
type ProviderCaps struct {
	Name string
	Caps []Capability
}

// Providers lists every provider with its capabilities, in the order
// exec, docker, external: the one list of them that error messages and
// the command line read. Nothing is started.
func Providers() []ProviderCaps {
	return []ProviderCaps{{ProviderExec, execCaps}, {ProviderDocker, dockerCaps}, {ProviderExternal, externalCaps}}
}

// ProviderChoices says what a provider may be asked for by name:
// "auto, exec, docker or external".
func ProviderChoices() string {
	names := []string{ProviderAuto}
	for _, p := range Providers() {
		names = append(names, p.Name)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Provider starts clusters.
type Provider interface {
	// Name is ProviderExec, ProviderDocker or ProviderExternal.
	Name() string
	// Caps are the kinds of process control the provider offers.
	Caps() []Capability
	// Start starts spec.Nodes nodes. On error nothing is left behind.
	Start(ctx context.Context, spec Spec) (*Cluster, error)
}

// Errors callers tell apart with errors.Is.
var (
	// ErrUnsupported: the provider cannot do this (e.g. kill an external node).
	ErrUnsupported = errors.New("not supported by this provider")
	// ErrUnavailable: the provider cannot run here (no redis-server, no Docker).
	ErrUnavailable = errors.New("provider unavailable")
	// ErrBadSpec: the request itself is wrong (negative node count, unknown mode).
	ErrBadSpec = errors.New("bad cluster spec")
	// ErrFailover: a promotion (Failover, Restore) was refused or did not
	// complete in time.
	ErrFailover = errors.New("failover failed")
)

// ProvidersWith names the providers that offer cap, joined for error
// messages: "exec or docker".
func ProvidersWith(cap Capability) string {
	var names []string
	for _, p := range Providers() {
		if slices.Contains(p.Caps, cap) {
			names = append(names, p.Name)
		}
	}
	return strings.Join(names, " or ")
}

// unsupported builds the error a node returns for a control its provider lacks.
func unsupported(provider string, cap Capability) error {
	return fmt.Errorf("%s on the %s provider: %w; use --provider %s", cap, provider, ErrUnsupported, ProvidersWith(cap))
}

// parallelLimit is how many nodes are started or removed at once. Starting
// a node is mostly waiting (for fork and exec, for the first PONG, for the
// Docker daemon), so a few at a time overlap those waits; hundreds at once
// would only fork faster than the machine can run them, and could not be
// stopped while they did.
const parallelLimit = 8

// eachParallel runs f(0) … f(n-1), at most parallelLimit at a time. Once
// ctx ends no further f is begun (those already running see ctx
// themselves), so an interrupted start stops at once. It returns the first
// error by index, saying how many more there were: one node's reason is
// enough, a thousand copies of it are not.
func eachParallel(ctx context.Context, n int, f func(i int) error) error {
	errs := make([]error, n)
	sem := make(chan struct{}, parallelLimit)
	var wg sync.WaitGroup
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if err := ctx.Err(); err != nil {
			errs[i] = err // the rest were never begun either
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = f(i)
		})
	}
	wg.Wait()
	var first error
	more := 0
	for _, err := range errs {
		switch {
		case err == nil:
		case first == nil:
			first = err
		default:
			more++
		}
	}
	if more > 0 {
		return fmt.Errorf("%w (and %d more errors)", first, more)
	}
	return first
}

// newCluster wraps started nodes.
func newCluster[N Node](provider string, caps []Capability, nodes []N, close func() error) *Cluster {
	c := &Cluster{Provider: provider, Caps: caps, close: close}
	for _, n := range nodes {
		c.Nodes = append(c.Nodes, n)
	}
	return c
}

// validate checks spec for a provider that gives standalone nodes only
// (external): a replicated topology is refused, naming the providers that
// start it.
func (s Spec) validate() error {
	if err := s.validateShared(); err != nil {
		return err
	}
	if t := s.topology(); t != TopoStandalone {
		return fmt.Errorf("topology %s on this provider: %w; use --provider %s", t, ErrUnsupported, strings.Join(t.Providers(), " or "))
	}
	return nil
}

// validateShared checks the parts of spec every provider shares.
func (s Spec) validateShared() error {
	if _, err := ParseTopology(string(s.Topology)); err != nil {
		return err
	}
	if s.Nodes < 0 {
		return fmt.Errorf("node count %d is negative: %w", s.Nodes, ErrBadSpec)
	}
	if _, err := ParsePersistence(string(s.Persistence)); err != nil {
		return err
	}
	return nil
}
