package runner

import (
	"testing"

	"github.com/lockbench/lockbench/internal/leakcheck"
)

// TestMain checks at exit that the integration tests left no node,
// container or temp dir behind.
func TestMain(m *testing.M) { leakcheck.Main(m) }
