package cpuset

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"testing"
)

// allowedOrSkip returns this process's CPUs.
func allowedOrSkip(t *testing.T) []int {
	t.Helper()
	cpus, err := Allowed(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(cpus) == 0 {
		t.Fatal("Allowed(0) listed no CPU")
	}
	return cpus
}

func TestPinConfinesEveryThreadOfAChild(t *testing.T) {
	all := allowedOrSkip(t)
	last := all[len(all)-1:]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, "sleep", "30") // killed by cancel
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cancel() // before Wait
	if err := Pin(cmd.Process.Pid, last); err != nil {
		t.Fatal(err)
	}
	tids, err := threads(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	for _, tid := range tids {
		got, err := Allowed(tid)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, last) {
			t.Errorf("thread %d may run on CPUs %v, want %v", tid, got, last)
		}
	}
}

func TestPinSelfAndRestore(t *testing.T) {
	all := allowedOrSkip(t)
	first := all[:1]
	restore, err := PinSelf(first)
	if err != nil {
		t.Fatal(err)
	}
	// Threads started while pinned inherit the pin: start some.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { exec.Command("true").Run() })
	}
	wg.Wait()
	check := func(want []int) {
		t.Helper()
		tids, err := threads(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		for _, tid := range tids {
			got, err := Allowed(tid)
			if err != nil {
				continue // exited since it was listed
			}
			if !slices.Equal(got, want) {
				t.Errorf("thread %d may run on CPUs %v, want %v", tid, got, want)
			}
		}
	}
	check(first)
	if err := restore(); err != nil {
		t.Fatal(err)
	}
	check(all)
}

func TestPinRefusesNoCPUsAndDeadProcesses(t *testing.T) {
	if err := Pin(0, nil); err == nil {
		t.Error("Pin with no CPUs succeeded")
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if err := Pin(cmd.Process.Pid, []int{0}); err == nil {
		t.Errorf("Pin of exited pid %s succeeded", strconv.Itoa(cmd.Process.Pid))
	}
}
