//go:build !linux

package cpuset

import "fmt"

// Allowed is unsupported off Linux.
func Allowed(pid int) ([]int, error) { return nil, fmt.Errorf("CPU affinity: %w", ErrUnsupported) }

// Pin is unsupported off Linux.
func Pin(pid int, cpus []int) error { return fmt.Errorf("pin pid %d: %w", pid, ErrUnsupported) }

// PinSelf is unsupported off Linux.
func PinSelf(cpus []int) (func() error, error) {
	return nil, fmt.Errorf("pin this process: %w", ErrUnsupported)
}
