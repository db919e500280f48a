"""lockbench_client: the shared part of lockbench's Python reference clients.

It speaks lockbench's external lock client protocol, version 1
(docs/protocol.md): one JSON request per line on stdin, exactly one JSON
reply per line on stdout, flushed at once. A client module supplies a lock
object with three methods and calls main():

    acquire(key: str, ttl_ms: int) -> dict   # must hold "lease"; may hold
                                             # "fence" and "validity_ms"
    release(key: str, lease: str) -> dict    # {} or extra reply fields
    extend(key: str, lease: str, ttl_ms: int) -> dict

Outcomes, as the history format defines them:
  - a method that returns          -> ok (it happened);
  - a method that raises Fail      -> fail (it certainly did not happen:
                                      not obtained, not ours, gone);
  - a method that raises anything  -> info (unknown outcome). That covers
    else                              redis-py's ConnectionError and
                                      TimeoutError: a command may have run
                                      on the server although its reply
                                      never arrived.

Environment (set by the harness):
  LOCKBENCH_PROTOCOL   must be "1"; anything else: exit 2
  LOCKBENCH_TOPOLOGY   must be "standalone"; anything else: exit 2 (these
                       clients talk to one node, not Sentinel or Cluster)
  LOCKBENCH_NODES      comma-separated host:port (or redis:// / rediss://
                       URLs); these single-instance clients use the FIRST
  LOCKBENCH_CLIENT     the process id in the history; only used in logs
  LOCKBENCH_TIMEOUT_MS optional, not set by the harness: redis-py's connect
                       and socket timeout per command, default 1000 ms. A
                       command that runs out of it is an info reply.

Only the standard library is imported here; redis-py is imported when the
client connects. Logs go to stderr (the cell's clients.log), never stdout.
"""

import json
import os
import sys
import time

PROTOCOL = "1"
EXIT_USAGE = 2
DEFAULT_TIMEOUT_MS = 1000
# An error message longer than this is cut: the harness quotes it in
# reports, and a traceback-sized one helps nobody there.
MAX_ERROR = 300


class Fail(Exception):
    """The operation certainly did not happen (a fail reply)."""


class Usage(Exception):
    """The environment or the input cannot work: log it and exit 2."""


def log(msg):
    """Writes one line to stderr, prefixed with the client's process id."""
    who = os.environ.get("LOCKBENCH_CLIENT", "?")
    sys.stderr.write("lockbench client %s: %s\n" % (who, msg))
    sys.stderr.flush()


def check_env(environ):
    """Returns (first node, timeout in seconds) or raises Usage."""
    proto = environ.get("LOCKBENCH_PROTOCOL", "")
    if proto != PROTOCOL:
        raise Usage("LOCKBENCH_PROTOCOL=%r: this client speaks protocol version %s only" % (proto, PROTOCOL))
    topo = environ.get("LOCKBENCH_TOPOLOGY", "")
    if topo != "standalone":
        raise Usage("LOCKBENCH_TOPOLOGY=%r unsupported: this client talks to one standalone node" % topo)
    nodes = [n.strip() for n in environ.get("LOCKBENCH_NODES", "").split(",") if n.strip()]
    if not nodes:
        raise Usage("LOCKBENCH_NODES is empty: want host:port[,host:port...]")
    raw = environ.get("LOCKBENCH_TIMEOUT_MS", "")
    try:
        timeout_ms = int(raw) if raw else DEFAULT_TIMEOUT_MS
    except ValueError:
        timeout_ms = 0
    if timeout_ms <= 0:
        raise Usage("LOCKBENCH_TIMEOUT_MS=%r: want a positive integer of milliseconds" % raw)
    return nodes[0], timeout_ms / 1000.0


def import_redis():
    """Imports redis-py; when the python3 on PATH is not Debian's (pyenv,
    a virtualenv) and lacks it, Debian's python3-redis, which is pure
    Python, is taken from Debian's own module directory."""
    try:
        import redis
    except ImportError:
        debian = "/usr/lib/python3/dist-packages"
        if debian in sys.path or not os.path.isdir(debian):
            raise
        sys.path.append(debian)
        import redis
    return redis


def connect(node, timeout_s):
    """Returns a redis-py client of node (host:port, [v6]:port or a URL).

    No retries: a command that times out is reported as info, and the
    harness, not the client, decides what happens next.
    """
    # Debian's python3-redis. Imported here, so that the environment is
    # checked (and a wrong one refused) even where redis-py is missing.
    redis = import_redis()

    opts = dict(socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry_on_timeout=False)
    if "://" in node:
        return redis.Redis.from_url(node, **opts)
    host, sep, port = node.rpartition(":")
    if not sep or not port.isdigit():
        raise Usage("LOCKBENCH_NODES: %r is not host:port" % node)
    return redis.Redis(host=host.strip("[]"), port=int(port), **opts)


