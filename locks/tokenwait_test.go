package locks_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/endpoint"
	"github.com/lockbench/lockbench/internal/testenv"
	"github.com/lockbench/lockbench/locks"
)

// TestTokenWaitRefusesANodeWithoutReplicas: on a standalone node WAIT 1
// can never be satisfied; the warm-up says so instead of a cell of
// failed acquires.
func TestTokenWaitRefusesANodeWithoutReplicas(t *testing.T) {
	testenv.NeedRedisServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := cluster.NewExec(cluster.ExecOptions{}).Start(ctx, cluster.Spec{Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := locks.Lookup("token-wait")
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.New(locks.Config{Nodes: []endpoint.Endpoint{c.Nodes[0].Endpoint()}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	err = l.(locks.Warmer).Warm(ctx)
	if !errors.Is(err, locks.ErrBadConfig) || !strings.Contains(err.Error(), "0 replica(s) connected") {
		t.Errorf("warm-up on a node without replicas: %v, want ErrBadConfig naming 0 replicas", err)
	}
}

// TestTokenWaitUndoesWhatNoReplicaAcknowledged: with the replica frozen,
// WAIT gets no acknowledgement within the per-node timeout; the acquire
// is not obtained and the key is gone from the primary again. Thawed, the
// next acquire succeeds.
func TestTokenWaitUndoesWhatNoReplicaAcknowledged(t *testing.T) {
	f := newFixture(t, 1)
	ctx := context.Background()
	l := f.locker(t, "token-wait", "", locks.Config{Nodes: f.direct(), WaitTimeout: 50 * time.Millisecond})
	key := uniqueKey(t)
	if err := f.replica.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := l.Acquire(ctx, key, time.Second)
	if rerr := f.replica.Resume(ctx); rerr != nil {
		t.Fatal(rerr)
	}
	if !errors.Is(err, locks.ErrNotObtained) || !strings.Contains(err.Error(), "reached 0 of 1 replicas") {
		t.Fatalf("acquire with the replica frozen: %v, want ErrNotObtained after 0 of 1 replicas", err)
	}
	if n, err := f.raw(t, 0).Exists(ctx, key).Result(); err != nil || n != 0 {
		t.Errorf("the primary still holds %s after the undo (exists %d, %v)", key, n, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		lease, err := l.Acquire(ctx, key, time.Second)
		if err == nil {
			lease.Release(ctx)
			break
		}
		// The thawed replica may take a moment to catch up.
		if time.Now().After(deadline) {
			t.Fatalf("acquire after the replica thawed: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
