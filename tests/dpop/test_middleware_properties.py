"""Hypothesis property of DPoP through the middleware: only the intact request passes, once.

Each example starts from a valid DPoP request (a bound token, a proof for it)
and changes some of it: the scheme's spelling, the method or path the proof
names, the proof text itself, the number of ``DPoP`` headers, or the key.
Whatever the change, the answer is 200, 400 or 401 (never a 5xx), a 200
only for an unchanged request, and no proof is accepted twice.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from okta_bearer import BearerAuthMiddleware, DPoPSettings
from okta_bearer.testing import DPoPKey, LocalIssuer

from ..fuzz._profiles import fuzz_settings

ISSUER = LocalIssuer()
KEY = DPoPKey()
OTHER = DPoPKey()
URL = "http://testserver/items"


async def items(request: Request) -> PlainTextResponse:
    """The protected route."""
    return PlainTextResponse("ok")


APP = Starlette(
    routes=[Route("/items", items, methods=["GET", "POST"])],
    middleware=[Middleware(BearerAuthMiddleware, ISSUER.verifier(), dpop=DPoPSettings())],
)
CLIENT = TestClient(APP)
TOKEN = ISSUER.mint(cnf={"jkt": KEY.jkt})
UNBOUND = ISSUER.mint()

changes = st.fixed_dictionaries(
    {},
    optional={
        "scheme": st.sampled_from(["dpop", "DPOP", "Bearer", "Basic", "DPoP\t"]),
        "htm": st.sampled_from(["POST", "get", "", "PUT"]),
        "htu": st.sampled_from(
            [
                "http://testserver/other",
                "https://testserver/items",
                "http://evil.example/items",
                "http://testserver/items/",
                "http://testserver/ITEMS",
            ]
        ),
        "proof_text": st.text(max_size=40) | st.binary(max_size=40).map(lambda b: b.hex()),
        "tamper": st.integers(min_value=0, max_value=300),
        "copies": st.integers(min_value=0, max_value=3),
        "key": st.just(OTHER),
        "token": st.just(UNBOUND),
        "ath_of": st.just("another.token.value"),
    },
)


def _request(change: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The headers of one changed request, and whether anything was changed at all."""
    key: DPoPKey = change.get("key", KEY)
    token: str = change.get("token", TOKEN)
    proof = key.proof(change.get("htm", "GET"), change.get("htu", URL), change.get("ath_of", token))
    if "tamper" in change:
        # Not the last character: its low bits are base64 padding, ignored on decoding.
        i = change["tamper"] % (len(proof) - 1)
        proof = proof[:i] + ("A" if proof[i] != "A" else "B") + proof[i + 1 :]
    if "proof_text" in change:
        proof = change["proof_text"]
    copies = change.get("copies", 1)
    scheme = change.get("scheme", "DPoP")
    headers = [("authorization", f"{scheme} {token}")] + [("dpop", proof)] * copies
    # Case-only spellings of the scheme are the same scheme (RFC 9110 section 11.1).
    unchanged = set(change) <= {"scheme"} and scheme.lower() == "dpop"
    # An unbound token sent as Bearer is a plain bearer request ("allowed" mode):
    # valid whatever DPoP headers ride along, so not an attack on DPoP.
    plain_bearer = scheme == "Bearer" and token == UNBOUND
    return {"headers": headers, "plain": plain_bearer}, unchanged


@fuzz_settings(scale=0.5)
@given(change=changes)
def test_only_the_intact_request_passes_once(change: dict[str, Any]) -> None:
    """Any change to a valid DPoP request is a 400 or 401; the intact one once; never a 5xx."""
    request, unchanged = _request(change)
    try:
        response = CLIENT.get("/items", headers=request["headers"])
    except UnicodeEncodeError:
        return  # httpx refuses to send a non-latin-1 header: nothing reached the server
    if request["plain"]:
        assert response.status_code == 200
    elif unchanged:
        assert response.status_code == 200
        replay = CLIENT.get("/items", headers=request["headers"])
        assert replay.status_code == 401
    else:
        assert response.status_code in (400, 401), (change, response.status_code)
