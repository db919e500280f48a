package checker

import (
	"flag"
	"os"
	"testing"
)

// TestMain runs the property tests with 1,000 cases each unless
// -rapid.checks says otherwise (or -short is set): they are cheap, and
// rare shapes — an extend ok whose deadline already passed, a fence handed
// out with an expired lease — need more than rapid's default 100 draws.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "rapid.checks" })
	if !set && !testing.Short() {
		if err := flag.Set("rapid.checks", "1000"); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}
