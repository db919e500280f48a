package agent

import (
	"errors"
	"flag"
	"io"
	"testing"
	"time"
)

// TestFlags: an agent's settings come from flags or from the environment
// an engine sets, the token only from the environment, and the test-only
// clock offset list gives agent i its i-th value.
func TestFlags(t *testing.T) {
	job := map[string]string{"LOCKBENCH_CONTROLLER": "svc:7946", "LOCKBENCH_AGENT_TOKEN": "tok", "JOB_COMPLETION_INDEX": "2", "LOCKBENCH_AGENT_NAME": "pod-2"}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want Config // compared on Controller, Token, Name, Index, ClockOffset
		bad  bool
	}{
		{"an indexed job's pod", nil, job, Config{Controller: "svc:7946", Token: "tok", Name: "pod-2", Index: 2}, false},
		{"flags win", []string{"--controller", "127.0.0.1:1", "--index", "0", "--name", "a"}, job, Config{Controller: "127.0.0.1:1", Token: "tok", Name: "a", Index: 0}, false},
		{"skews by index", []string{"--test-clock-offset", "50ms,-50ms"}, map[string]string{"LOCKBENCH_CONTROLLER": "c:1", "LOCKBENCH_AGENT_TOKEN": "t", "JOB_COMPLETION_INDEX": "3", "LOCKBENCH_AGENT_NAME": "x"},
			Config{Controller: "c:1", Token: "t", Name: "x", Index: 3, ClockOffset: -50 * time.Millisecond}, false},
		{"no token", []string{"--controller", "c:1", "--index", "0"}, nil, Config{}, true},
		{"no controller", []string{"--index", "0"}, map[string]string{"LOCKBENCH_AGENT_TOKEN": "t"}, Config{}, true},
		{"no index", []string{"--controller", "c:1"}, map[string]string{"LOCKBENCH_AGENT_TOKEN": "t", "JOB_COMPLETION_INDEX": "x"}, Config{}, true},
		{"a bad skew", []string{"--controller", "c:1", "--index", "0", "--test-clock-offset", "soon"}, map[string]string{"LOCKBENCH_AGENT_TOKEN": "t"}, Config{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("agent", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			settings := Flags(fs, func(k string) string { return tc.env[k] })
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			cfg, err := settings()
			if tc.bad {
				if !errors.Is(err, ErrBadConfig) {
					t.Errorf("settings() = %+v, %v; want ErrBadConfig", cfg, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := Config{Controller: cfg.Controller, Token: cfg.Token, Name: cfg.Name, Index: cfg.Index, ClockOffset: cfg.ClockOffset}
			if got != tc.want {
				t.Errorf("settings() = %+v, want %+v", got, tc.want)
			}
		})
	}
}
