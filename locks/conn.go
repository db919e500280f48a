package locks

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Connections are made ready outside the lock's time budget.
//
// redis.io's Redlock page asks for a per-node timeout "small compared to
// the total lock auto-release time" so that a client does not stay blocked
// on a node that is down. It speaks of talking to a node, and real clients
// talk over pooled connections made long before. go-redis, though, throws
// a connection away after a timeout and dials a new one inside the next
// command's deadline: through the fault proxies (and docker-proxy) that
// dial took longer than a 10 ms node timeout, so every later attempt timed
// out again and Redlock never made progress — the harness's doing, not the
// lock's. So every strategy's pool is kept full in the background
// (MinIdleConns = PoolSize: a lost connection is replaced by go-redis
// outside any command), every new connection proves a round trip before
// the pool hands it out (dialReady), and [Warm] fills the pools before a
// cell's clock starts. The per-node budget then counts from a ready
// connection whenever one is idle; Redlock's validity still counts every
// nanosecond from its first step, so safety is unchanged.

// Warmer is a Locker that can open its connections ahead of the load.
type Warmer interface {
	// Warm makes every connection of the locker's pools and proves each
	// with a round trip; it returns the first node that failed.
	Warm(ctx context.Context) error
}

// pingCommand is PING in RESP.
const pingCommand = "*1\r\n$4\r\nPING\r\n"

// dialReady is a go-redis Dialer that returns a connection only after one
// PING round trip over it, within timeout (or ctx's deadline if sooner):
// a connection the pool hands out reaches the node end to end, through
// every proxy in between. Any reply counts (an -NOAUTH error before AUTH
// too): the round trip is what is proved. A failure is a dial error, so
// the command that needed the connection is known not to have been sent.
func dialReady(timeout time.Duration, tlsConfig *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: timeout}
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		deadline := time.Now().Add(timeout)
		if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
			deadline = dl
		}
		if err := conn.SetDeadline(deadline); err != nil {
			conn.Close()
			return nil, &net.OpError{Op: "dial", Net: network, Addr: conn.RemoteAddr(), Err: err}
		}
		if tlsConfig != nil {
			tc := tls.Client(conn, tlsConfig)
			if err := tc.HandshakeContext(ctx); err != nil {
				conn.Close()
				return nil, &net.OpError{Op: "dial", Net: network, Addr: conn.RemoteAddr(), Err: err}
			}
			conn = tc
		}
		if err := pingRoundTrip(conn); err != nil {
			conn.Close()
			return nil, &net.OpError{Op: "dial", Net: network, Addr: conn.RemoteAddr(), Err: err}
		}
		if err := conn.SetDeadline(time.Time{}); err != nil {
			conn.Close()
			return nil, &net.OpError{Op: "dial", Net: network, Addr: conn.RemoteAddr(), Err: err}
		}
		return conn, nil
	}
}

// errNoReply: the node's answer to PING was not a RESP line.
var errNoReply = errors.New("no RESP reply to PING")

// pingRoundTrip sends PING and reads one simple-string or error reply.
// It reads byte by byte so nothing after the reply is taken from the
// connection (there is nothing: one command, one reply).
func pingRoundTrip(conn net.Conn) error {
	if _, err := conn.Write([]byte(pingCommand)); err != nil {
		return err
	}
	r := bufio.NewReaderSize(oneByteReader{conn}, 16)
	line, err := r.ReadSlice('\n')
	if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
		return err
	}
	if len(line) == 0 || (line[0] != '+' && line[0] != '-') {
		return errNoReply
	}
	for errors.Is(err, bufio.ErrBufferFull) { // a long -ERR line
		_, err = r.ReadSlice('\n')
	}
	return err
}

// oneByteReader reads at most one byte per call, so a bufio.Reader on it
// never reads past the line it is asked for.
type oneByteReader struct{ c net.Conn }

func (o oneByteReader) Read(p []byte) (int, error) { return o.c.Read(p[:min(len(p), 1)]) }

// warmClients fills each client's pool with n proven connections: n
// concurrent PINGs hold n distinct connections at once. A round that
// fails (a dial or a PING timed out on a busy machine) is tried again
// until timeout per node; then the node that failed is named.
func warmClients(ctx context.Context, n int, timeout time.Duration, clients ...*redis.Client) error {
	errs := make([]error, len(clients))
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			for {
				err := pingAll(ctx, c, n)
				if err == nil {
					return
				}
				select {
				case <-ctx.Done():
					errs[i] = fmt.Errorf("warm-up of %s: %w", c.Options().Addr, err)
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// pingAll sends n PINGs at once through c and returns their errors.
func pingAll(ctx context.Context, c *redis.Client, n int) error {
	pings := make([]error, n)
	var wg sync.WaitGroup
	for j := range n {
		wg.Go(func() { pings[j] = c.Ping(ctx).Err() })
	}
	wg.Wait()
	return errors.Join(pings...)
}

// warmTimeout bounds a warm-up per node: generous, since no lock is timed
// yet, but bounded so an unreachable node fails the cell quickly.
func (c Config) warmTimeout() time.Duration { return max(5*c.Timeout, 5*time.Second) }

// Warm fills the pool of every node.
func (r *redlockLocker) Warm(ctx context.Context) error {
	return warmClients(ctx, r.cfg.PoolSize, r.cfg.warmTimeout(), r.clients...)
}

// Warm fills the pool of every node.
func (l *redsyncLocker) Warm(ctx context.Context) error {
	return warmClients(ctx, l.cfg.PoolSize, l.cfg.warmTimeout(), l.clients...)
}

// Warm fills the node's pool.
func (s *singleNode) Warm(ctx context.Context) error {
	return warmClients(ctx, s.cfg.PoolSize, s.cfg.warmTimeout(), s.client)
}
