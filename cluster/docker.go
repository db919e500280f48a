package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	mobyclient "github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	tcredis "github.com/testcontainers/testcontainers-go/modules/redis"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/lockbench/lockbench/endpoint"
	"github.com/lockbench/lockbench/internal/cpuset"
)

// dockerCaps: a container can be killed, restarted and paused; its clock is
// the host's, so clock faults need the exec provider (DESIGN §6).
var dockerCaps = []Capability{CapKill, CapPause}

// DefaultDockerImage is the image the docker provider runs when neither
// DockerOptions.Image nor LOCKBENCH_REDIS_IMAGE names one. It is built
// locally by scripts/redis-image.sh because nothing can be pulled on the
// reference machine; where pulling works, redis:7.4 (DESIGN §7) is a drop-in
// alternative.
const DefaultDockerImage = "lockbench/redis:local"

// The labels every lockbench container carries. The owner labels let a later
// run remove the containers of a run that was killed before it could clean up.
const (
	dockerLabel          = "lockbench"
	dockerLabelOwnerPID  = "lockbench.owner-pid"
	dockerLabelOwnerHost = "lockbench.owner-host"
	dockerLabelCluster   = "lockbench.cluster"
	dockerLabelNode      = "lockbench.node"
)

// dockerRedisPort is the port redis-server listens on inside the container.
const dockerRedisPort = "6379/tcp"

// dockerAPITimeout bounds one Docker API call that should be instant.
const dockerAPITimeout = 10 * time.Second

// DockerOptions configures the docker provider. The zero value works once
// scripts/redis-image.sh has built the default image.
type DockerOptions struct {
	// Image is the Redis image to run; empty means LOCKBENCH_REDIS_IMAGE,
	// else DefaultDockerImage. Its entrypoint must accept redis-server
	// arguments (the official redis images and the local one do).
	Image string
	// StartTimeout bounds how long a node may take to answer PING after
	// its container starts. Default 30 s.
	StartTimeout time.Duration
}

// withDefaults fills in the image and the timeout.
func (o DockerOptions) withDefaults() DockerOptions {
	if o.Image == "" {
		o.Image = os.Getenv("LOCKBENCH_REDIS_IMAGE")
	}
	if o.Image == "" {
		o.Image = DefaultDockerImage
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 30 * time.Second
	}
	return o
}

type dockerProvider struct{ opts DockerOptions }

// NewDocker returns the docker provider: one Redis container per node,
// started through testcontainers-go, each publishing its port on a fixed
// 127.0.0.1 port so that the address survives kill and restart.
func NewDocker(opts DockerOptions) Provider {
	return &dockerProvider{opts: opts.withDefaults()}
}

// Name returns ProviderDocker.
func (p *dockerProvider) Name() string { return ProviderDocker }

// Caps returns kill and pause; clock faults need the exec provider.
func (p *dockerProvider) Caps() []Capability { return dockerCaps }

// DockerHealthy reports whether the docker provider can run here with opts:
// the daemon answers a ping within a few seconds, it runs on this machine,
// and the image is present locally (nothing is pulled). The error wraps
// ErrUnavailable and says in one line what to do.
func DockerHealthy(ctx context.Context, opts DockerOptions) error {
	opts = opts.withDefaults()
	cli, err := dockerConnect(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	return dockerCheckImage(ctx, cli, opts.Image)
}

// dockerEnv prepares the environment testcontainers-go reads, before it
// reads it (its configuration is read once per process):
//
//   - TESTCONTAINERS_RYUK_DISABLED=true: the reaper container image cannot
//     be pulled here, and Cluster.Close plus the stale-container sweep in
//     Start do the reaper's job.
//   - TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1 when the Docker socket is
//     local: inside a container testcontainers would otherwise guess the
//     host from the default gateway, and all traffic must stay on loopback
//     (DESIGN §7).
//
// Both are left alone when the user has set them. os.Setenv is the only way
// to configure these settings: testcontainers reads them from the
// environment and has no option for them.
func dockerEnv() {
	if _, ok := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); !ok {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	if _, ok := os.LookupEnv("TESTCONTAINERS_HOST_OVERRIDE"); !ok && dockerHostLocal(os.Getenv("DOCKER_HOST")) {
		os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
	}
}

// dockerHostLocal reports whether a Docker host URL ("" = the default
// socket) reaches a daemon on this machine.
func dockerHostLocal(host string) bool {
	if host == "" {
		return true
	}
	u, err := url.Parse(host)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "unix", "npipe":
		return true
	case "tcp", "http", "https":
		h := u.Hostname()
		if h == "localhost" {
			return true
		}
		ip, err := netip.ParseAddr(h)
		return err == nil && ip.IsLoopback()
	}
	return false
}

