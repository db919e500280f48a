package locks

import (
	"context"
	"net"
	"time"
)

// The integration tests live in package locks_test (they use chaos, which
// imports workloads, which imports locks); these names give them the few
// internals they check.

// Drift exposes the validity allowance.
var Drift = drift

// ReleaseScript exposes the compare-and-delete script.
var ReleaseScript = releaseScript

// NewTokenLocker exposes the token strategy's constructor.
var NewTokenLocker = newTokenLocker

// Impostor returns a lease on key with a fresh token that was never
// granted, released and extended through l's scripts: a non-owner.
func Impostor(l Locker, key string) Lease {
	s := l.(*tokenLocker)
	return &lease{key: key, token: newToken(), release: s.compareAndDelete, extend: s.compareAndExpire}
}

// DeploymentDialer exposes the dialer a deployment's clients use.
func DeploymentDialer(d *Deployment, timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return d.dialer(timeout, nil)
}
