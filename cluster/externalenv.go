package cluster

import (
	"fmt"
	"os"
	"strconv"

	"github.com/lockbench/lockbench/endpoint"
)

// The environment variables that configure TLS to external nodes, next
// to LOCKBENCH_REDIS_ADDRS; a flag or scenario field wins over them.
const (
	EnvTLSCA       = "LOCKBENCH_REDIS_TLS_CA"
	EnvTLSCert     = "LOCKBENCH_REDIS_TLS_CERT"
	EnvTLSKey      = "LOCKBENCH_REDIS_TLS_KEY"
	EnvTLSInsecure = "LOCKBENCH_REDIS_TLS_INSECURE"
)

// externalTLSFromEnv fills the TLS options f leaves empty from the
// environment. Insecure must be spelled out (1, true): skipping
// verification is never implied.
func externalTLSFromEnv(f *endpoint.TLSFiles) error {
	for _, v := range []struct {
		field *string
		env   string
	}{{&f.CA, EnvTLSCA}, {&f.Cert, EnvTLSCert}, {&f.Key, EnvTLSKey}} {
		if *v.field == "" {
			*v.field = os.Getenv(v.env)
		}
	}
	if s := os.Getenv(EnvTLSInsecure); s != "" && !f.Insecure {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%s=%q: want true or false: %w", EnvTLSInsecure, s, ErrBadSpec)
		}
		f.Insecure = b
	}
	return nil
}
