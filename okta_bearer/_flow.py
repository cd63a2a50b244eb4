"""Flows: the library's I/O steps written once, run by an async and a sync driver.

A flow is a generator that *yields* what it needs done (an :class:`Effect`:
an HTTP request, a store operation, a pause) and is *sent* the result, or has
the failure *thrown* into it, exactly where a ``yield`` stands.  It holds the
decisions (what to fetch, when to share, what a failure means); it never
touches a socket or a clock of its own.  The pattern is h11's and
``sans-io``'s: protocol logic apart from the I/O that drives it.

Two runners drive any flow:

* :func:`run` in an event loop, with an ``httpx.AsyncClient`` and an async
  :class:`~okta_bearer._store.memory.Store` (the ASGI side);
* :func:`run_sync` in the calling thread, with an ``httpx.Client`` and a
  :class:`~okta_bearer._store.memory.SyncStore` (Flask, Django).

A per-process limit (at most N introspection calls in flight, one discovery
at a time) is a :class:`Slots`, taken with the :class:`Acquire` effect: an
``asyncio.Semaphore`` for the async driver, a ``threading.BoundedSemaphore``
for the sync one, so the flow states the limit once and each side enforces it.

Both bound the whole flow by one deadline: the async runner with
``asyncio.timeout``, the sync one by giving each step only the time left
(``TimeoutError`` when none is).  So a flow's timeouts, its error handling
(``try``/``except`` around a ``yield``) and its clean-up (``finally``) are the
same on both sides, and each behaviour is tested once per driver, not written
twice.

Inside a flow, ``result = yield from step(...)`` composes flows.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from ._store.memory import Store, SyncStore

__all__ = [
    "Acquire",
    "BodyTooLarge",
    "Effect",
    "Flow",
    "HttpRequest",
    "HttpResponse",
    "Pause",
    "Slots",
    "StoreCall",
    "run",
    "run_sync",
]

_T = TypeVar("_T")
_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """Send one HTTP request, never following redirects; the answer is an :class:`HttpResponse`.

    The body is read up to ``max_body`` bytes (a declared ``Content-Length``
    above it is refused before reading): past it, :class:`BodyTooLarge`.
    Transport failures are thrown as ``httpx.HTTPError`` or ``OSError``.
    """

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    data: Mapping[str, str] | None = None
    max_body: int = 256 * 1024


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """What an :class:`HttpRequest` got: status, headers and the whole (capped) body."""

    status: int
    headers: httpx.Headers
    body: bytes


@dataclass(frozen=True, slots=True)
class StoreCall:
    """Call ``method`` of the store with ``args`` (``get``, ``set_if_absent``, ...).

    The result is the store method's; :class:`StoreUnavailable` is thrown as is.
    """

    method: str
    args: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Pause:
    """Wait ``seconds`` (a poll interval) without holding anything."""

    seconds: float


class Slots:
    """At most ``size`` holders at once in this process, for either driver.

    The async driver takes an ``asyncio.Semaphore`` (one per event loop: a
    verifier may outlive a loop, as under test clients), the sync driver a
    ``threading.BoundedSemaphore``.  Each side counts its own holders.
    """

    __slots__ = ("_loop_semaphore", "size", "sync")

    def __init__(self, size: int) -> None:
        self.size = size
        #: The sync side's semaphore, shared by every thread.
        self.sync = threading.BoundedSemaphore(size)
        self._loop_semaphore: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    def for_loop(self, loop: asyncio.AbstractEventLoop) -> asyncio.Semaphore:
        """The async side's semaphore in ``loop`` (made on first use there)."""
        current = self._loop_semaphore
        if current is None or current[0] is not loop:
            current = self._loop_semaphore = (loop, asyncio.Semaphore(self.size))
        return current[1]


@dataclass(frozen=True, slots=True)
class Acquire:
    """Take one of ``slots``, waiting no longer than the flow's deadline.

    The result is a callable that gives the slot back (call it in a
    ``finally``; it never blocks).  A wait past the deadline is a ``TimeoutError``.
    """

    slots: Slots


Effect = HttpRequest | StoreCall | Pause | Acquire
#: A flow returning ``T``: yields effects, is sent their results.
Flow = Generator[Effect, Any, _T]


class BodyTooLarge(Exception):
    """An answer's body is larger than the request's ``max_body``; the message is safe to log."""


def _declared_too_large(headers: httpx.Headers, limit: int) -> bool:
    # Digits only (str.isdigit also takes "²"), and no int() of thousands of them.
    declared = headers.get("content-length", "")
    return bool(_DIGITS.fullmatch(declared)) and (
        len(declared) > len(str(limit)) or int(declared) > limit
    )


