package cluster

import (
	"context"
	"fmt"
	"os"
)

// AutoOptions are what Auto needs to choose a provider.
type AutoOptions struct {
	// Provider forces a choice: auto (or ""), exec, docker or external.
	Provider string
	// External is used when addresses are given (flag or LOCKBENCH_REDIS_ADDRS);
	// TLS options it leaves empty come from LOCKBENCH_REDIS_TLS_* (externalenv.go).
	External ExternalOptions
	// Exec and Docker configure those providers when chosen.
	Exec   ExecOptions
	Docker DockerOptions
}

// Auto chooses a provider as DESIGN §7 says: given addresses (options or
// LOCKBENCH_REDIS_ADDRS) → redis-server on PATH → a healthy Docker → a
// clear error. It returns the provider and a sentence saying why.
func Auto(ctx context.Context, o AutoOptions) (Provider, string, error) {
	// An interrupted run chooses nothing: the caller would only start
	// nodes to remove them again.
	if err := ctx.Err(); err != nil {
		return nil, "", fmt.Errorf("choose a provider: %w", err)
	}
	if len(o.External.Addrs) == 0 {
		if env := os.Getenv("LOCKBENCH_REDIS_ADDRS"); env != "" {
			addrs, err := ParseAddrs(env)
			if err != nil {
				return nil, "", fmt.Errorf("LOCKBENCH_REDIS_ADDRS: %w", err)
			}
			o.External.Addrs = addrs
		}
	}
	if err := externalTLSFromEnv(&o.External.TLS); err != nil {
		return nil, "", err
	}
	switch o.Provider {
	case "", ProviderAuto:
	case ProviderExec:
		if _, err := RedisServerPath(o.Exec.Binary); err != nil {
			return nil, "", err
		}
		return NewExec(o.Exec), "exec: asked for with --provider", nil
	case ProviderDocker:
		if err := DockerHealthy(ctx, o.Docker); err != nil {
			return nil, "", err
		}
		return NewDocker(o.Docker), "docker: asked for with --provider", nil
	case ProviderExternal:
		if len(o.External.Addrs) == 0 {
			return nil, "", fmt.Errorf("--provider external needs --redis-addrs or LOCKBENCH_REDIS_ADDRS: %w", ErrBadSpec)
		}
		return NewExternal(o.External), "external: asked for with --provider", nil
	default:
		return nil, "", fmt.Errorf("unknown provider %q (want %s): %w", o.Provider, ProviderChoices(), ErrBadSpec)
	}

	if len(o.External.Addrs) > 0 {
		return NewExternal(o.External), fmt.Sprintf("external: %d addresses given", len(o.External.Addrs)), nil
	}
	path, execErr := RedisServerPath(o.Exec.Binary)
	if execErr == nil {
		return NewExec(o.Exec), "exec: redis-server found at " + path, nil
	}
	dockerErr := DockerHealthy(ctx, o.Docker)
	if dockerErr == nil {
		return NewDocker(o.Docker), "docker: no redis-server on PATH, Docker is healthy", nil
	}
	return nil, "", fmt.Errorf("no Redis available: install redis-server (scripts/install-deps.sh), or build the image (scripts/redis-image.sh) for Docker, or give --redis-addrs: %w",
		ErrUnavailable)
}
