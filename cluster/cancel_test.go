package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	mobyclient "github.com/moby/moby/client"

	"github.com/lockbench/lockbench/internal/leakcheck"
	"github.com/lockbench/lockbench/internal/testenv"
)

// countingRedis writes a redis-server wrapper that appends a line to a file
// every time it is started, so that a test can count the nodes forked.
func countingRedis(t *testing.T) (bin, starts string) {
	t.Helper()
	testenv.NeedRedisServer(t)
	real, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	starts = filepath.Join(dir, "starts")
	bin = filepath.Join(dir, "redis-server")
	script := fmt.Sprintf("#!/bin/sh\necho $$ >> '%s'\nexec '%s' \"$@\"\n", starts, real)
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, starts
}

// countLines is how many lines file has (0 when it does not exist).
func countLines(file string) int {
	b, _ := os.ReadFile(file)
	return bytes.Count(b, []byte("\n"))
}

// TestExecStartStopsWhenCancelled: once ctx ends, Start forks no further
// node, returns context.Canceled, and leaves nothing behind.
func TestExecStartStopsWhenCancelled(t *testing.T) {
	const nodes = 40
	for _, tc := range []struct {
		name string
		// cancelAt is how many nodes must have been forked before the
		// cancel; 0 cancels before Start.
		cancelAt, maxStarts int
	}{
		{"before Start", 0, 0},
		// Those already begun may finish forking; nothing after them.
		{"after the first fork", 1, 2 * parallelLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin, starts := countingRedis(t)
			before := leakcheck.Take()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var cancelled time.Time
			watched := make(chan struct{})
			if tc.cancelAt == 0 {
				cancel()
				cancelled = time.Now()
				close(watched)
			} else {
				go func() {
					defer close(watched)
					for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
						if countLines(starts) >= tc.cancelAt {
							break
						}
					}
					cancelled = time.Now()
					cancel()
				}()
			}
			c, err := NewExec(ExecOptions{Binary: bin}).Start(ctx, Spec{Nodes: nodes})
			<-watched
			returned := time.Since(cancelled)
			if err == nil {
				c.Close()
				t.Fatalf("Start of %d nodes finished although cancelled; increase the node count", nodes)
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("error %v, want one wrapping context.Canceled", err)
			}
			if n := countLines(starts); n > tc.maxStarts {
				t.Errorf("%d redis-servers forked, want at most %d: a cancelled start must not fork more", n, tc.maxStarts)
			}
			if returned > 5*time.Second {
				t.Errorf("Start returned %v after the cancel", returned)
			}
			if got := before.New(leakcheck.Take()); len(got) != 0 {
				t.Errorf("after a cancelled Start, left behind: %v", got)
			}
		})
	}
}

// TestDockerStartCancelledLeavesNothing cancels Start at several moments
// (before it, while containers are created, while they start) and checks
// that no container is left once Start has returned.
func TestDockerStartCancelledLeavesNothing(t *testing.T) {
	needDocker(t)
	cli := dockerTestClient(t)
	for _, delay := range []time.Duration{0, 50 * time.Millisecond, 150 * time.Millisecond, 400 * time.Millisecond, time.Second} {
		t.Run(delay.String(), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			time.AfterFunc(delay, cancel)
			start := time.Now()
			c, err := NewDocker(DockerOptions{}).Start(ctx, Spec{Nodes: 3})
			took := time.Since(start)
			if err == nil {
				t.Logf("started before the cancel, in %v", took)
				if err := c.Close(); err != nil {
					t.Fatal(err)
				}
			} else if !errors.Is(err, context.Canceled) {
				t.Errorf("error %v, want one wrapping context.Canceled", err)
			}
			if took > delay+10*time.Second {
				t.Errorf("Start returned %v after the cancel", took-delay)
			}
			if left := ownContainers(t, cli); len(left) != 0 {
				t.Errorf("%d containers left after a Start cancelled after %v: %v", len(left), delay, left[0].Names)
				for _, c := range left {
					cli.ContainerRemove(context.Background(), c.ID, mobyclient.ContainerRemoveOptions{Force: true})
				}
			}
		})
	}
}