def _too_large(effect: HttpRequest) -> BodyTooLarge:
    return BodyTooLarge(f"{effect.url} body is larger than {effect.max_body} bytes")


# -- the async driver --------------------------------------------------------


async def _perform(effect: Effect, client: httpx.AsyncClient, store: Store | None) -> Any:
    if isinstance(effect, StoreCall):
        if store is None:
            raise RuntimeError("a flow asked for a store that was not given")
        return await getattr(store, effect.method)(*effect.args)
    if isinstance(effect, Pause):
        await asyncio.sleep(effect.seconds)
        return None
    if isinstance(effect, Acquire):
        semaphore = effect.slots.for_loop(asyncio.get_running_loop())
        await semaphore.acquire()
        return semaphore.release
    request = client.build_request(
        effect.method, effect.url, headers=dict(effect.headers), data=effect.data
    )
    response = await client.send(request, stream=True, follow_redirects=False)
    try:
        if _declared_too_large(response.headers, effect.max_body):
            raise _too_large(effect)
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > effect.max_body:
                raise _too_large(effect)
    finally:
        await response.aclose()
    return HttpResponse(response.status_code, response.headers, bytes(body))


async def run(
    flow: Flow[_T],
    client: httpx.AsyncClient,
    store: Store | None = None,
    *,
    budget: float | None = None,
) -> _T:
    """Drive ``flow`` to its end in the running event loop; its return value.

    Raises whatever the flow raises, and ``TimeoutError`` when ``budget``
    seconds pass first (the flow's ``finally`` blocks still run their effects,
    as any coroutine's would).  The budget is an ``asyncio.timeout`` scope in
    the caller's own task: no task is made per flow.
    """
    async with asyncio.timeout(budget):
        return await _drive(flow, client, store)


async def _drive(flow: Flow[_T], client: httpx.AsyncClient, store: Store | None) -> _T:
    value: Any = None
    failure: BaseException | None = None
    while True:
        try:
            effect = flow.send(value) if failure is None else flow.throw(failure)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        try:
            value, failure = await _perform(effect, client, store), None
        except BaseException as exc:  # thrown into the flow, at its yield
            value, failure = None, exc
        finally:
            del effect


# -- the sync driver ---------------------------------------------------------


def _perform_sync(
    effect: Effect, client: httpx.Client, store: SyncStore | None, deadline: float | None
) -> Any:
    left = None if deadline is None else deadline - time.monotonic()
    if left is not None and left <= 0:
        raise TimeoutError("the time budget ran out")
    if isinstance(effect, StoreCall):
        if store is None:
            raise RuntimeError("a flow asked for a store that was not given")
        return getattr(store, effect.method)(*effect.args)
    if isinstance(effect, Pause):
        time.sleep(effect.seconds if left is None else min(effect.seconds, left))
        return None
    if isinstance(effect, Acquire):
        semaphore = effect.slots.sync
        if not semaphore.acquire(timeout=left):
            raise TimeoutError("the time budget ran out")
        release: Callable[[], None] = semaphore.release
        return release
    request = client.build_request(
        effect.method,
        effect.url,
        headers=dict(effect.headers),
        data=effect.data,
        # Each request gets only the time left of the whole budget.
        timeout=client.timeout if left is None else httpx.Timeout(left),
    )
    try:
        response = client.send(request, stream=True, follow_redirects=False)
    except httpx.TimeoutException as exc:
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError("the time budget ran out") from exc
        raise
    try:
        if _declared_too_large(response.headers, effect.max_body):
            raise _too_large(effect)
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > effect.max_body:
                raise _too_large(effect)
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError("the time budget ran out")
    finally:
        response.close()
    return HttpResponse(response.status_code, response.headers, bytes(body))


def run_sync(
    flow: Flow[_T],
    client: httpx.Client,
    store: SyncStore | None = None,
    *,
    budget: float | None = None,
) -> _T:
    """Drive ``flow`` to its end in this thread; its return value.

    The same contract as :func:`run`: ``TimeoutError`` once ``budget``
    seconds have passed (checked before each step, and each HTTP request
    gets only the time left).  Clean-up steps after a timeout still run.
    """
    deadline = None if budget is None else time.monotonic() + budget
    value: Any = None
    failure: BaseException | None = None
    while True:
        try:
            effect = flow.send(value) if failure is None else flow.throw(failure)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        if failure is not None and isinstance(failure, TimeoutError):
            deadline = None  # clean-up after the budget ran out gets its own steps
        try:
            value, failure = _perform_sync(effect, client, store, deadline), None
        except BaseException as exc:  # thrown into the flow, at its yield
            value, failure = None, exc
        finally:
            del effect
