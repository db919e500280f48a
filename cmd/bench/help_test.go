package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestHelpListsEveryCommand: bench -h, --help and help print the command
// list on stdout and exit 0.
func TestHelpListsEveryCommand(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}, {"help", "help"}, {"help", "-h"}, {"help", "--help"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != exitOK || stderr.Len() > 0 {
			t.Errorf("bench %q: exit %d, stderr %q; want 0 and nothing", args, code, stderr.String())
		}
		for _, name := range []string{"run", "check", "plot", "compare", "zoo", "list", "calibrate", "help"} {
			if !strings.Contains(stdout.String(), "\n  "+name+" ") {
				t.Errorf("bench %q does not list %s:\n%s", args, name, stdout.String())
			}
		}
	}
}

// TestCommandHelpPrintsEveryFlag: bench CMD -h, bench CMD --help and bench
// help CMD print the command's usage with every flag on stdout and exit 0.
func TestCommandHelpPrintsEveryFlag(t *testing.T) {
	for _, tc := range []struct {
		cmd   string
		flags []string
	}{
		{"run", []string{"-s FILE", "--preset", "--locks", "--faults", "--workload", "--clients", "--duration", "--ttl", "--seed", "--repeat", "--nodes", "--provider", "--redis-addrs", "--out", "--client-procs", "--always-proxy"}},
		{"check", []string{"--json", "--timeout", "--visualize", "--releases"}},
		{"plot", []string{"RUN_DIR"}},
		{"compare", []string{"--thresholds", "--markdown", "--strict", "--alpha", "--ignore-liveness"}},
		{"zoo", []string{"--quick", "--seed", "--only", "--list", "--provider", "--redis-addrs", "--out"}},
		{"list", []string{"locks | faults | workloads | presets | topologies"}},
		{"calibrate", []string{"--provider", "--redis-addrs", "--nodes", "--samples", "--clients", "--duration", "--rounds", "--out", "--client-procs", "--no-pin", "--cpuprofile"}},
	} {
		for _, args := range [][]string{{tc.cmd, "-h"}, {tc.cmd, "--help"}, {"help", tc.cmd}} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				if code := run(args, &stdout, &stderr); code != exitOK || stderr.Len() > 0 {
					t.Fatalf("exit %d, stderr %q; want 0 and nothing", code, stderr.String())
				}
				out := stdout.String()
				if !strings.HasPrefix(out, "usage: bench "+tc.cmd+" ") {
					t.Errorf("output does not start with its usage line:\n%s", out)
				}
				for _, f := range tc.flags {
					if !strings.Contains(out, f) {
						t.Errorf("help lacks %q:\n%s", f, out)
					}
				}
			})
		}
	}
}

// TestParseErrorsStayOneLine: a wrong flag or command is still one line on
// stderr and exit 3, nothing on stdout.
func TestParseErrorsStayOneLine(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--frob"},
		{"run", "--clients", "many"},
		{"check", "--timeout"},
		{"plot", "-x", "dir"},
		{"list", "--all"},
		{"help", "frobnicate"},
		{"help", "run", "check"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(args, &stdout, &stderr)
		msg := strings.TrimSpace(stderr.String())
		if code != exitBadInput || stdout.Len() > 0 || strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "bench") {
			t.Errorf("bench %q: exit %d, stdout %q, stderr %q; want 3 and one line on stderr", args, code, stdout.String(), msg)
		}
	}
}
