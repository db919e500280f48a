package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lockbench/lockbench/endpoint"
	"github.com/lockbench/lockbench/internal/cpuset"
)

// execCaps: a child process can be killed, stopped and given a fake clock.
var execCaps = []Capability{CapKill, CapPause, CapClock}

// TempPrefix starts the name of every temp dir the exec provider makes, so
// that leftovers of a killed run can be found and removed.
const TempPrefix = "lockbench-redis-"

// ownerFile holds the pid of the process that owns a temp dir.
const ownerFile = "owner.pid"

// ExecOptions configures the exec provider. The zero value works when
// redis-server is on PATH.
type ExecOptions struct {
	// Binary is the redis-server to run; default: redis-server on PATH.
	Binary string
	// ClockShim is a prebuilt clock shim library; default: built on first
	// use into CacheDir (see ClockShimPath).
	ClockShim string
	// CacheDir holds the built clock shim; default: the user cache dir.
	CacheDir string
	// TempDir is where node dirs are made; default os.TempDir().
	TempDir string
	// StartTimeout bounds how long a node may take to answer PING.
	// Default 10 s.
	StartTimeout time.Duration
}

type execProvider struct{ opts ExecOptions }

// NewExec returns the exec provider: redis-server child processes on free
// 127.0.0.1 ports, each in its own temp dir.
func NewExec(opts ExecOptions) Provider {
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 10 * time.Second
	}
	if opts.TempDir == "" {
		opts.TempDir = os.TempDir()
	}
	return &execProvider{opts: opts}
}

func (p *execProvider) Name() string       { return ProviderExec }
func (p *execProvider) Caps() []Capability { return execCaps }

// RedisServerPath finds redis-server for the exec provider.
func RedisServerPath(binary string) (string, error) {
	if binary == "" {
		binary = "redis-server"
	}
	path, err := exec.LookPath(binary)
	if err != nil {
		return "", fmt.Errorf("redis-server not found (run scripts/install-deps.sh, or use --provider docker): %w", ErrUnavailable)
	}
	return path, nil
}

func (p *execProvider) Start(ctx context.Context, spec Spec) (_ *Cluster, err error) {
	if err := spec.validateShared(); err != nil {
		return nil, err
	}
	if spec.topology() != TopoStandalone {
		return p.startTopology(ctx, spec)
	}
	if spec.Nodes == 0 {
		return nil, fmt.Errorf("exec provider needs at least one node: %w", ErrBadSpec)
	}
	r, err := p.newRun(ctx, spec)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	nodes := make([]*execNode, spec.Nodes)
	for i := range nodes {
		nodes[i] = r.node(fmt.Sprintf("n%d", i+1), spec.Persistence, r.shim)
	}
	if err = r.startAll(ctx, nodes); err != nil {
		return nil, err
	}
	return newCluster(ProviderExec, execCaps, nodes, r.close), nil
}

// execRun is what one Start of the exec provider made: a root temp dir
// and the processes in it. close removes them all.
type execRun struct {
	bin     string
	shim    string // clock shim library for data nodes; "" = real clock
	root    string
	persist Persistence
	timeout time.Duration

	mu    sync.Mutex // nodes may be made in parallel
	procs []*execNode
}

