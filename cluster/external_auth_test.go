package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/lockbench/lockbench/endpoint"
	"github.com/lockbench/lockbench/internal/testenv"
)

// TestExternalCredentials: external nodes that want a password, an ACL
// user or TLS are reached through the URL and TLS options, and every
// refusal says what to do without showing the password.
func TestExternalCredentials(t *testing.T) {
	const secret = "S3cretPw"
	pass := testenv.StartRedis(t, nil, "--requirepass", secret)
	acl := testenv.StartRedis(t, nil, "--user", "default", "off", "--user", "alice", "on", ">"+secret, "~*", "+@all")
	certs := testenv.MakeCerts(t)
	tlsNode := testenv.StartRedis(t, &certs)
	ca := endpoint.TLSFiles{CA: certs.CA}
	for _, tc := range []struct {
		name string
		opts ExternalOptions
		want error  // nil: the node takes a SET
		hint string // what the error must say
	}{
		{"requirepass", ExternalOptions{Addrs: []string{"redis://:" + secret + "@" + pass}}, nil, ""},
		{"ACL user", ExternalOptions{Addrs: []string{"redis://alice:" + secret + "@" + acl + "/1"}}, nil, ""},
		{"TLS with the CA", ExternalOptions{Addrs: []string{"rediss://" + tlsNode}, TLS: ca}, nil, ""},
		{"TLS without verification", ExternalOptions{Addrs: []string{"rediss://" + tlsNode}, TLS: endpoint.TLSFiles{Insecure: true}}, nil, ""},
		{"no password", ExternalOptions{Addrs: []string{pass}}, ErrUnavailable, "redis://:PASSWORD@"},
		{"wrong password", ExternalOptions{Addrs: []string{"redis://:" + secret + "x@" + pass}}, ErrUnavailable, "check the user and password"},
		{"wrong user", ExternalOptions{Addrs: []string{"redis://bob:" + secret + "@" + acl}}, ErrUnavailable, "check the user and password"},
		{"TLS without the CA", ExternalOptions{Addrs: []string{"rediss://:" + secret + "@" + tlsNode}}, ErrUnavailable, "--redis-tls-ca"},
		{"TLS to a plain node", ExternalOptions{Addrs: []string{"rediss://:" + secret + "@" + pass}, TLS: ca}, ErrUnavailable, "TLS"},
		{"TLS options, no TLS node", ExternalOptions{Addrs: []string{"redis://:" + secret + "@" + pass}, TLS: ca}, ErrBadSpec, "rediss://"},
		{"CA file missing", ExternalOptions{Addrs: []string{"rediss://:" + secret + "@" + tlsNode}, TLS: endpoint.TLSFiles{CA: certs.CA + ".missing"}}, ErrBadSpec, "TLS CA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			c, err := NewExternal(tc.opts).Start(ctx, Spec{})
			if tc.want != nil {
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.hint) {
					t.Fatalf("err = %v, want %v saying %q", err, tc.want, tc.hint)
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q shows the password", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := client(t, c.Nodes[0]).Set(ctx, "k", "v", 0).Err(); err != nil {
				t.Fatalf("SET: %v", err)
			}
			if s := c.Nodes[0].Endpoint().String(); strings.Contains(s, secret) {
				t.Errorf("endpoint shows as %q", s)
			}
		})
	}
}

func TestParseAddrsURLs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		bad  string // what the error says; "" = no error
	}{
		{"redis://:pw@127.0.0.1:1,rediss://alice:pw@localhost:2/3, 127.0.0.1:3", 3, ""},
		{"redis://:SECRET@10.1.2.3:6379", 0, "redis://:xxxxx@10.1.2.3:6379"},
		{"127.0.0.1:1,redis://:SECRET@127.0.0.1:x", 0, "redis://:xxxxx@127.0.0.1:x"},
		{"ftp://:SECRET@127.0.0.1:1", 0, "scheme"},
	} {
		got, err := ParseAddrs(tc.in)
		switch {
		case tc.bad == "" && (err != nil || len(got) != tc.want):
			t.Errorf("ParseAddrs(%q) = %v, %v", tc.in, got, err)
		case tc.bad != "" && (!errors.Is(err, ErrBadSpec) || !strings.Contains(err.Error(), tc.bad) || strings.Contains(err.Error(), "SECRET")):
			t.Errorf("ParseAddrs(%q) error %v: want ErrBadSpec saying %q, without the password", tc.in, err, tc.bad)
		}
	}
}

// TestAutoReadsTLSFromTheEnvironment: LOCKBENCH_REDIS_TLS_* configure
// TLS like the flags, and insecure must be spelled out.
func TestAutoReadsTLSFromTheEnvironment(t *testing.T) {
	certs := testenv.MakeCerts(t)
	node := testenv.StartRedis(t, &certs)
	ctx := context.Background()
	t.Setenv("LOCKBENCH_REDIS_ADDRS", "rediss://"+node)
	t.Setenv(EnvTLSCA, certs.CA)
	p, _, err := Auto(ctx, AutoOptions{Provider: ProviderExternal})
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Start(ctx, Spec{})
	if err != nil {
		t.Fatalf("with %s: %v", EnvTLSCA, err)
	}
	c.Close()
	t.Setenv(EnvTLSInsecure, "maybe")
	if _, _, err := Auto(ctx, AutoOptions{Provider: ProviderExternal}); !errors.Is(err, ErrBadSpec) || !strings.Contains(err.Error(), EnvTLSInsecure) {
		t.Errorf("%s=maybe: %v, want ErrBadSpec naming it", EnvTLSInsecure, err)
	}
}
