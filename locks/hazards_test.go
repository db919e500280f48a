package locks_test

import (
	"context"
	"errors"
	"github.com/lockbench/lockbench/locks"
	"testing"
	"time"
)

// The seed-faithful strategies must show the bugs they are kept for, and
// the correct ones must refuse the same sequence of events.

// TestSetNXEXDeleteAfterExpiryFreesSomeoneElsesLock: A outlives its TTL, B
// takes the lock, A's DEL removes B's lock, and C gets in beside B.
func TestSetNXEXDeleteAfterExpiryFreesSomeoneElsesLock(t *testing.T) {
	f := newFixture(t, 1)
	ctx := context.Background()
	for _, tc := range []struct {
		name        string
		wantOverlap bool
	}{
		{"set-nx-ex", true},
		{"token", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := f.locker(t, tc.name, "A", locks.Config{})
			key := uniqueKey(t)
			a, err := l.Acquire(ctx, key, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(1100 * time.Millisecond) // A pauses past its TTL
			if _, err := l.Acquire(ctx, key, 10*time.Second); err != nil {
				t.Fatalf("B after A's expiry: %v", err)
			}
			relErr := a.Release(ctx) // A wakes up and "releases"
			_, cErr := l.Acquire(ctx, key, 10*time.Second)
			if overlap := cErr == nil; overlap != tc.wantOverlap {
				t.Fatalf("C acquired while B holds = %v, want %v (A's release: %v, C: %v)", overlap, tc.wantOverlap, relErr, cErr)
			}
			if !tc.wantOverlap && !errors.Is(relErr, locks.ErrLost) {
				t.Errorf("A's stale release: %v, want ErrLost", relErr)
			}
		})
	}
}

// TestSetNXHolderVanishingDeadlocksForever: a holder that never releases
// leaves a key with no TTL; nobody gets the lock again.
func TestSetNXHolderVanishingDeadlocksForever(t *testing.T) {
	f := newFixture(t, 1)
	ctx := context.Background()
	l := f.locker(t, "setnx", "A", locks.Config{})
	key := uniqueKey(t)
	if _, err := l.Acquire(ctx, key, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// The holder vanishes. Well past the TTL it asked for:
	time.Sleep(500 * time.Millisecond)
	if ttl := f.raw(t, 0).TTL(ctx, key).Val(); ttl != -1 {
		t.Errorf("TTL of an abandoned setnx key = %v, want -1 (never expires)", ttl)
	}
	other := f.locker(t, "setnx", "B", locks.Config{Retry: locks.Retry{Policy: "fixed", Base: 50 * time.Millisecond, Attempts: 5}})
	if _, err := other.Acquire(ctx, key, time.Second); !errors.Is(err, locks.ErrNotObtained) {
		t.Fatalf("acquire after the holder vanished: %v, want locks.ErrNotObtained forever", err)
	}
}

// TestSetNXExpireCutBetweenCommandsLeavesKeyWithoutTTL: the connection is
// cut after SETNX and before EXPIRE; the key stays with no TTL.
func TestSetNXExpireCutBetweenCommandsLeavesKeyWithoutTTL(t *testing.T) {
	f := newFixture(t, 1)
	ctx := context.Background()
	node := f.c.Nodes[0].Name()
	cut := func(ctx context.Context, key string) {
		if err := f.mesh.Partition(ctx, "A", node); err != nil {
			t.Errorf("partition: %v", err)
		}
	}
	l := f.locker(t, "setnx-expire", "A", locks.Config{Timeout: 200 * time.Millisecond, Hooks: locks.Hooks{BetweenCommands: cut}})
	key := uniqueKey(t)
	lease, err := l.Acquire(ctx, key, time.Second)
	if err != nil {
		t.Fatalf("the tutorial code reports success even when EXPIRE is lost: %v", err)
	}
	// The holder's release cannot get through either.
	if err := lease.Release(ctx); err == nil {
		t.Error("release through a partition succeeded")
	}
	if err := f.mesh.Heal(ctx, "A", node); err != nil {
		t.Fatal(err)
	}
	if ttl := f.raw(t, 0).TTL(ctx, key).Val(); ttl != -1 {
		t.Errorf("TTL = %v, want -1: EXPIRE never arrived", ttl)
	}
	time.Sleep(1200 * time.Millisecond) // past the TTL that was asked for
	b := f.locker(t, "setnx-expire", "B", locks.Config{})
	if _, err := b.Acquire(ctx, key, time.Second); !errors.Is(err, locks.ErrNotObtained) {
		t.Fatalf("acquire after the TTL should have passed: %v, want locks.ErrNotObtained (deadlock)", err)
	}
}

// TestTokenReleaseByNonOwnerIsNoOp: a release carrying another token
// leaves the holder's lock in place.
func TestTokenReleaseByNonOwnerIsNoOp(t *testing.T) {
	f := newFixture(t, 1)
	ctx := context.Background()
	l := f.locker(t, "token", "A", locks.Config{})
	key := uniqueKey(t)
	holder, err := l.Acquire(ctx, key, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	impostor := locks.Impostor(l, key)
	if err := impostor.Release(ctx); !errors.Is(err, locks.ErrLost) {
		t.Errorf("non-owner release: %v, want ErrLost", err)
	}
	if err := impostor.Extend(ctx, time.Minute); !errors.Is(err, locks.ErrLost) {
		t.Errorf("non-owner extend: %v, want ErrLost", err)
	}
	if got := f.raw(t, 0).Get(ctx, key).Val(); got != holder.Token() {
		t.Errorf("key holds %q after a non-owner release, want the holder's token", got)
	}
	if pttl := f.raw(t, 0).PTTL(ctx, key).Val(); pttl > 5*time.Second {
		t.Errorf("non-owner extend changed the TTL to %v", pttl)
	}
}
