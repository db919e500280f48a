package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/testcontainers/testcontainers-go"
)

// dockerRun is what one Start of a replicated topology on the docker
// provider made: containers on the host's network, labelled with one
// cluster id. close removes them all.
type dockerRun struct {
	image   string
	timeout time.Duration
	persist Persistence
	cli     *testcontainers.DockerClient
	host    string
	id      string

	mu    sync.Mutex // nodes are started in parallel
	nodes []*dockerNode
}

// startTopology starts a replicated topology of containers. They run on
// the host's network so that every address a node, Sentinel or cluster
// bus announces is the 127.0.0.1 one clients and the other nodes reach;
// a bridge network's addresses would not be reachable from here, and
// published ports are not the ports the nodes know themselves by.
func (p *dockerProvider) startTopology(ctx context.Context, spec Spec) (*Cluster, error) {
	if err := spec.validateTopologySize(); err != nil {
		return nil, err
	}
	cli, host, id, err := p.session(ctx, spec)
	if err != nil {
		return nil, err
	}
	r := &dockerRun{image: p.opts.Image, timeout: p.opts.StartTimeout, persist: spec.Persistence, cli: cli, host: host, id: id}
	return startTopology(ctx, spec, r, ProviderDocker, dockerCaps)
}

// start creates and starts one container listening on a free 127.0.0.1
// port of the host, its config file copied in as /data/redis.conf (the
// image's writable dir: Sentinel and CONFIG REWRITE write it back). A
// port taken between picking and binding makes redis-server exit; that
// is retried with new ports and a new config.
func (r *dockerRun) start(ctx context.Context, tn topoNode) (Node, error) {
	persist := r.persist
	if tn.sentinel {
		persist = PersistNone
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var ports []int
		if ports, err = dockerFreePorts(1); err != nil {
			return nil, err
		}
		var lines []string
		if lines, err = tn.conf(); err != nil {
			return nil, fmt.Errorf("node %s: %w", tn.name, err)
		}
		n := &dockerNode{name: tn.name, cli: r.cli, timeout: r.timeout, port: ports[0]}
		r.mu.Lock()
		r.nodes = append(r.nodes, n)
		r.mu.Unlock()
		args := append([]string{"/data/redis.conf",
			"--port", strconv.Itoa(n.port), "--bind", "127.0.0.1", "--dir", "/data",
		}, persist.redisArgs()...)
		if tn.sentinel {
			args = append(args, "--sentinel")
		}
		setup := dockerSetup{args: args, hostNet: true, files: []testcontainers.ContainerFile{{
			Reader:            strings.NewReader(strings.Join(lines, "\n") + "\n"),
			ContainerFilePath: "/data/redis.conf",
			FileMode:          0o644,
		}}}
		name := tn.name
		if attempt > 0 {
			name += "-" + strconv.Itoa(attempt) // the failed container is still there until close
		}
		if err = n.create(ctx, r.image, setup, dockerLabels(r.host, r.id, tn.name), dockerName(r.id, name)); err == nil {
			return n, nil
		}
		if !strings.Contains(err.Error(), "in use") {
			return nil, err
		}
	}
	return nil, err
}

// close removes every container of the run.
func (r *dockerRun) close() error {
	// Removal must finish whatever ended the run: never cancelled, only
	// bounded.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r.mu.Lock()
	nodes := slices.Clone(r.nodes)
	r.mu.Unlock()
	err := eachParallel(ctx, len(nodes), func(i int) error {
		if n := nodes[i]; n.id != "" {
			return n.remove(ctx)
		}
		return nil
	})
	err = errors.Join(err, dockerRemoveCluster(ctx, r.cli, r.id))
	r.cli.Close()
	return err
}