// dockerConnect returns a client for a healthy local daemon, or an error
// wrapping ErrUnavailable.
func dockerConnect(ctx context.Context) (*testcontainers.DockerClient, error) {
	dockerEnv()
	// Refuse a remote daemon before dialing it: its published ports would
	// not be on this machine's loopback, and only loopback is contacted.
	if host := os.Getenv("DOCKER_HOST"); !dockerHostLocal(host) {
		return nil, fmt.Errorf("docker: DOCKER_HOST=%s is not on this machine and nodes publish on 127.0.0.1 only; use a local Docker, or --provider exec: %w", host, ErrUnavailable)
	}
	// testcontainers' first Info of a process ends in
	// core.MustExtractDockerSocket(ctx), which panics when ctx is already
	// cancelled: a Ctrl-C during provider selection printed a stack trace.
	// So the client is made under a context the signal does not cancel,
	// bounded by the same 5 s, and the signal is looked at right after.
	dialCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(dialCtx)
	if err != nil {
		return nil, fmt.Errorf("docker: cannot reach the Docker daemon; start Docker, or use --provider exec: %w: %w", ErrUnavailable, err)
	}
	if err := ctx.Err(); err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker: %w", err)
	}
	ctx, cancelPing := context.WithTimeout(ctx, 5*time.Second)
	defer cancelPing()
	if host := cli.DaemonHost(); !dockerHostLocal(host) {
		cli.Close()
		return nil, fmt.Errorf("docker: the daemon at %s is not on this machine and nodes publish on 127.0.0.1 only; use a local Docker, or --provider exec: %w", host, ErrUnavailable)
	}
	// NewDockerClientWithOpts can fall back to an unchecked client; ping it.
	if _, err := cli.Ping(ctx, mobyclient.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker: the Docker daemon does not answer; start Docker, or use --provider exec: %w: %w", ErrUnavailable, err)
	}
	return cli, nil
}

// dockerCheckImage fails unless image is present locally.
func dockerCheckImage(ctx context.Context, cli *testcontainers.DockerClient, image string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := cli.ImageInspect(ctx, image)
	switch {
	case err == nil:
		return nil
	case cerrdefs.IsNotFound(err) && image == DefaultDockerImage:
		return fmt.Errorf("docker: image %s not found; run scripts/redis-image.sh: %w", image, ErrUnavailable)
	case cerrdefs.IsNotFound(err):
		return fmt.Errorf("docker: image %s not found locally; docker pull it, or unset LOCKBENCH_REDIS_IMAGE and run scripts/redis-image.sh: %w", image, ErrUnavailable)
	default:
		return fmt.Errorf("docker: inspect image %s: %w: %w", image, ErrUnavailable, err)
	}
}

