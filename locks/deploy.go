package locks

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockbench/lockbench/endpoint"
)

// Deployment is a replicated Redis as applications reach it.
//
// The data nodes are reached with the credentials, DB and TLS settings of
// Config.Nodes[0] when Nodes is given (its Addr is not used); the
// Sentinels without credentials or TLS, as the harness runs them.
type Deployment struct {
	// MasterName and SentinelAddrs: a Sentinel-managed primary, reached
	// through go-redis's failover client (redis.NewFailoverClient), which
	// asks the Sentinels for the primary and follows a failover.
	MasterName    string
	SentinelAddrs []string
	// ClusterAddrs: a Redis Cluster's seed nodes, reached through
	// go-redis's cluster client (redis.NewClusterClient). Give the nodes'
	// real addresses, as CLUSTER SLOTS announces them: the client keys
	// its per-node pools by address, so a seed given as its proxy would
	// be a second node with a pool of its own.
	ClusterAddrs []string
	// Route maps a data node's real "host:port", as Sentinel or CLUSTER
	// SLOTS announce it, to the address this client dials instead (its
	// fault proxy); addresses not in Route (the Sentinels) are dialled as
	// they are.
	Route map[string]string
}

// sentinel reports whether d is a Sentinel deployment (else a cluster).
func (d *Deployment) sentinel() bool { return len(d.SentinelAddrs) > 0 || d.MasterName != "" }

// validate: exactly one of sentinel and cluster, each complete.
func (d *Deployment) validate() error {
	cluster := len(d.ClusterAddrs) > 0
	switch {
	case d.sentinel() && cluster:
		return fmt.Errorf("deployment names both Sentinels and Redis Cluster seeds; give one: %w", ErrBadConfig)
	case !d.sentinel() && !cluster:
		return fmt.Errorf("deployment names neither Sentinels (MasterName, SentinelAddrs) nor Redis Cluster seeds (ClusterAddrs): %w", ErrBadConfig)
	case d.sentinel() && (d.MasterName == "" || len(d.SentinelAddrs) == 0):
		return fmt.Errorf("a Sentinel deployment needs both MasterName (%q) and SentinelAddrs (%d given): %w", d.MasterName, len(d.SentinelAddrs), ErrBadConfig)
	}
	return nil
}

// String names the deployment in messages.
func (d *Deployment) String() string {
	if d.sentinel() {
		return fmt.Sprintf("Sentinel master %q via %s", d.MasterName, strings.Join(d.SentinelAddrs, ","))
	}
	return "Redis Cluster via " + strings.Join(d.ClusterAddrs, ",")
}

// refuseDeployment is what the multi-node strategies say to a Deployment.
func refuseDeployment(name string, cfg Config) error {
	if cfg.Deployment == nil {
		return nil
	}
	return fmt.Errorf("%s needs independent primaries (the standalone topology), not a replicated deployment (%s): %w", name, cfg.Deployment, ErrBadConfig)
}

// newDeploymentClient builds the go-redis client of c.Deployment with
// the options every strategy's client has (clientOptions): the failover
// client (a *redis.Client) or the cluster client.
func (c Config) newDeploymentClient() redis.UniversalClient {
	var ep endpoint.Endpoint
	if len(c.Nodes) > 0 {
		ep = c.Nodes[0]
	}
	o := c.clientOptions(ep)
	d := c.Deployment
	dial := d.dialer(c.Timeout, ep.TLS)
	if d.sentinel() {
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:            d.MasterName,
			SentinelAddrs:         d.SentinelAddrs,
			Dialer:                dial,
			Protocol:              o.Protocol,
			Username:              o.Username,
			Password:              o.Password,
			DB:                    o.DB,
			MaxRetries:            o.MaxRetries,
			DialTimeout:           o.DialTimeout,
			DialerRetries:         o.DialerRetries,
			ReadTimeout:           o.ReadTimeout,
			WriteTimeout:          o.WriteTimeout,
			ContextTimeoutEnabled: o.ContextTimeoutEnabled,
			PoolSize:              o.PoolSize,
			MinIdleConns:          o.MinIdleConns,
			PoolTimeout:           o.PoolTimeout,
			DisableIdentity:       o.DisableIdentity,
			PipelinePoolSize:      o.PipelinePoolSize,
			// Maintenance notifications: the failover client always
			// disables them (FailoverOptions has no setting).
		})
	}
	var cc atomic.Pointer[redis.ClusterClient]
	hook := noResend{reload: func() {
		if c := cc.Load(); c != nil {
			c.ReloadState(context.Background())
		}
	}}
	client := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: d.ClusterAddrs,
		// Node clients carry the noResend hook: go-redis's cluster loop
		// would otherwise send a command again after a timeout or a lost
		// connection, when the first may have run.
		NewClient: func(opt *redis.Options) *redis.Client {
			nc := redis.NewClient(opt)
			nc.AddHook(hook)
			return nc
		},
		// A MOVED (a failover promoted the replica, a slot moved) or ASK
		// reply says the command did not run: following it is not a
		// re-send. Three, go-redis's default, covers a failover seen
		// mid-reload.
		MaxRedirects:             3,
		MaxRetries:               o.MaxRetries,
		MinRetryBackoff:          time.Millisecond,
		MaxRetryBackoff:          c.Timeout / 10,
		Dialer:                   dial,
		Protocol:                 o.Protocol,
		Username:                 o.Username,
		Password:                 o.Password,
		DialTimeout:              o.DialTimeout,
		DialerRetries:            o.DialerRetries,
		ReadTimeout:              o.ReadTimeout,
		WriteTimeout:             o.WriteTimeout,
		ContextTimeoutEnabled:    o.ContextTimeoutEnabled,
		PoolSize:                 o.PoolSize,
		MinIdleConns:             o.MinIdleConns,
		PoolTimeout:              o.PoolTimeout,
		DisableIdentity:          o.DisableIdentity,
		PipelinePoolSize:         o.PipelinePoolSize,
		MaintNotificationsConfig: o.MaintNotificationsConfig,
	})
	cc.Store(client)
	return client
}

