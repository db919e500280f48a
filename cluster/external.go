package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lockbench/lockbench/endpoint"
)

// ExternalOptions describes Redis servers the user runs.
type ExternalOptions struct {
	// Addrs are the nodes' addresses as the user wrote them, one per
	// independent node: host:port, or redis://[user[:password]@]host:port[/db]
	// and rediss://… for TLS (endpoint.Parse). They may hold passwords:
	// show them only through endpoint.Redact or an Endpoint's String.
	Addrs []string
	// TLS configures the rediss:// addresses.
	TLS endpoint.TLSFiles
	// Remote lets the addresses be on other hosts (endpoint.ParseRemote):
	// a run whose agents and controller are in a Kubernetes cluster.
	Remote bool
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

// ParseAddrs splits a comma-separated address list and checks each entry
// (endpoint.Parse); errors show the addresses redacted.
func ParseAddrs(s string) ([]string, error) { return parseAddrs(s, endpoint.Parse) }

// ParseRemoteAddrs is ParseAddrs for nodes that may be on other hosts
// (endpoint.ParseRemote).
func ParseRemoteAddrs(s string) ([]string, error) { return parseAddrs(s, endpoint.ParseRemote) }

func parseAddrs(s string, parse func(string, endpoint.TLSFiles) (endpoint.Endpoint, error)) ([]string, error) {
	var out []string
	for _, a := range strings.Split(s, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if _, err := parse(a, endpoint.TLSFiles{}); err != nil {
			return nil, fmt.Errorf("%w: %w", err, ErrBadSpec)
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no redis address given: %w", ErrBadSpec)
	}
	return out, nil
}

// endpoints parses every address with the TLS options. TLS options
// without a rediss:// address are refused: they would silently do nothing.
func (o ExternalOptions) endpoints() ([]endpoint.Endpoint, error) {
	eps := make([]endpoint.Endpoint, len(o.Addrs))
	secure := false
	parse := endpoint.Parse
	if o.Remote {
		parse = endpoint.ParseRemote
	}
	for i, a := range o.Addrs {
		ep, err := parse(a, o.TLS)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", err, ErrBadSpec)
		}
		eps[i], secure = ep, secure || ep.TLS != nil
	}
	if !secure && !o.TLS.IsZero() {
		return nil, fmt.Errorf("TLS options given but no address is rediss:// (write rediss://host:port for a TLS node): %w", ErrBadSpec)
	}
	return eps, nil
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
	eps, err := p.opts.endpoints()
	if err != nil {
		return nil, err
	}
	n := spec.Nodes
	if n == 0 {
		n = len(eps)
	}
	if n > len(eps) {
		return nil, fmt.Errorf("%d nodes wanted but %d addresses given (add more to --redis-addrs): %w", n, len(eps), ErrBadSpec)
	}
	c := &Cluster{Provider: ProviderExternal, close: func() error { return nil }}
	for i, ep := range eps[:n] {
		node := &externalNode{name: fmt.Sprintf("n%d", i+1), ep: ep}
		if err := ping(ctx, ep); err != nil {
			return nil, fmt.Errorf("cannot reach redis at %s (%s): %v: %w", ep, pingHint(ep, err), err, ErrUnavailable)
		}
		c.Nodes = append(c.Nodes, node)
	}
	return c, nil
}

// pingHint says what to do about a failed PING.
func pingHint(ep endpoint.Endpoint, err error) string {
	var unknownCA x509.UnknownAuthorityError
	var verify *tls.CertificateVerificationError
	var hostname x509.HostnameError
	msg := err.Error()
	switch {
	case errors.As(err, &unknownCA) || (errors.As(err, &verify) && !errors.As(err, &hostname)):
		return "give the CA that signed the server's certificate with --redis-tls-ca FILE or LOCKBENCH_REDIS_TLS_CA"
	case errors.As(err, &hostname):
		return "the server's certificate does not name this address: use an address its certificate names"
	case strings.HasPrefix(msg, "NOAUTH"):
		return "the server wants a password: write it into the address, redis://:PASSWORD@host:port or redis://USER:PASSWORD@host:port"
	case strings.HasPrefix(msg, "WRONGPASS"), strings.HasPrefix(msg, "ERR AUTH"):
		return "check the user and password in the address"
	case strings.Contains(msg, "tls:"):
		return "check whether the server speaks TLS (rediss://) or not (redis://), and the --redis-tls-* options"
	case ep.TLS != nil:
		// A plain server waits for the rest of a command that a TLS
		// hello never completes: the handshake just times out.
		return "check --redis-addrs, that the server runs and that this port speaks TLS (else write redis://)"
	}
	return "check --redis-addrs and that the server runs"
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