def _short(text):
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"


def _int_field(req, name):
    v = req.get(name)
    # bool is an int in Python; the protocol's integers are not booleans.
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise ValueError("%r must be an integer >= 0, got %r" % (name, v))
    return v


def _str_field(req, name):
    v = req.get(name)
    if not isinstance(v, str):
        raise ValueError("%r must be a string, got %r" % (name, v))
    return v


def handle(lock, req):
    """Runs one request (a dict with a valid int "id") and returns its reply."""
    rid = req["id"]
    try:
        op = req.get("op")
        key = _str_field(req, "key")
        if not key:
            raise ValueError("'key' is empty")
        if op == "acquire":
            args = (key, _int_field(req, "ttl_ms"))
        elif op == "release":
            args = (key, _str_field(req, "lease"))
        elif op == "extend":
            args = (key, _str_field(req, "lease"), _int_field(req, "ttl_ms"))
        else:
            raise ValueError("unknown op %r" % (op,))
    except ValueError as e:
        # Nothing was done, so fail is the truth; the harness never sends
        # such a request, so say it loudly too.
        log("bad request %d: %s" % (rid, e))
        return {"id": rid, "type": "fail", "error": _short("bad request: %s" % e)}
    try:
        extra = getattr(lock, op)(*args) or {}
    except Fail as e:
        return {"id": rid, "type": "fail", "error": _short(e) or "not obtained"}
    except Exception as e:  # unknown outcome: timeouts, lost connections, anything else
        log("%s %s: %s: %s" % (op, key, type(e).__name__, e))
        return {"id": rid, "type": "info", "error": _short("%s: %s" % (type(e).__name__, e))}
    reply = {"id": rid, "type": "ok"}
    reply.update(extra)
    if op == "acquire" and not isinstance(reply.get("lease"), str):
        raise TypeError("the lock's acquire returned no string lease: %r" % (extra,))
    return reply


def serve(lock, stdin, stdout):
    """Answers every request line on stdin until EOF.

    A line that is not a JSON object with an integer id cannot be answered
    (the harness could not match the reply): Usage is raised.
    """
    for n, raw in enumerate(stdin, 1):
        line = raw.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
        except ValueError as e:
            raise Usage("stdin line %d is not JSON (%s): %s" % (n, e, _short(line)))
        rid = req.get("id") if isinstance(req, dict) else None
        if not isinstance(rid, int) or isinstance(rid, bool):
            raise Usage("stdin line %d has no integer \"id\": %s" % (n, _short(line)))
        reply = handle(lock, req)
        stdout.write(json.dumps(reply, separators=(",", ":"), ensure_ascii=False) + "\n")
        stdout.flush()


def main(make_lock):
    """Checks the environment, connects to the first node and serves stdin.

    make_lock(r) builds the lock object from a redis-py client r. Exits 0
    at EOF, 2 on a usage error (with one line on stderr).
    """
    try:
        node, timeout_s = check_env(os.environ)
        lock = make_lock(connect(node, timeout_s))
        log("protocol %s, node %s, timeout %.0f ms, lock %s" % (PROTOCOL, node, timeout_s * 1000, type(lock).__name__))
        serve(lock, sys.stdin, sys.stdout)
    except Usage as e:
        log(str(e))
        sys.exit(EXIT_USAGE)
    except ImportError as e:
        log("cannot import redis-py (%s): install python3-redis (scripts/install-deps.sh)" % e)
        sys.exit(EXIT_USAGE)
    except BrokenPipeError:
        # The harness closed our stdout: it is done with us.
        sys.exit(0)
    except KeyboardInterrupt:
        sys.exit(0)


def elapsed_ms(start):
    """Milliseconds since start, a time.monotonic() reading."""
    return (time.monotonic() - start) * 1000.0


def drift_ms(ttl_ms):
    """The clock drift allowance of a lease: 1 % of the TTL plus 2 ms, as
    the Redlock algorithm and lockbench's own strategies take it."""
    return ttl_ms / 100.0 + 2.0


def validity_ms(ttl_ms, start):
    """What is left of a ttl_ms lease whose command started at start: the
    TTL minus the time the command took minus the drift, never below 0."""
    return max(0, int(ttl_ms - elapsed_ms(start) - drift_ms(ttl_ms)))