// dialer dials addr, or Route[addr] in its place, with one net.Dialer
// bounded by timeout. A failed dial returns the *net.OpError (Op "dial")
// that classify reads as ErrUnreachable. A routed connection reports
// the node's real address as its remote address: the failover client
// drops the connections of a demoted primary by that address, and would
// keep the proxy's. TLS, when the data nodes use it, is layered on the
// routed connection; the Sentinels are dialled without it.
func (d *Deployment) dialer(timeout time.Duration, tlsCfg *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	route := maps.Clone(d.Route)
	sentinels := map[string]bool{}
	for _, a := range d.SentinelAddrs {
		sentinels[a] = true
	}
	nd := &net.Dialer{Timeout: timeout}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		to, routed := route[addr]
		if !routed {
			to = addr
		}
		cn, err := nd.DialContext(ctx, network, to)
		if err != nil {
			if routed {
				return nil, fmt.Errorf("%s (routed to %s): %w", addr, to, err)
			}
			return nil, err
		}
		if routed {
			cn = &routedConn{Conn: cn, real: nodeAddr{network: network, addr: addr}}
		}
		if tlsCfg == nil || sentinels[addr] {
			return cn, nil
		}
		tc := tlsCfg.Clone()
		if tc.ServerName == "" {
			tc.ServerName, _, _ = net.SplitHostPort(addr)
		}
		t := tls.Client(cn, tc)
		if err := t.HandshakeContext(ctx); err != nil {
			cn.Close()
			return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
		}
		return t, nil
	}
}

// routedConn is a connection to a node through its route, which says it
// is connected to the node.
type routedConn struct {
	net.Conn
	real net.Addr
}

// RemoteAddr is the node's real address, not the proxy's.
func (c *routedConn) RemoteAddr() net.Addr { return c.real }

// NetConn is the dialled connection: go-redis reaches the socket through
// it for its idle-connection health check.
func (c *routedConn) NetConn() net.Conn { return c.Conn }

// nodeAddr is a net.Addr from a "host:port".
type nodeAddr struct{ network, addr string }

func (a nodeAddr) Network() string { return a.network }
func (a nodeAddr) String() string  { return a.addr }

// noResend is the hook of every cluster node client. go-redis's cluster
// loop retries a command whose error looks transient — a timeout, a lost
// connection — on the same node and then another: a SET that ran but
// whose reply was lost would run twice (and a second SET NX reports the
// lock held by its own first run). The hook hides every error that is
// not a server reply behind noRetry, which the loop does not retry;
// classify looks through it. Server replies pass: MOVED and ASK are
// followed (the command did not run), and the refusals go-redis retries
// (CLUSTERDOWN, TRYAGAIN, LOADING, READONLY, MASTERDOWN) did not run
// either. Dial errors are hidden too: one dial per command, as the
// single-node client does. A hidden error also asks the cluster client
// to reload its slot map: go-redis reloads on MOVED or once a minute, so
// a dead primary's slots would stay routed to it long after its replica
// took over.
type noResend struct{ reload func() }

func (noResend) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h noResend) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err == nil || isReply(err) || errors.Is(err, redis.ErrClosed) {
			return err
		}
		h.reload()
		return &noRetry{err: err}
	}
}

// ProcessPipelineHook only asks for the reload: token-wait reads each
// command's own error, and a pipeline is re-sent by the cluster client
// only on the ASK path (a slot being migrated).
func (h noResend) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if err != nil && !isReply(err) {
			h.reload()
		}
		return err
	}
}

// isReply reports whether err is the server's reply (-ERR, -MOVED, ...).
func isReply(err error) bool {
	var r redis.Error
	return errors.As(err, &r)
}

// noRetry is an error go-redis's cluster client does not retry; it has
// no Unwrap on purpose (go-redis looks through wrapping with errors.Is
// and errors.As). classify unwraps it.
type noRetry struct{ err error }

func (e *noRetry) Error() string { return e.err.Error() }

// masters returns the cluster's primaries' clients, as go-redis's slot
// map has them now.
func masters(ctx context.Context, cc *redis.ClusterClient) ([]*redis.Client, error) {
	var mu sync.Mutex
	var out []*redis.Client
	err := cc.ForEachMaster(ctx, func(_ context.Context, c *redis.Client) error {
		mu.Lock()
		out = append(out, c)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("the Redis Cluster slot map: %w", classify(err, false))
	}
	return out, nil
}

// warmCluster fills every primary's pool as warmClients does one node's,
// after one keyed command through the cluster client: it loads the slot
// map and go-redis's COMMAND table, which the first command would
// otherwise fetch inside its own budget.
func (c Config) warmCluster(ctx context.Context, cc *redis.ClusterClient) error {
	wctx, cancel := context.WithTimeout(ctx, c.warmTimeout())
	defer cancel()
	var err error
	for {
		if err = cc.Exists(wctx, "lockbench:warm-up").Err(); err == nil {
			break
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("warm-up of Redis Cluster: %w", classify(err, false))
		case <-time.After(50 * time.Millisecond):
		}
	}
	ms, err := masters(ctx, cc)
	if err != nil {
		return err
	}
	return warmClients(ctx, c.PoolSize, c.warmTimeout(), ms...)
}
