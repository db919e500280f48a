package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestExternalUsesGivenNodesAndRefusesProcessControl(t *testing.T) {
	real := startExec(t, Spec{Nodes: 2})
	ctx := context.Background()
	c, err := NewExternal(ExternalOptions{Addrs: real.Addrs()}).Start(ctx, Spec{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if len(c.Nodes) != 2 || c.Provider != "external" || len(c.Caps) != 0 {
		t.Fatalf("got %d nodes, provider %q, caps %v", len(c.Nodes), c.Provider, c.Caps)
	}
	if err := client(t, c.Nodes[0]).Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET through external: %v", err)
	}
	n := c.Nodes[0]
	for name, err := range map[string]error{
		"kill":     n.Kill(ctx),
		"start":    n.Start(ctx),
		"pause":    n.Pause(ctx),
		"resume":   n.Resume(ctx),
		"setclock": n.SetClock(ctx, time.Second, 1),
	} {
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s on external: err = %v, want ErrUnsupported", name, err)
		}
	}
	// The refusal names the providers that can.
	if err := n.Kill(ctx); err == nil || !contains(err.Error(), "exec or docker") {
		t.Errorf("kill refusal %q does not name the providers that can", err)
	}
	if err := n.SetClock(ctx, 0, 1); err == nil || !contains(err.Error(), "--provider exec") {
		t.Errorf("clock refusal %q does not name exec", err)
	}
}

func TestExternalErrors(t *testing.T) {
	real := startExec(t, Spec{Nodes: 1})
	for _, tc := range []struct {
		name  string
		addrs []string
		spec  Spec
		want  error
	}{
		{"unreachable", []string{"127.0.0.1:1"}, Spec{}, ErrUnavailable},
		{"too few addresses", real.Addrs(), Spec{Nodes: 3}, ErrBadSpec},
		{"persistence is not ours", real.Addrs(), Spec{Persistence: PersistAOFAlways}, ErrUnsupported},
		{"fake time", real.Addrs(), Spec{FakeTime: true}, ErrUnsupported},
		{"negative nodes", real.Addrs(), Spec{Nodes: -1}, ErrBadSpec},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewExternal(ExternalOptions{Addrs: tc.addrs}).Start(context.Background(), tc.spec)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseAddrs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		err  bool
	}{
		{"127.0.0.1:6379", 1, false},
		{" 127.0.0.1:1, 127.0.0.1:2 ,", 2, false},
		{"localhost", 0, true},
		{"", 0, true},
	} {
		got, err := ParseAddrs(tc.in)
		if (err != nil) != tc.err || len(got) != tc.want {
			t.Errorf("ParseAddrs(%q) = %v, %v", tc.in, got, err)
		}
		if err != nil && !errors.Is(err, ErrBadSpec) {
			t.Errorf("ParseAddrs(%q) error %v is not ErrBadSpec", tc.in, err)
		}
	}
}

func TestAutoChoosesInDesignOrder(t *testing.T) {
	ctx := context.Background()
	t.Setenv("LOCKBENCH_REDIS_ADDRS", "")
	p, why, err := Auto(ctx, AutoOptions{External: ExternalOptions{Addrs: []string{"127.0.0.1:6379"}}})
	if err != nil || p.Name() != "external" {
		t.Fatalf("with addresses: %v %v", p, err)
	}
	if why == "" {
		t.Error("Auto gave no reason")
	}
	t.Setenv("LOCKBENCH_REDIS_ADDRS", "127.0.0.1:7000,127.0.0.1:7001")
	if p, _, err = Auto(ctx, AutoOptions{}); err != nil || p.Name() != "external" {
		t.Fatalf("with LOCKBENCH_REDIS_ADDRS: %v %v", p, err)
	}
	t.Setenv("LOCKBENCH_REDIS_ADDRS", "")
	if _, err := RedisServerPath(""); err == nil {
		if p, why, err = Auto(ctx, AutoOptions{}); err != nil || p.Name() != "exec" {
			t.Fatalf("with redis-server on PATH: %v %v", p, err)
		}
		if !contains(why, "redis-server") {
			t.Errorf("reason %q does not say why exec", why)
		}
	}
	// Without redis-server the next choice is Docker, then a clear error.
	p, _, err = Auto(ctx, AutoOptions{Exec: ExecOptions{Binary: "no-such-redis-server"}, Docker: DockerOptions{Image: "lockbench/no-such-image:none"}})
	if !errors.Is(err, ErrUnavailable) || !contains(err.Error(), "redis-image.sh") {
		t.Fatalf("with nothing available: %v %v, want ErrUnavailable saying what to do", p, err)
	}
	if _, _, err := Auto(ctx, AutoOptions{Provider: "kubernetes"}); !errors.Is(err, ErrBadSpec) {
		t.Errorf("unknown provider: %v", err)
	}
	if _, _, err := Auto(ctx, AutoOptions{Provider: "external"}); !errors.Is(err, ErrBadSpec) {
		t.Errorf("external without addresses: %v", err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
