"""The cold-start fault table of tests/faults, run through verify_sync (parametrised, not copied).

Each row's fault (an async answer of :class:`FaultyKeyServer`) is served to
the sync side by :class:`SyncFaults`, which runs it in an event loop of its
own and, like a real transport, gives up on a silent server at the read
timeout the request carries.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from okta_bearer import KeysUnavailable, TokenVerifier
from okta_bearer.testing import LocalIssuer

from ..faults._keyserver import AUDIENCE, EVIL_HOST, ISSUER, FaultyKeyServer, policy
from ..faults.test_cold_start_faults import COLD_FAULTS, ColdFault
from ..helpers import Clock


class SyncFaults(httpx.BaseTransport):
    """A blocking face for a FaultyKeyServer: each answer is awaited in a loop of this thread."""

    def __init__(self, server: FaultyKeyServer) -> None:
        self.server = server

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {}).get("read") or 5.0
        try:
            status, headers, body = asyncio.run(asyncio.wait_for(self._answer(request), timeout))
        except TimeoutError as exc:
            raise httpx.ReadTimeout("no answer", request=request) from exc
        # The headers as sent (a streamed answer keeps having no Content-Length).
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body))

    async def _answer(self, request: httpx.Request) -> tuple[int, httpx.Headers, bytes]:
        response = await self.server.handle_async_request(request)
        return response.status_code, response.headers, await response.aread()


@pytest.mark.parametrize("fault", COLD_FAULTS, ids=[f.id for f in COLD_FAULTS])
def test_cold_start_fault_is_503_with_retry_after_through_verify_sync(fault: ColdFault) -> None:
    """A valid token meets KeysUnavailable (503) + Retry-After through verify_sync, promptly."""
    clock = Clock()
    issuer = LocalIssuer(ISSUER, AUDIENCE, clock=clock)
    server = FaultyKeyServer(issuer, clock)
    server.faults[fault.kind] = fault.make(server)
    with TokenVerifier(
        ISSUER, AUDIENCE, transport=SyncFaults(server), clock=clock, keys=policy()
    ) as verifier:
        start = time.monotonic()
        with pytest.raises(KeysUnavailable) as unavailable:
            verifier.verify_sync(issuer.mint())
        assert time.monotonic() - start < 5
        assert unavailable.value.retry_after >= 1
        assert all(EVIL_HOST not in host for host in server.hosts())
        assert server.count("other") == 0

        # Within the backoff: 503 again, and nothing sent.
        fetched = len(server.log)
        for _ in range(20):
            clock.advance(0.1)
            with pytest.raises(KeysUnavailable):
                verifier.verify_sync(issuer.mint())
        assert len(server.log) == fetched
