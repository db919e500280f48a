"""redis_py_lock: redis-py's own lock, redis.lock.Lock (Debian bookworm's
python3-redis 4.3.4; the API used exists in redis-py 3.5 and later).

    acquire:  Lock(r, key, timeout=ttl).acquire(blocking=False)
              -> SET key <uuid1 hex> NX PX ttl_ms
    release:  a Lock whose token is the lease, .release()
              -> Lua: DEL only if the value is still our token
    extend:   a Lock whose token is the lease, .extend(ttl, replace_ttl=True)
              -> Lua: PEXPIRE ttl_ms only if the value is still our token

What it is: the lock a Python team gets from `r.lock(name, timeout=...)`,
run through lockbench's external client protocol (docs/protocol.md).

The lease is the lock's token (lock.local.token, decoded). The TTL keeps
millisecond precision: redis-py takes seconds as a float and sends
int(timeout * 1000) as PX, so ttl_ms is passed as (ttl_ms + 0.5) / 1000,
which int() brings back to exactly ttl_ms. validity_ms is the TTL minus the
time the command took minus a drift allowance of 1 % of the TTL + 2 ms
(Redlock's); redis-py itself tracks none, a careful caller would. A
ttl_ms of 0 is redis-py's timeout=None: a lock that never expires, with no
validity_ms. LockNotOwnedError (the key is gone or holds another token) is
fail.

Known hazard: a single node. The lease can run out while its holder is
paused (GC, SIGSTOP) and is still working, and a node restart without
persistence or a failover to a replica that had not got the key hands the
lock to a second client. Declare it with `release: owner`.
"""

import time

import lockbench_client as lc


def timeout_s(ttl_ms):
    """The float seconds redis-py turns back into exactly ttl_ms, or None
    (no expiry) for 0."""
    return (ttl_ms + 0.5) / 1000.0 if ttl_ms > 0 else None


class RedisPyLock:
    """redis.lock.Lock, one method per protocol op."""

    def __init__(self, r):
        # Imported here, after lc.main has checked the environment and
        # redis-py's presence (with a clear message when it is missing).
        from redis.exceptions import LockNotOwnedError
        from redis.lock import Lock

        self.r = r
        self.Lock = Lock
        self.NotOwned = LockNotOwnedError

    def _lock(self, key, ttl_ms, token=None):
        # thread_local=False: the token is set from the lease below, not by
        # the thread that acquired (there is one thread anyway).
        lock = self.Lock(self.r, key, timeout=timeout_s(ttl_ms), blocking=False, thread_local=False)
        if token is not None:
            lock.local.token = token.encode()
        return lock

    def acquire(self, key, ttl_ms):
        lock = self._lock(key, ttl_ms)
        start = time.monotonic()
        if not lock.acquire(blocking=False):
            raise lc.Fail("not obtained")
        reply = {"lease": lock.local.token.decode()}
        if ttl_ms > 0:
            reply["validity_ms"] = lc.validity_ms(ttl_ms, start)
        return reply

    def release(self, key, lease):
        try:
            self._lock(key, 0, token=lease).release()
        except self.NotOwned as e:
            raise lc.Fail("not ours: %s" % e)
        return {}

    def extend(self, key, lease, ttl_ms):
        if ttl_ms <= 0:
            # PEXPIRE 0 would delete the key; redis-py's extend wants time.
            raise lc.Fail("extend needs ttl_ms > 0")
        lock = self._lock(key, ttl_ms, token=lease)
        start = time.monotonic()
        try:
            lock.extend(timeout_s(ttl_ms), replace_ttl=True)
        except self.NotOwned as e:
            raise lc.Fail("not ours: %s" % e)
        return {"validity_ms": lc.validity_ms(ttl_ms, start)}


if __name__ == "__main__":
    lc.main(RedisPyLock)
