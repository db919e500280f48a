package chaos

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lockbench/lockbench/cluster"
)

// ErrUnknownPreset: no preset schedule has that name.
var ErrUnknownPreset = errors.New("unknown fault preset")

// The sources the presets cite.
const (
	sourceKleppmann = "Martin Kleppmann, \"How to do distributed locking\", 8 Feb 2016, https://martin.kleppmann.com/2016/02/08/how-to-do-distributed-locking.html"
	sourceRedisIO   = "redis.io, \"Distributed Locks with Redis\", https://redis.io/docs/latest/develop/clients/patterns/distributed-locks/"
	sourceJepsen    = "Jepsen, jepsen.nemesis (https://github.com/jepsen-io/jepsen)"
	sourceRedisSET  = "redis.io, SET command, \"Patterns\", https://redis.io/docs/latest/commands/set/"
	// sourceRedisFailover is the failover hazard of single-instance locks.
	sourceRedisFailover = sourceRedisIO + ", section \"Why Failover-based Implementations Are Not Enough\"; Kyle Kingsbury, \"Jepsen: Redis\" (2013), https://aphyr.com/posts/283-jepsen-redis"
	sourceRedisson5256  = "redisson/redisson#5256 (WAIT acknowledged by one replica, another promoted), https://github.com/redisson/redisson/issues/5256"
)

// presetStart is when a preset's first fault starts: after the clients have
// warmed up and taken the lock a few times.
const presetStart = time.Second

