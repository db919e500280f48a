package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long a local agent has to exit after SIGTERM before
// it is killed.
const stopGrace = 5 * time.Second

// Local starts agents as processes on this machine: for tests, laptops,
// and a first look before a cluster.
type Local struct {
	// Command runs one agent: the bench binary and "agent" by default
	// (os.Executable). The engine adds --controller, --name and --index.
	Command []string
	// Env is added to the agents' environment (with the token).
	Env []string
	// Log takes the agents' output; nil discards it.
	Log io.Writer
}

// Name is "local".
func (*Local) Name() string { return "local" }

// Start runs l.Agents agent processes, each in a process group of its
// own, dialling 127.0.0.1.
func (e *Local) Start(ctx context.Context, l Launch) (Launched, error) {
	cmdline := e.Command
	if len(cmdline) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("local agents: find the bench binary: %w", err)
		}
		cmdline = []string{exe, "agent"}
	}
	out := e.Log
	ls := &localSet{}
	if out == nil && l.LogDir != "" {
		f, err := os.Create(filepath.Join(l.LogDir, "agents.log"))
		if err != nil {
			return nil, fmt.Errorf("local agents: %w", err)
		}
		ls.log, out = f, f
	}
	if out == nil {
		out = io.Discard
	}
	for i := range l.Agents {
		args := append(append([]string{}, cmdline[1:]...),
			"--controller", "127.0.0.1:"+strconv.Itoa(l.Port), "--name", "local-"+strconv.Itoa(i), "--index", strconv.Itoa(i))
		args = append(args, l.Args...)
		// Not CommandContext: the agents are stopped by Stop, politely,
		// also after ctx ended.
		cmd := exec.Command(cmdline[0], args...)
		cmd.Env = append(append(os.Environ(), e.Env...), "LOCKBENCH_AGENT_TOKEN="+l.Token)
		cmd.Stdout, cmd.Stderr = out, out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			_ = ls.Stop(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("local agents: start %s: %w", cmdline[0], err)
		}
		p := &localProc{cmd: cmd, done: make(chan struct{})}
		go func() { p.err = cmd.Wait(); close(p.done) }()
		ls.procs = append(ls.procs, p)
	}
	return ls, nil
}

type localProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// localSet is the agents Local started.
type localSet struct {
	log   *os.File // agents.log, closed by Stop
	once  sync.Once
	procs []*localProc
	err   error
}

// Stop asks every agent to end (SIGTERM to its process group), and kills
// those still running after stopGrace or when ctx ends.
func (s *localSet) Stop(ctx context.Context) error {
	s.once.Do(func() {
		// Agents told bye end by themselves within moments.
		byeWait := time.NewTimer(time.Second)
		defer byeWait.Stop()
		for _, p := range s.procs {
			select {
			case <-p.done:
			case <-byeWait.C:
			case <-ctx.Done():
			}
		}
		for _, p := range s.procs {
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		}
		t := time.NewTimer(stopGrace)
		defer t.Stop()
		var errs []error
		for i, p := range s.procs {
			select {
			case <-p.done:
			case <-t.C:
			case <-ctx.Done():
			}
			select {
			case <-p.done:
			default:
				_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
				<-p.done
				errs = append(errs, fmt.Errorf("local agent %d did not end within %v of SIGTERM: killed", i, stopGrace))
			}
		}
		if s.log != nil {
			errs = append(errs, s.log.Close())
		}
		s.err = errors.Join(errs...)
	})
	return s.err
}

// Exited reports, without waiting, an agent process that already ended
// and how: for a controller waiting on registrations that will never
// come.
func (s *localSet) Exited() error {
	for i, p := range s.procs {
		select {
		case <-p.done:
			if p.err != nil {
				return fmt.Errorf("local agent %d exited: %w", i, p.err)
			}
			return fmt.Errorf("local agent %d exited before the run ended", i)
		default:
		}
	}
	return nil
}