// newRun finds redis-server (and the clock shim when asked for) and makes
// the run's root dir, marked with this process as owner.
func (p *execProvider) newRun(ctx context.Context, spec Spec) (*execRun, error) {
	bin, err := RedisServerPath(p.opts.Binary)
	if err != nil {
		return nil, err
	}
	shim := p.opts.ClockShim
	if spec.FakeTime && shim == "" {
		if shim, err = ClockShimPath(ctx, p.opts.CacheDir); err != nil {
			return nil, err
		}
	}
	SweepStaleDirs(p.opts.TempDir)

	root, err := os.MkdirTemp(p.opts.TempDir, TempPrefix)
	if err != nil {
		return nil, fmt.Errorf("make node dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(root, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(root)
		return nil, fmt.Errorf("write owner file: %w", err)
	}
	return &execRun{bin: bin, shim: shim, root: root, persist: spec.Persistence, timeout: p.opts.StartTimeout}, nil
}

// node makes (but does not start) a process named name in its own dir
// under the root; close will stop it.
func (r *execRun) node(name string, persist Persistence, shim string) *execNode {
	n := &execNode{
		name:    name,
		bin:     r.bin,
		persist: persist,
		timeout: r.timeout,
		shim:    shim,
		dir:     filepath.Join(r.root, name),
	}
	r.mu.Lock()
	r.procs = append(r.procs, n)
	r.mu.Unlock()
	return n
}

// startAll makes the nodes' dirs and starts them, a few at a time.
func (r *execRun) startAll(ctx context.Context, nodes []*execNode) error {
	return eachParallel(ctx, len(nodes), func(i int) error {
		n := nodes[i]
		if err := os.MkdirAll(n.dir, 0o755); err != nil {
			return fmt.Errorf("node %s: %w", n.name, err)
		}
		return n.firstStart(ctx)
	})
}

// close stops every process of the run and removes the root dir.
func (r *execRun) close() error {
	r.mu.Lock()
	procs := slices.Clone(r.procs)
	r.mu.Unlock()
	// Removal must finish whatever ended the run: never cancelled.
	err := eachParallel(context.Background(), len(procs), func(i int) error {
		return procs[i].stop()
	})
	if rerr := os.RemoveAll(r.root); rerr != nil {
		err = errors.Join(err, fmt.Errorf("remove %s: %w", r.root, rerr))
	}
	return err
}

// SweepStaleDirs removes exec node dirs whose owner process is gone (a run
// that was killed with SIGKILL could not clean up; its redis-server children
// died with it through Pdeathsig).
func SweepStaleDirs(tempDir string) {
	matches, _ := filepath.Glob(filepath.Join(tempDir, TempPrefix+"*"))
	for _, dir := range matches {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue // being created right now, or not ours
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || processAlive(pid) {
			continue
		}
		os.RemoveAll(dir)
	}
}

// processAlive reports whether pid names a live process on this host.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// execNode is one redis-server child process.
type execNode struct {
	name    string
	dir     string
	bin     string
	persist Persistence
	timeout time.Duration
	shim    string // clock shim library; "" = real clock
	// conf is a config file given before every other argument ("" =
	// none). Replicated topologies keep settings there that Redis itself
	// rewrites (CONFIG REWRITE after a failover, Sentinel's state), so a
	// restarted process comes back as what it had become.
	conf string
	// extra are arguments after the common ones, e.g. --sentinel.
	extra []string

	mu     sync.Mutex
	port   int
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	paused bool
	cpus   []int // set by PinCPUs; applied again on every start
}

func (n *execNode) Name() string { return n.name }

func (n *execNode) Endpoint() endpoint.Endpoint {
	n.mu.Lock()
	defer n.mu.Unlock()
	return endpoint.Endpoint{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port))}
}

func (n *execNode) clockFile() string { return filepath.Join(n.dir, "clock") }
func (n *execNode) logFile() string   { return filepath.Join(n.dir, "redis.log") }

// firstStart picks a free port and starts the node, retrying with another
// port when the one picked was taken in between.
func (n *execNode) firstStart(ctx context.Context) error {
	if n.shim != "" {
		if err := writeClockControl(n.clockFile(), 0, 1); err != nil {
			return err
		}
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var port int
		if port, err = freePort(); err != nil {
			return err
		}
		n.mu.Lock()
		n.port = port
		n.mu.Unlock()
		if err = n.Start(ctx); err == nil || !strings.Contains(err.Error(), "in use") {
			return err
		}
	}
	return err
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start starts the process (again) on the node's port and waits for PING.
func (n *execNode) Start(ctx context.Context) error {
	// A process forked after the run was interrupted would only be killed
	// again; fork nothing once ctx has ended.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start %s: %w", n.name, err)
	}
	n.mu.Lock()
	if n.cmd != nil {
		n.mu.Unlock()
		return fmt.Errorf("node %s is already running", n.name)
	}
	var args []string
	if n.conf != "" {
		args = append(args, n.conf)
	}
	args = append(args,
		"--port", strconv.Itoa(n.port), "--bind", "127.0.0.1",
		"--dir", n.dir, "--logfile", n.logFile(), "--daemonize", "no",
		"--appendfilename", "appendonly.aof",
	)
	args = append(args, n.persist.redisArgs()...)
	args = append(args, n.extra...)
	cmd := exec.Command(n.bin, args...)
	cmd.Dir = n.dir
	cmd.Env = append(os.Environ(), "LOCKBENCH_OWNER="+strconv.Itoa(os.Getpid()))
	if n.shim != "" {
		cmd.Env = append(cmd.Env, "LD_PRELOAD="+n.shim, "LOCKBENCH_CLOCK_FILE="+n.clockFile())
	}
	// Own process group: a Ctrl-C on the terminal reaches the harness,
	// which then stops the nodes itself. Pdeathsig: if the harness dies
	// without cleaning up (SIGKILL), the kernel kills the node too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		n.mu.Unlock()
		return fmt.Errorf("start redis-server for %s: %w", n.name, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	n.cmd, n.exited, n.paused = cmd, exited, false
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port))
	var pinErr error
	if n.cpus != nil {
		pinErr = cpuset.Pin(cmd.Process.Pid, n.cpus)
	}
	n.mu.Unlock()
	if pinErr != nil {
		n.Kill(context.WithoutCancel(ctx))
		return fmt.Errorf("node %s: %w", n.name, pinErr)
	}

	err := waitReady(ctx, addr, n.timeout, exited)
	if err != nil {
		n.Kill(context.WithoutCancel(ctx))
		tail := tailFile(n.logFile(), 3)
		if tail == "" {
			tail = strings.TrimSpace(stderr.String())
		}
		return fmt.Errorf("node %s on %s did not start: %w (log: %s)", n.name, addr, err, tail)
	}
	return nil
}