// Presets returns the named fault schedules, in documentation order: none,
// the scenarios from the literature, then one schedule per catalogue fault
// under the fault's own name (so --faults latency works) with the fault's
// default parameters. Times in presets are absolute; durations left at zero
// follow the cell's TTL. Each call returns fresh values.
func Presets() []Schedule {
	out := []Schedule{
		{
			Name:        "none",
			Description: "No faults: the baseline every other schedule is compared against.",
		},
		{
			Name: "kleppmann-client-pause",
			Description: "A client takes the lock, reads the resource, then stops for a long GC pause " +
				"(3×TTL) before writing. Its lease expires during the pause, another client takes the lock " +
				"and writes, and the paused client wakes up believing it still holds the lock and writes " +
				"too: a lost update. No lock service can prevent it; only fencing tokens checked by the " +
				"resource can.",
			Source: sourceKleppmann + ", section \"Protecting a resource with a lock\"",
			Steps: []Step{
				{Fault: FaultClientPause, At: presetStart, Worker: -1, Repeat: 3},
			},
		},
		{
			Name: "kleppmann-clock-jump",
			Description: "Five Redlock nodes; client group A is cut from n4 and n5, group B from n1 and n2, " +
				"so each reaches a majority and they share only n3. While A holds the lock on n1, n2, n3, " +
				"n3's wall clock jumps forward past the TTL and its copy of the key expires; B then locks " +
				"n3, n4, n5 and both believe they hold the lock. Redlock's safety depends on bounded clock " +
				"drift, which a clock jump (an NTP step, an operator) breaks.",
			Source: sourceKleppmann + ", section \"Breaking Redlock with bad timings\"",
			Steps: []Step{
				{Fault: FaultPartitionAsymmetric, At: presetStart / 2, Duration: UntilEnd},
				{Fault: FaultClockJump, At: presetStart, Targets: []string{SharedNodes}, Duration: 2 * time.Second, Every: 3 * time.Second, Repeat: -1},
			},
		},
		{
			Name: "redis-restart-no-fsync",
			Description: "Nodes run without persistence. Under the asymmetric partition a client holds the " +
				"lock on a bare majority (n1, n2, n3 of five); the shared node n3 is killed and restarts " +
				"empty, and a client of the other group locks n3, n4, n5: two holders. n1, the node " +
				"single-instance locks use, is restarted too and loses their lock outright.",
			Source:      sourceRedisIO + ", section \"Performance, Crash Recovery and fsync\"",
			Persistence: cluster.PersistNone,
			Steps:       restartSteps(FaultKillRestart),
		},
		{
			Name: "redis-delayed-restart",
			Description: "The remedy redis.io gives for restarts without persistence: a crashed node stays " +
				"down for longer than the maximum TTL (2×TTL here) before it rejoins, so every lock it " +
				"knew about has expired everywhere by the time it forgets it. Same faults as " +
				"redis-restart-no-fsync otherwise; Redlock should stay safe.",
			Source:      sourceRedisIO + ", section \"Performance, Crash Recovery and fsync\" (delayed restarts)",
			Persistence: cluster.PersistNone,
			Steps:       restartSteps(FaultKillDelayedRestart),
		},
		{
			Name: "redis-restart-aof-always",
			Description: "The other remedy: the same restarts as redis-restart-no-fsync, with the append-only " +
				"file fsynced before every reply, so a restarted node comes back with its locks. (A process " +
				"kill, unlike a power loss, also keeps aof-everysec's unsynced tail, which is in the kernel.)",
			Source:      sourceRedisIO + ", section \"Performance, Crash Recovery and fsync\" (fsync=always)",
			Persistence: cluster.PersistAOFAlways,
			Steps:       restartSteps(FaultKillRestart),
		},
		{
			Name: "failover-after-replication-cut",
			Description: "A primary with replicas (sentinel or cluster topology). From 1 s no replica can sync; the " +
				"primary keeps granting locks that exist nowhere else. At 3 s a replica is promoted (SENTINEL " +
				"FAILOVER, or CLUSTER FAILOVER FORCE on the lock key's shard): it lacks every lock granted since " +
				"the cut, so a client reaching the new primary is granted a lock another client still holds, " +
				"and fences from INCR there can go back. Only WAIT-based strategies refuse grants no replica " +
				"has. (Sentinel switches its clients over once its failover timeout, 3 s, gives up on the cut " +
				"replicas.)",
			Source: sourceRedisFailover,
			Steps: []Step{
				{Fault: FaultReplicationCut, At: presetStart, Duration: UntilEnd},
				// Two seconds apart: a lock held at the switch-over was
				// then granted after the cut, for TTLs up to 2 s.
				{Fault: FaultFailover, At: 3 * presetStart},
			},
		},
		{
			Name: "failover-after-replica-cut",
			Description: "Sentinel topology. From 1 s only n2, the replica Sentinel promotes first, cannot sync; " +
				"n3 keeps up, so WAIT 1 is acknowledged (by n3) and token-wait grants. At 3 s n2 is " +
				"promoted: it lacks the locks granted since the cut, which WAIT had vouched for. WAIT says " +
				"some replica has the write, not that the promoted one does. (A lock granted before n3 " +
				"follows n2 and held until the clients switch over is granted again.)",
			Source: sourceRedisson5256,
			Steps: []Step{
				{Fault: FaultReplicationCut, At: presetStart, Targets: []string{"n2"}, Duration: UntilEnd},
				{Fault: FaultFailover, At: 3 * presetStart},
			},
		},
		{
			Name: FaultPartitionMinority,
			Description: "A minority of the nodes ((N−1)/2) is cut off from every client for 3×TTL. Redlock " +
				"must keep working on the majority it still reaches; single-instance locks whose node is " +
				"cut off stop until the partition heals.",
			Source: sourceRedisIO + ", section \"Safety and Liveness Guarantees\" (liveness B: progress while a majority is up); " + sourceJepsen + " partition-random-halves",
			Steps:  []Step{{Fault: FaultPartitionMinority, At: presetStart}},
		},
		{
			Name: FaultPartitionMajority,
			Description: "A majority of the nodes (N/2+1) is cut off from every client for 3×TTL. No Redlock " +
				"quorum is reachable: acquires must fail (safely) until the partition heals, and succeed " +
				"again after.",
			Source: sourceRedisIO + ", section \"Safety and Liveness Guarantees\"; " + sourceJepsen + " partition-random-halves",
			Steps:  []Step{{Fault: FaultPartitionMajority, At: presetStart}},
		},
	}
	seen := map[string]bool{}
	for _, p := range out {
		seen[p.Name] = true
	}
	for _, k := range Catalogue() {
		if seen[k.Name] {
			continue
		}
		out = append(out, Schedule{
			Name:        k.Name,
			Description: "The single fault " + k.Name + " with its default parameters, from 1 s into the cell: " + k.Description + ".",
			Source:      k.Source,
			Steps:       []Step{{Fault: k.Name, At: presetStart}},
		})
	}
	return out
}

// restartSteps are the restart scenarios: the asymmetric partition from
// the preset start to the end of the cell, the shared node and n1 restarted
// again and again from a quarter and three quarters of a second later (so
// a 2 s cell still sees both). The first second is free of
// faults, so that liveness can be assessed there.
func restartSteps(fault string) []Step {
	return []Step{
		{Fault: FaultPartitionAsymmetric, At: presetStart, Duration: UntilEnd},
		{Fault: fault, At: presetStart + presetStart/4, Targets: []string{SharedNodes}, Repeat: -1},
		{Fault: fault, At: presetStart + 3*presetStart/4, Targets: []string{"n1"}, Repeat: -1},
	}
}

// PresetNames returns the presets' names in documentation order.
func PresetNames() []string {
	all := Presets()
	names := make([]string, len(all))
	for i, p := range all {
		names[i] = p.Name
	}
	return names
}

// LookupPreset returns the preset schedule called name. An unknown name is
// an error wrapping ErrUnknownPreset that lists the known ones.
func LookupPreset(name string) (Schedule, error) {
	for _, p := range Presets() {
		if p.Name == name {
			return p, nil
		}
	}
	return Schedule{}, fmt.Errorf("fault schedule %q (known: %s): %w", name, strings.Join(PresetNames(), ", "), ErrUnknownPreset)
}
