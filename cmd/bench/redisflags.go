package main

import (
	"flag"

	"github.com/lockbench/lockbench/cluster"
)

// redisFlags are the flags that name external nodes, shared by run,
// calibrate and zoo.
type redisFlags struct {
	addrs         *string
	ca, cert, key *string
	insecure      *bool
}

// addRedisFlags defines --redis-addrs (described by addrsUsage) and the
// --redis-tls-* flags on fs.
func addRedisFlags(fs *flag.FlagSet, addrsUsage string) *redisFlags {
	return &redisFlags{
		addrs:    fs.String("redis-addrs", "", addrsUsage+"; host:port, redis://[user[:password]@]host:port[/db] or rediss://… for TLS (default LOCKBENCH_REDIS_ADDRS)"),
		ca:       fs.String("redis-tls-ca", "", "CA certificate (PEM) that signed the rediss:// nodes' certificates (default LOCKBENCH_REDIS_TLS_CA, else the system's roots)"),
		cert:     fs.String("redis-tls-cert", "", "client certificate (PEM) for rediss:// nodes that check clients (default LOCKBENCH_REDIS_TLS_CERT)"),
		key:      fs.String("redis-tls-key", "", "key (PEM) of --redis-tls-cert (default LOCKBENCH_REDIS_TLS_KEY)"),
		insecure: fs.Bool("redis-tls-insecure", false, "do not verify the rediss:// nodes' certificates (default LOCKBENCH_REDIS_TLS_INSECURE)"),
	}
}

// apply parses the addresses into o (on any host when o.Remote); errors
// show them redacted.
func (r *redisFlags) apply(o *cluster.ExternalOptions) error {
	if *r.addrs != "" {
		parse := cluster.ParseAddrs
		if o.Remote {
			parse = cluster.ParseRemoteAddrs
		}
		list, err := parse(*r.addrs)
		if err != nil {
			return err
		}
		o.Addrs = list
	}
	o.TLS.CA, o.TLS.Cert, o.TLS.Key, o.TLS.Insecure = *r.ca, *r.cert, *r.key, *r.insecure
	return nil
}
