// Package extclient drives an external lock client: any program that
// speaks lockbench's JSON-lines protocol (version 1, DESIGN.md §10) on its
// stdin and stdout. A Locker runs one client process for one logical
// client (worker) and is a locks.Locker, so the workload, the history, the
// checker and the report work with it unchanged; it is also a
// workloads.ProcessLocker, through which the worker carries out client
// crashes (SIGKILL) and pauses (SIGSTOP/SIGCONT) on the process itself.
package extclient

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/lockbench/lockbench/locks"
)

// ErrBadSpec marks an external client spec that cannot work.
var ErrBadSpec = errors.New("bad external client spec")

// Release values: what a client's release does, which the checker must
// know to judge a late release.
const (
	// ReleaseOwner: a release frees the lock only if the caller still
	// owns it (compare-and-delete).
	ReleaseOwner = "owner"
	// ReleasePlain: a release deletes the lock whoever holds it, so a
	// late one frees another holder's lock (checker.ReleasesPlainDelete).
	ReleasePlain = "plain"
)

// Spec names an external lock client and how to start it.
type Spec struct {
	// Name is what the client is called in cells and reports.
	Name string
	// Command is the program and its arguments.
	Command []string
	// Release is ReleaseOwner or ReleasePlain.
	Release string
}

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Validate reports why s cannot work, wrapping ErrBadSpec, in one line.
func (s Spec) Validate() error {
	if !validName.MatchString(s.Name) {
		return fmt.Errorf("external client name %q: want letters, digits, '.', '_' or '-': %w", s.Name, ErrBadSpec)
	}
	if _, err := locks.Lookup(s.Name); err == nil {
		return fmt.Errorf("external client name %q is a built-in strategy's: %w", s.Name, ErrBadSpec)
	}
	if len(s.Command) == 0 || s.Command[0] == "" {
		return fmt.Errorf("external client %q has no command: %w", s.Name, ErrBadSpec)
	}
	if s.Release != ReleaseOwner && s.Release != ReleasePlain {
		return fmt.Errorf("external client %q: release %q, want %q or %q: %w", s.Name, s.Release, ReleaseOwner, ReleasePlain, ErrBadSpec)
	}
	return nil
}

// ParseFlag parses NAME=COMMAND, as typed on the command line, into a
// spec whose Release is ReleaseOwner. COMMAND is split into words as a
// shell would, without expansions: words are separated by spaces or tabs,
// 'single quotes' keep everything literally, "double quotes" keep
// everything but \" and \\, and outside quotes a backslash keeps the next
// character literally. Errors wrap ErrBadSpec and are one line.
func ParseFlag(s string) (Spec, error) {
	name, command, ok := strings.Cut(s, "=")
	if !ok {
		return Spec{}, fmt.Errorf("external client %q: want NAME=COMMAND: %w", s, ErrBadSpec)
	}
	words, err := splitWords(command)
	if err != nil {
		return Spec{}, fmt.Errorf("external client %q: %w: %w", name, err, ErrBadSpec)
	}
	spec := Spec{Name: name, Command: words, Release: ReleaseOwner}
	return spec, spec.Validate()
}

// splitWords splits a command line into words (see ParseFlag).
func splitWords(s string) ([]string, error) {
	var (
		words   []string
		word    strings.Builder
		inWord  bool
		quote   rune // 0, '\'' or '"'
		escaped bool
	)
	for _, r := range s {
		switch {
		case escaped:
			if quote == '"' && r != '"' && r != '\\' {
				word.WriteByte('\\') // "\n" is a backslash and an n
			}
			word.WriteRune(r)
			escaped = false
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				word.WriteRune(r)
			}
		case quote == '"':
			switch r {
			case '"':
				quote = 0
			case '\\':
				escaped = true
			default:
				word.WriteRune(r)
			}
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			inWord = true
			switch r {
			case '\'', '"':
				quote = r
			case '\\':
				escaped = true
			default:
				word.WriteRune(r)
			}
		}
	}
	if quote != 0 || escaped {
		return nil, errors.New("command has an unterminated quote or a trailing backslash")
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}
