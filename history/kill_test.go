package history

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// helperEnv tells the test binary, re-executed by TestSIGKILLSurvival, to
// act as the recorder to kill: its value is the history's path.
const helperEnv = "LOCKBENCH_HISTORY_KILL_HELPER"

const (
	killWorkers = 4
	killKey     = `orders "eu" \ é`
)

// TestSIGKILLSurvival runs a recorder in a child process (this test binary,
// re-executed into TestHelperProcess) that appends events forever from
// several streams and the writer, and prints a progress line after each
// Flush (and each Writer.Append) returns. The parent SIGKILLs it mid-flight,
// then reads the file: it must parse (a truncated last line may be dropped),
// pass validation, and hold, for every process, at least as many events as
// the child reported flushed — every progress line the child printed before
// it died, including those still in the pipe when the kill landed — and
// each process's events in the order they were appended.
func TestSIGKILLSurvival(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	truncated := 0
	const rounds = 3
	for round := range rounds {
		if killOnce(t, round) {
			truncated++
		}
	}
	t.Logf("%d of %d kills left a truncated last line", truncated, rounds)
}

// killOnce runs, kills and checks one child; it reports whether the file
// ended in a truncated line.
func killOnce(t *testing.T, round int) bool {
	path := filepath.Join(t.TempDir(), fmt.Sprintf("killed-%d.jsonl", round))
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()

	// flushed[p] is the most events process p reported flushed; the index
	// killWorkers counts the nemesis events written by Writer.Append.
	flushed := make([]int, killWorkers+1)
	reports := 0
	sc := bufio.NewScanner(stdout)
	parse := func(line string) {
		var p, n int
		if _, err := fmt.Sscanf(line, "process %d: %d events appended, flushed", &p, &n); err == nil && p >= 0 && p < killWorkers {
			flushed[p] = max(flushed[p], n)
			reports++
		} else if _, err := fmt.Sscanf(line, "nemesis: %d events appended, flushed", &n); err == nil {
			flushed[killWorkers] = max(flushed[killWorkers], n)
		}
	}
	// Read progress until every worker reported a few flushes and the
	// file has grown past several 64 KiB batches, then kill mid-flight.
	deadline := time.Now().Add(60 * time.Second)
	for sc.Scan() {
		parse(sc.Text())
		if time.Now().After(deadline) {
			t.Fatalf("the child made too little progress in 60 s: %v", flushed)
		}
		if enough := reports >= 4*killWorkers && slices.Min(flushed[:killWorkers]) > 0; enough {
			if fi, err := os.Stat(path); err == nil && fi.Size() > int64(round+1)*256<<10 {
				break
			}
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
		t.Fatal(err)
	}
	killed = true
	// Lines still in the pipe were printed before the kill: their flushes
	// returned, so their events must be in the file too.
	for sc.Scan() {
		parse(sc.Text())
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != -1 {
		t.Fatalf("child ended with %v, want killed by a signal; stderr:\n%s", err, stderr.String())
	}

	events, st, err := ReadFileStats(path)
	if err != nil {
		t.Fatalf("reading the killed recorder's history: %v", err)
	}
	got := make([]int, killWorkers+1)
	next := make([]int64, killWorkers)
	for _, e := range events {
		if e.Type == Nemesis {
			got[killWorkers]++
			continue
		}
		got[e.Process]++
		if e.Key != killKey {
			t.Fatalf("process %d: key %q", e.Process, e.Key)
		}
		if e.Type == Invoke {
			if e.Value != next[e.Process] {
				t.Fatalf("process %d: write %d, want %d", e.Process, e.Value, next[e.Process])
			}
			next[e.Process]++
		}
	}
	for p := range flushed {
		if got[p] < flushed[p] {
			t.Errorf("stream %d: %d events in the file, but %d were reported flushed before the kill", p, got[p], flushed[p])
		}
	}
	fi, _ := os.Stat(path)
	t.Logf("round %d: %d bytes, %d lines, %d events read, truncated last line: %v; reported flushed %v, found %v",
		round, fi.Size(), st.Lines, len(events), st.Truncated, flushed, got)
	return st.Truncated
}

// TestHelperProcess is the recorder TestSIGKILLSurvival kills; it does
// nothing unless run as that child.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		return
	}
	// Never outlive a lost parent by much.
	time.AfterFunc(2*time.Minute, func() { os.Exit(3) })
	w, err := Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	clock := NewClock()
	report := func(format string, args ...any) {
		// One write(2) per line: lines from goroutines do not mix.
		if _, err := os.Stdout.WriteString(fmt.Sprintf(format, args...)); err != nil {
			os.Exit(4)
		}
	}
	for p := range killWorkers {
		s := w.Stream()
		go func() {
			n := 0
			for seq := int64(0); ; seq++ {
				s.Append(&Event{Time: clock.Now(), Process: p, Type: Invoke, Op: Write, Key: killKey, Fence: seq + 1, Value: seq})
				s.Append(&Event{Time: clock.Now(), Process: p, Type: OK, Op: Write, Key: killKey})
				n += 2
				// Flush at uneven intervals, so kills find buffers of
				// every size.
				if seq%(997+int64(p)*101) == 0 {
					if err := s.Flush(); err != nil {
						fmt.Fprintln(os.Stderr, err)
						os.Exit(2)
					}
					report("process %d: %d events appended, flushed\n", p, n)
				}
			}
		}()
	}
	for n := 1; ; n++ {
		phase := "start"
		if n%2 == 0 {
			phase = "stop"
		}
		if err := w.Append(&Event{Time: clock.Now(), Type: Nemesis, Fault: "pause", Target: strings.Repeat("n", n%7+1), Phase: phase}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		report("nemesis: %d events appended, flushed\n", n)
		time.Sleep(time.Millisecond)
	}
}

// checkpointHelperEnv tells the test binary, re-executed by
// TestSIGKILLCheckpoints, to act as the recorder to kill: its value is the
// directory for the history and the truth file.
const checkpointHelperEnv = "LOCKBENCH_HISTORY_CHECKPOINT_HELPER"

// TestSIGKILLCheckpoints SIGKILLs a recorder (this test binary, re-executed
// into TestCheckpointHelperProcess) whose workers append, flush, go idle,
// block without saying so, and retire their streams for new ones. Before
// appending an event each worker writes it to a truth file with its own
// write(2), so the truth file holds every event the history could hold.
// The killed history must read as unfinished, and hold every event of the
// truth file up to its last checkpoint, in each process's order.
func TestSIGKILLCheckpoints(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	for round := range 2 {
		dir := t.TempDir()
		path := filepath.Join(dir, "history.jsonl")
		cmd := exec.Command(os.Args[0], "-test.run=^TestCheckpointHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), checkpointHelperEnv+"="+dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill once several checkpoints are in, a different while after
		// each round.
		deadline := time.Now().Add(60 * time.Second)
		for {
			b, _ := os.ReadFile(path)
			if bytes.Count(b, []byte(`"type":"checkpoint"`)) >= 8+4*round {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("too few checkpoints in 60 s; stderr:\n%s", stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != -1 {
			t.Fatalf("child ended with %v, want killed by a signal; stderr:\n%s", err, stderr.String())
		}

		events, st, err := ReadFileStats(path)
		if err != nil {
			t.Fatalf("reading the killed recorder's history: %v", err)
		}
		if !st.Unfinished() {
			t.Fatalf("stats %+v: a killed history must read as unfinished", st)
		}
		truth := readTruth(t, filepath.Join(dir, "truth"))
		got := map[int][]int64{} // each process's event times, in order
		for _, e := range events {
			got[e.Process] = append(got[e.Process], e.Time)
		}
		upTo, lost := 0, 0
		for p, times := range truth {
			n := 0 // the process's events up to the checkpoint
			for n < len(times) && times[n] <= st.LastCheckpoint {
				n++
			}
			upTo += n
			lost += len(times) - len(got[p])
			if len(got[p]) < n {
				t.Errorf("process %d: %d events up to the checkpoint at %d, %d in the history", p, n, st.LastCheckpoint, len(got[p]))
				continue
			}
			for i, tm := range got[p] {
				if i >= len(times) || times[i] != tm {
					t.Fatalf("process %d: event %d at %d is not the truth file's", p, i, tm)
				}
			}
		}
		t.Logf("round %d: %d processes, %d events in the history, %d up to the last of %d checkpoints (%d after it), %d appended but lost",
			round, len(truth), len(events), upTo, st.Checkpoints, st.AfterCheckpoint, lost)
	}
}

// readTruth reads the truth file: each process's event times in order
// (a last line cut by the kill is left out).
func readTruth(t *testing.T, path string) map[int][]int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	truth := map[int][]int64{}
	for line := range strings.Lines(string(b)) {
		var p int
		var tm int64
		if !strings.HasSuffix(line, "\n") {
			break
		}
		if _, err := fmt.Sscanf(line, "%d %d", &p, &tm); err != nil {
			t.Fatalf("truth line %q: %v", line, err)
		}
		truth[p] = append(truth[p], tm)
	}
	return truth
}

// TestCheckpointHelperProcess is the recorder TestSIGKILLCheckpoints kills;
// it does nothing unless run as that child.
func TestCheckpointHelperProcess(t *testing.T) {
	dir := os.Getenv(checkpointHelperEnv)
	if dir == "" {
		return
	}
	time.AfterFunc(2*time.Minute, func() { os.Exit(3) }) // never outlive a lost parent by much
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	w, err := Open(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		fail(err)
	}
	truth, err := os.OpenFile(filepath.Join(dir, "truth"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o666)
	if err != nil {
		fail(err)
	}
	clock := NewClock()
	const workers = 4
	for id := range workers {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(id), 1))
			s, p := w.Stream(), id
			var line []byte
			for seq := int64(0); ; seq++ {
				for k, typ := range []Type{Invoke, OK} {
					e := Event{Time: clock.Now(), Process: p, Type: typ, Op: Write, Key: "k"}
					if k == 0 {
						e.Value = seq
					}
					line = fmt.Appendf(line[:0], "%d %d\n", p, e.Time)
					if _, err := truth.Write(line); err != nil {
						fail(err)
					}
					s.Append(&e)
				}
				switch r := rng.IntN(1000); {
				case r < 5: // idle before a wait
					if err := s.Idle(clock.Now()); err != nil {
						fail(err)
					}
					time.Sleep(time.Duration(rng.IntN(200)) * time.Millisecond)
				case r < 8: // blocked, without a word
					time.Sleep(time.Duration(rng.IntN(100)) * time.Millisecond)
				case r < 9: // done: a new process on a new stream
					if err := s.Close(); err != nil {
						fail(err)
					}
					s, p = w.Stream(), p+workers
				}
			}
		}()
	}
	select {}
}
