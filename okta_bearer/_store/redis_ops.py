"""The Redis store's operations as data, shared by its async and its blocking face.

One job: say what each :class:`~okta_bearer._store.memory.Store` operation
sends to Redis and how its reply is read, once, so that
``okta_bearer.redis_store.RedisStore`` (redis-py's asyncio clients) and its
``sync`` face (redis-py's blocking clients) cannot drift apart.  redis-py's
two client families take the same calls (``client.set(...)``, a registered
script, a pipeline's ``execute_command``), so an :class:`Op`'s ``send``
returns the reply on a blocking client and an awaitable of it on an asyncio
one; each face only drives it (await or not), maps errors and retries.

Replies are read strictly: anything but the reply Redis gives (a node that
answers garbage, a hostile proxy) is :class:`StoreUnavailable`, never a
``TypeError`` or ``ValueError`` that would end a request in a 500.

**The one retry after a fresh slot map** (:func:`worth_a_fresh_map`).  On a
Redis Cluster, a worker whose slot map predates a failover sends the
command to the dead primary (connection refused) or to a node that answers
``MOVED``.  redis-py's own retry may reuse that stale map (it refreshes at
most once a second), so the face refreshes the map itself and runs the
operation once more, within the same deadline, when both hold:

* the error says the node could not be reached or does not serve the slot
  (a connection error, ``MOVED``/``ASK``, ``CLUSTERDOWN``, ``TRYAGAIN``, no
  node for the slot), never a timeout (a node that hangs may still apply a
  write it was sent, and waiting twice helps nobody) nor an error of the
  command itself (a foreign value gives the same error again);
* running the operation twice cannot apply it twice:

  - ``get``: a read;
  - ``set``, ``delete``: the second run leaves the key as the first would
    have; a retry is the first attempt arriving late;
  - ``delete_if_equal``: a second run finds the key gone or held by someone
    else, and deletes nothing of theirs;
  - ``set_if_absent``: ``NX`` stores at most once.  If the first attempt
    never reached a node (connection refused, ``MOVED``: the stale-map case)
    the retry is simply the operation.  If it reached the old primary and
    that node died before answering, the retry gives ``False`` when the mark
    survived (the caller refuses its own proof as a replay: fail closed,
    as when a client re-sends a proof after a 503) and ``True`` only when
    the mark is absent from the new primary, which is exactly what any
    later request with that proof would get too: a retry never accepts a
    proof that a re-sent request would not.  No call ever returned ``True``
    for the first attempt, so a proof is not accepted twice through it.
    redis-py's cluster client already resends once after a connection
    error; what the face adds is a fresh map before the resend;
  - ``increment`` is **not** retried: a second run would count twice.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from redis.exceptions import (
    AskError,
    AuthenticationError,
    ClusterDownError,
    MaxConnectionsError,
    RedisClusterException,
    RedisError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError

from .memory import StoreUnavailable

__all__ = [
    "DELETE_IF_EQUAL",
    "FAILURES",
    "INCREMENT",
    "Commands",
    "Link",
    "Op",
    "unavailable",
    "worth_a_fresh_map",
]

_T = TypeVar("_T")

# Compare-and-delete: a lease is released only by the holder that wrote its value.
DELETE_IF_EQUAL = """
if redis.call("GET", KEYS[1]) == ARGV[1] then
    return redis.call("DEL", KEYS[1])
end
return 0
"""

# A counter whose expiry is set once, by the increment that created it.
INCREMENT = """
local count = redis.call("INCR", KEYS[1])
if count == 1 then
    redis.call("PEXPIRE", KEYS[1], ARGV[1])
end
return count
"""

#: Everything redis-py raises for an unreachable, failing or misbehaving
#: server.  RedisClusterException (no reachable node, no slot map, too many
#: redirections) is not a RedisError; OSError covers socket errors and the
#: builtin TimeoutError (asyncio's deadline).
FAILURES: tuple[type[BaseException], ...] = (RedisError, RedisClusterException, OSError)

# Errors meaning "that node could not be reached or does not serve the slot".
_UNREACHED = (
    RedisConnectionError,
    AskError,  # and MovedError, its subclass
    ClusterDownError,
    TryAgainError,
    RedisClusterException,
)
# Connection errors a fresh slot map cannot cure: our own pool is full, or
# the server refused our credentials.
_NOT_CURED = (MaxConnectionsError, AuthenticationError)


def unavailable(exc: BaseException) -> StoreUnavailable:
    """The :class:`StoreUnavailable` for a redis-py failure (its type name only, never its text)."""
    # The text may hold the URL (with a password) or the command's arguments.
    return StoreUnavailable(f"Redis did not answer: {type(exc).__name__}")


class Link(Protocol):
    """What an :class:`Op` talks to: one face's client and the scripts registered on it."""

    client: Any
    delete_if_equal: Any
    increment: Any

    def pinned(self, name: str) -> Any:
        """A pipeline (``execute_command``, ``execute``) on one connection to ``name``'s primary."""
        ...


