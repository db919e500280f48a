package main

import (
	"fmt"
	"io"

	"github.com/lockbench/lockbench/fleet"
	"github.com/lockbench/lockbench/fleet/k8s"
)

// defaultAgentPort is where a controller in a pod listens for its agents.
const defaultAgentPort = 7946

// k8sEngine is the Kubernetes engine of spec, with the cluster's client
// from the pod's service account or the kubeconfig.
func k8sEngine(spec fleet.Spec, image string) (fleet.Engine, error) {
	e, err := k8s.New(spec.Namespace, k8s.Options{Image: image, Port: defaultAgentPort})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, fleet.ErrAgent)
	}
	return e, nil
}

// agentManifest is `bench agent manifest`: the Kubernetes objects of a
// run's agents, for users who apply manifests themselves and then run the
// controller with --agents wait:N.
func agentManifest(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("agent manifest")
	ns := fs.String("namespace", "default", "the namespace of the agents and the controller pod")
	n := fs.Int("agents", fleet.DefaultK8sAgents, "how many agents (the Job's completions and parallelism)")
	image := fs.String("image", k8s.DefaultImage, "the image holding the bench binary")
	port := fs.Int("port", defaultAgentPort, "the controller's port (bench run --agent-listen :PORT)")
	runID := fs.String("run-id", "manual", "names the objects (lockbench-RUN-ID) and labels them")
	if !parseFlags(fs, args, stderr) {
		return exitBadInput
	}
	if *n < 1 || *n > fleet.MaxAgents || *port < 1 || *port > 65535 {
		return fail(stderr, "agent manifest", fmt.Errorf("--agents must be 1..%d and --port 1..65535: %w", fleet.MaxAgents, errBadInput))
	}
	err := k8s.WriteManifest(stdout, k8s.Options{Namespace: *ns, Image: *image, Port: *port}, fleet.Launch{Agents: *n, Port: *port, RunID: *runID})
	if err != nil {
		return fail(stderr, "agent manifest", fmt.Errorf("%w: %w", err, errBadInput))
	}
	return exitOK
}
