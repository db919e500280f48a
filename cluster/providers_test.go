package cluster

import (
	"slices"
	"testing"
)

// TestProvidersListsEveryProvider: the list says of each provider what
// the provider itself says (name, capabilities), and the messages built
// from it read as before.
func TestProvidersListsEveryProvider(t *testing.T) {
	want := []Provider{NewExec(ExecOptions{}), NewDocker(DockerOptions{}), NewExternal(ExternalOptions{})}
	got := Providers()
	if len(got) != len(want) {
		t.Fatalf("%d providers listed, want %d", len(got), len(want))
	}
	for i, p := range want {
		if got[i].Name != p.Name() || !slices.Equal(got[i].Caps, p.Caps()) {
			t.Errorf("listed %s %v, the provider says %s %v", got[i].Name, got[i].Caps, p.Name(), p.Caps())
		}
	}
	for _, tc := range []struct{ got, want string }{
		{ProviderChoices(), "auto, exec, docker or external"},
		{ProvidersWith(CapKill), "exec or docker"},
		{ProvidersWith(CapClock), "exec"},
	} {
		if tc.got != tc.want {
			t.Errorf("%q, want %q", tc.got, tc.want)
		}
	}
}
