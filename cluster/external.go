package cluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockbench/lockbench/endpoint"
)

// ExternalOptions describes Redis servers the user runs.
type ExternalOptions struct {
	// Addrs are host:port pairs, one per independent node.
	Addrs []string
	// Password is sent with AUTH when set.
	Password string
	// TLS enables TLS with this configuration when non-nil.
	TLS *tls.Config
}

type externalProvider struct{ opts ExternalOptions }

// externalCaps is none: the nodes are the user's processes.
var externalCaps []Capability

// NewExternal returns the external provider: it starts nothing, checks that
// every address answers PING, and refuses every fault that needs process
// control.
func NewExternal(opts ExternalOptions) Provider { return &externalProvider{opts: opts} }

func (p *externalProvider) Name() string       { return ProviderExternal }
func (p *externalProvider) Caps() []Capability { return externalCaps }

// ParseAddrs splits a comma-separated address list and checks each entry.
func ParseAddrs(s string) ([]string, error) {
	var out []string
	for _, a := range strings.Split(s, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, fmt.Errorf("redis address %q is not host:port: %w", a, ErrBadSpec)
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no redis address given: %w", ErrBadSpec)
	}
	return out, nil
}

func (p *externalProvider) Start(ctx context.Context, spec Spec) (*Cluster, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	if spec.FakeTime {
		return nil, unsupported(ProviderExternal, CapClock)
	}
	if spec.Persistence != "" && spec.Persistence != PersistNone {
		return nil, fmt.Errorf("persistence of external nodes is theirs to set: %w; use --provider exec or docker", ErrUnsupported)
	}
	n := spec.Nodes
	if n == 0 {
		n = len(p.opts.Addrs)
	}
	if n > len(p.opts.Addrs) {
		return nil, fmt.Errorf("%d nodes wanted but %d addresses given (add more to --redis-addrs): %w", n, len(p.opts.Addrs), ErrBadSpec)
	}
	c := &Cluster{Provider: ProviderExternal, close: func() error { return nil }}
	for i, addr := range p.opts.Addrs[:n] {
		node := &externalNode{name: fmt.Sprintf("n%d", i+1), ep: endpoint.Endpoint{Addr: addr, Password: p.opts.Password, TLS: p.opts.TLS}}
		if err := ping(ctx, node.ep); err != nil {
			return nil, fmt.Errorf("cannot reach redis at %s (check --redis-addrs and that the server runs): %v: %w", addr, err, ErrUnavailable)
		}
		c.Nodes = append(c.Nodes, node)
	}
	return c, nil
}

// ping checks one endpoint with a bounded PING.
func ping(ctx context.Context, e endpoint.Endpoint) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c := redis.NewClient(e.ClientOptions(""))
	defer c.Close()
	return c.Ping(ctx).Err()
}

// externalNode is a server the harness does not control.
type externalNode struct {
	name string
	ep   endpoint.Endpoint
}

func (n *externalNode) Name() string                 { return n.name }
func (n *externalNode) Endpoint() endpoint.Endpoint  { return n.ep }
func (n *externalNode) Kill(context.Context) error   { return unsupported(ProviderExternal, CapKill) }
func (n *externalNode) Start(context.Context) error  { return unsupported(ProviderExternal, CapKill) }
func (n *externalNode) Pause(context.Context) error  { return unsupported(ProviderExternal, CapPause) }
func (n *externalNode) Resume(context.Context) error { return unsupported(ProviderExternal, CapPause) }
func (n *externalNode) SetClock(context.Context, time.Duration, float64) error {
	return unsupported(ProviderExternal, CapClock)
}
