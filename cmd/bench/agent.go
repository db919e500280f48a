package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/lockbench/lockbench/agent"
	"github.com/lockbench/lockbench/fleet"
	"github.com/lockbench/lockbench/runner"
)

// agentCmd is `bench agent`: worker mode (see agent.Flags for where its
// settings come from).
func agentCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "manifest" {
		return agentManifest(args[1:], stdout, stderr)
	}
	fs := newFlags("agent")
	settings := agent.Flags(fs, os.Getenv)
	if !parseFlags(fs, args, stderr) {
		return exitBadInput
	}
	cfg, err := settings()
	if err != nil {
		return fail(stderr, "agent", fmt.Errorf("%w: %w", err, errBadInput))
	}
	cfg.Log = stderr
	err = agent.Run(ctx, cfg)
	switch {
	case err == nil:
		return exitOK
	case ctx.Err() != nil:
		fmt.Fprintf(stderr, "bench agent: interrupted\n")
		return exitUndecided
	case errors.Is(err, agent.ErrRefused):
		return fail(stderr, "agent", fmt.Errorf("%w: %w", err, errBadInput))
	}
	return fail(stderr, "agent", err)
}

// agentOptions are bench run's flags about agents.
type agentOptions struct {
	spec, image, listen, advertise string
}

// agents builds the runner's agents from the flags; nil without --agents.
func (a *agentOptions) agents() (*runner.Agents, error) {
	if a.spec == "" {
		return nil, nil
	}
	spec, err := fleet.ParseSpec(a.spec)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, errBadInput)
	}
	ra := &runner.Agents{Spec: spec, Listen: a.listen, Advertise: a.advertise}
	if ra.Advertise == "" && spec.Engine != "local" {
		// A controller in a pod: the downward API's POD_IP, if the pod
		// sets it, is where the agents' pods reach it.
		ra.Advertise = os.Getenv("POD_IP")
	}
	switch spec.Engine {
	case "local":
		ra.Engine = &fleet.Local{}
	case "wait":
		// Agents applied from bench agent manifest: they hold the token
		// the user put in its Secret, and the controller must too.
		ra.Engine = fleet.Waiting{}
		if ra.Token = os.Getenv("LOCKBENCH_AGENT_TOKEN"); ra.Token == "" {
			return nil, fmt.Errorf("--agents wait:N needs LOCKBENCH_AGENT_TOKEN set to the token the agents were given (the manifest's Secret): %w", errBadInput)
		}
		if ra.Listen == "" {
			ra.Listen = fmt.Sprintf(":%d", defaultAgentPort)
		}
	default:
		e, err := k8sEngine(spec, a.image)
		if err != nil {
			return nil, err
		}
		ra.Engine = e
		if ra.Listen == "" {
			ra.Listen = fmt.Sprintf(":%d", defaultAgentPort)
		}
	}
	return ra, nil
}
