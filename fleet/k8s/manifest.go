package k8s

import (
	"bufio"
	"fmt"
	"io"

	"sigs.k8s.io/yaml"

	"github.com/lockbench/lockbench/fleet"
)

// WriteManifest writes the Secret, Service and Job Start would create, as
// YAML documents separated by "---" for kubectl apply, after a comment
// saying what the controller pod needs. The Secret holds l.Token, or
// TokenPlaceholder if l has none: the token is a secret, so a manifest
// meant to be committed or shared is better written without one, and the
// user puts the controller's token in before applying it. The token is in
// the Secret's stringData, in clear, so that it can be edited.
func WriteManifest(w io.Writer, o Options, l fleet.Launch) error {
	if err := validate(o, l); err != nil {
		return err
	}
	if l.Token == "" {
		l.Token = TokenPlaceholder
	}
	secret, service, job := Objects(o, l)
	o = o.withDefaults(l)
	// stringData, not base64 data, so the token can be edited in place;
	// the API server moves it to data.
	secret.StringData = map[string]string{TokenKey: string(secret.Data[TokenKey])}
	secret.Data = nil

	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `# lockbench agents for run %q: %d agents in namespace %s.
#
# The controller runs in a pod of namespace %s carrying the labels
#   %s: %s
#   %s: %s
# and listens on port %d, where the Service %s sends the agents,
# waiting for these agents rather than starting its own:
#   LOCKBENCH_AGENT_TOKEN=<the token> bench run --agents wait:%d --agent-listen :%d ...
# The token must be the one in the Secret %s (key %q).
`, l.RunID, l.Agents, o.Namespace, o.Namespace,
		LabelName, AppName, LabelComponent, ComponentController,
		o.Port, service.Name, l.Agents, o.Port, secret.Name, TokenKey)
	if l.Token == TokenPlaceholder {
		fmt.Fprintf(bw, "# Replace %s below with that token before applying.\n", TokenPlaceholder)
	}
	for _, obj := range []any{secret, service, job} {
		b, err := yaml.Marshal(obj)
		if err != nil {
			return fmt.Errorf("k8s engine: writing manifest: %w", err)
		}
		bw.WriteString("---\n")
		bw.Write(b)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("k8s engine: writing manifest: %w", err)
	}
	return nil
}