// session is what every start of the provider begins with: fake time
// refused, the daemon reached, the image present, stale containers of
// dead owners swept, and a fresh cluster id. The caller owns cli.
func (p *dockerProvider) session(ctx context.Context, spec Spec) (cli *testcontainers.DockerClient, host, id string, err error) {
	if spec.FakeTime {
		return nil, "", "", fmt.Errorf("fake time: %w", unsupported(ProviderDocker, CapClock))
	}
	if cli, err = dockerConnect(ctx); err != nil {
		return nil, "", "", err
	}
	if err := dockerCheckImage(ctx, cli, p.opts.Image); err != nil {
		cli.Close()
		return nil, "", "", err
	}
	host, _ = os.Hostname()
	dockerSweepStale(ctx, cli, host)
	if id, err = dockerClusterID(); err != nil {
		cli.Close()
		return nil, "", "", err
	}
	return cli, host, id, nil
}

// Start starts spec.Nodes containers in parallel. On error every container
// it created is removed.
func (p *dockerProvider) Start(ctx context.Context, spec Spec) (_ *Cluster, err error) {
	if err := spec.validateShared(); err != nil {
		return nil, err
	}
	if spec.topology() != TopoStandalone {
		return p.startTopology(ctx, spec)
	}
	if spec.Nodes == 0 {
		return nil, fmt.Errorf("docker provider needs at least one node: %w", ErrBadSpec)
	}
	// A node keeps the client for Kill/Start/Pause; close owns it from here.
	cli, host, id, err := p.session(ctx, spec)
	if err != nil {
		return nil, err
	}
	ports, err := dockerFreePorts(spec.Nodes)
	if err != nil {
		cli.Close()
		return nil, err
	}

	nodes := make([]*dockerNode, spec.Nodes)
	closeAll := func() error {
		// Removal must finish whatever ended the run: never cancelled,
		// only bounded.
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		err := eachParallel(ctx, len(nodes), func(i int) error {
			if n := nodes[i]; n != nil && n.id != "" {
				return n.remove(ctx)
			}
			return nil
		})
		err = errors.Join(err, dockerRemoveCluster(ctx, cli, id))
		cli.Close()
		return err
	}
	defer func() {
		if err != nil {
			closeAll()
		}
	}()

	for i := range nodes {
		nodes[i] = &dockerNode{
			name:    fmt.Sprintf("n%d", i+1),
			cli:     cli,
			timeout: p.opts.StartTimeout,
			port:    ports[i],
		}
	}
	err = eachParallel(ctx, len(nodes), func(i int) error {
		n := nodes[i]
		return n.create(ctx, p.opts.Image, standaloneSetup(spec.Persistence), dockerLabels(host, id, n.name), dockerName(id, n.name))
	})
	if err != nil {
		return nil, err
	}
	return newCluster(ProviderDocker, dockerCaps, nodes, closeAll), nil
}

// dockerLabels are the labels of node's container in cluster id.
func dockerLabels(host, id, node string) map[string]string {
	return map[string]string{
		dockerLabel:          "1",
		dockerLabelOwnerPID:  strconv.Itoa(os.Getpid()),
		dockerLabelOwnerHost: host,
		dockerLabelCluster:   id,
		dockerLabelNode:      node,
	}
}

// dockerName is the name of node's container in cluster id.
func dockerName(id, node string) string {
	return fmt.Sprintf("lockbench-%d-%s-%s", os.Getpid(), id, node)
}

