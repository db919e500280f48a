package fleet

import "context"

// Launch is what an engine needs to start a run's agents.
type Launch struct {
	// Agents is how many agents to start; they get indexes 0..Agents-1.
	Agents int
	// Port is the TCP port the controller listens on for its agents. The
	// engine decides the host agents dial: 127.0.0.1 for local agents, the
	// controller's Service for agents on Kubernetes.
	Port int
	// Token authenticates the agents to the controller. Engines hand it to
	// agents in the environment (LOCKBENCH_AGENT_TOKEN), never on a command
	// line, where ps would show it.
	Token string
	// RunID names the run: object names and labels carry it.
	RunID string
	// Args are extra arguments for `bench agent` (test-only flags).
	Args []string
	// LogDir, when set, is the run's directory: an engine whose agents'
	// output it holds (local processes) writes it to agents.log there.
	LogDir string
}

// Engine starts agents somewhere; each dials the controller, registers
// with its index and waits for the start barrier.
type Engine interface {
	// Name is the engine's name in an --agents spec ("local", "k8s").
	Name() string
	// Start launches l.Agents agents. On error it removes whatever it had
	// made before returning.
	Start(ctx context.Context, l Launch) (Launched, error)
}

// Launched is a set of agents an engine started.
type Launched interface {
	// Stop ends every agent still running and removes what Start made
	// (processes, Kubernetes objects). It is safe to call more than once
	// and after the run's context ended: give it a context of its own.
	Stop(ctx context.Context) error
}
