// Package testagent lets a test binary act as `bench agent`, for tests that
// start local agents: they have no bench binary to run.
package testagent

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/lockbench/lockbench/agent"
)

// agentEnv marks a test binary started as an agent.
const agentEnv = "LOCKBENCH_TEST_AGENT"

// AgentCommand is the command line and environment that start this test
// binary as `bench agent` (see RunAgentIfAsked), for a local agent engine
// in tests, which have no bench binary to run.
func AgentCommand() (cmd []string, env []string) {
	return []string{os.Args[0], "agent"}, []string{agentEnv + "=1"}
}

// RunAgentIfAsked makes a test binary an agent when AgentCommand started
// it: call it first thing in TestMain. It parses the agent's flags, runs
// it until the controller says bye or SIGTERM, and exits; otherwise it
// returns at once.
func RunAgentIfAsked() {
	if os.Getenv(agentEnv) != "1" || len(os.Args) < 2 || os.Args[1] != "agent" {
		return
	}
	fs := flag.NewFlagSet("agent", flag.ExitOnError)
	settings := agent.Flags(fs, os.Getenv)
	_ = fs.Parse(os.Args[2:]) // ExitOnError
	cfg, err := settings()
	if err != nil {
		fmt.Fprintln(os.Stderr, "test agent:", err)
		os.Exit(3)
	}
	cfg.Log = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = agent.Run(ctx, cfg)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "test agent:", err)
		os.Exit(2)
	}
	os.Exit(0)
}