// waitReady polls addr with PING until it answers +PONG, the process
// exits, the timeout passes or ctx ends.
func waitReady(ctx context.Context, addr string, timeout time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(timeout)
	for delay := time.Millisecond; ; delay = min(delay*2, 50*time.Millisecond) {
		if pingOnce(ctx, addr) == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no PONG within %v", timeout)
		}
		select {
		case <-exited:
			return errors.New("redis-server exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}

// pingOnce sends one inline PING on a fresh connection. It is used where
// a go-redis client would add pools and retries to a one-shot check.
func pingOnce(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: 200 * time.Millisecond}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 64)
	k, err := conn.Read(buf)
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(buf[:k], []byte("+PONG")) {
		return fmt.Errorf("unexpected reply %q", buf[:k])
	}
	return nil
}

// tailFile returns the last n lines of a file, joined by " | ".
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// PinCPUs confines the node's process, every thread of it, to cpus; a
// restarted process is confined again.
func (n *execNode) PinCPUs(ctx context.Context, cpus []int) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cpus = slices.Clone(cpus)
	if n.cmd == nil {
		return nil // applied when it starts
	}
	if err := cpuset.Pin(n.cmd.Process.Pid, cpus); err != nil {
		return fmt.Errorf("node %s: %w", n.name, err)
	}
	return nil
}

// Kill sends SIGKILL and waits for the process to be gone.
func (n *execNode) Kill(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return fmt.Errorf("node %s is not running", n.name)
	}
	if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill %s: %w", n.name, err)
	}
	// A SIGKILLed process is reaped by the kernel promptly; the bound
	// only guards against a wedged zombie.
	select {
	case <-n.exited:
	case <-time.After(5 * time.Second):
		return fmt.Errorf("node %s (pid %d) did not exit after SIGKILL", n.name, n.cmd.Process.Pid)
	}
	n.cmd, n.paused = nil, false
	return nil
}

// stop kills the node if it runs; used by Close.
func (n *execNode) stop() error {
	n.mu.Lock()
	running := n.cmd != nil
	n.mu.Unlock()
	if !running {
		return nil
	}
	return n.Kill(context.Background())
}

// signal sends sig to the running process.
func (n *execNode) signal(sig syscall.Signal, paused bool) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return fmt.Errorf("node %s is not running", n.name)
	}
	if err := n.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %v to %s: %w", sig, n.name, err)
	}
	n.paused = paused
	return nil
}

// Pause stops the process with SIGSTOP: the kernel keeps accepting TCP
// connections into the backlog but nothing is answered.
func (n *execNode) Pause(ctx context.Context) error { return n.signal(syscall.SIGSTOP, true) }

// Resume continues a paused process with SIGCONT.
func (n *execNode) Resume(ctx context.Context) error { return n.signal(syscall.SIGCONT, false) }

// SetClock rewrites the node's clock control file and, when the node runs
// and the rate is normal, waits until its TIME shows the new offset so the
// caller knows when the jump happened.
func (n *execNode) SetClock(ctx context.Context, offset time.Duration, rate float64) error {
	if n.shim == "" {
		return fmt.Errorf("node %s was not started with clock control (set Spec.FakeTime): %w", n.name, ErrUnsupported)
	}
	if rate <= 0 {
		return fmt.Errorf("clock rate %v must be positive: %w", rate, ErrBadSpec)
	}
	if err := writeClockControl(n.clockFile(), offset, rate); err != nil {
		return err
	}
	n.mu.Lock()
	running := n.cmd != nil && !n.paused
	n.mu.Unlock()
	if !running || rate != 1 {
		return nil
	}
	return waitClockOffset(ctx, n.Endpoint().Addr, offset)
}

// waitClockOffset polls the node's TIME until it is within 250 ms of the
// wanted offset; the shim re-reads its file every 20 ms.
func waitClockOffset(ctx context.Context, addr string, want time.Duration) error {
	deadline := time.Now().Add(3 * time.Second)
	var last time.Duration
	for time.Now().Before(deadline) {
		off, err := ClockOffset(ctx, endpoint.Endpoint{Addr: addr})
		if err == nil {
			last = off
			if d := off - want; d < 250*time.Millisecond && d > -250*time.Millisecond {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("clock of %s did not move to %v (last seen offset %v)", addr, want, last)
}
