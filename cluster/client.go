package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockbench/lockbench/endpoint"
)

// ClockOffset reads the node's wall clock with TIME and returns how far it
// is from this machine's, using the midpoint of the round trip.
func ClockOffset(ctx context.Context, e endpoint.Endpoint) (time.Duration, error) {
	c := redis.NewClient(e.ClientOptions(""))
	defer c.Close()
	before := time.Now()
	t, err := c.Time(ctx).Result()
	if err != nil {
		return 0, fmt.Errorf("TIME on %s: %w", e, err)
	}
	after := time.Now()
	mid := before.Add(after.Sub(before) / 2)
	return t.Sub(mid), nil
}
