package zoo

import (
	"testing"

	"github.com/lockbench/lockbench/internal/leakcheck"
)

// TestMain checks at exit that the zoo's integration test left no node,
// container or temp dir behind.
func TestMain(m *testing.M) { leakcheck.Main(m) }