// dockerSweepStale removes lockbench containers made on this host by a
// process that no longer exists (a run killed with SIGKILL). It is best
// effort: a failure here must not stop a new run.
func dockerSweepStale(ctx context.Context, cli *testcontainers.DockerClient, host string) {
	ctx, cancel := context.WithTimeout(ctx, dockerAPITimeout)
	defer cancel()
	list, err := cli.ContainerList(ctx, mobyclient.ContainerListOptions{
		All:     true,
		Filters: make(mobyclient.Filters).Add("label", dockerLabel+"=1"),
	})
	if err != nil {
		return
	}
	for _, c := range list.Items {
		pid, err := strconv.Atoi(c.Labels[dockerLabelOwnerPID])
		if err != nil || c.Labels[dockerLabelOwnerHost] != host || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		cli.ContainerRemove(ctx, c.ID, mobyclient.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	}
}

// dockerRemoveCluster removes every container labelled with cluster id that
// is still there: one whose create request was abandoned (a timeout) may
// exist although its node never learnt its id.
func dockerRemoveCluster(ctx context.Context, cli *testcontainers.DockerClient, id string) error {
	list, err := cli.ContainerList(ctx, mobyclient.ContainerListOptions{
		All:     true,
		Filters: make(mobyclient.Filters).Add("label", dockerLabelCluster+"="+id),
	})
	if err != nil {
		return nil // the nodes' own removal has already said the daemon is gone
	}
	var errs []error
	for _, c := range list.Items {
		_, err := cli.ContainerRemove(ctx, c.ID, mobyclient.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove container %.12s: %w", c.ID, err))
		}
	}
	return errors.Join(errs...)
}

// dockerClusterID is a short random id that keeps container names unique.
func dockerClusterID() (string, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("cluster id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// dockerFreePorts returns n distinct free 127.0.0.1 ports: every listener is
// held until all are picked, so parallel nodes never get the same one.
func dockerFreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// dockerPortTaken reports whether a container start failed because its
// host port was taken between picking and binding it.
func dockerPortTaken(err error) bool {
	s := err.Error()
	return strings.Contains(s, "address already in use") || strings.Contains(s, "port is already allocated")
}

// dockerNode is one Redis container.
type dockerNode struct {
	name    string
	cli     *testcontainers.DockerClient
	timeout time.Duration

	// Set by create, read-only afterwards.
	port int
	id   string
	// ctr is testcontainers' handle of the container; it holds a Docker
	// client of its own, which only its Terminate closes (remove).
	ctr *tcredis.RedisContainer
}

// Name returns the node's name (n1, n2, ...).
func (n *dockerNode) Name() string { return n.name }

// Endpoint returns the published 127.0.0.1 address.
func (n *dockerNode) Endpoint() endpoint.Endpoint { return endpoint.Endpoint{Addr: n.addr()} }

func (n *dockerNode) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port)) }

// dockerSetup is how a node's container runs: on a bridge network with
// its port published on 127.0.0.1 (standalone nodes), or on the host's
// network listening on 127.0.0.1 itself (replicated topologies, whose
// nodes must reach each other at the addresses they announce).
type dockerSetup struct {
	// args are the redis-server arguments.
	args []string
	// hostNet runs the container on the host's network; args must then
	// say --port and --bind 127.0.0.1.
	hostNet bool
	// files are copied into the container before it starts.
	files []testcontainers.ContainerFile
}

// standaloneSetup is the setup of a standalone node.
func standaloneSetup(persist Persistence) dockerSetup {
	return dockerSetup{args: append([]string{"--bind", "0.0.0.0", "--protected-mode", "no", "--dir", "/data"}, persist.redisArgs()...)}
}

