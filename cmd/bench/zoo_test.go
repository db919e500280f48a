package main

import (
	"bytes"
	"strings"
	"testing"
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
