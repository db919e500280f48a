package chaos

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lockbench/lockbench/cluster"
)

func TestCatalogueEntriesAreComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range Catalogue() {
		if k.Name == "" || k.Description == "" || k.Params == "" {
			t.Errorf("%+v: name, description and params are all needed", k)
		}
		if strings.Contains(k.Description, "\n") {
			t.Errorf("%s: description is not one line", k.Name)
		}
		if seen[k.Name] {
			t.Errorf("%s listed twice", k.Name)
		}
		seen[k.Name] = true
		if !slices.Contains([]string{SideNetwork, SideNode, SideClient, SideResource}, k.Side) {
			t.Errorf("%s: side %q", k.Name, k.Side)
		}
		// A fault with nothing to tune (failover) says so in Params.
		if k.takes == 0 && !strings.HasPrefix(k.Params, "none") {
			t.Errorf("%s takes no step field and its Params do not say none", k.Name)
		}
	}
}

// TestCatalogueProviders is the table bench list faults prints: which
// provider can inject which fault.
func TestCatalogueProviders(t *testing.T) {
	all := []string{"exec", "docker", "external"}
	want := map[string][]string{
		FaultLatency:             all,
		FaultJitter:              all,
		FaultSlowReplies:         all,
		FaultPartitionNode:       all,
		FaultPartitionMinority:   all,
		FaultPartitionMajority:   all,
		FaultPartitionAsymmetric: all,
		FaultFlapping:            all,
		FaultKillRestart:         {"exec", "docker"},
		FaultKillDelayedRestart:  {"exec", "docker"},
		FaultFailover:            {"exec", "docker"},
		FaultReplicationCut:      {"exec", "docker"},
		FaultPauseNode:           {"exec", "docker"},
		FaultClockJump:           {"exec"},
		FaultClockFast:           {"exec"},
		FaultClientPause:         all,
		FaultClientCrash:         all,
		FaultCutBetween:          all,
		FaultDelayedWrite:        all,
	}
	if got := FaultNames(); len(got) != len(want) {
		t.Errorf("catalogue has %d faults, the table %d: %v", len(got), len(want), got)
	}
	for _, k := range Catalogue() {
		if got := k.Providers(); !slices.Equal(got, want[k.Name]) {
			t.Errorf("%s works on %v, want %v", k.Name, got, want[k.Name])
		}
	}
}

func TestLookupFault(t *testing.T) {
	for _, tc := range []struct {
		name    string
		wantErr bool
	}{
		{"latency", false},
		{"clock-jump", false},
		{"delayed-write", false},
		{"Latency", true},
		{"", true},
		{"partition", true},
	} {
		k, err := LookupFault(tc.name)
		switch {
		case tc.wantErr && !errors.Is(err, ErrUnknownFault):
			t.Errorf("LookupFault(%q) = %v, %v; want ErrUnknownFault", tc.name, k.Name, err)
		case tc.wantErr && !strings.Contains(err.Error(), "partition-asymmetric"):
			t.Errorf("LookupFault(%q): %v does not list the known faults", tc.name, err)
		case !tc.wantErr && (err != nil || k.Name != tc.name):
			t.Errorf("LookupFault(%q) = %v, %v", tc.name, k.Name, err)
		}
	}
}

// TestPresets: every preset explains itself, cites a source, validates on
// the exec provider and expands into a bounded timeline; every catalogue
// fault has a preset of its own name.
func TestPresets(t *testing.T) {
	topo := Topology{Nodes: NodeNames(5), Groups: GroupNames(2), Clients: 8, TTL: time.Second, Duration: 10 * time.Second}
	names := PresetNames()
	for _, want := range append([]string{"none", "kleppmann-client-pause", "kleppmann-clock-jump",
		"redis-restart-no-fsync", "redis-delayed-restart", "partition-minority", "partition-majority"}, FaultNames()...) {
		if !slices.Contains(names, want) {
			t.Errorf("no preset %q", want)
		}
	}
	seen := map[string]bool{}
	for _, p := range Presets() {
		t.Run(p.Name, func(t *testing.T) {
			if seen[p.Name] {
				t.Errorf("preset listed twice")
			}
			seen[p.Name] = true
			if p.Description == "" {
				t.Error("no description")
			}
			if p.Name != "none" && p.Source == "" {
				t.Error("no source")
			}
			if err := p.Validate([]cluster.Capability{cluster.CapKill, cluster.CapPause, cluster.CapClock}, "exec", 5, 2, 8); err != nil {
				t.Fatalf("Validate on exec: %v", err)
			}
			tl, err := p.Timeline(1, topo)
			if err != nil {
				t.Fatalf("Timeline: %v", err)
			}
			if p.Name != "none" && len(tl) == 0 {
				t.Error("empty timeline")
			}
			for _, a := range tl {
				if a.At < 0 || a.At > topo.Duration {
					t.Errorf("action %+v outside the cell", a)
				}
			}
			got, err := LookupPreset(p.Name)
			if err != nil || got.Name != p.Name {
				t.Errorf("LookupPreset(%q) = %q, %v", p.Name, got.Name, err)
			}
		})
	}
	if _, err := LookupPreset("kleppmann"); !errors.Is(err, ErrUnknownPreset) || !strings.Contains(err.Error(), "kleppmann-clock-jump") {
		t.Errorf("LookupPreset of an unknown name: %v", err)
	}
}

// TestCatalogueDocumented: docs/faults.md has the catalogue's row of every
// fault, word for word, as bench list faults prints it.
func TestCatalogueDocumented(t *testing.T) {
	b, err := os.ReadFile("../docs/faults.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	esc := strings.NewReplacer("|", `\|`)
	for _, k := range Catalogue() {
		row := fmt.Sprintf("| `%s` | %s | %s | %s | %s |", k.Name, k.Side, strings.Join(k.Providers(), ", "), esc.Replace(k.Description), esc.Replace(k.Params))
		if !strings.Contains(doc, row+"\n") {
			t.Errorf("docs/faults.md lacks the row\n%s", row)
		}
	}
}
