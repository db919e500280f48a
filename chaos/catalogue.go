package chaos

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/lockbench/lockbench/cluster"
)

// ErrUnknownFault: a schedule names a fault that is not in the catalogue.
var ErrUnknownFault = errors.New("unknown fault")

// The sides a fault acts on (FaultKind.Side).
const (
	// SideNetwork faults act in the proxies between client groups and nodes.
	SideNetwork = "network"
	// SideNode faults act on a node's process (kill, pause, clock).
	SideNode = "node"
	// SideClient faults act in a worker (pause, crash) or in its lock
	// strategy (a cut between two commands).
	SideClient = "client"
	// SideResource faults act in the proxies in front of the protected
	// resource.
	SideResource = "resource"
)

// The fault names of the catalogue, in documentation order.
const (
	FaultLatency             = "latency"
	FaultJitter              = "jitter"
	FaultSlowReplies         = "slow-replies"
	FaultPartitionNode       = "partition-node"
	FaultPartitionMinority   = "partition-minority"
	FaultPartitionMajority   = "partition-majority"
	FaultPartitionAsymmetric = "partition-asymmetric"
	FaultFlapping            = "flapping"
	FaultKillRestart         = "kill-restart"
	FaultKillDelayedRestart  = "kill-delayed-restart"
	FaultPauseNode           = "pause-node"
	FaultClockJump           = "clock-jump"
	FaultClockFast           = "clock-fast"
	FaultClientPause         = "client-pause"
	FaultClientCrash         = "client-crash"
	FaultCutBetween          = "cut-between-commands"
	FaultDelayedWrite        = "delayed-write"
)

// FaultKind describes one fault of the catalogue (DESIGN §6): what bench
// list faults prints and what Schedule.Validate checks a step against.
type FaultKind struct {
	// Name is what schedules and --faults use.
	Name string
	// Description is one line on what the fault does.
	Description string
	// Params lists the step fields the fault honours and their defaults.
	Params string
	// Needs are the kinds of process control the fault needs from the
	// cluster provider; none for network, resource and client faults.
	Needs []cluster.Capability
	// Side is where the fault acts: SideNetwork, SideNode, SideClient or
	// SideResource.
	Side string
}

// UsesMesh reports whether the fault acts through the proxies between the
// client groups and the lock nodes (Target.Mesh): every network fault, and
// cut-between-commands, whose hook partitions a client group through them.
// A cell none of whose faults does reaches the lock nodes directly and pays
// nothing for proxies it would never use.
func (k FaultKind) UsesMesh() bool {
	return k.Side == SideNetwork || k.Name == FaultCutBetween
}

// Providers names the providers that can inject the fault, in the order
// exec, docker, external.
func (k FaultKind) Providers() []string {
	var out []string
	for _, p := range providerCaps() {
		if hasAll(p.caps, k.Needs) {
			out = append(out, p.name)
		}
	}
	return out
}

// providerCap is one provider and the process control it offers.
type providerCap struct {
	name string
	caps []cluster.Capability
}

// providerCaps asks every provider for its capabilities. The constructors
// start nothing, so cluster stays the one place that knows them.
func providerCaps() []providerCap {
	return []providerCap{
		{cluster.ProviderExec, cluster.NewExec(cluster.ExecOptions{}).Caps()},
		{cluster.ProviderDocker, cluster.NewDocker(cluster.DockerOptions{}).Caps()},
		{cluster.ProviderExternal, cluster.NewExternal(cluster.ExternalOptions{}).Caps()},
	}
}

// providersWith names the providers offering c, joined as cluster's own
// messages join them ("exec or docker").
func providersWith(c cluster.Capability) string {
	var names []string
	for _, p := range providerCaps() {
		if slices.Contains(p.caps, c) {
			names = append(names, p.name)
		}
	}
	return strings.Join(names, " or ")
}

// hasAll reports whether have contains every capability of need.
func hasAll(have, need []cluster.Capability) bool {
	for _, c := range need {
		if !slices.Contains(have, c) {
			return false
		}
	}
	return true
}

