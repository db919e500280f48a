// Package health measures whether the harness itself got to run while it
// drove load: how long its goroutines waited to be scheduled, how late a
// short timer fired, and how much CPU it and the rest of the machine used.
// A lock whose commands time out because the harness was starved must not
// be blamed for it; these figures tell the two apart.
package health

import (
	"bufio"
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// schedMetric is the Go runtime's histogram of the time goroutines spent
// runnable before they ran.
const schedMetric = "/sched/latencies:seconds"

// Sample is what a probe saw between its start and stop.
type Sample struct {
	// WallMs is how long the probe ran.
	WallMs float64 `json:"wall_ms"`
	// SchedP99Us and SchedMaxUs are the 99th percentile and the largest
	// bucket of goroutine scheduling latency (runtime/metrics
	// /sched/latencies:seconds), in µs. Only delays inside the Go
	// runtime show here: a thread the kernel descheduled does not.
	SchedP99Us float64 `json:"sched_p99_us"`
	SchedMaxUs float64 `json:"sched_max_us"`
	// LagP99Us and LagMaxUs are how much later than asked a short sleep
	// returned, in µs: the kernel's and the runtime's delays together.
	LagP99Us float64 `json:"timer_lag_p99_us"`
	LagMaxUs float64 `json:"timer_lag_max_us"`
	// Wakeups is how many sleeps the lag figures come from.
	Wakeups int `json:"wakeups"`
	// CPUs is the machine's CPU count; ProcessCores the CPU time this
	// process used per second of wall time; MachineBusyCores that of the
	// whole machine (all processes: the nodes, the harness, anything
	// else); StealCores the time a hypervisor took. The machine's figures
	// are -1 where /proc/stat cannot be read.
	CPUs             int     `json:"cpus"`
	ProcessCores     float64 `json:"process_cores"`
	MachineBusyCores float64 `json:"machine_busy_cores"`
	StealCores       float64 `json:"steal_cores"`
}

// Probe measures while it runs. Start one per measured interval.
type Probe struct {
	interval time.Duration
	start    time.Time
	sched    *metrics.Float64Histogram
	rusage   time.Duration
	cpu      cpuTimes
	stop     chan struct{}
	done     sync.WaitGroup
	lags     []time.Duration
}

// maxLags bounds the lag samples kept (a probe left running for hours
// keeps the latest hour's worth at 5 ms).
const maxLags = 720_000

// Start begins measuring; a goroutine sleeps interval again and again and
// records how late it woke.
func Start(interval time.Duration) *Probe {
	p := &Probe{interval: interval, start: time.Now(), sched: readSched(), rusage: processCPU(), cpu: readCPU(), stop: make(chan struct{})}
	p.done.Add(1)
	go p.loop()
	return p
}

func (p *Probe) loop() {
	defer p.done.Done()
	t := time.NewTimer(p.interval)
	defer t.Stop()
	asked := time.Now()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			// Now, not the value received: that is when the timer fired,
			// and the delay until this goroutine ran is what counts.
			if len(p.lags) < maxLags {
				p.lags = append(p.lags, max(time.Since(asked)-p.interval, 0))
			}
			asked = time.Now()
			t.Reset(p.interval)
		}
	}
}

// Stop ends the probe and returns what it saw.
func (p *Probe) Stop() Sample {
	close(p.stop)
	p.done.Wait()
	wall := time.Since(p.start)
	s := Sample{WallMs: float64(wall.Microseconds()) / 1e3, CPUs: runtime.NumCPU(), Wakeups: len(p.lags)}
	s.SchedP99Us, s.SchedMaxUs = schedDelta(p.sched, readSched())
	s.LagP99Us, s.LagMaxUs = lagStats(p.lags)
	secs := wall.Seconds()
	if secs <= 0 {
		return s
	}
	s.ProcessCores = round3((processCPU() - p.rusage).Seconds() / secs)
	s.MachineBusyCores, s.StealCores = -1, -1
	if end := readCPU(); p.cpu.ok && end.ok {
		s.MachineBusyCores = round3(end.busy.sub(p.cpu.busy) / secs)
		s.StealCores = round3(end.steal.sub(p.cpu.steal) / secs)
	}
	return s
}

// readSched reads the runtime's scheduling-latency histogram.
func readSched() *metrics.Float64Histogram {
	m := []metrics.Sample{{Name: schedMetric}}
	metrics.Read(m)
	if m[0].Value.Kind() != metrics.KindFloat64Histogram {
		return nil
	}
	return m[0].Value.Float64Histogram()
}

