package agent

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrBadConfig marks agent settings that cannot work.
var ErrBadConfig = errors.New("bad agent settings")

// Flags defines an agent's flags on fs and returns the function that,
// after fs is parsed, completes them from the environment an engine sets
// (getenv; a Kubernetes Job's pods share one command line):
// LOCKBENCH_CONTROLLER, LOCKBENCH_AGENT_NAME, JOB_COMPLETION_INDEX, and
// always LOCKBENCH_AGENT_TOKEN, which a command line would show to ps.
func Flags(fs *flag.FlagSet, getenv func(string) string) func() (Config, error) {
	controller := fs.String("controller", "", "the controller's host:port (default $LOCKBENCH_CONTROLLER)")
	name := fs.String("name", "", "the agent's name in the history and the summary (default $LOCKBENCH_AGENT_NAME, else the host name)")
	index := fs.Int("index", -1, "the agent's index among the run's agents (default $JOB_COMPLETION_INDEX, which an Indexed Job sets)")
	clockOffsets := fs.String("test-clock-offset", "", "test only: add this to every reading of the agent's clock; a comma-separated list gives agent i the i-th value (modulo its length)")
	pongDelay := fs.Duration("test-pong-delay", 0, "test only: delay every answer to a clock probe")
	return func() (Config, error) {
		cfg := Config{Controller: *controller, Name: *name, Index: *index, PongDelay: *pongDelay,
			Token: getenv("LOCKBENCH_AGENT_TOKEN")}
		if cfg.Controller == "" {
			cfg.Controller = getenv("LOCKBENCH_CONTROLLER")
		}
		if cfg.Controller == "" {
			return cfg, fmt.Errorf("no controller: give --controller HOST:PORT or set LOCKBENCH_CONTROLLER: %w", ErrBadConfig)
		}
		if cfg.Index < 0 {
			v := getenv("JOB_COMPLETION_INDEX")
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return cfg, fmt.Errorf("no index: give --index N or run in an Indexed Job (JOB_COMPLETION_INDEX=%q): %w", v, ErrBadConfig)
			}
			cfg.Index = n
		}
		if *clockOffsets != "" {
			list := strings.Split(*clockOffsets, ",")
			d, err := time.ParseDuration(strings.TrimSpace(list[cfg.Index%len(list)]))
			if err != nil {
				return cfg, fmt.Errorf("--test-clock-offset: %w: %w", err, ErrBadConfig)
			}
			cfg.ClockOffset = d
		}
		if cfg.Token == "" {
			return cfg, fmt.Errorf("LOCKBENCH_AGENT_TOKEN is not set: the controller's engine sets it: %w", ErrBadConfig)
		}
		if cfg.Name == "" {
			cfg.Name = getenv("LOCKBENCH_AGENT_NAME")
		}
		if cfg.Name == "" {
			cfg.Name, _ = os.Hostname()
		}
		return cfg, nil
	}
}
