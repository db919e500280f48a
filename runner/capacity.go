package runner

import (
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Capacity is what this process and machine can hold, read just before a
// run starts. A negative field is unknown and its check is skipped.
type Capacity struct {
	// OpenFiles is RLIMIT_NOFILE's soft limit (Go raises it to the hard
	// limit at start), FilesOpen the descriptors open now.
	OpenFiles, FilesOpen int64
	// NodeFiles is the hard RLIMIT_NOFILE, what a redis-server child may
	// raise its own limit to.
	NodeFiles int64
	// SystemFiles is fs.file-max minus the files open system-wide now.
	SystemFiles int64
	// MemAvailable is /proc/meminfo's MemAvailable, in bytes.
	MemAvailable int64
	// Ports is the size of the ephemeral port range, where listeners on
	// port 0 and outgoing connections get their ports.
	Ports int64
	// Tasks is how many more threads the kernel will make:
	// min(kernel.pid_max, kernel.threads-max) minus the threads there are.
	Tasks int64
	// UserTasks is RLIMIT_NPROC minus this user's threads now, -1 when the
	// limit does not bind (unlimited, or root).
	UserTasks int64
	// CPUs is runtime.NumCPU().
	CPUs int
}

// ReadCapacity reads the machine's capacity from getrlimit and /proc.
func ReadCapacity() Capacity {
	c := Capacity{OpenFiles: -1, FilesOpen: 0, NodeFiles: -1, SystemFiles: -1, MemAvailable: -1, Ports: -1, Tasks: -1, UserTasks: -1, CPUs: runtime.NumCPU()}
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil {
		c.OpenFiles, c.NodeFiles = clampRlimit(rl.Cur), clampRlimit(rl.Max)
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		c.FilesOpen = int64(len(fds))
	}
	if max, open := procInt("/proc/sys/fs/file-max", 0), procInt("/proc/sys/fs/file-nr", 0); max > 0 && open >= 0 {
		c.SystemFiles = max - open
	}
	c.MemAvailable = memAvailable()
	if lo, hi := procInt("/proc/sys/net/ipv4/ip_local_port_range", 0), procInt("/proc/sys/net/ipv4/ip_local_port_range", 1); lo > 0 && hi >= lo {
		c.Ports = hi - lo + 1
	}
	pidMax, threadsMax := procInt("/proc/sys/kernel/pid_max", 0), procInt("/proc/sys/kernel/threads-max", 0)
	if threads := loadavgThreads(); pidMax > 0 && threadsMax > 0 && threads >= 0 {
		c.Tasks = min(pidMax, threadsMax) - threads
	}
	// Root is not held to RLIMIT_NPROC (CAP_SYS_RESOURCE).
	if unix.Getrlimit(unix.RLIMIT_NPROC, &rl) == nil && rl.Cur != unix.RLIM_INFINITY && os.Geteuid() != 0 {
		c.UserTasks = clampRlimit(rl.Cur) - userThreads(os.Getuid())
	}
	return c
}

// clampRlimit turns an rlimit into an int64 (infinity is huge, not -1).
func clampRlimit(v uint64) int64 { return int64(min(v, math.MaxInt64)) }

// procInt reads the field-th number of a /proc file, -1 when it cannot.
func procInt(path string, field int) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if field >= len(f) {
		return -1
	}
	v, err := strconv.ParseInt(f[field], 10, 64)
	if err != nil {
		return -1
	}
	return v
}

// memAvailable is /proc/meminfo's MemAvailable in bytes, -1 if unknown.
func memAvailable() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			f := strings.Fields(rest)
			if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil && len(f) == 2 && f[1] == "kB" {
				return kb << 10
			}
		}
	}
	return -1
}

// loadavgThreads is the number of threads on the machine: the divisor of
// /proc/loadavg's fourth field ("running/total").
func loadavgThreads() int64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) < 4 {
		return -1
	}
	_, total, ok := strings.Cut(f[3], "/")
	v, err := strconv.ParseInt(total, 10, 64)
	if !ok || err != nil {
		return -1
	}
	return v
}

// userThreads counts the threads of processes whose real uid is uid, which
// is what RLIMIT_NPROC limits.
func userThreads(uid int) int64 {
	paths, _ := filepath.Glob("/proc/[0-9]*/status")
	var n int64
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // gone meanwhile
		}
		var mine bool
		var threads int64
		for line := range strings.Lines(string(b)) {
			if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
				f := strings.Fields(rest)
				mine = len(f) > 0 && f[0] == strconv.Itoa(uid)
			} else if rest, ok := strings.CutPrefix(line, "Threads:"); ok {
				threads, _ = strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
			}
		}
		if mine {
			n += threads
		}
	}
	return n
}
