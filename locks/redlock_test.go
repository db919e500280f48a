package locks_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/lockbench/lockbench/locks"
	"testing"
	"time"
)

// TestRedlockMinorityCutStillAcquires: with 5 nodes, 1 or 2 nodes cut off
// leave a majority; 3 cut off make acquires fail within the per-node
// timeout budget (the SET round and the unlock round).
func TestRedlockMinorityCutStillAcquires(t *testing.T) {
	const nodeTimeout = 150 * time.Millisecond
	for _, name := range []string{"redlock", "redsync"} {
		for _, cut := range []int{0, 1, 2, 3} {
			t.Run(fmt.Sprintf("%s/cut-%d", name, cut), func(t *testing.T) {
				f := newFixture(t, 5)
				ctx := context.Background()
				// Both redlock and redsync use NodeTimeout per node.
				l := f.locker(t, name, "A", locks.Config{Timeout: nodeTimeout, NodeTimeout: nodeTimeout})
				for i := range cut {
					if err := f.mesh.Partition(ctx, "A", f.c.Nodes[i].Name()); err != nil {
						t.Fatal(err)
					}
				}
				start := time.Now()
				lease, err := l.Acquire(ctx, uniqueKey(t), time.Second)
				elapsed := time.Since(start)
				if cut < 3 {
					if err != nil {
						t.Fatalf("acquire with %d of 5 nodes cut: %v", cut, err)
					}
					if err := lease.Release(ctx); err != nil && !errors.Is(err, locks.ErrUnknown) {
						t.Errorf("release: %v", err)
					}
					return
				}
				if err == nil {
					t.Fatal("acquire succeeded with a majority cut off")
				}
				// Two rounds (SET, unlock), each bounded by the node timeout,
				// plus scheduling slack for the race detector.
				if budget := 2*nodeTimeout + 150*time.Millisecond; elapsed > budget {
					t.Errorf("failed acquire took %v, want ≤ %v", elapsed, budget)
				}
			})
		}
	}
}

// TestRedlockValidityShrinksByElapsed: latency on every node's replies
// makes the acquire slower, and the validity left when Acquire returns is
// TTL − drift − the time the acquire took: never more than TTL − drift −
// the injected latency, never less than TTL − drift − the elapsed time
// seen from outside.
func TestRedlockValidityShrinksByElapsed(t *testing.T) {
	f := newFixture(t, 5)
	ctx := context.Background()
	const ttl, lat = 2 * time.Second, 60 * time.Millisecond
	l := f.locker(t, "redlock", "A", locks.Config{NodeTimeout: 500 * time.Millisecond})
	for _, n := range f.c.Nodes {
		if err := f.mesh.SlowReplies(ctx, "A", n.Name(), lat); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	lease, err := l.Acquire(ctx, uniqueKey(t), ttl)
	now := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release(ctx)
	validity, elapsed, full := lease.Deadline().Sub(now), now.Sub(start), ttl-locks.Drift(ttl)
	if elapsed < lat {
		t.Fatalf("acquire took %v with %v reply latency", elapsed, lat)
	}
	if validity > full-lat || validity < full-elapsed {
		t.Errorf("validity %v after an acquire of %v; want within [%v, %v]", validity, elapsed, full-elapsed, full-lat)
	}
}

// TestRedlockPartialAcquireReleasedEverywhere: another holder has the key
// on a majority; our SET succeeds only on the rest, and must be undone
// there.
func TestRedlockPartialAcquireReleasedEverywhere(t *testing.T) {
	f := newFixture(t, 5)
	ctx := context.Background()
	key := uniqueKey(t)
	for i := range 3 {
		if err := f.raw(t, i).Set(ctx, key, "someone-else", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	l := f.locker(t, "redlock", "A", locks.Config{})
	if _, err := l.Acquire(ctx, key, 10*time.Second); !errors.Is(err, locks.ErrNotObtained) {
		t.Fatalf("acquire against a majority held elsewhere: %v, want ErrNotObtained", err)
	}
	for i := range 5 {
		got, _ := f.raw(t, i).Get(ctx, key).Result()
		want := ""
		if i < 3 {
			want = "someone-else"
		}
		if got != want {
			t.Errorf("node %d holds %q after the failed acquire, want %q", i, got, want)
		}
	}
}

// TestRedlockExtendNeedsQuorum: extend fails once a majority is cut off.
func TestRedlockExtendNeedsQuorum(t *testing.T) {
	f := newFixture(t, 5)
	ctx := context.Background()
	l := f.locker(t, "redlock", "A", locks.Config{NodeTimeout: 50 * time.Millisecond, Timeout: 50 * time.Millisecond})
	lease, err := l.Acquire(ctx, uniqueKey(t), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := lease.Extend(ctx, 2*time.Second); err != nil {
		t.Fatalf("extend with every node: %v", err)
	}
	for i := range 3 {
		f.mesh.Partition(ctx, "A", f.c.Nodes[i].Name())
	}
	before := lease.Deadline()
	if err := lease.Extend(ctx, 2*time.Second); err == nil {
		t.Fatal("extend succeeded with a majority cut off")
	}
	if !lease.Deadline().Equal(before) {
		t.Error("a failed extend moved the deadline")
	}
}
