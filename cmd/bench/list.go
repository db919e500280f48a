package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/lockbench/lockbench/chaos"
	"github.com/lockbench/lockbench/cluster"
	"github.com/lockbench/lockbench/locks"
	"github.com/lockbench/lockbench/scenarios"
	"github.com/lockbench/lockbench/workloads"
)

// list prints a registry: bench list [locks|faults|workloads|presets|topologies].
func list(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("list")
	if !parseFlags(fs, args, stderr) {
		return exitBadInput
	}
	what := "locks"
	if fs.NArg() > 0 {
		what = fs.Arg(0)
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
	case "faults":
		w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tSIDE\tPROVIDERS\tDESCRIPTION\tPARAMETERS")
		for _, f := range chaos.Catalogue() {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", f.Name, f.Side, strings.Join(f.Providers(), ","), f.Description, f.Params)
		}
		w.Flush()
		fmt.Fprintln(stdout, "\nHow to write a schedule of these in a scenario file: docs/faults.md")
		return exitOK
	case "presets":
		fmt.Fprintln(stdout, "Fault schedules (--faults NAME, or faults: in a scenario):")
		for _, p := range chaos.Presets() {
			fmt.Fprintf(stdout, "\n  %s\n", p.Name)
			if p.Description != "" {
				fmt.Fprintf(stdout, "    %s\n", p.Description)
			}
			if p.Source != "" {
				fmt.Fprintf(stdout, "    source: %s\n", p.Source)
			}
		}
		fmt.Fprintln(stdout, "\nScenarios (bench run --preset NAME):")
		for _, name := range scenarios.Names() {
			fmt.Fprintf(stdout, "  %s\n", name)
		}
		return exitOK
	case "topologies":
		w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tPROVIDERS\tDESCRIPTION")
		for _, t := range cluster.Topologies() {
			fmt.Fprintf(w, "%s\t%s\t%s\n", t.Name, strings.Join(t.Name.Providers(), ","), t.Description)
		}
		w.Flush()
		fmt.Fprintln(stdout, "\nChoose with bench run --topology NAME[,NAME] or a scenario's topology:. Clients reach sentinel through Sentinel discovery and cluster as a cluster client; redlock and redsync need standalone, token-wait a replicated one.")
		return exitOK
	case "workloads":
		w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tCLIENTS\tKEYS\tCRITICAL SECTION\tTTL")
		for _, p := range workloads.Presets() {
			keys := p.Keys.Kind
			if p.Keys.Count > 0 {
				keys = fmt.Sprintf("%s(%d)", keys, p.Keys.Count)
			}
			fmt.Fprintf(w, "%s\t%d\t%s\t%s %v\t%v\n", p.Name, p.Clients, keys, p.CriticalSection.Kind, p.CriticalSection.Mean, p.TTL)
		}
		w.Flush()
		return exitOK
	default:
		fmt.Fprintf(stderr, "bench list: unknown registry %q (known: locks, faults, workloads, presets, topologies)\n", what)
		return exitBadInput
	}
}