// create runs the container for the first time with tcredis.Run and waits
// for PONG. A published host port taken in the meantime is retried with
// another one; on the host network the caller picks ports, and retries.
func (n *dockerNode) create(ctx context.Context, image string, setup dockerSetup, labels map[string]string, name string) error {
	args := setup.args
	port := network.MustParsePort(dockerRedisPort)
	for attempt := 0; ; attempt++ {
		hostPort := strconv.Itoa(n.port)
		// The container is created on a context an interrupt does not
		// cancel: a create request abandoned half-way can leave a
		// container the daemon made but whose id the node never learnt,
		// and nothing would remove it. Starting it and waiting for PONG
		// stop as soon as ctx ends; the id is known by then, and Close
		// removes the container.
		createCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*dockerAPITimeout)
		ctr, err := tcredis.Run(createCtx, image,
			testcontainers.WithNoStart(),
			testcontainers.WithName(name),
			testcontainers.WithCmd(args...),
			testcontainers.WithLabels(labels),
			testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
				if setup.hostNet {
					hc.NetworkMode = "host"
					return
				}
				hc.PortBindings = network.PortMap{port: {{
					HostIP:   netip.AddrFrom4([4]byte{127, 0, 0, 1}),
					HostPort: hostPort,
				}}}
			}),
			testcontainers.WithFiles(setup.files...),
			// The module's wait strategy execs /bin/sh in the container (the
			// local image has none) and dials the host testcontainers
			// guesses; a PING on our own 127.0.0.1 port replaces it.
			testcontainers.WithWaitStrategyAndDeadline(n.timeout, dockerReady{addr: n.addr(), timeout: n.timeout}),
			testcontainers.WithLogger(tclog.NewNoopLogger()),
		)
		cancel()
		if ctr != nil {
			n.id, n.ctr = ctr.GetContainerID(), ctr
		}
		if err == nil {
			err = ctr.Start(ctx)
		}
		if err == nil {
			return nil
		}
		if n.id != "" && attempt < 2 && !setup.hostNet && dockerPortTaken(err) {
			rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dockerAPITimeout)
			rmErr := n.remove(rmCtx)
			cancel()
			ports, perr := dockerFreePorts(1)
			if rmErr == nil && perr == nil {
				n.id, n.port = "", ports[0]
				continue
			}
		}
		if n.id != "" {
			return fmt.Errorf("node %s (%s): %w (log: %s)", n.name, image, err, n.logTail(context.WithoutCancel(ctx), 3))
		}
		return fmt.Errorf("node %s (%s): %w", n.name, image, err)
	}
}

// dockerReady is the wait strategy of a new container: PONG on the
// published address.
type dockerReady struct {
	addr    string
	timeout time.Duration
}

// WaitUntilReady implements wait.Strategy.
func (r dockerReady) WaitUntilReady(ctx context.Context, target wait.StrategyTarget) error {
	return dockerWaitPing(ctx, r.addr, r.timeout, func(ctx context.Context) (*container.State, error) {
		return target.State(ctx)
	})
}

// Timeout implements wait.StrategyTimeout.
func (r dockerReady) Timeout() *time.Duration { return &r.timeout }

// dockerWaitPing polls addr with PING until it answers, the container stops
// running, timeout passes or ctx ends. Through the userland proxy a TCP
// connect succeeds before Redis listens, so only a PONG means ready.
func dockerWaitPing(ctx context.Context, addr string, timeout time.Duration, state func(context.Context) (*container.State, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for i, delay := 0, 5*time.Millisecond; ; i, delay = i+1, min(delay*2, 100*time.Millisecond) {
		if last = pingOnce(ctx, addr); last == nil {
			return nil
		}
		if i%5 == 4 {
			st, err := state(ctx)
			if err == nil && !st.Running {
				return fmt.Errorf("container %s (exit code %d) before answering PING", st.Status, st.ExitCode)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no PONG from %s within %v (last: %v): %w", addr, timeout, last, ctx.Err())
		case <-time.After(delay):
		}
	}
}

// state returns the container's state.
func (n *dockerNode) state(ctx context.Context) (*container.State, error) {
	res, err := n.cli.ContainerInspect(ctx, n.id, mobyclient.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", n.name, err)
	}
	if res.Container.State == nil {
		return nil, fmt.Errorf("inspect %s: no state", n.name)
	}
	return res.Container.State, nil
}

// logTail returns the container's last lines of output, for error messages.
func (n *dockerNode) logTail(ctx context.Context, lines int) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rc, err := n.cli.ContainerLogs(ctx, n.id, mobyclient.ContainerLogsOptions{
		ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(lines),
	})
	if err != nil {
		return "unavailable: " + err.Error()
	}
	defer rc.Close()
	var out bytes.Buffer
	stdcopy.StdCopy(&out, &out, rc)
	return strings.Join(strings.Fields(strings.ReplaceAll(strings.TrimSpace(out.String()), "\n", " | ")), " ")
}

// Kill sends SIGKILL to redis-server (no shutdown, no final fsync) and
// waits until the container has stopped. The container and its filesystem
// are kept for Start.
func (n *dockerNode) Kill(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, dockerAPITimeout)
	defer cancel()
	if _, err := n.cli.ContainerKill(ctx, n.id, mobyclient.ContainerKillOptions{Signal: "KILL"}); err != nil {
		return fmt.Errorf("kill %s: %w", n.name, err)
	}
	res := n.cli.ContainerWait(ctx, n.id, mobyclient.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case <-res.Result:
		return nil
	case err := <-res.Error:
		return fmt.Errorf("kill %s: wait for exit: %w", n.name, err)
	}
}

