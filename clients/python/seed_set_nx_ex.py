"""seed_set_nx_ex: the seed document's "fixed" snippet, SET NX EX.

    acquire:  r.set(key, 1, nx=True, ex=seconds)   seconds = ceil(ttl_ms / 1000), at least 1
    release:  r.delete(key)
    extend:   r.expire(key, seconds)               (lockbench's set-nx-ex: EXPIRE whatever is there)

What it is: lockbench's `set-nx-ex` strategy as Python with Debian's
python3-redis, through the external client protocol (docs/protocol.md).
The TTL is in whole seconds (EX), rounded up. No validity_ms is reported:
the snippet does not track how long it may use the lock, so its holder
believes in the lock until it releases.

Known hazard: release deletes whatever is there. A holder whose lease ran
out (a long pause, a slow critical section) deletes the NEXT holder's
lock, and a third client gets in beside that one. Declare it with
`release: plain`.
"""

import lockbench_client as lc


def seconds(ttl_ms):
    """ttl_ms rounded up to whole seconds, at least 1 (EX takes seconds)."""
    return max(1, -(-ttl_ms // 1000))


class SeedSetNXEX:
    """The snippet, one method per protocol op."""

    def __init__(self, r):
        self.r = r

    def acquire(self, key, ttl_ms):
        if self.r.set(key, 1, nx=True, ex=seconds(ttl_ms)):
            return {"lease": "1"}
        raise lc.Fail("not obtained")

    def release(self, key, lease):
        self.r.delete(key)  # plain: whoever holds it, and ignoring the result
        return {}

    def extend(self, key, lease, ttl_ms):
        if self.r.expire(key, seconds(ttl_ms)):
            return {}
        raise lc.Fail("gone: the key no longer exists")


if __name__ == "__main__":
    lc.main(SeedSetNXEX)
