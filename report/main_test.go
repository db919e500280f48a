package report

import (
	"testing"

	"github.com/lockbench/lockbench/internal/leakcheck"
)

// The report tests run real scenarios: nothing they start may outlive them.
func TestMain(m *testing.M) { leakcheck.Main(m) }