// Start starts a killed node's container again (same address, same
// filesystem) and waits until it answers PING.
func (n *dockerNode) Start(ctx context.Context) error {
	st, err := n.state(ctx)
	if err != nil {
		return err
	}
	if st.Running {
		return fmt.Errorf("node %s is already running", n.name)
	}
	apiCtx, cancel := context.WithTimeout(ctx, dockerAPITimeout)
	_, err = n.cli.ContainerStart(apiCtx, n.id, mobyclient.ContainerStartOptions{})
	cancel()
	if err != nil {
		return fmt.Errorf("start %s: %w", n.name, err)
	}
	if err := dockerWaitPing(ctx, n.addr(), n.timeout, n.state); err != nil {
		return fmt.Errorf("node %s on %s did not start: %w (log: %s)", n.name, n.addr(), err, n.logTail(context.WithoutCancel(ctx), 3))
	}
	return nil
}

// Pause freezes the container (docker pause, the cgroup freezer): TCP
// connections are accepted by the kernel but nothing is answered.
func (n *dockerNode) Pause(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, dockerAPITimeout)
	defer cancel()
	if _, err := n.cli.ContainerPause(ctx, n.id, mobyclient.ContainerPauseOptions{}); err != nil {
		return fmt.Errorf("pause %s: %w", n.name, err)
	}
	return nil
}

// PinCPUs confines the container to cpus (its cgroup's cpuset), which
// holds across restarts.
func (n *dockerNode) PinCPUs(ctx context.Context, cpus []int) error {
	ctx, cancel := context.WithTimeout(ctx, dockerAPITimeout)
	defer cancel()
	res := &container.Resources{CpusetCpus: cpuset.Format(cpus)}
	if _, err := n.cli.ContainerUpdate(ctx, n.id, mobyclient.ContainerUpdateOptions{Resources: res}); err != nil {
		return fmt.Errorf("pin %s to CPUs %s: %w", n.name, res.CpusetCpus, err)
	}
	return nil
}

// Resume thaws a paused container.
func (n *dockerNode) Resume(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, dockerAPITimeout)
	defer cancel()
	if _, err := n.cli.ContainerUnpause(ctx, n.id, mobyclient.ContainerUnpauseOptions{}); err != nil {
		return fmt.Errorf("resume %s: %w", n.name, err)
	}
	return nil
}

// SetClock is refused: a container shares the host's clock. Clock faults
// need the exec provider with libfaketime.
func (n *dockerNode) SetClock(context.Context, time.Duration, float64) error {
	return unsupported(ProviderDocker, CapClock)
}

// remove force-removes the container with its anonymous volumes; a
// container that is already gone is not an error.
func (n *dockerNode) remove(ctx context.Context) error {
	var err error
	if n.ctr != nil {
		// Terminate, not our own client's remove: it also closes the
		// Docker client the handle holds, whose idle connections would
		// otherwise stay open for the life of the process. No grace
		// period: the node is being thrown away.
		err = n.ctr.Terminate(ctx, testcontainers.StopTimeout(0))
		n.ctr = nil
	} else {
		_, err = n.cli.ContainerRemove(ctx, n.id, mobyclient.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	}
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove container of %s: %w", n.name, err)
	}
	return nil
}
