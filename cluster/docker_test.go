package cluster

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	mobyclient "github.com/moby/moby/client"
	"github.com/redis/go-redis/v9"
	"github.com/testcontainers/testcontainers-go"

	"github.com/lockbench/lockbench/internal/testenv"
)

// needDocker skips (fails in CI) unless the docker provider can run here.
func needDocker(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := DockerHealthy(ctx, DockerOptions{}); err != nil {
		testenv.Skip(t, err.Error())
	}
}

// startDocker starts a docker cluster and closes it when the test ends.
func startDocker(t *testing.T, spec Spec) *Cluster {
	t.Helper()
	needDocker(t)
	return startWith(t, NewDocker(DockerOptions{}), spec)
}

// dockerTestClient is a Docker API client for assertions.
func dockerTestClient(t *testing.T) *testcontainers.DockerClient {
	t.Helper()
	cli, err := dockerConnect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// ownContainers lists the containers this test process owns.
func ownContainers(t *testing.T, cli *testcontainers.DockerClient) []container.Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := cli.ContainerList(ctx, mobyclient.ContainerListOptions{
		All:     true,
		Filters: make(mobyclient.Filters).Add("label", dockerLabelOwnerPID+"="+strconv.Itoa(os.Getpid())),
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.Items
}

func TestDockerStartsFiveWritableNodes(t *testing.T) {
	needDocker(t)
	begin := time.Now()
	c := startDocker(t, Spec{Nodes: 5})
	t.Logf("started 5 docker nodes in %v", time.Since(begin).Round(time.Millisecond))

	if c.Provider != "docker" || !c.Can(CapKill) || !c.Can(CapPause) || c.Can(CapClock) {
		t.Errorf("provider %q caps %v, want docker with kill and pause only", c.Provider, c.Caps)
	}
	if len(c.Nodes) != 5 {
		t.Fatalf("got %d nodes, want 5", len(c.Nodes))
	}
	ctx := context.Background()
	seen := map[string]bool{}
	for i, n := range c.Nodes {
		if want := "n" + strconv.Itoa(i+1); n.Name() != want {
			t.Errorf("node %d is named %q, want %q", i, n.Name(), want)
		}
		addr := n.Endpoint().Addr
		host, _, err := net.SplitHostPort(addr)
		if err != nil || host != "127.0.0.1" {
			t.Errorf("node %s address %q is not on 127.0.0.1", n.Name(), addr)
		}
		if seen[addr] {
			t.Errorf("address %s used twice", addr)
		}
		seen[addr] = true
		rc := client(t, n)
		if err := rc.Set(ctx, "k", n.Name(), 0).Err(); err != nil {
			t.Fatalf("SET on %s: %v", n.Name(), err)
		}
	}
	// Each node is independent: every one kept its own value.
	for _, n := range c.Nodes {
		got, err := client(t, n).Get(ctx, "k").Result()
		if err != nil || got != n.Name() {
			t.Errorf("GET on %s = %q, %v; want %q", n.Name(), got, err, n.Name())
		}
	}
}

func TestDockerKillRestartPersistence(t *testing.T) {
	for _, tc := range []struct {
		persist  Persistence
		wantKept bool
	}{
		{PersistNone, false},
		// A process kill keeps what reached the kernel: everysec too.
		{PersistAOFEverySec, true},
		{PersistAOFAlways, true},
	} {
		t.Run(string(tc.persist), func(t *testing.T) {
			c := startDocker(t, Spec{Nodes: 1, Persistence: tc.persist})
			n := c.Nodes[0]
			ctx := context.Background()
			addr := n.Endpoint().Addr
			if err := client(t, n).Set(ctx, "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if err := n.Kill(ctx); err != nil {
				t.Fatal(err)
			}
			if err := pingOnce(ctx, addr); err == nil {
				t.Fatal("killed node still answers PING")
			}
			if err := n.Start(ctx); err != nil {
				t.Fatal(err)
			}
			if got := n.Endpoint().Addr; got != addr {
				t.Errorf("address changed across restart: %s -> %s", addr, got)
			}
			got, err := client(t, n).Get(ctx, "k").Result()
			switch {
			case tc.wantKept && (err != nil || got != "v"):
				t.Errorf("GET after restart = %q, %v; want the key kept", got, err)
			case !tc.wantKept && !errors.Is(err, redis.Nil):
				t.Errorf("GET after restart = %q, %v; want the key gone", got, err)
			}
		})
	}
}

func TestDockerRestartHelper(t *testing.T) {
	c := startDocker(t, Spec{Nodes: 1})
	n := c.Nodes[0]
	ctx := context.Background()
	if err := Restart(ctx, n, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := pingOnce(ctx, n.Endpoint().Addr); err != nil {
		t.Fatalf("restarted node: %v", err)
	}
	if err := n.Start(ctx); err == nil {
		t.Error("Start on a running node succeeded, want an error")
	}
}

func TestDockerPauseTimesOutThenRecovers(t *testing.T) {
	c := startDocker(t, Spec{Nodes: 1})
	n := c.Nodes[0]
	ctx := context.Background()
	opts := n.Endpoint().ClientOptions("")
	opts.ReadTimeout = 300 * time.Millisecond
	opts.MaxRetries = -1
	rc := redis.NewClient(opts)
	defer rc.Close()
	if err := rc.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := n.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := rc.Set(ctx, "k", "v", 0).Err()
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) && !(errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("SET on a paused node: err = %v, want a timeout", err)
	}
	if el := time.Since(start); el < 250*time.Millisecond || el > 2*time.Second {
		t.Errorf("timeout took %v, want about the 300ms read timeout", el)
	}
	if err := n.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rc.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after resume: %v", err)
	}
}

func TestDockerKillWhilePaused(t *testing.T) {
	c := startDocker(t, Spec{Nodes: 1})
	n := c.Nodes[0]
	ctx := context.Background()
	if err := n.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestDockerRefusesClock(t *testing.T) {
	needDocker(t)
	ctx := context.Background()
	_, err := NewDocker(DockerOptions{}).Start(ctx, Spec{Nodes: 1, FakeTime: true})
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("Start with FakeTime: err = %v, want ErrUnsupported", err)
	}
	c := startDocker(t, Spec{Nodes: 1})
	if err := c.Nodes[0].SetClock(ctx, time.Second, 1); !errors.Is(err, ErrUnsupported) {
		t.Errorf("SetClock: err = %v, want ErrUnsupported", err)
	}
}

func TestDockerBadSpec(t *testing.T) {
	for _, spec := range []Spec{{Nodes: -1}, {Nodes: 0}, {Nodes: 1, Persistence: "rdb"}} {
		if _, err := NewDocker(DockerOptions{}).Start(context.Background(), spec); !errors.Is(err, ErrBadSpec) {
			t.Errorf("Start(%+v): err = %v, want ErrBadSpec", spec, err)
		}
	}
}

func TestDockerMissingImageIsUnavailable(t *testing.T) {
	needDocker(t)
	opts := DockerOptions{Image: "lockbench/no-such-image:never"}
	if err := DockerHealthy(context.Background(), opts); !errors.Is(err, ErrUnavailable) {
		t.Errorf("DockerHealthy: err = %v, want ErrUnavailable", err)
	}
	if _, err := NewDocker(opts).Start(context.Background(), Spec{Nodes: 1}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Start: err = %v, want ErrUnavailable", err)
	}
}

func TestDockerCloseRemovesContainers(t *testing.T) {
	needDocker(t)
	cli := dockerTestClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := NewDocker(DockerOptions{}).Start(ctx, Spec{Nodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(ownContainers(t, cli)); got != 2 {
		t.Errorf("%d containers labelled with our pid while running, want 2", got)
	}
	// A paused node must not block removal.
	if err := c.Nodes[1].Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if left := ownContainers(t, cli); len(left) != 0 {
		t.Errorf("%d containers left after Close: %v", len(left), left[0].Names)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestDockerSweepsStaleContainers(t *testing.T) {
	needDocker(t)
	cli := dockerTestClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	host, _ := os.Hostname()
	stale, err := cli.ContainerCreate(ctx, mobyclient.ContainerCreateOptions{
		Config: &container.Config{
			Image: DockerOptions{}.withDefaults().Image,
			Labels: map[string]string{
				dockerLabel:          "1",
				dockerLabelOwnerPID:  strconv.Itoa(deadPID(t)),
				dockerLabelOwnerHost: host,
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cli.ContainerRemove(context.Background(), stale.ID, mobyclient.ContainerRemoveOptions{Force: true})
	})
	startDocker(t, Spec{Nodes: 1})
	if _, err := cli.ContainerInspect(ctx, stale.ID, mobyclient.ContainerInspectOptions{}); err == nil {
		t.Error("container of a dead owner survived Start")
	}
}

func TestDockerHostLocal(t *testing.T) {
	for _, tc := range []struct {
		host string
		want bool
	}{
		{"", true},
		{"unix:///var/run/docker.sock", true},
		{"tcp://127.0.0.1:2375", true},
		{"tcp://localhost:2375", true},
		{"tcp://[::1]:2375", true},
		{"tcp://192.0.2.1:2375", false},
		{"ssh://user@example.com", false},
	} {
		if got := dockerHostLocal(tc.host); got != tc.want {
			t.Errorf("dockerHostLocal(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
}

func TestDockerFailedStartLeavesNothing(t *testing.T) {
	needDocker(t)
	cli := dockerTestClient(t)
	// No node can answer PING within a nanosecond: every start fails after
	// its container was created.
	_, err := NewDocker(DockerOptions{StartTimeout: time.Nanosecond}).Start(context.Background(), Spec{Nodes: 3})
	if err == nil {
		t.Fatal("Start succeeded, want a timeout")
	}
	t.Logf("start error: %v", err)
	if left := ownContainers(t, cli); len(left) != 0 {
		t.Errorf("%d containers left after a failed Start", len(left))
	}
}

func TestDockerPinCPUs(t *testing.T) {
	c := startDocker(t, Spec{Nodes: 1})
	n := c.Nodes[0].(*dockerNode)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.PinCPUs(ctx, []int{0}); err != nil {
		t.Fatal(err)
	}
	res, err := dockerTestClient(t).ContainerInspect(ctx, n.id, mobyclient.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Container.HostConfig.CpusetCpus; got != "0" {
		t.Errorf("container cpuset = %q, want \"0\"", got)
	}
	if err := client(t, n).Ping(ctx).Err(); err != nil {
		t.Errorf("PING after pinning: %v", err)
	}
}
