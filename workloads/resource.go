package workloads

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// fencedWriteScript writes a value only when the writer's fence is not
// lower than the highest fence seen: the storage side of fencing tokens
// (Kleppmann, "How to do distributed locking"). Equal fences pass so that
// one holder may write twice.
var fencedWriteScript = redis.NewScript(`
local highest = tonumber(redis.call("GET", KEYS[2]) or "0")
if tonumber(ARGV[2]) < highest then
  return 0
end
redis.call("SET", KEYS[2], ARGV[2])
redis.call("SET", KEYS[1], ARGV[1])
return 1`)

// Resource is the protected resource: a counter per lock key on a Redis
// node of its own. Each holder reads it and writes value+1; two holders at
// once lose an update.
type Resource struct {
	// client reads (and resets); writes writes.
	client, writes *redis.Client
}

// NewResource wraps a client of the resource node.
func NewResource(c *redis.Client) *Resource { return &Resource{client: c, writes: c} }

// NewResourceDelayedWrites reads through reads and writes through writes,
// a client through the proxy the delayed-write fault holds requests in:
// a read held there as well would let the holder's lease run out before
// it writes, and a holder that honours its validity would then not write
// at all — the fault is a write that leaves in time and lands late.
func NewResourceDelayedWrites(reads, writes *redis.Client) *Resource {
	return &Resource{client: reads, writes: writes}
}

// CounterKey is the counter protected by lock key.
func CounterKey(lockKey string) string { return "resource:" + lockKey }

// fenceKey holds the highest fence written to a counter.
func fenceKey(counter string) string { return counter + ":highest-fence" }

// Read returns the counter (0 when never written).
func (r *Resource) Read(ctx context.Context, counter string) (int64, error) {
	v, err := r.client.Get(ctx, counter).Int64()
	if err == redis.Nil {
		return 0, nil
	}
	return v, err
}

// Write stores value. With a fence (> 0) the write is rejected, returning
// accepted=false, when a higher fence was written before.
func (r *Resource) Write(ctx context.Context, counter string, value, fence int64) (accepted bool, err error) {
	if fence <= 0 {
		return true, r.writes.Set(ctx, counter, value, 0).Err()
	}
	n, err := fencedWriteScript.Run(ctx, r.writes, []string{counter, fenceKey(counter)}, value, fence).Int64()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// Reset removes counter and its fence, so every run starts at zero.
func (r *Resource) Reset(ctx context.Context, counters ...string) error {
	var keys []string
	for _, c := range counters {
		keys = append(keys, c, fenceKey(c))
	}
	if len(keys) == 0 {
		return nil
	}
	if err := r.client.Del(ctx, keys...).Err(); err != nil {
		return fmt.Errorf("reset resource: %w", err)
	}
	return nil
}
