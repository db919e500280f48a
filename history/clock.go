package history

import "time"

// Clock is a run's one monotonic clock: times in a history are ns since
// the clock's start. Copies share the start, so every worker can hold one.
// The zero Clock starts at the zero time.Time and is of no use: call
// [NewClock].
type Clock struct {
	start time.Time
}

// NewClock starts a clock now.
func NewClock() Clock { return Clock{start: time.Now()} }

// Now is ns since the clock's start, read from the monotonic clock (wall
// clock steps do not move it).
func (c Clock) Now() int64 { return int64(time.Since(c.start)) }

// At converts t (say a lease deadline computed from time.Now) to ns since
// the clock's start. When t carries a monotonic reading, as times derived
// from time.Now do, the conversion uses it; otherwise (time.Unix, times
// after Round(0) or a round trip through a wire format) it falls back to
// the wall clock.
func (c Clock) At(t time.Time) int64 { return int64(t.Sub(c.start)) }

// Time is the inverse of [Clock.At]: the time.Time, with a monotonic
// reading, that is ns after the clock's start.
func (c Clock) Time(ns int64) time.Time { return c.start.Add(time.Duration(ns)) }

// Start is when the clock started.
func (c Clock) Start() time.Time { return c.start }
