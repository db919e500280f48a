// Package endpoint says how a client reaches one Redis node: its address
// and credentials, and the go-redis options the harness's own clients use
// for it. It is a leaf: the lock strategies take endpoints without
// importing the providers that start the nodes (cluster, and through it
// Docker), and cluster hands them out.
package endpoint

import (
	"crypto/tls"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Endpoint is how a client reaches a node. Its String method is the only
// way the harness shows one: it never prints the password.
type Endpoint struct {
	// Addr is host:port on a loopback address.
	Addr string
	// Username is the ACL user AUTH names; empty means the default user.
	Username string
	// Password is empty unless an external node needs AUTH.
	Password string
	// DB is the logical database SELECTed on connect (0 by default).
	DB int
	// TLS is nil unless an external node speaks TLS.
	TLS *tls.Config
}

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
		Username:        e.Username,
		Password:        e.Password,
		DB:              e.DB,
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
