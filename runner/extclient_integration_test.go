package runner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/history"
	"github.com/lockbench/lockbench/internal/testenv"
	"github.com/lockbench/lockbench/summary"
)

// TestExternalClientsMisbehaving runs external lock clients that break
// the protocol's rules, each a shell one-liner, with the real runner on
// exec nodes: a client that never answers has its requests recorded as
// unknown and its process replaced, and the cell still ends on time; one
// that exits mid-cell is recorded as a crash and replaced; one that
// prints garbage ends the cell with an error quoting the line, and what
// was recorded before stays in the history.
func TestExternalClientsMisbehaving(t *testing.T) {
	testenv.NeedRedisServer(t)
	for _, tc := range []struct {
		name, script string
		wantErr      string // the cell's error; "" = the cell ran
	}{
		{"silent", "cat > /dev/null", ""},
		// Answers its first request (not obtained), exits on the next.
		{"exits", `read line; id=$(echo "$line" | sed 's/.*"id":\([0-9]*\).*/\1/'); echo "{\"id\":$id,\"type\":\"fail\",\"error\":\"busy\"}"; read line; exit 3`, ""},
		// Refuses its environment: exits before a single reply, every time.
		{"refuses", "echo 'topology unsupported' >&2; exit 2", "exited before a single reply"},
		{"garbage", `read line; echo "this is not json"; cat > /dev/null`, `broke protocol v1 at stdout line 1: `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := uncontended(t, 2*time.Second)
			w.Spec.TTL = 200 * time.Millisecond // the command timeout: 100 ms
			w.Spec.Clients = 2
			sc := Scenario{Name: "t", Locks: []string{tc.name}, Workloads: []WorkloadRef{w},
				LockClients: []LockClient{{Name: tc.name, Command: []string{"sh", "-c", tc.script}}}}
			dir := t.TempDir()
			cells, err := sc.Expand()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			start := time.Now()
			if _, err := ExecuteCells(ctx, sc, cells, Options{Cluster: cluster.AutoOptions{Provider: "exec"}, Dir: dir, RunID: "test"}); err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			sum, err := summary.Read(filepath.Join(dir, "summary.json"))
			if err != nil {
				t.Fatal(err)
			}
			c := sum.Cells[0]
			if tc.wantErr != "" {
				if !strings.Contains(c.Error, tc.wantErr) || tc.name == "garbage" && !strings.Contains(c.Error, "this is not json") {
					t.Fatalf("cell error %q, want one saying %q (and quoting the line)", c.Error, tc.wantErr)
				}
			} else if c.Error != "" {
				t.Fatalf("cell error: %s", c.Error)
			}
			events, err := history.ReadFile(filepath.Join(dir, c.History))
			if err != nil {
				t.Fatalf("the history must stay readable: %v", err)
			}
			var invokes, infos, crashes int
			for _, e := range events {
				switch {
				case e.Type == history.Invoke && e.Op == history.Acquire:
					invokes++
				case e.Type == history.Info && e.Op == history.Acquire:
					infos++
				case e.Type == history.Crash:
					crashes++
				}
			}
			if invokes == 0 {
				t.Fatalf("nothing recorded: %d events", len(events))
			}
			if tc.wantErr == "" {
				// Every unknown acquire ended a process, which came back
				// under a new id.
				if infos == 0 || crashes < infos-2 || c.Counts.AcquireOK != 0 {
					t.Errorf("%d acquires, %d unknown, %d crashes, %d ok: want the unknowns recorded and the processes replaced", invokes, infos, crashes, c.Counts.AcquireOK)
				}
				// Each request waits at most the 100 ms command timeout
				// (plus the first one's start allowance): the cell ends
				// near its 2 s.
				if took > 30*time.Second {
					t.Errorf("the run took %v", took)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "cells", c.ID, "clients.log")); err != nil {
				t.Errorf("no clients.log: %v", err)
			}
		})
	}
}

// TestExternalPythonClient runs redis-py's own Lock through its reference
// client beside the in-process token lock (the done-when command,
// as a scenario), then under a client pause past its TTL: the pause is a
// real SIGSTOP of the client process, recorded as a pause.
func TestExternalPythonClient(t *testing.T) {
	testenv.NeedRedisServer(t)
	python := testenv.NeedPythonRedis(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	w := uncontended(t, 3*time.Second)
	w.Spec.Keys.Kind, w.Spec.TTL = "single", 300*time.Millisecond
	sc := Scenario{Name: "t", Locks: []string{"py-lock", "token"}, Workloads: []WorkloadRef{w}, Faults: []string{"none", "kleppmann-client-pause"},
		LockClients: []LockClient{{Name: "py-lock", Command: []string{python, filepath.Join(root, "clients/python/redis_py_lock.py")}, Release: "owner"}}}
	dir := t.TempDir()
	sum := runCells(t, sc, Options{Cluster: cluster.AutoOptions{Provider: "exec"}, Dir: dir})
	for _, c := range sum.Cells {
		if c.Error != "" {
			t.Fatalf("%s: %s", c.ID, c.Error)
		}
		switch {
		case c.Fault == "none" && c.Class().String() != "safe":
			t.Errorf("%s: %s without a fault (verdicts %+v)", c.ID, c.Class(), c.Verdicts)
		case c.Lock == "py-lock" && c.Fault != "none":
			events, err := history.ReadFile(filepath.Join(dir, c.History))
			if err != nil {
				t.Fatal(err)
			}
			pauses := 0
			for _, e := range events {
				if e.Type == history.Nemesis && e.Fault == "client-pause" && e.Phase == "start" {
					pauses++
				}
			}
			if pauses == 0 {
				t.Errorf("%s: no client pause in the history", c.ID)
			}
			if c.Verdicts.Resource == "ok" {
				t.Errorf("%s: a pause past the TTL left the resource ok (%+v)", c.ID, c.Verdicts)
			}
		}
	}
}
