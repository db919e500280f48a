package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrBadSpec marks an --agents value that cannot be used.
var ErrBadSpec = errors.New("bad agents spec")

// DefaultK8sAgents is how many agents k8s:NAMESPACE starts when the spec
// names no count.
const DefaultK8sAgents = 3

// MaxAgents bounds an --agents count: every agent is a process and a
// connection of the controller's.
const MaxAgents = 256

// Spec is a parsed --agents value: local:N, k8s:NAMESPACE[:N], or
// wait:N (agents started by someone else, from bench agent manifest).
type Spec struct {
	// Engine is "local", "k8s" or "wait".
	Engine string
	// Count is how many agents.
	Count int
	// Namespace is the Kubernetes namespace (k8s).
	Namespace string
}

// String is the spec as written.
func (s Spec) String() string {
	if s.Engine == "k8s" {
		return "k8s:" + s.Namespace + ":" + strconv.Itoa(s.Count)
	}
	return s.Engine + ":" + strconv.Itoa(s.Count)
}

// ParseSpec reads an --agents value.
func ParseSpec(v string) (Spec, error) {
	engine, rest, _ := strings.Cut(strings.TrimSpace(v), ":")
	bad := func(why string) (Spec, error) {
		return Spec{}, fmt.Errorf("--agents %q: %s (want local:N, k8s:NAMESPACE[:N] or wait:N): %w", v, why, ErrBadSpec)
	}
	count := func(s string) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxAgents {
			return 0, fmt.Errorf("agent count %q is not a number from 1 to %d", s, MaxAgents)
		}
		return n, nil
	}
	switch engine {
	case "local", "wait":
		n, err := count(rest)
		if err != nil {
			return bad(err.Error())
		}
		return Spec{Engine: engine, Count: n}, nil
	case "k8s":
		ns, n, hasN := strings.Cut(rest, ":")
		if ns == "" {
			return bad("no namespace")
		}
		s := Spec{Engine: "k8s", Namespace: ns, Count: DefaultK8sAgents}
		if hasN {
			c, err := count(n)
			if err != nil {
				return bad(err.Error())
			}
			s.Count = c
		}
		return s, nil
	}
	return bad("unknown engine " + strconv.Quote(engine))
}

// Session is a run's agents, registered and waiting for cells.
type Session struct {
	// Spec is what was asked for.
	Spec Spec
	// Controller drives the agents.
	Controller *Controller
	launched   Launched
}

// exiter is a Launched that can tell an agent ended early.
type exiter interface{ Exited() error }

// failer is a Launched that can tell its agents failed for good before
// registering (a pod's image cannot be pulled): the reason, or "".
type failer interface {
	Failed(ctx context.Context) (string, error)
}

// earlyEnd says why an agent will never register, or nil.
func earlyEnd(ctx context.Context, l Launched) error {
	if ex, ok := l.(exiter); ok {
		if err := ex.Exited(); err != nil {
			return err
		}
	}
	if f, ok := l.(failer); ok {
		if why, err := f.Failed(ctx); err == nil && why != "" {
			return errors.New(why)
		}
	}
	return nil
}

// Waiting is the engine of agents someone else starts (wait:N): kubectl
// apply of bench agent manifest's objects, or bench agent by hand. It
// starts nothing and stops nothing; the controller waits for them.
type Waiting struct{}

// Name is "wait".
func (Waiting) Name() string { return "wait" }

// Start starts nothing.
func (Waiting) Start(context.Context, Launch) (Launched, error) { return noAgents{}, nil }

type noAgents struct{}

func (noAgents) Stop(context.Context) error { return nil }

// Open starts spec.Count agents through engine, listening on listen
// (host:port), and waits until every one registered, within timeout.
// logDir is the run's directory, where an engine may keep the agents'
// output.
// On error nothing is left running.
func Open(ctx context.Context, engine Engine, spec Spec, listen, runID, logDir string, args []string, timeout time.Duration) (*Session, error) {
	return OpenWithToken(ctx, engine, spec, listen, "", runID, logDir, args, timeout)
}

// OpenWithToken is Open with the agents' token given (agents started by
// someone else know it in advance); an empty token is made up at random.
func OpenWithToken(ctx context.Context, engine Engine, spec Spec, listen, tok, runID, logDir string, args []string, timeout time.Duration) (*Session, error) {
	if tok == "" {
		token := make([]byte, 16)
		if _, err := rand.Read(token); err != nil {
			return nil, fmt.Errorf("agents: token: %w", err)
		}
		tok = hex.EncodeToString(token)
	}
	ctrl, err := Listen(listen, tok)
	if err != nil {
		return nil, err
	}
	launched, err := engine.Start(ctx, Launch{Agents: spec.Count, Port: ctrl.Port(), Token: tok, RunID: runID, Args: args, LogDir: logDir})
	if err != nil {
		_ = ctrl.Close()
		return nil, fmt.Errorf("agents (%s): %w", engine.Name(), err)
	}
	s := &Session{Spec: spec, Controller: ctrl, launched: launched}
	actx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("not all registered within %v", timeout))
	defer cancel()
	// An agent that ended before registering never will: say so at once
	// rather than at the timeout.
	watch, stop := context.WithCancelCause(actx)
	defer stop(nil)
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-watch.Done():
				return
			case <-t.C:
				if err := earlyEnd(watch, launched); err != nil {
					stop(err)
					return
				}
			}
		}
	}()
	actx = watch
	if err := ctrl.Accept(actx, spec.Count); err != nil {
		_ = s.Close(context.WithoutCancel(ctx))
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	return s, nil
}

// Close says bye to the agents and stops what the engine started.
func (s *Session) Close(ctx context.Context) error {
	cerr := s.Controller.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return errors.Join(cerr, s.launched.Stop(ctx))
}
