package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// ClientOptions returns go-redis options for addr (the node itself or a
// proxy in front of it) with the endpoint's credentials, short explicit
// timeouts and no retries: go-redis's defaults (retries, seconds-long
// timeouts) would hide exactly the faults the harness injects.
func (e Endpoint) ClientOptions(addr string) *redis.Options {
	if addr == "" {
		addr = e.Addr
	}
	return &redis.Options{
		Addr:            addr,
		Password:        e.Password,
		TLSConfig:       e.TLS,
		DialTimeout:     time.Second,
		ReadTimeout:     time.Second,
		WriteTimeout:    time.Second,
		MaxRetries:      -1,
		DialerRetries:   1,
		PoolSize:        4,
		DisableIdentity: true,
		// RESP2: RESP3 makes go-redis peek for push notifications before
		// every command, a syscall the harness does not need.
		Protocol: 2,
		// No maintenance-notification handshake: an extra round trip on
		// every connect, for a feature these servers lack.
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
}

// ClockOffset reads the node's wall clock with TIME and returns how far it
// is from this machine's, using the midpoint of the round trip.
func ClockOffset(ctx context.Context, e Endpoint) (time.Duration, error) {
	c := redis.NewClient(e.ClientOptions(""))
	defer c.Close()
	before := time.Now()
	t, err := c.Time(ctx).Result()
	if err != nil {
		return 0, fmt.Errorf("TIME on %s: %w", e.Addr, err)
	}
	after := time.Now()
	mid := before.Add(after.Sub(before) / 2)
	return t.Sub(mid), nil
}
