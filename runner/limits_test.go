package runner

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lockbench/lockbench/scenarios"
	"github.com/lockbench/lockbench/workloads"
)

// smallMachine is a laptop-sized capacity the tests size against, so that
// they do not depend on the machine they run on.
func smallMachine() Capacity {
	return Capacity{
		OpenFiles: 1024, FilesOpen: 10, NodeFiles: 4096, SystemFiles: 1 << 20,
		MemAvailable: 4 << 30, Ports: 28232, Tasks: 30000, UserTasks: -1, CPUs: 2,
	}
}

// sized loads a built-in scenario and changes it.
func sized(t *testing.T, preset string, change func(*Scenario)) *Scenario {
	t.Helper()
	sc, err := LoadScenario("", preset)
	if err != nil {
		t.Fatal(err)
	}
	if change != nil {
		change(sc)
	}
	return sc
}

// checkScenario expands sc and checks it against c.
func checkScenario(t *testing.T, sc *Scenario, provider string, c Capacity) error {
	t.Helper()
	cells, err := sc.Expand()
	if err != nil {
		return err
	}
	return CheckCapacity(*sc, cells, provider, c)
}

func TestCheckCapacityRefusesWhatTheMachineCannotHold(t *testing.T) {
	with := func(f func(*Capacity)) Capacity { c := smallMachine(); f(&c); return c }
	hotKey := func(f func(*workloads.Spec)) func(*Scenario) {
		return func(sc *Scenario) {
			spec, _ := workloads.Preset("hot-key")
			f(&spec)
			sc.Workloads = []WorkloadRef{{Spec: spec}}
		}
	}
	for _, tc := range []struct {
		name     string
		change   func(*Scenario)
		provider string
		machine  Capacity
		// want are parts of the message: the input, the resource, the advice.
		want []string
	}{
		{"a hundred thousand nodes", func(sc *Scenario) { sc.Nodes = 100000 }, "exec", smallMachine(),
			[]string{"--nodes 100000 needs ~", "use at most", "nodes (--nodes, nodes:)"}},
		{"a hundred million clients", func(sc *Scenario) { sc.Clients = 100_000_000 }, "exec", smallMachine(),
			[]string{"--clients 100000000 (workload ", "use at most", "clients (--clients, clients:)"}},
		{"descriptors for the proxies", func(sc *Scenario) { sc.Nodes = 400 }, "exec", smallMachine(),
			[]string{"file descriptors", "ulimit -n 1024", "nodes"}},
		{"connections into one node", func(sc *Scenario) { sc.Clients = 12000 }, "docker", with(func(c *Capacity) { c.OpenFiles = 1 << 20; c.MemAvailable = 1 << 40 }),
			[]string{"connections into one node", "maxclients", "clients (--clients, clients:)"}},
		{"node descriptors cap maxclients", func(sc *Scenario) { sc.Clients = 2000 }, "exec", with(func(c *Capacity) { c.OpenFiles = 1 << 20; c.NodeFiles = 1024 }),
			[]string{"connections into one node", "accepts 992", "clients"}},
		{"ephemeral ports", func(sc *Scenario) { sc.Clients = 2000 }, "exec", with(func(c *Capacity) { c.OpenFiles = 1 << 20; c.Ports = 1000 }),
			[]string{"local ports", "ip_local_port_range", "clients"}},
		{"threads", func(sc *Scenario) { sc.Nodes = 50 }, "exec", with(func(c *Capacity) { c.Tasks = 100 }),
			[]string{"threads", "pid_max", "use at most 19 nodes"}},
		{"docker nodes take more threads", func(sc *Scenario) { sc.Nodes = 5 }, "docker", with(func(c *Capacity) { c.Tasks = 100 }),
			[]string{"threads", "use at most 3 nodes"}},
		{"a user's processes", func(sc *Scenario) { sc.Nodes = 5 }, "exec", with(func(c *Capacity) { c.UserTasks = 20 }),
			[]string{"processes", "ulimit -u", "use at most 3 nodes"}},
		{"system-wide files", func(sc *Scenario) { sc.Nodes = 5 }, "exec", with(func(c *Capacity) { c.SystemFiles = 100 }),
			[]string{"open files system-wide", "fs.file-max"}},
		{"a billion keys", hotKey(func(s *workloads.Spec) { s.Keys = workloads.Keys{Kind: "uniform", Count: 1_000_000_000} }), "exec", smallMachine(),
			[]string{"1000000000 keys (workload hot-key)", "of memory", "MemAvailable", "keys (keys: count: in the workload)"}},
		{"an open-loop rate no CPU keeps", hotKey(func(s *workloads.Spec) { s.Rate = 1e7 }), "exec", with(func(c *Capacity) { c.MemAvailable = 1 << 40 }),
			[]string{"rate 10000000/s", "lock cycles a second", "2 CPUs", "rate of at most"}},
		{"an open-loop history the checker cannot hold", hotKey(func(s *workloads.Spec) { s.Rate = 1e6; s.Duration = time.Hour }), "exec", smallMachine(),
			[]string{"of memory", "at most"}},
		{"a cell longer than a day", func(sc *Scenario) { sc.Duration = 1000 * time.Hour }, "exec", smallMachine(),
			[]string{"--duration 1000h0m0s is more than the 24h0m0s a run may take", "at most"}},
		{"cells that add up to days", func(sc *Scenario) { sc.Duration = time.Hour }, "exec", smallMachine(),
			[]string{"64 cells of up to 1h0m0s each are 64h0m0s of load", "run at most 24 cells", "22m30s"}},
		{"per-second statistics of long cells", func(sc *Scenario) { sc.Clients = 500; sc.Duration = 20 * time.Minute }, "exec", smallMachine(),
			[]string{"of memory", "at most"}},
		{"external nodes still need proxies", func(sc *Scenario) { sc.Nodes = 100000 }, "external", smallMachine(),
			[]string{"file descriptors", "nodes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := checkScenario(t, sized(t, "default", tc.change), tc.provider, tc.machine)
			if took := time.Since(start); took > time.Second {
				t.Errorf("the check took %v", took)
			}
			if !errors.Is(err, ErrTooBig) || !errors.Is(err, ErrBadScenario) {
				t.Fatalf("error %v, want ErrTooBig and ErrBadScenario", err)
			}
			msg := err.Error()
			t.Log(msg)
			if strings.Contains(msg, "\n") {
				t.Errorf("message is not one line: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
		})
	}
}

// TestCapacityAdviceFits: the largest value the message advises runs, one
// more does not.
func TestCapacityAdviceFits(t *testing.T) {
	advice := regexp.MustCompile(`use at most (\d+) (nodes|clients)`)
	for _, tc := range []struct {
		name   string
		change func(*Scenario)
	}{
		{"nodes", func(sc *Scenario) { sc.Nodes = 100000 }},
		{"clients", func(sc *Scenario) { sc.Clients = 100_000_000 }},
		{"nodes within the descriptors", func(sc *Scenario) { sc.Nodes = 400 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkScenario(t, sized(t, "default", tc.change), "exec", smallMachine())
			m := advice.FindStringSubmatch(err.Error())
			if m == nil {
				t.Fatalf("no advice in %v", err)
			}
			k, _ := strconv.Atoi(m[1])
			set := func(sc *Scenario, v int) {
				if m[2] == "nodes" {
					sc.Nodes = v
				} else {
					sc.Clients = v
				}
			}
			if err := checkScenario(t, sized(t, "default", func(sc *Scenario) { tc.change(sc); set(sc, k) }), "exec", smallMachine()); err != nil {
				t.Errorf("the advised %d %s is refused too: %v", k, m[2], err)
			}
			if err := checkScenario(t, sized(t, "default", func(sc *Scenario) { tc.change(sc); set(sc, k+1) }), "exec", smallMachine()); err == nil {
				t.Errorf("%d %s are accepted: the advice %d is not the largest that fits", k+1, m[2], k)
			}
		})
	}
}

// TestCheckCapacityAcceptsTheBuiltins: every built-in scenario runs on a
// small machine and on this one, with every provider (the zoo's test does
// the same for the zoo).
func TestCheckCapacityAcceptsTheBuiltins(t *testing.T) {
	here := ReadCapacity()
	for _, machine := range []struct {
		name string
		c    Capacity
	}{{"small machine", smallMachine()}, {"this machine", here}} {
		for _, provider := range []string{"exec", "docker", "external"} {
			for _, name := range scenarios.Names() {
				if err := checkScenario(t, sized(t, name, nil), provider, machine.c); err != nil {
					t.Errorf("%s, %s, scenario %s: %v", machine.name, provider, name, err)
				}
			}
		}
	}
}

func TestExpandRefusesTooManyCellsBeforeBuildingThem(t *testing.T) {
	for _, repeat := range []int{maxCells, 1 << 62} {
		sc := sized(t, "default", func(sc *Scenario) { sc.Repeat = repeat })
		start := time.Now()
		cells, err := sc.Expand()
		if !errors.Is(err, ErrTooBig) || !errors.Is(err, ErrBadScenario) || cells != nil {
			t.Fatalf("repeat %d: %d cells, error %v; want ErrTooBig", repeat, len(cells), err)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("repeat %d: refused after %v: the cells were built first", repeat, took)
		}
		if !strings.Contains(err.Error(), "repeat "+strconv.Itoa(repeat)) {
			t.Errorf("message %q does not name the repeat", err)
		}
	}
}

func TestReadCapacity(t *testing.T) {
	c := ReadCapacity()
	t.Logf("%+v", c)
	for name, v := range map[string]int64{
		"OpenFiles": c.OpenFiles - c.FilesOpen, "FilesOpen": c.FilesOpen, "NodeFiles": c.NodeFiles,
		"SystemFiles": c.SystemFiles, "MemAvailable": c.MemAvailable, "Ports": c.Ports, "Tasks": c.Tasks,
		"CPUs": int64(c.CPUs),
	} {
		if v <= 0 {
			t.Errorf("%s = %d, want > 0 on Linux", name, v)
		}
	}
}
