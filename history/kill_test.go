package history

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
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
