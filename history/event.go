package history

// Type is what an event says about an operation.
type Type uint8

// Event types of DESIGN §4.
const (
	// Invoke: a process starts an operation.
	Invoke Type = iota + 1
	// OK: the operation happened.
	OK
	// Fail: the operation certainly did not happen.
	Fail
	// Info: unknown whether it happened (timeout, connection lost).
	Info
	// Crash: the process stopped for good; it holds nothing any more and
	// never appears again.
	Crash
	// Nemesis: a fault started or stopped.
	Nemesis
	// ClockSample: the controller measured the clock of the process's
	// agent ("clock" in the file): Offset and Uncertainty say how its
	// times were mapped onto the history's timeline and how far off they
	// may be. (Not named Clock: that is the run's clock.)
	ClockSample
)

var typeNames = [...]string{Invoke: "invoke", OK: "ok", Fail: "fail", Info: "info", Crash: "crash", Nemesis: "nemesis", ClockSample: "clock"}

// String is the name used in the file.
func (t Type) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return "unknown"
}

// Op is the operation an invoke/ok/fail/info event is about.
type Op uint8

// Operations of DESIGN §4.
const (
	Acquire Op = iota + 1
	Release
	Extend
	Read
	Write
)

var opNames = [...]string{Acquire: "acquire", Release: "release", Extend: "extend", Read: "read", Write: "write"}

// String is the name used in the file.
func (o Op) String() string {
	if int(o) < len(opNames) && opNames[o] != "" {
		return opNames[o]
	}
	return "unknown"
}

// Event is one line of a history. Which optional fields are present
// follows DESIGN §4; a zero Fence or Deadline means absent (fences start at
// 1, and no deadline can fall at the run's first nanosecond). Value is
// present exactly on read ok and write invoke.
type Event struct {
	// Time is ns since the run started, on one monotonic clock.
	Time int64 `json:"time"`
	// Process is the logical client (absent on nemesis events).
	Process int `json:"process"`
	Type    Type
	Op      Op
	// Key is the lock name (acquire/release/extend) or the resource name
	// (read/write).
	Key string
	// TTLms is the lease length asked for (acquire/extend invoke).
	TTLms int64
	// Fence is the fencing token (acquire ok, write invoke); 0 = none.
	Fence int64
	// Deadline is when the holder stops using the lock, ns on the run's
	// clock (acquire/extend ok); 0 = none.
	Deadline int64
	// Value is read's result (read ok) or what is written (write invoke).
	Value int64
	// Error says why (fail/info), optional.
	Error string
	// Fault, Target and Phase describe a nemesis event: what, on which
	// node or client, "start" or "stop". Target also names the agent a
	// clock event measured.
	Fault, Target, Phase string
	// Offset is, on a clock event, the agent's clock minus the
	// controller's as measured (ns, may be negative). Informational: the
	// recorder already subtracted it from the process's times.
	Offset int64
	// Uncertainty is, on a clock event, a bound (ns, ≥ 0) on the error of
	// the process's times on the history's timeline: each may be off by
	// up to ±Uncertainty.
	Uncertainty int64
}
