package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// startTopology starts a replicated topology of exec processes.
func (p *execProvider) startTopology(ctx context.Context, spec Spec) (*Cluster, error) {
	if err := spec.validateTopologySize(); err != nil {
		return nil, err
	}
	r, err := p.newRun(ctx, spec)
	if err != nil {
		return nil, err
	}
	return startTopology(ctx, spec, r, ProviderExec, execCaps)
}

// start makes one process of a replicated topology in its own dir under
// the root, writes its config file and starts it. A port taken between
// picking and binding is retried with new ports and a new config.
func (r *execRun) start(ctx context.Context, tn topoNode) (Node, error) {
	persist, shim := r.persist, r.shim
	if tn.sentinel {
		// No clock shim: the fake clock is for the data nodes a lock
		// lives on; a Sentinel on a moved clock would fail over on its
		// own. No data either.
		persist, shim = PersistNone, ""
	}
	n := r.node(tn.name, persist, shim)
	if tn.sentinel {
		n.extra = []string{"--sentinel"}
	}
	if err := os.MkdirAll(n.dir, 0o755); err != nil {
		return nil, fmt.Errorf("node %s: %w", n.name, err)
	}
	n.conf = filepath.Join(n.dir, "redis.conf")
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var lines []string
		if lines, err = tn.conf(); err != nil {
			return nil, fmt.Errorf("node %s: %w", n.name, err)
		}
		if err = os.WriteFile(n.conf, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			return nil, fmt.Errorf("node %s: write config: %w", n.name, err)
		}
		if err = n.firstStart(ctx); err == nil {
			return n, nil
		}
		if !strings.Contains(err.Error(), "in use") {
			return nil, err
		}
	}
	return nil, err
}
