package main

import (
	"fmt"
	"io"

	"github.com/lockbench/lockbench/fleet"
)

// defaultAgentPort is where a controller in a pod listens for its agents.
const defaultAgentPort = 7946

func k8sEngine(spec fleet.Spec, image string) (fleet.Engine, error) {
	return nil, fmt.Errorf("k8s engine: not wired yet: %w", errBadInput)
}

func agentManifest(args []string, stdout, stderr io.Writer) int {
	return fail(stderr, "agent manifest", fmt.Errorf("not wired yet: %w", errBadInput))
}
