package runner

import (
	"testing"

	"github.com/lockbench/lockbench/internal/leakcheck"
	"github.com/lockbench/lockbench/internal/testagent"
)

// TestMain checks at exit that the integration tests left no node,
// container or temp dir behind. Started as an agent (the agent tests'
// local engine runs this binary), it is one.
func TestMain(m *testing.M) {
	testagent.RunAgentIfAsked()
	leakcheck.Main(m)
}
