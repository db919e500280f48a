package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/lockbench/lockbench/locks"
)

// list prints a registry: bench list [locks].
func list(args []string, stdout, stderr io.Writer) int {
	what := "locks"
	if len(args) > 0 {
		what = args[0]
	}
	switch what {
	case "locks":
		w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tKIND\tDESCRIPTION\tPARAMETERS")
		for _, s := range locks.Builtin() {
			kind := "lease" // token-based, expiring; see Description for its hazard
			switch {
			case s.Canary:
				kind = "canary"
			case s.SeedFaithful:
				kind = "tutorial"
			}
			if s.MultiNode {
				kind += ", N nodes"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", s.Name, kind, s.Description, s.Params)
		}
		w.Flush()
		return exitOK
	default:
		fmt.Fprintf(stderr, "bench list: unknown registry %q (known: locks)\n", what)
		return exitBadInput
	}
}
