package leakcheck_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lockbench/lockbench/internal/leakcheck"
)

// leakOnPurpose, set in the environment, makes this binary's TestMain go
// through leakcheck.Main and TestLeakOnPurpose leak a goroutine: the
// binary run that way must fail.
const leakOnPurpose = "LOCKBENCH_LEAKCHECK_LEAK_ON_PURPOSE"

func TestMain(m *testing.M) {
	if os.Getenv(leakOnPurpose) == "1" {
		leakcheck.Main(m)
		return
	}
	// This binary's own tests start and stop goroutines on purpose; each
	// asserts on them itself.
	os.Exit(m.Run())
}

// leakedWorker blocks until stop is closed: the named frame goleak reports.
func leakedWorker(stop <-chan struct{}) { <-stop }

// TestGoroutines calls the check directly: a goroutine left running is
// reported, by the function it is stuck in, and once it ends the check
// passes again.
func TestGoroutines(t *testing.T) {
	if err := leakcheck.Goroutines(); err != nil {
		t.Fatalf("before the leak: %v", err)
	}
	stop := make(chan struct{})
	go leakedWorker(stop)
	err := leakcheck.Goroutines()
	close(stop)
	if err == nil {
		t.Fatal("a goroutine blocked in leakedWorker was not reported")
	}
	if !strings.Contains(err.Error(), "leakedWorker") {
		t.Errorf("the report does not name the leaked goroutine's function:\n%v", err)
	}
	if err := leakcheck.Goroutines(); err != nil {
		t.Errorf("after the goroutine ended: %v", err)
	}
}

// TestLeakOnPurpose leaks a goroutine that outlives the tests, but only in
// the helper run of TestMainFailsOnLeak.
func TestLeakOnPurpose(t *testing.T) {
	if os.Getenv(leakOnPurpose) != "1" {
		t.Skip("runs only as TestMainFailsOnLeak's helper")
	}
	go leakedWorker(make(chan struct{}))
}

// TestMainFailsOnLeak runs this test binary again with TestLeakOnPurpose
// under leakcheck.Main: its tests pass, so only the goroutine check can
// make it exit 1, and its message must name the leaked goroutine. The
// same helper with no test that leaks must exit 0.
func TestMainFailsOnLeak(t *testing.T) {
	tests := []struct {
		name     string
		run      string
		wantCode int
		wantErr  string
	}{
		{name: "leaks", run: "^TestLeakOnPurpose$", wantCode: 1, wantErr: "leakedWorker"},
		{name: "clean", run: "^TestNothing$", wantCode: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run="+tt.run, "-test.count=1")
			cmd.Env = append(os.Environ(), leakOnPurpose+"=1")
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stderr, &stderr
			err := cmd.Run()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatalf("running the helper: %v", err)
			}
			if code != tt.wantCode {
				t.Fatalf("helper exited %d, want %d; its output:\n%s", code, tt.wantCode, stderr.String())
			}
			if tt.wantErr != "" && !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("helper output does not name %q:\n%s", tt.wantErr, stderr.String())
			}
		})
	}
}

// TestNothing is the clean helper run's test: it starts nothing.
func TestNothing(t *testing.T) { time.Sleep(time.Millisecond) }