// schedDelta is the 99th percentile and the maximum of the latencies
// recorded between two readings of the cumulative histogram, in µs.
func schedDelta(before, after *metrics.Float64Histogram) (p99, maxUs float64) {
	if before == nil || after == nil || len(before.Counts) != len(after.Counts) {
		return 0, 0
	}
	counts := make([]uint64, len(after.Counts))
	var total uint64
	for i := range counts {
		counts[i] = after.Counts[i] - before.Counts[i]
		total += counts[i]
	}
	if total == 0 {
		return 0, 0
	}
	// A bucket reads as its upper bound (its lower one for the last,
	// unbounded bucket): never less than what was seen.
	bound := func(i int) float64 {
		if b := after.Buckets[i+1]; !math.IsInf(b, 1) {
			return b * 1e6
		}
		return after.Buckets[i] * 1e6
	}
	want := uint64(math.Ceil(0.99 * float64(total)))
	var seen uint64
	p99 = -1
	for i, c := range counts {
		if c == 0 {
			continue
		}
		seen += c
		if p99 < 0 && seen >= want {
			p99 = bound(i)
		}
		maxUs = bound(i)
	}
	return round3(p99), round3(maxUs)
}

// lagStats is the 99th percentile and the maximum of the lags, in µs.
func lagStats(lags []time.Duration) (p99, maxUs float64) {
	if len(lags) == 0 {
		return 0, 0
	}
	sorted := make([]time.Duration, len(lags))
	copy(sorted, lags)
	slices.Sort(sorted)
	i := int(math.Ceil(0.99*float64(len(sorted)))) - 1
	us := func(d time.Duration) float64 { return round3(float64(d.Nanoseconds()) / 1e3) }
	return us(sorted[max(i, 0)]), us(sorted[len(sorted)-1])
}

// processCPU is the CPU time (user + system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ticks is a count of USER_HZ clock ticks from /proc/stat.
type ticks uint64

// sub is t − u in seconds (USER_HZ is 100 on every Linux ABI Go runs on).
func (t ticks) sub(u ticks) float64 { return float64(t-u) / 100 }

// cpuTimes is the machine's busy and stolen time from /proc/stat.
type cpuTimes struct {
	busy, steal ticks
	ok          bool
}

// readCPU reads the aggregate "cpu" line of /proc/stat: user nice system
// idle iowait irq softirq steal ...; busy is everything but idle, iowait
// and steal.
func readCPU() cpuTimes {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return cpuTimes{}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return cpuTimes{}
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 9 || fields[0] != "cpu" {
		return cpuTimes{}
	}
	var v [8]ticks
	for i := range v {
		n, err := strconv.ParseUint(fields[i+1], 10, 64)
		if err != nil {
			return cpuTimes{}
		}
		v[i] = ticks(n)
	}
	user, nice, system, irq, softirq, steal := v[0], v[1], v[2], v[5], v[6], v[7]
	return cpuTimes{busy: user + nice + system + irq + softirq, steal: steal, ok: true}
}

func round3(x float64) float64 { return math.Round(x*1e3) / 1e3 }

// CPUUse is the CPU time used up to one moment: by the whole machine, by
// this process, and by the children of this process that have exited and
// been waited for (redis-benchmark, for one). Subtract two snapshots to
// get what an interval used.
type CPUUse struct {
	Machine, Process, Children time.Duration
	// MachineOK is false where /proc/stat cannot be read; Machine is 0 then.
	MachineOK bool
}

// ReadCPUUse takes a snapshot of CPU use.
func ReadCPUUse() CPUUse {
	u := CPUUse{Process: processCPU(), Children: childrenCPU()}
	if c := readCPU(); c.ok {
		u.Machine, u.MachineOK = time.Duration(float64(c.busy)/100*float64(time.Second)), true
	}
	return u
}

// Since is what was used between earlier and u.
func (u CPUUse) Since(earlier CPUUse) CPUUse {
	return CPUUse{
		Machine: u.Machine - earlier.Machine, Process: u.Process - earlier.Process,
		Children: u.Children - earlier.Children, MachineOK: u.MachineOK && earlier.MachineOK,
	}
}

// childrenCPU is the CPU time (user + system) of this process's waited-for
// children.
func childrenCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
