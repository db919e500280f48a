package chaos

import (
	"slices"

	"github.com/lockbench/lockbench/cluster"
)

// Catalogue returns every fault lockbench can inject, in documentation
// order: the Kind of each fault of the registry (Faults). Each call
// returns a fresh slice.
func Catalogue() []FaultKind {
	all := Faults()
	out := make([]FaultKind, len(all))
	for i, f := range all {
		out[i] = f.Kind()
	}
	return out
}

// FaultNames returns the catalogue's names in documentation order.
func FaultNames() []string {
	all := Faults()
	names := make([]string, len(all))
	for i, f := range all {
		names[i] = f.Kind().Name
	}
	return names
}

// LookupFault returns the catalogue entry called name. An unknown name is
// an error wrapping ErrUnknownFault that lists the known ones.
func LookupFault(name string) (FaultKind, error) {
	f, err := lookupFault(name)
	if err != nil {
		return FaultKind{}, err
	}
	return f.Kind(), nil
}

// hasAll reports whether have contains every capability of need.
func hasAll(have, need []cluster.Capability) bool {
	for _, c := range need {
		if !slices.Contains(have, c) {
			return false
		}
	}
	return true
}