@dataclass(frozen=True)
class Op(Generic[_T]):
    """One store operation: what it sends, how its reply is read, whether one retry is safe."""

    send: Callable[[Link], Any]
    read: Callable[[Any], _T]
    retry: bool


def worth_a_fresh_map(op: Op[Any], exc: BaseException) -> bool:
    """Whether ``op``, failed with ``exc`` on a cluster, runs once more after a slot-map refresh.

    See the module docstring for why each operation is or is not retried.
    """
    return op.retry and isinstance(exc, _UNREACHED) and not isinstance(exc, _NOT_CURED)


def milliseconds(ttl: float) -> int:
    """A TTL in seconds as Redis's ``PX`` milliseconds (at least 1), or ValueError."""
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not ttl > 0:
        raise ValueError("ttl must be a positive number of seconds")
    return max(1, math.ceil(ttl * 1000))


def _odd(what: str) -> StoreUnavailable:
    return StoreUnavailable(f"Redis gave an unexpected reply to {what}")


def _stored(reply: object) -> bool:
    # redis-py reads SET's "+OK" as True (or leaves it as bytes in a raw
    # pipeline); a SET NX that stored nothing answers nil.
    if reply is True or reply in (b"OK", "OK"):
        return True
    if reply is None or reply is False:
        return False
    raise _odd("SET")


def _integer(reply: object, what: str) -> int:
    if isinstance(reply, bool) or not isinstance(reply, int):
        raise _odd(what)
    return reply


def _value(reply: object) -> bytes | None:
    if reply is None or isinstance(reply, bytes):
        return reply
    raise _odd("GET")


def _ignored(reply: object) -> None:
    return None


class Commands:
    """Builds the :class:`Op` for each store operation, for one prefix and ``replica_acks``."""

    def __init__(self, prefix: str, replica_acks: int, timeout: float) -> None:
        self.prefix = prefix
        self.replica_acks = replica_acks
        # Half the deadline for WAIT leaves the other half for the round
        # trip, so an unacknowledged write is reported, not timed out.
        self.wait_ms = max(1, int(timeout * 500))

    def set_if_absent(self, key: str, value: bytes, ttl: float) -> Op[bool]:
        """``SET key value NX PX ttl`` (with ``replica_acks``, then ``WAIT`` on that connection)."""
        name, px = self.prefix + key, milliseconds(ttl)
        if not self.replica_acks:
            return Op(lambda link: link.client.set(name, value, nx=True, px=px), _stored, True)

        def send(link: Link) -> Any:
            # WAIT counts the writes of its own connection: both go on one
            # connection to the primary serving the key (Cluster: its slot).
            pipe = link.pinned(name)
            pipe.execute_command("SET", name, value, "NX", "PX", px)
            pipe.execute_command("WAIT", self.replica_acks, self.wait_ms)
            return pipe.execute()

        return Op(send, self._acknowledged, True)

    def _acknowledged(self, replies: Any) -> bool:
        if not isinstance(replies, (list, tuple)) or len(replies) != 2:
            raise _odd("SET and WAIT")
        stored = _stored(replies[0])
        if stored and _integer(replies[1], "WAIT") < self.replica_acks:
            # The key stays written: a retry of the same DPoP proof is then
            # refused, which is the safe side.
            raise StoreUnavailable("too few Redis replicas acknowledged the write")
        return stored

    def set(self, key: str, value: bytes, ttl: float) -> Op[None]:
        """``SET key value PX ttl``."""
        name, px = self.prefix + key, milliseconds(ttl)
        return Op(lambda link: link.client.set(name, value, px=px), _ignored, True)

    def get(self, key: str) -> Op[bytes | None]:
        """``GET key``."""
        name = self.prefix + key
        return Op(lambda link: link.client.get(name), _value, True)

    def delete(self, key: str) -> Op[None]:
        """``DEL key``."""
        name = self.prefix + key
        return Op(lambda link: link.client.delete(name), _ignored, True)

    def delete_if_equal(self, key: str, value: bytes) -> Op[bool]:
        """The compare-and-delete script on ``key``."""
        name = self.prefix + key
        return Op(
            lambda link: link.delete_if_equal(keys=[name], args=[value]),
            lambda reply: bool(_integer(reply, "a compare-and-delete")),
            True,
        )

    def increment(self, key: str, ttl: float) -> Op[int]:
        """The counter script on ``key`` (never retried: it would count twice)."""
        name, px = self.prefix + key, milliseconds(ttl)
        return Op(
            lambda link: link.increment(keys=[name], args=[px]),
            lambda reply: _integer(reply, "a counter"),
            False,
        )
