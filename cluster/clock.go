package cluster

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// clockShimSource is an LD_PRELOAD library that moves a process's wall
// clock; see the comment at its top for why it replaces libfaketime.
//
//go:embed clockshim/clockshim.c
var clockShimSource []byte

// ClockShimPath returns a compiled clock shim, building it with the C
// compiler into the user's cache dir the first time (a content hash in the
// file name keeps builds of different sources apart).
func ClockShimPath(ctx context.Context, cacheDir string) (string, error) {
	if cacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		cacheDir = filepath.Join(base, "lockbench")
	}
	sum := sha256.Sum256(clockShimSource)
	out := filepath.Join(cacheDir, "clockshim-"+hex.EncodeToString(sum[:8])+".so")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		return "", fmt.Errorf("moving a node's clock needs a C compiler to build the clock shim (run scripts/install-deps.sh): %w", ErrUnavailable)
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("clock shim cache: %w", err)
	}
	src := filepath.Join(cacheDir, "clockshim-"+hex.EncodeToString(sum[:8])+".c")
	if err := os.WriteFile(src, clockShimSource, 0o644); err != nil {
		return "", fmt.Errorf("clock shim source: %w", err)
	}
	// Build to a private name, then rename: parallel test binaries may
	// build at the same time.
	tmp := fmt.Sprintf("%s.%d.tmp", out, os.Getpid())
	cmd := exec.CommandContext(ctx, cc, "-shared", "-fPIC", "-O2", "-o", tmp, src, "-ldl")
	if msg, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("build clock shim: %v: %s: %w", err, strings.TrimSpace(string(msg)), ErrUnavailable)
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", fmt.Errorf("install clock shim: %w", err)
	}
	return out, nil
}

// writeClockControl atomically replaces a node's clock control file: the
// wall clock is offset by offset from now on and runs at rate from now on.
func writeClockControl(path string, offset time.Duration, rate float64) error {
	line := fmt.Sprintf("%d %d %d\n", offset.Nanoseconds(), int64(rate*1e6), time.Now().UnixNano())
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(line), 0o644); err != nil {
		return fmt.Errorf("write clock control: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write clock control: %w", err)
	}
	return nil
}
