package runner_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/locks"
	"github.com/lockbench/lockbench/runner"
	"github.com/lockbench/lockbench/workloads"
)

// memLock is a team's own lock: here a mutex in the harness's process,
// which is correct for clients that share it.
type memLock struct {
	mu   sync.Mutex
	held map[string]bool
}

func (m *memLock) Acquire(ctx context.Context, key string, ttl time.Duration) (locks.Lease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.held[key] {
		return nil, fmt.Errorf("%s is held: %w", key, locks.ErrNotObtained)
	}
	m.held[key] = true
	return &memLease{m: m, key: key}, nil
}

func (m *memLock) Close() error { return nil }

type memLease struct {
	m   *memLock
	key string
}

func (l *memLease) Key() string          { return l.key }
func (l *memLease) Token() string        { return l.key }
func (l *memLease) Fence() (int64, bool) { return 0, false }
func (l *memLease) Deadline() time.Time  { return time.Time{} }
func (l *memLease) Release(context.Context) error {
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	delete(l.m.held, l.key)
	return nil
}
func (l *memLease) Extend(context.Context, time.Duration) error { return nil }

// A Go team registers its own Locker as a strategy of the scenario and
// runs it like a built-in one: the same workload, history, checker and
// verdicts. (Redis still holds the protected resource: the example needs
// redis-server, as `make test` installs it.)
func ExampleScenario_strategies() {
	shared := &memLock{held: map[string]bool{}}
	mine := locks.Strategy{
		Name:        "in-memory",
		Description: "a mutex in the harness's process",
		New:         func(locks.Config) (locks.Locker, error) { return shared, nil },
	}
	spec, _ := workloads.Preset("hot-key")
	spec.Duration, spec.Clients = time.Second, 4
	sc := &runner.Scenario{Name: "example", Nodes: 1, Locks: []string{"in-memory"}, Strategies: []locks.Strategy{mine},
		Workloads: []runner.WorkloadRef{{Spec: spec}}}
	dir, _ := os.MkdirTemp("", "lockbench-example")
	defer os.RemoveAll(dir)
	sum, err := runner.Execute(context.Background(), sc, runner.Options{Cluster: cluster.AutoOptions{Provider: cluster.ProviderExec}, Dir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	c := sum.Cells[0]
	fmt.Println(c.Lock, c.Verdicts.Mutex, c.Verdicts.Resource, c.Class())
	// Output: in-memory ok ok safe
}
