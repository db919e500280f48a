package locks_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lockbench/lockbench/locks"
	"github.com/redis/go-redis/v9"
)

// lockerConns counts the connections the server has besides raw's own.
func lockerConns(t *testing.T, raw *redis.Client) int {
	t.Helper()
	// Normal clients only: the fixture's replica of node 0 has a link too.
	list, err := raw.Do(context.Background(), "CLIENT", "LIST", "TYPE", "normal").Text()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(list, "\n") - 1
}

// TestWarmFillsThePool: after Warm, every connection of the pool is open
// before any lock command is sent.
func TestWarmFillsThePool(t *testing.T) {
	f := newFixture(t, 1)
	raw := f.raw(t, 0)
	raw.Ping(context.Background())
	f.locker(t, "token", "", locks.Config{Nodes: f.direct(), PoolSize: 4})
	if n := lockerConns(t, raw); n != 4 {
		t.Errorf("%d connections after Warm, want the pool's 4", n)
	}
}

// TestLostConnectionIsReplacedInTheBackground: a command that times out
// loses its connection; the pool dials its replacement by itself, so the
// next acquire does not pay for the dial inside its own timeout.
func TestLostConnectionIsReplacedInTheBackground(t *testing.T) {
	f := newFixture(t, 1)
	ctx := context.Background()
	raw := f.raw(t, 0)
	raw.Ping(ctx)
	l := f.locker(t, "token", "", locks.Config{Nodes: f.direct(), PoolSize: 3, Timeout: 100 * time.Millisecond})
	if n := lockerConns(t, raw); n != 3 {
		t.Fatalf("%d connections after Warm, want 3", n)
	}
	// Writes wait 400 ms on the server: the SET times out, its connection
	// is discarded. PING is not a write, so the replacement's proof goes
	// through while the pause lasts.
	if err := raw.Do(ctx, "CLIENT", "PAUSE", 400, "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	_, err := l.Acquire(ctx, uniqueKey(t), time.Second)
	if !errors.Is(err, locks.ErrUnknown) {
		t.Fatalf("acquire during CLIENT PAUSE WRITE: %v, want ErrUnknown", err)
	}
	// Until the pause ends the server still counts the discarded
	// connection; after it, only a replacement keeps the count at 3.
	time.Sleep(600 * time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for lockerConns(t, raw) < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := lockerConns(t, raw); n != 3 {
		t.Errorf("%d connections 5 s after the timeout, want 3: the lost one was not replaced", n)
	}
}