// Catalogue returns every fault lockbench can inject, in documentation
// order. Each call returns a fresh slice.
func Catalogue() []FaultKind {
	kill := []cluster.Capability{cluster.CapKill}
	pause := []cluster.Capability{cluster.CapPause}
	clock := []cluster.Capability{cluster.CapClock}
	return []FaultKind{
		{
			Name:        FaultLatency,
			Description: "delay traffic between clients and nodes, one way in each direction",
			Params:      "latency (default TTL/10), nodes|targets (default all), groups (default all), duration (default 3×TTL)",
			Side:        SideNetwork,
		},
		{
			Name:        FaultJitter,
			Description: "delay traffic by latency ± jitter, uniformly drawn per chunk",
			Params:      "latency (default TTL/10), jitter (default = latency), nodes|targets (default all), groups, duration (default 3×TTL)",
			Side:        SideNetwork,
		},
		{
			Name:        FaultSlowReplies,
			Description: "delay only the replies, longer than the TTL: commands run at once, clients hear late",
			Params:      "latency = reply delay (default 2×TTL), nodes|targets (default all), groups, duration (default 3×TTL)",
			Side:        SideNetwork,
		},
		{
			Name:        FaultPartitionNode,
			Description: "cut nodes off from the client groups in both directions; packets are dropped silently",
			Params:      "nodes (default 1) or targets, groups (default all), duration (default 3×TTL)",
			Side:        SideNetwork,
		},
		{
			Name:        FaultPartitionMinority,
			Description: "cut (N−1)/2 nodes off from every client: a Redlock quorum stays reachable",
			Params:      "groups (default all), duration (default 3×TTL); needs N ≥ 3",
			Side:        SideNetwork,
		},
		{
			Name:        FaultPartitionMajority,
			Description: "cut N/2+1 nodes off from every client: no Redlock quorum is reachable",
			Params:      "groups (default all), duration (default 3×TTL)",
			Side:        SideNetwork,
		},
		{
			Name:        FaultPartitionAsymmetric,
			Description: "client group A is cut from some nodes, group B from others; each reaches a majority and the majorities overlap",
			Params:      "cuts {group: [nodes]} (default Kleppmann's: A cut from the top N−(N/2+1) nodes, B from the bottom ones; further groups alternate), duration (default 3×TTL); needs N ≥ 3 and 2 groups",
			Side:        SideNetwork,
		},
		{
			Name:        FaultFlapping,
			Description: "partition the same nodes on and off again and again",
			Params:      "nodes (default 1) or targets, groups, duration = time cut (default TTL), every = period (default 2×duration), repeat (default 10)",
			Side:        SideNetwork,
		},
		{
			Name:        FaultKillRestart,
			Description: "kill -9 a node and start it again at once; what it keeps depends on the persistence mode",
			Params:      "nodes (default 1) or targets; schedule persistence: none | aof-everysec | aof-always",
			Needs:       kill,
			Side:        SideNode,
		},
		{
			Name:        FaultKillDelayedRestart,
			Description: "kill -9 a node and keep it down for longer than the TTL before starting it (redis.io's delayed restart)",
			Params:      "nodes (default 1) or targets, duration = downtime (default 2×TTL); schedule persistence",
			Needs:       kill,
			Side:        SideNode,
		},
		{
			Name:        FaultPauseNode,
			Description: "freeze a node's process (SIGSTOP / docker pause): connections stay open, nothing is answered",
			Params:      "nodes (default 1) or targets, duration (default 3×TTL)",
			Needs:       pause,
			Side:        SideNode,
		},
		{
			Name:        FaultClockJump,
			Description: "a node's wall clock jumps forward past the TTL, so its keys expire early",
			Params:      "offset (default 2×TTL), nodes (default 1) or targets (\"shared\" = the nodes both sides of the default asymmetric partition reach), duration (default: until the end of the cell; when given, the clock jumps back to real time at the end)",
			Needs:       clock,
			Side:        SideNode,
		},
		{
			Name:        FaultClockFast,
			Description: "a node's wall clock runs fast, so its keys expire early",
			Params:      "rate (default 2), nodes (default 1) or targets, duration (default 3×TTL; the clock is set back to real time at the end)",
			Needs:       clock,
			Side:        SideNode,
		},
		{
			Name:        FaultClientPause,
			Description: "a worker pauses (a stop-the-world GC) between reading the resource and writing it, longer than the TTL",
			Params:      "worker (default 0, −1 = drawn with the seed), duration = pause (default 3×TTL)",
			Side:        SideClient,
		},
		{
			Name:        FaultClientCrash,
			Description: "a worker crashes right after its next acquire, abandoning the lease, and comes back as a new process",
			Params:      "worker (default 0, −1 = drawn with the seed)",
			Side:        SideClient,
		},
		{
			Name:        FaultCutBetween,
			Description: "when a worker's setnx-expire acquire is between SETNX and EXPIRE, its client group is cut off node n1: EXPIRE and the release are lost and the key never expires",
			Params:      "worker (default 0, −1 = drawn with the seed), duration = from arming until the cut heals (default 3×TTL); only setnx-expire has the two commands",
			Side:        SideClient,
		},
		{
			Name:        FaultDelayedWrite,
			Description: "requests to the protected resource are held in its proxy until the lease has expired",
			Params:      "latency (default 2×TTL), groups (default all), duration (default 3×TTL); needs the resource reached through a proxy",
			Side:        SideResource,
		},
	}
}

// FaultNames returns the catalogue's names in documentation order.
func FaultNames() []string {
	all := Catalogue()
	names := make([]string, len(all))
	for i, k := range all {
		names[i] = k.Name
	}
	return names
}

// LookupFault returns the catalogue entry called name. An unknown name is
// an error wrapping ErrUnknownFault that lists the known ones.
func LookupFault(name string) (FaultKind, error) {
	for _, k := range Catalogue() {
		if k.Name == name {
			return k, nil
		}
	}
	return FaultKind{}, fmt.Errorf("fault %q (known: %s): %w", name, strings.Join(FaultNames(), ", "), ErrUnknownFault)
}
