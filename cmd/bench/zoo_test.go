package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockbench/lockbench/internal/testenv"
)

// TestZooFlags: --list runs nothing and lists every entry with its source;
// bad input exits 3 with one line.
func TestZooFlags(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run([]string{"zoo", "--list", "--quick"}, &out, &errs); code != exitOK {
		t.Fatalf("zoo --list: exit %d, stderr %q", code, errs.String())
	}
	for _, want := range []string{"nolock/no-fault", "setnx-expire/cut-between-commands", "redlock/clock-jump", "Kleppmann"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("zoo --list lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "redislock/no-fault") {
		t.Error("zoo --list --quick lists an entry outside the quick zoo")
	}
	for _, args := range [][]string{
		{"zoo", "--only", "token/nope"},
		{"zoo", "--seed", "x"},
		{"zoo", "extra"},
	} {
		out.Reset()
		errs.Reset()
		if code := run(args, &out, &errs); code != exitBadInput || strings.Count(strings.TrimSpace(errs.String()), "\n") != 0 {
			t.Errorf("%q: exit %d, stderr %q; want 3 and one line", args, code, errs.String())
		}
	}
}

// TestZooWritesTheDoc: --doc writes the matrix with its provenance, the
// form docs/zoo.md is kept in.
func TestZooWritesTheDoc(t *testing.T) {
	testenv.NeedRedisServer(t)
	dir := t.TempDir()
	doc := filepath.Join(dir, "zoo.md")
	var out, errs bytes.Buffer
	if code := run([]string{"zoo", "--only", "nolock/no-fault", "--provider", "exec", "--out", dir, "--doc", doc}, &out, &errs); code != exitOK {
		t.Fatalf("exit %d: %s\n%s", code, out.String(), errs.String())
	}
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# The detection matrix\n", "seed 1, exec provider, 1 entries", "| nolock | no-fault | unsafe |", "✓"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("--doc lacks %q:\n%s", want, b)
		}
	}
}
