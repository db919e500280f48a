// Package history is the recorded history of a run (DESIGN §4): the event
// type, a monotonic clock, a fast streaming writer and a reader that
// validates. The format is public: JSON Lines, one event per line, so users
// can check histories recorded by any system with `bench check`.
//
// Recording: [Open] creates the file; each worker takes its own [Stream]
// from [Writer.Stream] and calls [Stream.Append] for every event. Append
// encodes into the stream's buffer without a lock; the buffer goes to the
// file (one write(2) under the writer's mutex) every 64 KiB or when the
// event being appended is 100 ms or more after the stream's last flush.
// Rare events from any goroutine (nemesis) go through [Writer.Append],
// which writes them at once. [Writer.Close] flushes every stream, fsyncs
// and closes; it must be called after the workers stopped appending.
// Bytes handed to the kernel survive a SIGKILL of the recorder; at most
// each stream's unflushed tail is lost, and the file may end in a
// truncated line, which the reader drops.
//
// Because each stream loses a different tail, a killed recorder's file is
// complete only up to some instant. The writer records it: every 100 ms
// or so a checkpoint line says that every event up to its time is in the
// file, and Close ends the file with an end marker. Workers help the
// checkpoints along: [Stream.Idle] before a long wait, [Stream.Close] when
// done.
//
// Reading: [ReadFile] and [ReadAll] parse every line, check it against §4,
// sort the events by time and check each process's protocol (at most one
// operation in flight, completions match their invoke, nothing after a
// crash). Bad input is reported as an [*InputError] naming the line;
// [ReadFileStats] and [ReadAllStats] also say whether a truncated last line
// was dropped and what the markers said: [Stats.Unfinished] is a history
// cut short, complete only up to its last checkpoint. [Validate] checks a
// history held in memory.
//
// Multi-host runs: a process run by an agent on another host has its times
// mapped onto the controller's timeline, and a clock event ([ClockSample],
// "clock" in the file) records the measurement — the agent ([Event].Target),
// the offset subtracted and the uncertainty left (±ns). It is no
// operation: it may come anywhere in its process's stream before the
// process's crash.
package history
