// Package locks owns the Locker contract, every lock strategy, retry policies and adapters to redsync and bsm/redislock (DESIGN §3). Empty until the lock strategies land.
package locks
