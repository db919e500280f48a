package chaos

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/workloads"
)

// TestLockMeshMatchesHowFaultsApply checks Requirements.LockMesh, which
// decides whether a cell's clients go through the proxies, against what
// the nemesis really does with each preset (every catalogue fault is one).
// Each timeline is carried out action by action, with no waiting, on real
// nodes against a Target whose lock mesh is closed: a closed mesh fails
// every use with ErrClosed, so it tells whether the faults went through
// it. A schedule without LockMesh must run to its end without touching it;
// a schedule with LockMesh must use it; and with no mesh at all the
// nemesis must refuse the latter before anything happens.
func TestLockMeshMatchesHowFaultsApply(t *testing.T) {
	c := startCluster(t, cluster.Spec{Nodes: 5, FakeTime: true})
	res := startCluster(t, cluster.Spec{Nodes: 1})
	groups := GroupNames(2)
	closed := newMesh(t, groups, nodeAddrs(c))
	closed.Close()
	resMesh := newMesh(t, groups, []NodeAddr{{Name: "resource", Addr: res.Nodes[0].Endpoint().Addr}})

	presets := map[string]bool{}
	for _, p := range Presets() {
		presets[p.Name] = true
	}
	for _, k := range Catalogue() {
		if !presets[k.Name] {
			t.Errorf("catalogue fault %s has no preset of its own: this test would not cover it", k.Name)
		}
	}
	ctx := context.Background()
	for _, p := range Presets() {
		t.Run(p.Name, func(t *testing.T) {
			req := p.Requirements()
			if req.Replicated {
				// Failovers need a replicated topology, and none of
				// them acts in the mesh (LockMesh false): the runner's
				// topology tests and the zoo's failover rows run them.
				if req.LockMesh {
					t.Errorf("a replication preset that uses the lock mesh: this test skips it")
				}
				t.Skip("needs the sentinel or cluster topology")
			}
			clients := max(req.MinClients, 2)
			topo := Topology{Nodes: NodeNames(5), Groups: groups, Clients: clients, TTL: testTTL, Duration: 2100 * time.Millisecond}
			tl, err := p.Timeline(1, topo)
			if err != nil {
				t.Fatal(err)
			}
			rec := &events{}
			tg := &Target{Cluster: c, Mesh: closed, ResourceMesh: resMesh, Faults: workloads.NewClientFaults(clients), Record: rec.Record}
			err = carryOut(ctx, tl, tg)
			used := errors.Is(err, ErrClosed)
			switch {
			case req.LockMesh && !used:
				t.Errorf("LockMesh, but the timeline never used the mesh (error %v)", err)
			case !req.LockMesh && err != nil:
				t.Errorf("no LockMesh, but the timeline failed: %v", err)
			case !req.LockMesh && !slices.Equal(rec.nemesis(), expected(tl)):
				t.Errorf("no LockMesh: recorded %q, want every action carried out: %q", rec.nemesis(), expected(tl))
			}

			// Without a mesh, the nemesis refuses a LockMesh timeline up
			// front, and accepts the others.
			bare := &Target{Cluster: c, ResourceMesh: resMesh, Faults: workloads.NewClientFaults(clients), Record: rec.Record}
			if req.LockMesh {
				if err := Run(ctx, tl, bare); !errors.Is(err, ErrInvalid) {
					t.Errorf("LockMesh, and Run without a mesh returned %v; want it refused (ErrInvalid)", err)
				}
			} else if err := bare.check(tl); err != nil {
				t.Errorf("no LockMesh, and the nemesis refuses the timeline without a mesh: %v", err)
			}
		})
	}
}

// carryOut does what Run does, without the waiting: check the timeline,
// carry out each action in order, and play the lock strategy's part of a
// cut between commands (the hook a worker calls between SETNX and EXPIRE)
// right after its start. It returns the first error and heals everything.
func carryOut(ctx context.Context, tl []Action, tg *Target) (err error) {
	defer func() { err = errors.Join(err, HealAll(ctx, tg)) }()
	if err := tg.check(tl); err != nil {
		return err
	}
	for _, a := range tl {
		if err := tg.do(ctx, a); err != nil {
			return err
		}
		if a.Fault == FaultCutBetween && a.Phase == PhaseStart {
			tg.BetweenCommands(workloads.WithWorker(ctx, a.Worker), tg.Mesh.Groups()[0])
		}
	}
	return nil
}
