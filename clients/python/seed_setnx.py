"""seed_setnx: the seed document's first lock snippet, exactly as written.

    acquire:  r.setnx(key, 1)    True -> held, False -> someone else has it
    release:  r.delete(key)

What it is: lockbench's `setnx` strategy, but as the Python a team would
actually ship (Debian's python3-redis), run through the external client
protocol (docs/protocol.md). ttl_ms is ignored: the snippet sets no TTL.
Extend has nothing to do and answers ok. The lease is always "1".

Known hazard: no TTL at all. A holder that crashes (or is partitioned away
for good) never releases, and every later acquire fails forever: a
deadlock. Declare it with `release: plain` (DEL frees whoever holds it).
"""

import lockbench_client as lc


class SeedSetNX:
    """The snippet, one method per protocol op."""

    def __init__(self, r):
        self.r = r

    def acquire(self, key, ttl_ms):
        if self.r.setnx(key, 1):
            return {"lease": "1"}
        raise lc.Fail("not obtained")

    def release(self, key, lease):
        self.r.delete(key)  # the snippet ignores what DEL says
        return {}

    def extend(self, key, lease, ttl_ms):
        return {}  # no TTL, nothing to extend


if __name__ == "__main__":
    lc.main(SeedSetNX)
