package cpuset

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Allowed returns the CPUs, in ascending order, that the process pid may
// run on (0: this process, as its calling thread sees it).
func Allowed(pid int) ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(pid, &set); err != nil {
		return nil, fmt.Errorf("CPU affinity of pid %d: %w", pid, err)
	}
	var cpus []int
	for cpu := 0; cpu < len(set)*64; cpu++ {
		if set.IsSet(cpu) {
			cpus = append(cpus, cpu)
		}
	}
	return cpus, nil
}

// Pin restricts every thread of process pid to cpus. Threads created
// meanwhile inherit the mask of their creator, so the threads are listed
// again until a pass finds none it had not pinned.
func Pin(pid int, cpus []int) error {
	if len(cpus) == 0 {
		return errors.New("pin: no CPUs given")
	}
	var set unix.CPUSet
	for _, cpu := range cpus {
		set.Set(cpu)
	}
	pinned := map[int]bool{}
	for pass := 0; pass < 10; pass++ {
		tids, err := threads(pid)
		if err != nil {
			return err
		}
		fresh := 0
		for _, tid := range tids {
			if pinned[tid] {
				continue
			}
			fresh++
			// ESRCH: the thread exited after it was listed.
			if err := unix.SchedSetaffinity(tid, &set); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("pin thread %d of pid %d to CPUs %s: %w", tid, pid, Format(cpus), err)
			}
			pinned[tid] = true
		}
		if fresh == 0 {
			return nil
		}
	}
	return fmt.Errorf("pin pid %d: it kept starting threads", pid)
}

// PinSelf restricts every thread of this process to cpus; restore gives
// them the CPUs they had before.
func PinSelf(cpus []int) (restore func() error, err error) {
	before, err := Allowed(0)
	if err != nil {
		return nil, err
	}
	self := os.Getpid()
	if err := Pin(self, cpus); err != nil {
		Pin(self, before) // undo whatever was pinned
		return nil, err
	}
	return func() error { return Pin(self, before) }, nil
}

// threads lists the thread ids of process pid.
func threads(pid int) ([]int, error) {
	entries, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
	if err != nil {
		return nil, fmt.Errorf("threads of pid %d: %w", pid, err)
	}
	tids := make([]int, 0, len(entries))
	for _, e := range entries {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}
